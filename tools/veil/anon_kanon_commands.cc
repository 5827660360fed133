// Placeholder: being written (issue 6).
#include "tools/veil/cli.h"

namespace veil::cli {
void RegisterAnonKanon(CLI::App& /*anon*/, Cli& /*cli*/) {}
}  // namespace veil::cli
