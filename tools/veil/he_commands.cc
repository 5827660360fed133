// Placeholder: being written (issue 7).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterHe(CLI::App& /*app*/, Cli& /*cli*/) {}
}  // namespace veil::cli
