// De-identification operators: what replaces each personal-data value that the PII analyzer found.
//
//   VEIL_ASSIGN_OR_RETURN(auto token, anon::TokenOperator::Create(std::move(key)));
//   VEIL_ASSIGN_OR_RETURN(anon::AnonymizeResult r, anon::Anonymize(text, analyzer->Analyze(text), *token));
//
// Operators (each a ValueOperator; pseudonymizer.h adds consistent pseudonyms with a sealed mapping):
//   redact     the value is removed ("" in its place).
//   replace    "<TYPE>", e.g. "<EMAIL_ADDRESS>".
//   mask       n characters (code points, not bytes) overwritten with a mask character, from the start or the
//              end: "4111-1111-1111-1111" -> "***************1111" with n = 15.
//   token      a keyed token, HMAC-SHA-256 under a key (RFC 2104): "TOK_EMAIL_ADDRESS_3f9a0c2d7e41b855".
//              The same value (after canonicalisation, below) always gives the same token under the same key;
//              without the key tokens cannot be computed or inverted, only compared.
//   ff1        format-preserving encryption (ff1.h, NIST SP 800-38G): the value's digits (numeric types) or
//              letters and digits (other types) are encrypted in place, each keeping its class (digit, upper,
//              lower case), every other character stays: a card number stays 16 digits with its dashes and
//              passes Luhn, an IBAN keeps its country and passes mod-97, a phone number keeps its +CC.
//              Reversible with the key (Ff1Operator::Decrypt).
//
// Canonicalisation (CanonicalValue), so that formatting variants of one value agree for tokens and
// pseudonyms:
//   CREDIT_CARD, US_SSN, US_ITIN, UK_NHS, PHONE_NUMBER   the digits only ("4111-1111 1111 1111" ==
//                                                        "4111111111111111"; note "+1 212 555 0100" and
//                                                        "(212) 555-0100" differ: the country code is a
//                                                        digit)
//   EMAIL_ADDRESS, DOMAIN_NAME, URL, IP_ADDRESS           ASCII lower case, white space as for PERSON
//   MAC_ADDRESS                                          hex digits only, lower case
//   IBAN_CODE, US_PASSPORT, US_DRIVER_LICENSE, ZIP_CODE  without spaces and hyphens, ASCII upper case
//   PERSON, LOCATION, STREET_ADDRESS                     ASCII lower case, runs of white space as one space,
//                                                        trimmed ("Jane  DOE" == "jane doe")
//   everything else, and untyped values (table cells)    runs of white space as one space, trimmed
// Non-ASCII letters are compared as they are (no Unicode case folding or normalisation).
//
// Thread safety: operators with state (Ff1Operator's counters, Pseudonymizer) are not thread-safe; the
// stateless ones and the free functions are.
#ifndef VEIL_ANON_OPERATORS_H_
#define VEIL_ANON_OPERATORS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/anon/ff1.h"
#include "veil/base/secret_bytes.h"
#include "veil/pii/entity.h"

namespace veil::anon {

// The kind of value an operator sees: an entity type found in text, or nullopt for a table cell whose column
// has no declared entity type. Its label ("EMAIL_ADDRESS", or "VALUE" for nullopt) appears in replacements,
// tokens and pseudonyms.
using ValueType = std::optional<pii::EntityType>;
std::string_view TypeLabel(ValueType type);

// The canonical form of `value` for `type` (table above).
std::string CanonicalValue(ValueType type, std::string_view value);

// One operator: the replacement of one value.
class ValueOperator {
 public:
  virtual ~ValueOperator() = default;
  // Errors: operator-specific (documented on each); never contain the value.
  virtual absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) = 0;
};

class RedactOperator final : public ValueOperator {
 public:
  absl::StatusOr<std::string> Apply(ValueType, std::string_view) override { return std::string(); }
};

// "<TYPE>" ("<VALUE>" for untyped values).
class ReplaceOperator final : public ValueOperator {
 public:
  absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) override;
};

struct MaskOptions {
  // One code point (UTF-8). Default "*".
  std::string mask_char = "*";
  // How many code points to mask; more than the value has masks all of it. Default: all.
  size_t chars_to_mask = SIZE_MAX;
  // Mask the last chars_to_mask code points instead of the first.
  bool from_end = false;
};

class MaskOperator final : public ValueOperator {
 public:
  // Errors: InvalidArgument if mask_char is not exactly one valid UTF-8 code point.
  static absl::StatusOr<std::unique_ptr<MaskOperator>> Create(const MaskOptions& options);
  // Code-point aware: a multibyte character is masked as one character. Invalid UTF-8 in the value is masked
  // byte by byte.
  absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) override;

 private:
  explicit MaskOperator(MaskOptions options) : options_(std::move(options)) {}
  MaskOptions options_;
};

struct TokenOptions {
  // The token's form: "{type}" is replaced by the type label, "{hex}" by the first hex_digits lower-case
  // hex digits of the MAC. Must contain "{hex}".
  std::string format = "TOK_{type}_{hex}";
  // 8 to 64 (even). 16 hex digits = 64 bits: collisions become likely only near 2^32 distinct values.
  size_t hex_digits = 16;
};

// Keyed tokens. The MAC is
//   HMAC-SHA-256(key, "veil token v1" || 0x00 || TypeLabel(type) || 0x00 || CanonicalValue(type, value))
// so tokens of different types never collide by construction, and formatting variants agree.
class TokenOperator final : public ValueOperator {
 public:
  // Errors: InvalidArgument if the key is shorter than 16 bytes or the options are invalid.
  static absl::StatusOr<std::unique_ptr<TokenOperator>> Create(base::SecretBytes key,
                                                               const TokenOptions& options = {});
  absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) override;

 private:
  TokenOperator(base::SecretBytes key, TokenOptions options)
      : key_(std::move(key)), options_(std::move(options)) {}
  base::SecretBytes key_;
  TokenOptions options_;
};

// Which characters of a value FF1 encrypts.
enum class Ff1Alphabet {
  kDigits,        // 0-9 only (numeric types: CREDIT_CARD, US_SSN, US_ITIN, UK_NHS, PHONE_NUMBER, AGE,
                  // DATE_TIME); letters stay as they are
  kAlphanumeric,  // ASCII digits and letters, each keeping its class: a digit stays a digit, an upper-case
                  // letter an upper-case letter, a lower-case letter a lower-case letter (every other type)
};
// The alphabet used for `type`; `untyped` for nullopt.
Ff1Alphabet Ff1AlphabetFor(ValueType type, Ff1Alphabet untyped);

struct Ff1OperatorOptions {
  // CREDIT_CARD: encrypt all digits but the last and recompute the last as the Luhn check digit, so the
  // result still passes Luhn (and is still found by the analyzer, so it can be decrypted in a text). A card
  // failing Luhn is not encrypted (see replace_small_domains). Off: all digits are encrypted and the result
  // fails Luhn 9 times in 10.
  bool fix_luhn = true;
  // A value FF1 cannot encrypt in format: its domain is too small (the product of the radices of its
  // encrypted characters below 1,000,000: fewer than 6 digits, 5 letters of one case, ...; ff1.h), or it
  // fails its type's check (an IBAN failing mod-97, a card failing Luhn, an SSN/ITIN/NHS number that is not
  // structurally valid: its ciphertext could not be decrypted exactly). true replaces it with "<TYPE>"
  // (counted in small_domain_count() or invalid_count()), false fails with InvalidArgument.
  bool replace_small_domains = true;
  // The alphabet of untyped values (table cells without an entity type).
  Ff1Alphabet untyped_alphabet = Ff1Alphabet::kAlphanumeric;
};

// Class-preserving FF1 (NIST SP 800-38G) on a value's characters, in place; every other character (dashes,
// spaces, dots, "@", bytes of non-ASCII characters) stays where it is. Per type:
//   CREDIT_CARD     digits but the last encrypted, the last recomputed (Luhn), as fix_luhn says.
//   IBAN_CODE       the country code kept, the BBAN encrypted by class, the two check digits recomputed
//                   (ISO 7064 MOD 97-10): the result is a valid IBAN of the same country, length and layout.
//   PHONE_NUMBER    a leading "+CC" or "00CC" (ITU-T E.164 country code) kept, the other digits encrypted.
//   US_SSN/US_ITIN  the 9 digits encrypted, re-encrypted while the result is not a valid SSN (ITIN): cycle
//                   walking (Black-Rogaway 2002), so the result is structurally valid and decrypts exactly.
//   UK_NHS          the first 9 digits encrypted (walking past results without a mod-11 check digit), the
//                   check digit recomputed.
//   EMAIL_ADDRESS   "@", dots and the top-level domain kept; the local part and the other domain labels
//                   encrypted together, by class.
//   numeric types   (Ff1Alphabet::kDigits) the digits; everything else (PERSON, LOCATION, ...) by class.
// The encrypted characters form one domain: one class -> FF1 in its radix (10 or 26) on the sequence; several
// -> the sequence read as one number in the mixed radix of its positions (10 or 26 each), written in binary
// and encrypted with FF1 in radix 2, cycle-walking until the number is inside the domain. The tweak is
// "veil ff1 v2" 0x00 TYPE 0x00 MASK, MASK the value with each encrypted character replaced by its class
// ('d', 'u', 'l') and each recomputed check digit by '#': the type, the layout and the characters kept
// (country code, TLD) all bind the ciphertext. Deterministic: the same value encrypts the same.
class Ff1Operator final : public ValueOperator {
 public:
  // `key`: 16, 24 or 32 bytes (AES-128/192/256). Errors: InvalidArgument for another size.
  static absl::StatusOr<std::unique_ptr<Ff1Operator>> Create(const base::SecretBytes& key,
                                                             const Ff1OperatorOptions& options = {});
  absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) override {
    return Encrypt(type, value);
  }
  // Errors (when replace_small_domains is off): InvalidArgument for a domain too small or a value failing
  // its type's check (naming the type and the count of characters, never the value).
  absl::StatusOr<std::string> Encrypt(ValueType type, std::string_view value);
  // The inverse of Encrypt (for a value that Encrypt did not replace): exact for every value Encrypt
  // accepted. Errors: InvalidArgument for a domain too small or a malformed value.
  absl::StatusOr<std::string> Decrypt(ValueType type, std::string_view value) const;
  // How many values Encrypt replaced by "<TYPE>" because their domain was too small.
  size_t small_domain_count() const { return small_domain_count_; }
  // How many values Encrypt replaced by "<TYPE>" because they failed their type's check.
  size_t invalid_count() const { return invalid_count_; }

 private:
  using Acceptable = std::function<bool(const std::string&)>;
  Ff1Operator(Ff1 digits, Ff1 letters, Ff1 bits, Ff1OperatorOptions options)
      : digits_(std::move(digits)), letters_(std::move(letters)), bits_(std::move(bits)), options_(options) {}
  absl::StatusOr<std::string> Crypt(bool encrypt, ValueType type, std::string_view value, int* refusal) const;
  absl::StatusOr<std::string> CryptPositions(bool encrypt, ValueType type, std::string value,
                                             const std::vector<size_t>& positions,
                                             const std::vector<size_t>& recomputed, bool digits_only,
                                             const Acceptable& acceptable, int* refusal) const;

  Ff1 digits_;   // radix 10
  Ff1 letters_;  // radix 26
  Ff1 bits_;     // radix 2 (mixed-radix domains)
  Ff1OperatorOptions options_;
  size_t small_domain_count_ = 0;
  size_t invalid_count_ = 0;
};

// Checks that `spans` suit `text`: each within it, begin < end, both on code point boundaries (not inside a
// UTF-8 sequence), sorted by begin and non-overlapping. Errors: InvalidArgument naming the span's index and
// offsets.
absl::Status ValidateSpans(std::string_view text, std::span<const pii::Span> spans);

struct AnonymizeResult {
  std::string text;
  // How many spans of each type were replaced (index: static_cast<size_t>(EntityType)).
  std::array<size_t, pii::kEntityTypeCount> counts{};
};

// `text` with each span's value replaced by op.Apply(span.type, value). A PHONE_NUMBER span directly after a
// "+" (not inside the previous span) takes the "+" in: "+44 7700 900461" is one value, so that ff1 keeps its
// country code and the other operators replace the whole number. Errors: ValidateSpans's; the
// operator's.
absl::StatusOr<AnonymizeResult> Anonymize(std::string_view text, std::span<const pii::Span> spans,
                                          ValueOperator& op);

}  // namespace veil::anon

#endif  // VEIL_ANON_OPERATORS_H_
