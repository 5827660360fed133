// `veil pii`: find personal data in text and tables and de-identify it. Each subcommand lives in its own
// file.
#include "tools/veil/cli.h"

namespace veil::cli {

void RegisterPii(CLI::App& app, Cli& cli) {
  CLI::App* pii = app.add_subcommand("pii", "Find personal data in text and tables, and de-identify it");
  pii->require_subcommand(1);
  RegisterPiiScan(*pii, cli);
  RegisterPiiRedact(*pii, cli);
  RegisterPiiClassify(*pii, cli);
}

}  // namespace veil::cli
