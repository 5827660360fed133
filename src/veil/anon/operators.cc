#include "veil/anon/operators.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/crypto/hmac.h"
#include "veil/pii/checksums.h"

namespace veil::anon {
namespace {

using pii::EntityType;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Runs of white space as one space, trimmed; optionally ASCII lower case.
std::string CollapseSpaces(std::string_view v, bool lower) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(lower ? absl::ascii_tolower(static_cast<unsigned char>(c)) : c);
  }
  return out;
}

// Length of the UTF-8 sequence starting with `lead`, or 1 for a byte that cannot start one.
size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;
}

// The byte offsets where each code point of `v` starts (a byte of an invalid sequence counts as one).
std::vector<size_t> CodePointStarts(std::string_view v) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < v.size();) {
    starts.push_back(i);
    size_t len = SequenceLength(static_cast<unsigned char>(v[i]));
    if (i + len > v.size() || !base::IsValidUtf8(v.substr(i, len))) len = 1;
    i += len;
  }
  return starts;
}

bool IsContinuation(std::string_view text, size_t pos) {
  return pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80;
}

}  // namespace

std::string_view TypeLabel(ValueType type) { return type.has_value() ? pii::EntityName(*type) : "VALUE"; }

std::string CanonicalValue(ValueType type, std::string_view value) {
  if (!type.has_value()) return CollapseSpaces(value, false);
  std::string out;
  switch (*type) {
    case EntityType::kCreditCard:
    case EntityType::kUsSsn:
    case EntityType::kUsItin:
    case EntityType::kUkNhs:
    case EntityType::kPhoneNumber:
      for (char c : value)
        if (IsDigit(c)) out.push_back(c);
      return out;
    case EntityType::kEmailAddress:
    case EntityType::kDomainName:
    case EntityType::kUrl:
    case EntityType::kIpAddress:
      return CollapseSpaces(value, true);
    case EntityType::kMacAddress:
      for (char c : value)
        if (absl::ascii_isxdigit(static_cast<unsigned char>(c)))
          out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
      return out;
    case EntityType::kIbanCode:
    case EntityType::kUsPassport:
    case EntityType::kUsDriverLicense:
    case EntityType::kZipCode:
      for (char c : value)
        if (!IsSpace(c) && c != '-') out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
      return out;
    case EntityType::kPerson:
    case EntityType::kLocation:
    case EntityType::kStreetAddress:
      return CollapseSpaces(value, true);
    case EntityType::kDateTime:
    case EntityType::kAge:
      return CollapseSpaces(value, false);
  }
  return CollapseSpaces(value, false);
}

absl::StatusOr<std::string> ReplaceOperator::Apply(ValueType type, std::string_view) {
  return absl::StrCat("<", std::string(TypeLabel(type)), ">");
}

absl::StatusOr<std::unique_ptr<MaskOperator>> MaskOperator::Create(const MaskOptions& options) {
  const std::string& m = options.mask_char;
  if (m.empty() || !base::IsValidUtf8(m) || SequenceLength(static_cast<unsigned char>(m[0])) != m.size()) {
    return absl::InvalidArgumentError("mask: the mask character must be exactly one UTF-8 character");
  }
  return std::unique_ptr<MaskOperator>(new MaskOperator(options));
}

absl::StatusOr<std::string> MaskOperator::Apply(ValueType, std::string_view value) {
  const std::vector<size_t> starts = CodePointStarts(value);
  const size_t count = std::min(options_.chars_to_mask, starts.size());
  // Code points [first, last) are masked.
  const size_t first = options_.from_end ? starts.size() - count : 0;
  const size_t last = first + count;
  const auto byte_at = [&](size_t cp) { return cp < starts.size() ? starts[cp] : value.size(); };
  std::string out(value.substr(0, byte_at(first)));
  for (size_t i = first; i < last; ++i) out += options_.mask_char;
  out.append(value.substr(byte_at(last)));
  return out;
}

absl::StatusOr<std::unique_ptr<TokenOperator>> TokenOperator::Create(base::SecretBytes key,
                                                                     const TokenOptions& options) {
  if (key.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("token: the key must be at least 16 bytes, not ", key.size()));
  }
  if (options.hex_digits < 8 || options.hex_digits > 64 || options.hex_digits % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("token: hex_digits must be an even number from 8 to 64, not ", options.hex_digits));
  }
  if (options.format.find("{hex}") == std::string::npos) {
    return absl::InvalidArgumentError("token: the format must contain {hex}");
  }
  return std::unique_ptr<TokenOperator>(new TokenOperator(std::move(key), options));
}

absl::StatusOr<std::string> TokenOperator::Apply(ValueType type, std::string_view value) {
  crypto::HmacSha256Hasher mac(key_);
  const std::string_view label = TypeLabel(type);
  const std::string canonical = CanonicalValue(type, value);
  static constexpr uint8_t kZero[1] = {0};
  mac.Update(base::AsBytes("veil token v1"));
  mac.Update(kZero);
  mac.Update(base::AsBytes(label));
  mac.Update(kZero);
  mac.Update(base::AsBytes(canonical));
  const crypto::HmacSha256Tag tag = mac.Final();
  const std::string hex = base::HexEncode(std::span<const uint8_t>(tag.data(), options_.hex_digits / 2));
  return absl::StrReplaceAll(options_.format, {{"{type}", std::string(label)}, {"{hex}", hex}});
}

Ff1Alphabet Ff1AlphabetFor(ValueType type, Ff1Alphabet untyped) {
  if (!type.has_value()) return untyped;
  switch (*type) {
    case EntityType::kCreditCard:
    case EntityType::kUsSsn:
    case EntityType::kUsItin:
    case EntityType::kUkNhs:
    case EntityType::kPhoneNumber:
    case EntityType::kAge:
    case EntityType::kDateTime:
      return Ff1Alphabet::kDigits;
    default:
      return Ff1Alphabet::kAlphanumeric;
  }
}

namespace {

// ---- Class-preserving FF1 (see operators.h, "ff1"). ----

enum class CharClass : uint8_t { kOther, kDigit, kUpper, kLower };

CharClass ClassOf(char c, bool digits_only) {
  if (IsDigit(c)) return CharClass::kDigit;
  if (digits_only) return CharClass::kOther;
  if (c >= 'A' && c <= 'Z') return CharClass::kUpper;
  if (c >= 'a' && c <= 'z') return CharClass::kLower;
  return CharClass::kOther;
}
uint32_t RadixOf(CharClass k) { return k == CharClass::kDigit ? 10 : 26; }
uint16_t NumeralOf(char c) {
  if (IsDigit(c)) return static_cast<uint16_t>(c - '0');
  if (c >= 'A' && c <= 'Z') return static_cast<uint16_t>(c - 'A');
  return static_cast<uint16_t>(c - 'a');
}
char CharOf(CharClass k, uint32_t numeral) {
  switch (k) {
    case CharClass::kDigit:
      return static_cast<char>('0' + numeral);
    case CharClass::kUpper:
      return static_cast<char>('A' + numeral);
    default:
      return static_cast<char>('a' + numeral);
  }
}
char MaskLetter(CharClass k) {
  switch (k) {
    case CharClass::kDigit:
      return 'd';
    case CharClass::kUpper:
      return 'u';
    default:
      return 'l';
  }
}

// Minimal unsigned big integer (little-endian 32-bit limbs) for the mixed-radix domains: products of 10s and
// 26s, a few hundred bits at most for the values found in text.
struct BigNat {
  std::vector<uint32_t> limbs;  // no leading (high) zero limbs; empty = 0

  void MulAdd(uint32_t m, uint32_t a) {
    uint64_t carry = a;
    for (uint32_t& l : limbs) {
      const uint64_t v = static_cast<uint64_t>(l) * m + carry;
      l = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
    if (carry != 0) limbs.push_back(static_cast<uint32_t>(carry));
  }
  uint32_t DivMod(uint32_t d) {
    uint64_t rem = 0;
    for (size_t i = limbs.size(); i-- > 0;) {
      const uint64_t v = (rem << 32) | limbs[i];
      limbs[i] = static_cast<uint32_t>(v / d);
      rem = v % d;
    }
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    return static_cast<uint32_t>(rem);
  }
  size_t BitLength() const {
    if (limbs.empty()) return 0;
    return 32 * (limbs.size() - 1) + (32 - static_cast<size_t>(__builtin_clz(limbs.back())));
  }
  bool Less(const BigNat& o) const {
    if (limbs.size() != o.limbs.size()) return limbs.size() < o.limbs.size();
    for (size_t i = limbs.size(); i-- > 0;)
      if (limbs[i] != o.limbs[i]) return limbs[i] < o.limbs[i];
    return false;
  }
  bool AtLeast(uint64_t v) const {
    BigNat o;
    if (v != 0) o.limbs.push_back(static_cast<uint32_t>(v));
    if ((v >> 32) != 0) o.limbs.push_back(static_cast<uint32_t>(v >> 32));
    return !Less(o);
  }
  std::string Decimal() const {
    BigNat t = *this;
    std::string out;
    do out.insert(out.begin(), static_cast<char>('0' + t.DivMod(10)));
    while (!t.limbs.empty());
    return out;
  }
};

// Why a value was not encrypted.
enum class Refusal { kNone, kSmallDomain, kInvalid };

// Cycle walks stop here at the latest: with a valid input the walk ends in a few steps on average (2 for the
// mixed-radix domains, 36 for ITINs), so reaching this means a broken invariant.
constexpr int kMaxWalk = 100000;

// ITU-T E.164 country codes are a prefix code: 1 and 7 are one digit, these two, every other three.
size_t CountryCodeLength(std::string_view digits) {
  if (digits.empty()) return 0;
  if (digits[0] == '1' || digits[0] == '7') return 1;
  if (digits.size() < 2) return digits.size();
  static constexpr int kTwo[] = {20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46,
                                 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63,
                                 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98};
  const int two = (digits[0] - '0') * 10 + (digits[1] - '0');
  for (int c : kTwo)
    if (c == two) return 2;
  return std::min<size_t>(3, digits.size());
}

std::string DigitsOf(std::string_view v) {
  std::string d;
  for (char c : v)
    if (IsDigit(c)) d.push_back(c);
  return d;
}

bool SsnShaped(std::string_view d, bool itin) {
  if (d.size() != 9) return false;
  const int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  const int group = (d[3] - '0') * 10 + (d[4] - '0');
  const int serial = std::stoi(std::string(d.substr(5)));
  return itin ? pii::internal::UsItinValid(area, group, serial)
              : pii::internal::UsSsnValid(area, group, serial);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ff1Operator>> Ff1Operator::Create(const base::SecretBytes& key,
                                                                 const Ff1OperatorOptions& options) {
  VEIL_ASSIGN_OR_RETURN(Ff1 digits, Ff1::Create(key, 10));
  VEIL_ASSIGN_OR_RETURN(Ff1 letters, Ff1::Create(key, 26));
  VEIL_ASSIGN_OR_RETURN(Ff1 bits, Ff1::Create(key, 2));
  return std::unique_ptr<Ff1Operator>(
      new Ff1Operator(std::move(digits), std::move(letters), std::move(bits), options));
}

// Encrypts (or decrypts) the characters of `value` at `positions` (each a digit, or with !digits_only an
// ASCII letter), each keeping its class. The tweak is "veil ff1 v2" 0x00 TYPE 0x00 mask, the mask having one
// byte per byte of the value: 'd', 'u' or 'l' at `positions`, '#' at `recomputed` (check digits written
// after encryption), the byte itself elsewhere (the characters kept bind the ciphertext). One class: FF1 in
// its radix (10 or 26) on the sequence. Several: the sequence is one number in the mixed radix of its
// positions (domain D = product of the radices), written in L = bitlength(D) bits and encrypted with FF1 in
// radix 2, re-encrypting while the result is >= D (cycle walking; < 2 steps on average since D > 2^(L-1)).
// `acceptable` (optional) widens the walk: results failing it are encrypted again too (SSN structure);
// decryption walks back the same way, which restores exactly every input that was acceptable.
absl::StatusOr<std::string> Ff1Operator::CryptPositions(bool encrypt, ValueType type, std::string value,
                                                        const std::vector<size_t>& positions,
                                                        const std::vector<size_t>& recomputed,
                                                        bool digits_only, const Acceptable& acceptable,
                                                        int* refusal) const {
  std::vector<CharClass> classes(positions.size());
  std::string mask(value);
  bool mixed = false;
  for (size_t k = 0; k < positions.size(); ++k) {
    classes[k] = ClassOf(value[positions[k]], digits_only);
    mask[positions[k]] = MaskLetter(classes[k]);
    if (classes[k] != classes[0]) mixed = true;
  }
  for (size_t r : recomputed) mask[r] = '#';
  const std::string tweak = absl::StrCat("veil ff1 v2", std::string(1, '\0'), std::string(TypeLabel(type)),
                                         std::string(1, '\0'), mask);
  const std::span<const uint8_t> t = base::AsBytes(tweak);

  BigNat domain;
  domain.MulAdd(1, 1);
  for (CharClass k : classes) domain.MulAdd(RadixOf(k), 0);
  if (positions.empty() || !domain.AtLeast(kFf1MinDomainSize)) {
    *refusal = static_cast<int>(Refusal::kSmallDomain);
    return absl::InvalidArgumentError(
        absl::StrCat("FF1: a ", std::string(TypeLabel(type)), " value has ", positions.size(),
                     " characters to encrypt, a domain of ", domain.Decimal(),
                     " values; FF1 needs at least 1,000,000 (NIST SP 800-38G Rev. 1)"));
  }
  const auto accept = [&](const std::string& v) { return !acceptable || acceptable(v); };

  if (!mixed) {
    const Ff1& ff1 = classes[0] == CharClass::kDigit ? digits_ : letters_;
    std::vector<uint16_t> x(positions.size());
    for (size_t k = 0; k < positions.size(); ++k) x[k] = NumeralOf(value[positions[k]]);
    for (int step = 0; step < kMaxWalk; ++step) {
      VEIL_ASSIGN_OR_RETURN(x, encrypt ? ff1.Encrypt(x, t) : ff1.Decrypt(x, t));
      for (size_t k = 0; k < positions.size(); ++k) value[positions[k]] = CharOf(classes[k], x[k]);
      if (accept(value)) return value;
    }
    return absl::InternalError("FF1: cycle walk did not end");
  }

  BigNat n;
  for (size_t k = 0; k < positions.size(); ++k) n.MulAdd(RadixOf(classes[k]), NumeralOf(value[positions[k]]));
  const size_t bits = domain.BitLength();
  std::vector<uint16_t> x(bits);
  for (size_t i = bits; i-- > 0;) x[i] = static_cast<uint16_t>(n.DivMod(2));
  for (int step = 0; step < kMaxWalk; ++step) {
    VEIL_ASSIGN_OR_RETURN(x, encrypt ? bits_.Encrypt(x, t) : bits_.Decrypt(x, t));
    BigNat y;
    for (uint16_t b : x) y.MulAdd(2, b);
    if (!y.Less(domain)) continue;
    for (size_t k = positions.size(); k-- > 0;)
      value[positions[k]] = CharOf(classes[k], y.DivMod(RadixOf(classes[k])));
    if (accept(value)) return value;
  }
  return absl::InternalError("FF1: cycle walk did not end");
}

absl::StatusOr<std::string> Ff1Operator::Crypt(bool encrypt, ValueType type, std::string_view value,
                                               int* refusal) const {
  const bool digits_only = Ff1AlphabetFor(type, options_.untyped_alphabet) == Ff1Alphabet::kDigits;
  std::vector<size_t> positions;
  std::vector<size_t> recomputed;
  for (size_t i = 0; i < value.size(); ++i)
    if (ClassOf(value[i], digits_only) != CharClass::kOther) positions.push_back(i);
  const auto invalid = [&](std::string_view why) {
    *refusal = static_cast<int>(Refusal::kInvalid);
    return absl::InvalidArgumentError(
        absl::StrCat("FF1: a ", std::string(TypeLabel(type)), " value ", std::string(why)));
  };
  Acceptable acceptable;
  const pii::EntityType t = type.value_or(pii::EntityType::kAge);
  const bool typed = type.has_value();
  std::string out;

  if (typed && t == EntityType::kCreditCard && options_.fix_luhn && positions.size() >= 2) {
    // All digits but the last; the last is the Luhn check digit of the result.
    if (encrypt && !pii::internal::LuhnValid(DigitsOf(value))) return invalid("fails Luhn");
    recomputed.push_back(positions.back());
    positions.pop_back();
    VEIL_ASSIGN_OR_RETURN(out, CryptPositions(encrypt, type, std::string(value), positions, recomputed,
                                              digits_only, acceptable, refusal));
    const std::string d = DigitsOf(out);
    out[recomputed[0]] =
        static_cast<char>('0' + pii::internal::LuhnCheckDigit(std::string_view(d).substr(0, d.size() - 1)));
    return out;
  }
  if (typed && t == EntityType::kIbanCode) {
    // Country code kept, check digits recomputed, the BBAN encrypted by class.
    std::vector<size_t> alnum;
    for (size_t i = 0; i < value.size(); ++i)
      if (IsAlnum(value[i])) alnum.push_back(i);
    if (encrypt && !pii::internal::IbanValid(value)) return invalid("fails ISO 13616 (length or mod-97)");
    if (alnum.size() < 5) return invalid("is too short for an IBAN");
    if (encrypt) {
      const int given = (value[alnum[2]] - '0') * 10 + (value[alnum[3]] - '0');
      if (given < 2 || given > 98) return invalid("has check digits outside 02-98");
    }
    positions.assign(alnum.begin() + 4, alnum.end());
    recomputed = {alnum[2], alnum[3]};
    VEIL_ASSIGN_OR_RETURN(out, CryptPositions(encrypt, type, std::string(value), positions, recomputed,
                                              digits_only, acceptable, refusal));
    std::string country, bban;
    for (size_t k = 0; k < alnum.size(); ++k) (k < 2 ? country : bban).push_back(out[alnum[k]]);
    bban.erase(0, 2);
    const int check = pii::internal::IbanCheckDigits(country, bban);
    out[alnum[2]] = static_cast<char>('0' + check / 10);
    out[alnum[3]] = static_cast<char>('0' + check % 10);
    return out;
  }
  if (typed && t == EntityType::kPhoneNumber) {
    // "+CC" or "00CC" (international prefix and country code) kept; the national number encrypted.
    size_t i = 0;
    while (i < value.size() && IsSpace(value[i])) ++i;
    size_t cc_start = std::string_view::npos;
    if (i < value.size() && value[i] == '+') {
      cc_start = i + 1;
    } else if (value.substr(i, 2) == "00") {
      cc_start = i + 2;
    }
    if (cc_start != std::string_view::npos) {
      size_t end = cc_start;
      while (end < value.size() && IsDigit(value[end])) ++end;
      const size_t cc_len = CountryCodeLength(value.substr(cc_start, end - cc_start));
      std::erase_if(positions, [&](size_t p) { return p < cc_start + cc_len; });
    }
    return CryptPositions(encrypt, type, std::string(value), positions, recomputed, digits_only, acceptable,
                          refusal);
  }
  if (typed && (t == EntityType::kUsSsn || t == EntityType::kUsItin)) {
    const bool itin = t == EntityType::kUsItin;
    if (positions.size() != 9 || !SsnShaped(DigitsOf(value), itin)) {
      return invalid(itin ? "is not a valid ITIN (area 9xx, group 70-88, 90-92, 94-99)"
                          : "is not a valid SSN (area 001-899 but 666, group 01-99, serial 0001-9999)");
    }
    acceptable = [itin](const std::string& v) { return SsnShaped(DigitsOf(v), itin); };
    return CryptPositions(encrypt, type, std::string(value), positions, recomputed, digits_only, acceptable,
                          refusal);
  }
  if (typed && t == EntityType::kUkNhs) {
    // Nine digits encrypted, walking past results without a check digit (mod 11 = 10); check recomputed.
    if (positions.size() != 10 || (encrypt && !pii::internal::NhsNumberValid(DigitsOf(value))))
      return invalid("is not a valid NHS number (10 digits, mod-11 check)");
    recomputed.push_back(positions.back());
    positions.pop_back();
    acceptable = [](const std::string& v) { return pii::internal::NhsCheckDigit(DigitsOf(v)) != 10; };
    VEIL_ASSIGN_OR_RETURN(out, CryptPositions(encrypt, type, std::string(value), positions, recomputed,
                                              digits_only, acceptable, refusal));
    out[recomputed[0]] = static_cast<char>('0' + pii::internal::NhsCheckDigit(DigitsOf(out)));
    return out;
  }
  if (typed && t == EntityType::kEmailAddress) {
    // "@", dots and the top-level domain kept; the local part and the other domain labels encrypted.
    const size_t at = value.rfind('@');
    if (at != std::string_view::npos) {
      const size_t dot = value.rfind('.');
      if (dot != std::string_view::npos && dot > at) {
        std::erase_if(positions, [&](size_t p) { return p > dot; });
      }
    }
  }
  return CryptPositions(encrypt, type, std::string(value), positions, recomputed, digits_only, acceptable,
                        refusal);
}

absl::StatusOr<std::string> Ff1Operator::Encrypt(ValueType type, std::string_view value) {
  int refusal = static_cast<int>(Refusal::kNone);
  absl::StatusOr<std::string> out = Crypt(true, type, value, &refusal);
  if (!out.ok() && options_.replace_small_domains && refusal != static_cast<int>(Refusal::kNone)) {
    ++(refusal == static_cast<int>(Refusal::kSmallDomain) ? small_domain_count_ : invalid_count_);
    return absl::StrCat("<", std::string(TypeLabel(type)), ">");
  }
  return out;
}

absl::StatusOr<std::string> Ff1Operator::Decrypt(ValueType type, std::string_view value) const {
  int refusal = 0;
  return Crypt(false, type, value, &refusal);
}

absl::Status ValidateSpans(std::string_view text, std::span<const pii::Span> spans) {
  size_t prev_end = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const pii::Span& s = spans[i];
    const auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("span ", i, " [", s.begin, ", ", s.end, "): ", std::string(why)));
    };
    if (s.begin >= s.end) return bad("empty or reversed");
    if (s.end > text.size()) return bad(absl::StrCat("beyond the text's ", text.size(), " bytes"));
    if (s.begin < prev_end) return bad("overlaps the previous span or is out of order");
    if (IsContinuation(text, s.begin) || IsContinuation(text, s.end)) return bad("inside a UTF-8 character");
    prev_end = s.end;
  }
  return absl::OkStatus();
}

absl::StatusOr<AnonymizeResult> Anonymize(std::string_view text, std::span<const pii::Span> spans,
                                          ValueOperator& op) {
  VEIL_RETURN_IF_ERROR(ValidateSpans(text, spans));
  AnonymizeResult result;
  result.text.reserve(text.size());
  size_t pos = 0;
  for (const pii::Span& s : spans) {
    result.text.append(text.substr(pos, s.begin - pos));
    VEIL_ASSIGN_OR_RETURN(std::string replacement, op.Apply(s.type, text.substr(s.begin, s.end - s.begin)));
    result.text += replacement;
    ++result.counts[static_cast<size_t>(s.type)];
    pos = s.end;
  }
  result.text.append(text.substr(pos));
  return result;
}

}  // namespace veil::anon
