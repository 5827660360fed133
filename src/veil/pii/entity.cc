#include "veil/pii/entity.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "veil/base/absl_compat.h"

namespace veil::pii {
namespace {

constexpr std::array<std::string_view, kEntityTypeCount> kNames = {
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",       "IBAN_CODE", "US_SSN",
    "US_ITIN",       "US_PASSPORT",  "US_DRIVER_LICENSE", "UK_NHS",    "IP_ADDRESS",
    "MAC_ADDRESS",   "URL",          "DOMAIN_NAME",       "DATE_TIME", "ZIP_CODE",
    "AGE",           "PERSON",       "STREET_ADDRESS",    "LOCATION",
};

}  // namespace

const std::array<EntityType, kEntityTypeCount>& AllEntityTypes() {
  static const std::array<EntityType, kEntityTypeCount> all = [] {
    std::array<EntityType, kEntityTypeCount> a{};
    for (size_t i = 0; i < kEntityTypeCount; ++i) a[i] = static_cast<EntityType>(i);
    return a;
  }();
  return all;
}

std::string_view EntityName(EntityType type) { return kNames[static_cast<size_t>(type)]; }

std::optional<EntityType> EntityFromName(std::string_view name) {
  for (size_t i = 0; i < kEntityTypeCount; ++i) {
    if (kNames[i] == name) return static_cast<EntityType>(i);
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<EntityType>> ParseEntityList(const std::vector<std::string>& items,
                                                        std::string_view source) {
  std::vector<EntityType> out;
  for (const std::string& item : items) {
    for (absl::string_view part : absl::StrSplit(item, ',', absl::SkipWhitespace())) {
      const std::string_view name(part.data(), part.size());
      std::optional<EntityType> t = EntityFromName(name);
      if (!t.has_value()) {
        std::string known;
        for (std::string_view n : kNames) known.append(known.empty() ? "" : ", ").append(n);
        return absl::InvalidArgumentError(
            absl::StrCat(base::ToAbsl(source), ": unknown entity type '", part, "' (known: ", known, ")"));
      }
      out.push_back(*t);
    }
  }
  return out;
}

}  // namespace veil::pii
