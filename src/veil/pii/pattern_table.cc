#include "veil/pii/pattern_table.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace veil::pii::internal {
namespace {

constexpr unsigned kCaseless = HS_FLAG_CASELESS;

// Month names for the date patterns (validated after the match: the pattern over-approximates).
#define VEIL_MONTH "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)(?:[a-z]{0,6})"
#define VEIL_EXT "(?:[ ]?(?:x|ext\\.?|extension)[ ]?\\d{1,6})?"

const Pattern kPatterns[] = {
    {"email_address", EntityType::kEmailAddress,
     "\\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,24}\\b", 0,
     Check::kEmail, Mode::kEach, 400},
    {"url", EntityType::kUrl, "\\b(?:https?|ftp)://[^\\s<>\"'{}|\\\\^`]+", kCaseless, Check::kUrl,
     Mode::kUnion, 4096},
    {"url", EntityType::kUrl, "\\bwww\\.[A-Za-z0-9][^\\s<>\"'{}|\\\\^`]*", kCaseless, Check::kUrl,
     Mode::kUnion, 4096},
    {"domain_name", EntityType::kDomainName,
     "\\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{"
     "2,"
     "24}\\b",
     0, Check::kDomain, Mode::kEach, 300},
    {"ipv4_address", EntityType::kIpAddress, "\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b", 0, Check::kIpv4, Mode::kEach,
     64},
    {"ipv6_address", EntityType::kIpAddress, "[0-9A-Fa-f:.]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*", 0, Check::kIpv6,
     Mode::kUnion, 64},
    {"mac_address", EntityType::kMacAddress, "\\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\\b", 0, Check::kMac,
     Mode::kEach, 40},
    {"mac_address", EntityType::kMacAddress, "\\b[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\b", 0,
     Check::kMac, Mode::kEach, 40},
    {"luhn_credit_card", EntityType::kCreditCard, "\\b\\d(?:[ -]?\\d){11,18}\\b", 0, Check::kCard,
     Mode::kEach, 48},
    {"iban_mod97", EntityType::kIbanCode,
     "\\b[A-Za-z]{2}\\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?\\b", 0, Check::kIban,
     Mode::kEach, 64},
    {"us_ssn", EntityType::kUsSsn, "\\b\\d{3}([- .]?)\\d{2}[- .]?\\d{4}\\b", 0, Check::kSsn, Mode::kEach, 24},
    {"us_itin", EntityType::kUsItin, "\\b9\\d{2}[- ]?[7-9]\\d[- ]?\\d{4}\\b", 0, Check::kItin, Mode::kEach,
     24},
    {"us_passport", EntityType::kUsPassport, "\\b[A-Za-z]?\\d{8,9}\\b", 0, Check::kPassport, Mode::kEach, 24},
    {"us_driver_license", EntityType::kUsDriverLicense, "\\b[A-Za-z]\\d{3,14}\\b", 0, Check::kDriverLicense,
     Mode::kEach, 24},
    {"us_driver_license", EntityType::kUsDriverLicense, "\\b\\d{4}-\\d{2}-\\d{4}\\b|\\b\\d{6,13}\\b", 0,
     Check::kDriverLicense, Mode::kEach, 24},
    {"uk_nhs_mod11", EntityType::kUkNhs, "\\b\\d{3}[ -]?\\d{3}[ -]?\\d{4}\\b", 0, Check::kNhs, Mode::kEach,
     24},
    {"phone_number", EntityType::kPhoneNumber, "\\+\\d[\\d ().-]{5,22}\\d" VEIL_EXT "\\b", kCaseless,
     Check::kPhone, Mode::kPhone, 48},
    {"phone_number", EntityType::kPhoneNumber, "\\(\\d{1,5}\\)[ .-]?\\d[\\d .-]{3,16}\\d" VEIL_EXT "\\b",
     kCaseless, Check::kPhone, Mode::kPhone, 48},
    {"phone_number", EntityType::kPhoneNumber, "\\b\\d[\\d .-]{5,18}\\d" VEIL_EXT "\\b", kCaseless,
     Check::kPhone, Mode::kPhone, 48},
    {"date_numeric", EntityType::kDateTime,
     "\\b\\d{1,2}/\\d{1,2}/(?:\\d{4}|\\d{2})\\b|\\b\\d{1,2}([.-])\\d{1,2}[.-]\\d{4}\\b", 0,
     Check::kDateNumeric, Mode::kEach, 24},
    {"date_iso", EntityType::kDateTime,
     "\\b\\d{4}[-/]\\d{1,2}[-/]\\d{1,2}(?:[T "
     "]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?(?:Z|[+-]\\d{2}:?\\d{2})?)"
     "?\\b",
     0, Check::kDateIso, Mode::kEach, 48},
    {"date_month_name", EntityType::kDateTime,
     "\\b" VEIL_MONTH "\\.?[ ]+\\d{1,2}(?:st|nd|rd|th)?(?:,?[ ]+\\d{4})?\\b|"
     "\\b\\d{1,2}(?:st|nd|rd|th)?[ ]+(?:of[ ]+)?" VEIL_MONTH "\\.?(?:,?[ ]+\\d{4})?\\b|"
     "\\b" VEIL_MONTH "\\.?,?[ ]+\\d{4}\\b",
     kCaseless, Check::kDateMonth, Mode::kEach, 48},
    {"time", EntityType::kDateTime,
     "\\b\\d{1,2}:\\d{2}(?::\\d{2})?(?:[ ]?[ap]\\.?m\\b\\.?)?|\\b\\d{1,2}[ ]?[ap]m\\b", kCaseless,
     Check::kTime, Mode::kEach, 24},
    {"weekday", EntityType::kDateTime, "\\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\\b", 0, Check::kWeekday,
     Mode::kEach, 16},
    {"year", EntityType::kDateTime, "\\b(?:1[89]|20)\\d{2}\\b", 0, Check::kYear, Mode::kEach, 8},
    {"us_zip_code", EntityType::kZipCode, "\\b\\d{5}(?:-\\d{4})?\\b", 0, Check::kZip, Mode::kEach, 16},
    {"uk_postcode", EntityType::kZipCode, "\\b[A-Z]{1,2}\\d[A-Z\\d]?[ ]?\\d[A-Z]{2}\\b", 0,
     Check::kPostcodeUk, Mode::kEach, 16},
    {"ca_postal_code", EntityType::kZipCode, "\\b[A-Z]\\d[A-Z][ ]?\\d[A-Z]\\d\\b", 0, Check::kPostcodeCa,
     Mode::kEach, 16},
    {"postal_code", EntityType::kZipCode, "\\b\\d{3,5}(?:[ -]\\d{2,4}|[ ][A-Z]{2})?\\b", 0,
     Check::kPostalGeneric, Mode::kEach, 16},
    {"age", EntityType::kAge,
     "\\b(?:aged?|age[ ]?:|age[ ]of|turn(?:ed|s|ing)?)[ ]+\\d{1,3}\\b|"
     "\\b\\d{1,3}[ -]*(?:years?|yrs?)[ -]*old\\b|\\b\\d{1,3}[ ]?y/?o\\b",
     kCaseless, Check::kAge, Mode::kEach, 40},
};
#undef VEIL_MONTH
#undef VEIL_EXT

}  // namespace

std::span<const Pattern> Patterns() { return kPatterns; }

uint64_t PatternTableHash() {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  const auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ull;  // FNV prime
    }
  };
  const char* version = hs_version();
  mix(version, std::strlen(version) + 1);
  for (const Pattern& p : kPatterns) {
    mix(p.regex, std::strlen(p.regex) + 1);
    const uint32_t flags = p.flags;
    mix(&flags, sizeof(flags));
  }
  return h;
}

hs_platform_info_t GenericPlatform() {
  hs_platform_info_t platform{};
  platform.tune = 0;  // HS_TUNE_FAMILY_GENERIC
  platform.cpu_features = 0;
  return platform;
}

absl::StatusOr<hs_database_t*> CompilePatternDatabase(const hs_platform_info_t& platform) {
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < std::size(kPatterns); ++i) {
    exprs.push_back(kPatterns[i].regex);
    flags.push_back(kPatterns[i].flags);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, &platform, &db, &error) != HS_SUCCESS) {
    std::string message = error != nullptr && error->message != nullptr ? error->message : "unknown error";
    const int expr = error != nullptr ? error->expression : -1;
    hs_free_compile_error(error);
    return absl::InternalError(
        absl::StrCat("the PII pattern database does not compile: pattern ", expr, ": ", message));
  }
  return db;
}

}  // namespace veil::pii::internal
