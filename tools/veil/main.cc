// veil: the command line of Veil, a privacy engine for AI automation.
//
//   veil [--workspace DIR] [--actor NAME] [--json] [--quiet] <command> [<subcommand>] [options]
//
// Global options may come before or after the command. Exit codes are listed in cli.h.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "tools/veil/cli.h"

#ifndef VEIL_VERSION
#error "VEIL_VERSION must be defined by the build"
#endif

int main(int argc, char** argv) {
  using veil::cli::ExitCode;
  veil::cli::Cli cli;
  if (const char* ws = std::getenv("VEIL_WORKSPACE")) cli.options.workspace = ws;
  if (const char* actor = std::getenv("VEIL_ACTOR")) cli.options.actor = actor;

  CLI::App app{
      "Veil: a privacy engine for AI automation.\n"
      "Differential privacy, federated learning, homomorphic encryption, synthetic data, PII discovery\n"
      "and de-identification, with a policy gate and a tamper-evident audit log.",
      "veil"};
  app.set_version_flag("--version", "veil " VEIL_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the command name too
  app.add_option("--workspace", cli.options.workspace, "Workspace directory (env VEIL_WORKSPACE)")
      ->capture_default_str();
  app.add_option("--actor", cli.options.actor, "Who is acting (env VEIL_ACTOR)");
  app.add_flag("--json", cli.options.json, "Machine-readable output: one JSON document on stdout");
  app.add_flag("--quiet", cli.options.quiet, "Print only errors");
  app.footer(
      "Exit codes: 0 ok, 1 failure, 2 usage error or bad input, 3 refused, 4 integrity failure.\n"
      "Docs: README.md and docs/ in the source tree.");

  veil::cli::RegisterInspect(app, cli);
  veil::cli::RegisterWorkspace(app, cli);
  veil::cli::RegisterAudit(app, cli);
  veil::cli::RegisterBudget(app, cli);
  veil::cli::RegisterQuery(app, cli);
  veil::cli::RegisterAttach(app, cli);
  veil::cli::RegisterPii(app, cli);
  veil::cli::RegisterAnon(app, cli);
  veil::cli::RegisterDicom(app, cli);
  veil::cli::RegisterSynth(app, cli);
  veil::cli::RegisterHe(app, cli);
  veil::cli::RegisterMl(app, cli);
  veil::cli::RegisterFl(app, cli);
  veil::cli::RegisterGov(app, cli);
  veil::cli::RegisterReport(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help or --version: printed on stdout
    // A usage error. With --json, the error is also the one JSON document on stdout. --json may not have
    // been parsed yet when parsing stopped, so look for it in argv.
    for (int i = 1; i < argc; ++i) cli.options.json |= std::string_view(argv[i]) == "--json";
    veil::cli::ReportError(absl::InvalidArgumentError(e.what()), cli.options);
    std::cerr << "Run with --help for usage.\n";
    return static_cast<int>(ExitCode::kBadInput);
  }
  if (!cli.action) return static_cast<int>(ExitCode::kBadInput);
  absl::Status status;
  try {
    status = cli.action();
  } catch (const std::exception& e) {
    // Third-party exceptions are turned into Status at their call sites; this is the last line of defence.
    status = absl::InternalError(std::string("unexpected exception: ") + e.what());
  }
  if (!status.ok()) return veil::cli::ReportError(status, cli.options);
  // A full disk or a closed pipe must not look like success.
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "veil: error: writing the output failed\n";
    return static_cast<int>(ExitCode::kFailure);
  }
  return static_cast<int>(cli.exit_code);
}
