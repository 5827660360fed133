// libFuzzer target for the linear/logistic model parser (veil/he/scoring.h, ParseLinearModelJson): the JSON
// a bank's `veil he score --model` reads and the ML export writes (docs/he.md section 7).
//
// Input: the JSON text.
//
// Properties checked beyond "no crash, no sanitizer report, no uncaught exception":
//   - every error is InvalidArgument;
//   - an accepted model is valid (ValidateLinearModel) and round-trips: LinearModelToJson parses back to the
//     same kind, names, weights, bias and standardization, bit for bit (the metadata is not kept).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "veil/he/scoring.h"

namespace {

// Bitwise equality (distinguishes -0.0 from 0.0, which a JSON round trip must keep too).
bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto model = veil::he::ParseLinearModelJson(text);
  if (!model.ok()) {
    if (model.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (!veil::he::ValidateLinearModel(*model).ok()) std::abort();
  auto again = veil::he::ParseLinearModelJson(veil::he::LinearModelToJson(*model));
  if (!again.ok()) std::abort();
  if (again->kind != model->kind || again->feature_names != model->feature_names ||
      !SameBits(again->weights, model->weights) || !SameBits({again->bias}, {model->bias}) ||
      !SameBits(again->means, model->means) || !SameBits(again->scales, model->scales)) {
    std::abort();
  }
  return 0;
}
