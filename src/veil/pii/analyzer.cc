#include "veil/pii/analyzer.h"

#include "absl/status/status.h"

namespace veil::pii {

// Placeholder until the pattern recognizers land.
absl::StatusOr<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions&) {
  return absl::UnimplementedError("the PII analyzer is not built yet");
}

}  // namespace veil::pii
