#include "tools/veil/cli.h"

namespace veil::cli {

// Placeholder: replaced by the work on issue 5.
void RegisterPiiClassify(CLI::App&, Cli&) {}

}  // namespace veil::cli
