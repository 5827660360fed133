// Placeholder: being written (issue 9).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterMl(CLI::App& /*app*/, Cli& /*cli*/) {}
}  // namespace veil::cli
