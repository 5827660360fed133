// Placeholder: being written (issue 6).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterDicom(CLI::App& /*app*/, Cli& /*cli*/) {}
}  // namespace veil::cli
