// Placeholder: being written (issue 6).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterAnonRisk(CLI::App& /*anon*/, Cli& /*cli*/) {}
}  // namespace veil::cli
