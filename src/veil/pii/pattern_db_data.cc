// EmbeddedPatternImage() (the bytes pattern_db_data.S embeds) and LoadEmbeddedPatternDatabase().
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/pii/pattern_table.h"

extern "C" const char veil_pii_pattern_db_begin[];
extern "C" const char veil_pii_pattern_db_end[];

namespace veil::pii::internal {

std::string_view EmbeddedPatternImage() {
  return std::string_view(veil_pii_pattern_db_begin,
                          static_cast<size_t>(veil_pii_pattern_db_end - veil_pii_pattern_db_begin));
}

absl::StatusOr<hs_database_t*> LoadEmbeddedPatternDatabase() {
  const std::string_view image = EmbeddedPatternImage();
  if (image.empty()) return absl::NotFoundError("no embedded PII pattern database");
  if (image.size() < 16 || image.substr(0, 8) != "VEILPDB1") {
    return absl::DataLossError("the embedded PII pattern database has no VEILPDB1 header");
  }
  uint64_t hash = 0;
  for (int i = 0; i < 8; ++i) hash |= uint64_t{static_cast<unsigned char>(image[8 + i])} << (8 * i);
  if (hash != PatternTableHash()) {
    return absl::FailedPreconditionError(
        "the embedded PII pattern database was compiled from another pattern table or Vectorscan version");
  }
  const std::string_view bytes = image.substr(16);
  hs_database_t* db = nullptr;
  const hs_error_t err = hs_deserialize_database(bytes.data(), bytes.size(), &db);
  if (err != HS_SUCCESS) {
    return absl::FailedPreconditionError(
        absl::StrCat("Vectorscan rejects the embedded PII pattern database (hs error ", err, ")"));
  }
  return db;
}

}  // namespace veil::pii::internal
