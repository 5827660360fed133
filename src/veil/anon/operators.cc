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

namespace veil::anon {
namespace {

using pii::EntityType;

constexpr char kDigitAlphabet[] = "0123456789";
constexpr char kAlnumAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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

int LuhnCheckDigit(std::string_view payload) {
  // Doubling starts with the payload's last digit (it sits next to the check digit).
  int sum = 0;
  bool twice = true;
  for (size_t i = payload.size(); i-- > 0;) {
    int d = payload[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return (10 - sum % 10) % 10;
}

absl::StatusOr<std::unique_ptr<Ff1Operator>> Ff1Operator::Create(const base::SecretBytes& key,
                                                                 const Ff1OperatorOptions& options) {
  VEIL_ASSIGN_OR_RETURN(Ff1 digits, Ff1::Create(key, 10));
  VEIL_ASSIGN_OR_RETURN(Ff1 alnum, Ff1::Create(key, 62));
  return std::unique_ptr<Ff1Operator>(new Ff1Operator(std::move(digits), std::move(alnum), options));
}

absl::StatusOr<std::string> Ff1Operator::Crypt(bool encrypt, ValueType type, std::string_view value) const {
  const bool digits_only = Ff1AlphabetFor(type, options_.untyped_alphabet) == Ff1Alphabet::kDigits;
  const Ff1& ff1 = digits_only ? digits_ : alnum_;
  const std::string_view alphabet = digits_only ? kDigitAlphabet : kAlnumAlphabet;
  // The positions of the characters that are encrypted; everything else stays where it is.
  std::vector<size_t> positions;
  std::string numerals;
  for (size_t i = 0; i < value.size(); ++i) {
    if (digits_only ? IsDigit(value[i]) : IsAlnum(value[i])) {
      positions.push_back(i);
      numerals.push_back(value[i]);
    }
  }
  const bool luhn = options_.fix_luhn && type == EntityType::kCreditCard && numerals.size() >= 2;
  if (luhn) numerals.pop_back();
  if (numerals.size() < ff1.min_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("FF1: a ", std::string(TypeLabel(type)), " value has ", numerals.size(),
                     " characters to encrypt; FF1 needs at least ", ff1.min_length(), " (radix ", ff1.radix(),
                     ", domain of at least 1,000,000)"));
  }
  const std::string tweak = absl::StrCat("veil ff1 v1:", std::string(TypeLabel(type)));
  VEIL_ASSIGN_OR_RETURN(std::string out, encrypt
                                             ? ff1.EncryptString(numerals, alphabet, base::AsBytes(tweak))
                                             : ff1.DecryptString(numerals, alphabet, base::AsBytes(tweak)));
  if (luhn) out.push_back(static_cast<char>('0' + LuhnCheckDigit(out)));
  std::string result(value);
  for (size_t k = 0; k < positions.size(); ++k) result[positions[k]] = out[k];
  return result;
}

absl::StatusOr<std::string> Ff1Operator::Encrypt(ValueType type, std::string_view value) {
  absl::StatusOr<std::string> out = Crypt(true, type, value);
  if (!out.ok() && options_.replace_small_domains && absl::IsInvalidArgument(out.status())) {
    ++small_domain_count_;
    return absl::StrCat("<", std::string(TypeLabel(type)), ">");
  }
  return out;
}

absl::StatusOr<std::string> Ff1Operator::Decrypt(ValueType type, std::string_view value) const {
  return Crypt(false, type, value);
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
