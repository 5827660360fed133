// `veil fl`: federated learning (issue 10). Placeholder: the helper fl-net is writing this file.
#include "tools/veil/cli.h"

namespace veil::cli {

void RegisterFl(CLI::App&, Cli&) {}

}  // namespace veil::cli
