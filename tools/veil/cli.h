// Shared plumbing of the `veil` command: global options, exit codes, error reporting and output helpers.
// Each command group lives in its own file (inspect.cc, ...) and registers itself with RegisterXxx(app, cli).
#ifndef VEIL_TOOLS_VEIL_CLI_H_
#define VEIL_TOOLS_VEIL_CLI_H_

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace veil::cli {

// Exit codes (DESIGN.md section 5.12).
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,    // a runtime failure (I/O error, internal error)
  kBadInput = 2,   // a usage error or bad input (malformed file, unknown option, missing file)
  kRefused = 3,    // refused: permission, purpose, consent or privacy budget (PermissionDenied,
                   // ResourceExhausted)
  kIntegrity = 4,  // integrity failure: tampered audit log, wrong key, corrupted file
};

// Maps a Status to the exit code the user sees.
ExitCode ExitCodeFor(const absl::Status& status);

// Options every command accepts (before or after the command name).
struct GlobalOptions {
  std::string workspace = "./veil-workspace";  // --workspace, env VEIL_WORKSPACE
  std::string actor;                           // --actor, env VEIL_ACTOR
  bool json = false;                           // --json: one JSON document on stdout
  bool quiet = false;                          // --quiet: only errors on stderr
};

// What main() hands to each command group.
struct Cli {
  GlobalOptions options;
  // The chosen command stores its work here during parsing; main() runs it after parsing succeeded, so a
  // usage error never leaves a command half-done.
  std::function<absl::Status()> action;
};

// Prints `status` as "veil: error: <message>" on stderr (and as {"error": {...}} on stdout with --json) and
// returns the exit code for it.
int ReportError(const absl::Status& status, const GlobalOptions& options);

// Prints a JSON document on stdout, pretty-printed, followed by a newline.
void PrintJson(const nlohmann::ordered_json& doc);

// Formats an integer with thousands separators: 48842 -> "48,842".
std::string WithThousands(int64_t n);

// Command groups.
void RegisterInspect(CLI::App& app, Cli& cli);

}  // namespace veil::cli

#endif  // VEIL_TOOLS_VEIL_CLI_H_
