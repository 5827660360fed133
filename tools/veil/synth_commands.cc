// Placeholder: being written (issue 8).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterSynth(CLI::App& /*app*/, Cli& /*cli*/) {}
}  // namespace veil::cli
