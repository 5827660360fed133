// Governance commands (issue 11). Placeholder: the helper gov is writing this file.
#include "tools/veil/cli.h"

namespace veil::cli {

void RegisterGov(CLI::App&, Cli&) {}

}  // namespace veil::cli
