// The kinds of personal data Veil's PII module finds, and the span a recognizer reports.
//
// Offsets are byte offsets into UTF-8 text and always fall on code point boundaries (a span never starts or
// ends inside a multibyte character). Entity names follow Microsoft Presidio's ("EMAIL_ADDRESS", "US_SSN",
// ...) so that results and evaluation sets line up with the tools people compare Veil with.
#ifndef VEIL_PII_ENTITY_H_
#define VEIL_PII_ENTITY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace veil::pii {

enum class EntityType : uint8_t {
  kEmailAddress,     // EMAIL_ADDRESS
  kPhoneNumber,      // PHONE_NUMBER
  kCreditCard,       // CREDIT_CARD (Luhn)
  kIbanCode,         // IBAN_CODE (ISO 13616 mod-97)
  kUsSsn,            // US_SSN
  kUsItin,           // US_ITIN
  kUsPassport,       // US_PASSPORT
  kUsDriverLicense,  // US_DRIVER_LICENSE
  kUkNhs,            // UK_NHS (mod-11 check digit)
  kIpAddress,        // IP_ADDRESS (IPv4 and IPv6)
  kMacAddress,       // MAC_ADDRESS
  kUrl,              // URL
  kDomainName,       // DOMAIN_NAME
  kDateTime,         // DATE_TIME (dates, times, dates of birth)
  kZipCode,          // ZIP_CODE (US ZIP and other postal codes, with context)
  kAge,              // AGE
  kPerson,           // PERSON
  kStreetAddress,    // STREET_ADDRESS
  kLocation,         // LOCATION (cities, states, countries)
};
inline constexpr size_t kEntityTypeCount = static_cast<size_t>(EntityType::kLocation) + 1;

// Every entity type, in enum order.
const std::array<EntityType, kEntityTypeCount>& AllEntityTypes();

// The Presidio-style name of a type ("EMAIL_ADDRESS").
std::string_view EntityName(EntityType type);

// The type with that name (case-sensitive, as EntityName prints it), or nullopt.
std::optional<EntityType> EntityFromName(std::string_view name);

// The types named by `items`, each one name or several separated by commas ("EMAIL_ADDRESS,PERSON"), in
// order. Error: InvalidArgument "SOURCE: unknown entity type 'X' (known: ...)" for a name EntityFromName does
// not know, where `source` says where the list came from ("--entities").
absl::StatusOr<std::vector<EntityType>> ParseEntityList(const std::vector<std::string>& items,
                                                        std::string_view source);

// One finding: text[begin, end) is an entity of `type`.
struct Span {
  size_t begin = 0;  // byte offset, on a code point boundary
  size_t end = 0;    // byte offset, exclusive
  EntityType type = EntityType::kEmailAddress;
  double score = 0;             // confidence in [0, 1]
  std::string_view recognizer;  // the name of the recognizer that found it (static storage)

  friend bool operator==(const Span&, const Span&) = default;
};

// A source of spans. Find must be thread-safe (const, no shared mutable state) and linear in the text's
// length: no backtracking regex, no quadratic scan.
class Recognizer {
 public:
  virtual ~Recognizer() = default;

  // A short stable name ("luhn_credit_card", "person_dictionary"), printed with each span.
  virtual std::string_view name() const = 0;
  // The types it can report.
  virtual std::vector<EntityType> entities() const = 0;
  // Appends its findings in `text` (any order, overlaps allowed: the analyzer resolves them).
  virtual void Find(std::string_view text, std::vector<Span>& out) const = 0;
};

}  // namespace veil::pii

#endif  // VEIL_PII_ENTITY_H_
