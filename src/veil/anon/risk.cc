// Re-identification risk (risk.h). Being implemented (issue 6).
#include "veil/anon/risk.h"

namespace veil::anon {

absl::StatusOr<RiskReport> AssessRisk(const table::Table&, std::span<const std::string>, const RiskOptions&,
                                      const table::Table*) {
  return absl::UnimplementedError("AssessRisk: not implemented yet");
}

absl::StatusOr<RiskReport> AssessRiskOfRows(std::span<const std::vector<std::string>>, const RiskOptions&,
                                            const std::vector<std::vector<std::string>>*) {
  return absl::UnimplementedError("AssessRiskOfRows: not implemented yet");
}

absl::StatusOr<RiskReport> RiskFromClassSizes(std::span<const int64_t>, std::span<const int64_t>, int64_t,
                                              const RiskOptions&) {
  return absl::UnimplementedError("RiskFromClassSizes: not implemented yet");
}

}  // namespace veil::anon
