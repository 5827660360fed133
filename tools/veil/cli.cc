#include "tools/veil/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/crypto/random.h"

namespace veil::cli {

ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return ExitCode::kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return ExitCode::kBadInput;
    // The gate's refusals (permission, purpose, consent) and an exhausted privacy budget (DESIGN.md 5.1).
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnauthenticated:
      return ExitCode::kRefused;
    case absl::StatusCode::kDataLoss:
      return ExitCode::kIntegrity;
    default:
      return ExitCode::kFailure;
  }
}

int ReportError(const absl::Status& status, const GlobalOptions& options) {
  const std::string message(status.message());
  std::cerr << "veil: error: " << message << "\n";
  if (options.json) {
    PrintJson({{"error",
                {{"code", absl::StatusCodeToString(status.code())},
                 {"message", message},
                 {"exit_code", static_cast<int>(ExitCodeFor(status))}}}});
  }
  return static_cast<int>(ExitCodeFor(status));
}

void PrintJson(const nlohmann::ordered_json& doc) {
  // error_handler_t::replace: a value that is not valid UTF-8 is printed with U+FFFD rather than throwing.
  std::cout << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, marking the cut with "…".
std::string Shorten(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

namespace {
using base::DisplayWidth;

std::string Pad(std::string_view s, size_t width, bool right_align) {
  const size_t w = DisplayWidth(s);
  std::string fill(w < width ? width - w : 0, ' ');
  return right_align ? fill + std::string(s) : std::string(s) + fill;
}
}  // namespace

absl::StatusOr<table::CsvReadOptions> MakeReadOptions(const CsvArgs& args) {
  table::CsvReadOptions options;
  std::string delimiter = args.delimiter;
  if (delimiter == "\\t" || delimiter == "tab") delimiter = "\t";
  if (delimiter.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--delimiter must be one character (or \\t), not '", Shorten(args.delimiter, 10), "'"));
  }
  options.delimiter = delimiter[0];
  options.has_header = !args.no_header;
  if (!args.nulls.empty()) options.null_tokens = args.nulls;
  options.trim_whitespace = !args.strict;
  options.num_threads = args.threads;
  for (const std::string& spec : args.types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type expects COLUMN=TYPE, not '", Shorten(spec, 40), "'"));
    }
    const std::string type_name = spec.substr(eq + 1);
    std::optional<table::DataType> type = table::ParseDataType(type_name);
    if (!type.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type ", Shorten(spec, 40), ": unknown type '", Shorten(type_name, 20),
                       "' (one of int64, double, bool, string, date, timestamp)"));
    }
    options.column_types[spec.substr(0, eq)] = *type;
  }
  return options;
}
std::string FormatElapsed(absl::Duration d) {
  const double ms = absl::ToDoubleMilliseconds(d);
  return ms < 1000 ? absl::StrFormat("%.1f ms", ms) : absl::StrFormat("%.2f s", ms / 1000);
}

std::string FormatNumber(double v) {
  if (std::abs(v) >= 1e6 && std::abs(v) < 1e18) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.6g", v);
}

void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& right_align) {
  // Cells often hold names taken from input (CSV headers, dataset names): their control characters are
  // printed as escapes, never sent to the terminal.
  std::vector<std::vector<std::string>> shown;
  shown.reserve(rows.size() + 1);
  shown.push_back(header);
  shown.insert(shown.end(), rows.begin(), rows.end());
  for (auto& row : shown) {
    for (std::string& cell : row) cell = EscapeControlCharacters(cell);
  }
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    for (const auto& row : shown) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  for (const auto& row : shown) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const bool right = c < right_align.size() && right_align[c];
      absl::StrAppend(&line, c == 0 ? "" : "  ",
                      c + 1 == row.size() && !right ? row[c] : Pad(row[c], widths[c], right));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
}

void AddCsvOptions(CLI::App* cmd, CsvArgs& args) {
  cmd->add_option("--delimiter,-d", args.delimiter, "Field delimiter (one character, or \\t)")
      ->capture_default_str();
  cmd->add_flag("--no-header", args.no_header, "The first line is data; columns are named column_1, ...");
  cmd->add_option("--null", args.nulls,
                  "A token that means null (repeatable; default: the empty field and '?')");
  cmd->add_option("--type", args.types,
                  "Declare a column's type: COLUMN=TYPE (repeatable; TYPE is one of "
                  "int64, double, bool, string, date, timestamp)");
  cmd->add_flag("--strict", args.strict, "Strict RFC 4180: spaces around fields are data, not trimmed");
  cmd->add_option("--threads", args.threads, "Parsing threads (0 = one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
}

std::string FormatUtc(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

std::string ActorOf(const GlobalOptions& options) {
  if (!options.actor.empty()) return options.actor;
  if (const struct passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr)
    return pw->pw_name;
  if (const char* user = std::getenv("USER")) return user;
  return "";
}

std::optional<base::SecretBytes> PassphraseFromEnv() {
  const char* p = std::getenv("VEIL_PASSPHRASE");
  if (p == nullptr || *p == '\0') return std::nullopt;  // set but empty counts as not set
  return base::SecretBytes::FromString(p);
}

absl::StatusOr<std::unique_ptr<gov::Session>> OpenSession(const GlobalOptions& options) {
  return gov::Session::Open(crypto::DefaultEnv(), options.workspace, ActorOf(options), PassphraseFromEnv());
}

absl::StatusOr<std::string> ReadTextInput(const std::string& path) {
  if (path == "-") {
    std::ostringstream buf;
    buf << std::cin.rdbuf();
    return buf.str();
  }
  base::Env& env = crypto::DefaultEnv();
  if (!env.FileExists(path))
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "': no such file"));
  return env.ReadFileToString(path);
}

ProgressBar::ProgressBar(const GlobalOptions& options)
    : on_(!options.quiet && !options.json && ::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(double fraction, const std::string& stage) {
  if (!on_) return;
  const int width = 30;
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
            << absl::StrFormat("%3d%% ", static_cast<int>(fraction * 100)) << absl::StrFormat("%-30s", stage)
            << std::flush;
  shown_ = true;
}

void ProgressBar::Done() {
  if (on_ && shown_) std::cerr << "\r" << std::string(70, ' ') << "\r" << std::flush;
  shown_ = false;
}

}  // namespace veil::cli
