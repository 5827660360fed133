// `veil anon`: anonymize tables (k-anonymity, l-diversity) and measure re-identification risk. Each
// subcommand lives in its own file.
#include "tools/veil/cli.h"

namespace veil::cli {

void RegisterAnon(CLI::App& app, Cli& cli) {
  CLI::App* anon = app.add_subcommand("anon", "Anonymize tables and measure their re-identification risk");
  anon->require_subcommand(1);
  RegisterAnonKanon(*anon, cli);
  RegisterAnonRisk(*anon, cli);
}

}  // namespace veil::cli
