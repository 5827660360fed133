#include "tools/veil/cli.h"

#include <iostream>
#include <string>

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

std::string WithThousands(int64_t n) {
  // Magnitude in unsigned arithmetic: -INT64_MIN does not fit in int64_t.
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace veil::cli
