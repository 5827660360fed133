// Shared plumbing of the `veil` command: global options, exit codes, error reporting and output helpers.
// Each command group lives in its own file (inspect.cc, ...) and registers itself with RegisterXxx(app, cli).
#ifndef VEIL_TOOLS_VEIL_CLI_H_
#define VEIL_TOOLS_VEIL_CLI_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/base/secret_bytes.h"
#include "veil/base/text_format.h"
#include "veil/gov/session.h"
#include "veil/table/csv_reader.h"

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
  // An action that has already reported its outcome on stdout (e.g. one --json document listing the files
  // that failed) sets this and returns OK; main() then exits with it without printing an error.
  ExitCode exit_code = ExitCode::kOk;
};

// Prints `status` as "veil: error: <message>" on stderr (and as {"error": {...}} on stdout with --json) and
// returns the exit code for it.
int ReportError(const absl::Status& status, const GlobalOptions& options);

// Prints a JSON document on stdout, pretty-printed, followed by a newline.
void PrintJson(const nlohmann::ordered_json& doc);

// Formats an integer with thousands separators: 48842 -> "48,842"; a size: "812 B", "4.2 KiB", "37.1 MiB".
// The reports (gov/report.h) print their figures the same way: one copy, in base/text_format.h.
using base::EscapeControlCharacters;
using base::FormatBytes;
using base::WithThousands;
// A number for people: six significant digits (0.30000000000000004 shows as 0.3), or a whole number for
// magnitudes from 1e6 to 1e18 (a sum of incomes reads 1234568, not 1.23457e+06). --json output keeps the
// exact values.
std::string FormatNumber(double v);
// "12.3 ms", "1.52 s".
std::string FormatElapsed(absl::Duration d);
// RFC 3339 UTC, whole seconds: "2026-11-25T10:04:05Z".
std::string FormatUtc(absl::Time t);

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, marking the cut with "…".
std::string Shorten(std::string_view s, size_t max);
// Prints rows as aligned columns under a header (two spaces apart; the last column is not padded).
// right_align[c] right-aligns column c (numbers); missing entries mean left.
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& right_align = {});

// How a command reads a CSV file: the options shared by `inspect` and `ingest`.
struct CsvArgs {
  std::string delimiter = ",";
  bool no_header = false;
  std::vector<std::string> nulls;
  std::vector<std::string> types;
  bool strict = false;
  int threads = 0;
};
void AddCsvOptions(CLI::App* cmd, CsvArgs& args);
// Errors: InvalidArgument naming the bad option.
absl::StatusOr<table::CsvReadOptions> MakeReadOptions(const CsvArgs& args);

// The actor: --actor / VEIL_ACTOR, or else the login name of the user running veil.
std::string ActorOf(const GlobalOptions& options);
// VEIL_PASSPHRASE, if set and not empty.
std::optional<base::SecretBytes> PassphraseFromEnv();
// The workspace (--workspace) opened for the actor, with VEIL_PASSPHRASE: what every workspace command starts
// with.
absl::StatusOr<std::unique_ptr<gov::Session>> OpenSession(const GlobalOptions& options);

// The whole of a text input: the file at `path`, or standard input for "-". Errors: NotFound naming the
// file; the Env's read errors.
absl::StatusOr<std::string> ReadTextInput(const std::string& path);
// How messages name that input: the path, or "stdin" for "-".
inline std::string InputName(const std::string& path) { return path == "-" ? "stdin" : path; }

// `status` with "PREFIX: " in front of its message (a file name, an option), its code kept.
inline absl::Status WithPrefix(const absl::Status& status, std::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(std::string(prefix), ": ", status.message()));
}

// A progress bar on stderr for long commands, shown only when stderr is a terminal and never with --quiet or
// --json; Done() (or the destructor) erases it.
class ProgressBar {
 public:
  explicit ProgressBar(const GlobalOptions& options);
  ~ProgressBar() { Done(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // fraction in [0, 1]; stage is a short label ("measuring", "epoch 3/10").
  void Update(double fraction, const std::string& stage);
  void Done();

 private:
  bool on_;
  bool shown_ = false;
};

// Command groups.
void RegisterInspect(CLI::App& app, Cli& cli);
void RegisterWorkspace(CLI::App& app, Cli& cli);  // init, ingest, datasets, export, erase, grant, ...
void RegisterAudit(CLI::App& app, Cli& cli);      // audit log/checkpoint/verify/proof/consistency
void RegisterBudget(CLI::App& app, Cli& cli);     // budget [NAME], budget set
void RegisterQuery(CLI::App& app, Cli& cli);      // query "SQL" [--explain]
void RegisterAttach(CLI::App& app, Cli& cli);     // attach postgresql://... (attach_commands.cc)
void RegisterPii(CLI::App& app, Cli& cli);        // pii scan/redact/restore/classify/transform/eval
void RegisterAnon(CLI::App& app, Cli& cli);       // anon kanon/risk (anon_commands.cc)
void RegisterDicom(CLI::App& app, Cli& cli);      // dicom deid (dicom_commands.cc)
void RegisterSynth(CLI::App& app, Cli& cli);      // synth, synth report (synth_commands.cc)
void RegisterHe(CLI::App& app, Cli& cli);         // he keygen/encrypt/score/decrypt (he_commands.cc)
void RegisterMl(CLI::App& app, Cli& cli);         // train, evaluate, fairness, decide, model (ml_commands.cc)
void RegisterFl(CLI::App& app, Cli& cli);         // fl certs/coordinator/client/simulate (fl_commands.cc)
// catalog, consent (incl. object/restrict/lift), retention, dsr (gov_commands.cc)
void RegisterGov(CLI::App& app, Cli& cli);
void RegisterReport(CLI::App& app, Cli& cli);  // report ropa|dpia, dpia (report_commands.cc)

// The `veil pii` subcommands, one file each (pii_commands.cc creates the group and calls them).
void RegisterPiiScan(CLI::App& pii, Cli& cli);      // scan            (pii_scan_commands.cc)
void RegisterPiiRedact(CLI::App& pii, Cli& cli);    // redact, restore, transform (pii_redact_commands.cc)
void RegisterPiiClassify(CLI::App& pii, Cli& cli);  // classify, eval  (pii_classify_commands.cc)

// The `veil anon` subcommands (anon_commands.cc creates the group and calls them).
void RegisterAnonKanon(CLI::App& anon, Cli& cli);  // kanon (anon_kanon_commands.cc)
void RegisterAnonRisk(CLI::App& anon, Cli& cli);   // risk  (anon_risk_commands.cc)

}  // namespace veil::cli

#endif  // VEIL_TOOLS_VEIL_CLI_H_
