#include "veil/pii/checksums.h"

#include <arpa/inet.h>

#include <cstring>

namespace veil::pii::internal {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int Prefix(std::string_view digits, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < digits.size(); ++i) v = v * 10 + (digits[i] - '0');
  return v;
}

// ISO 13616 lengths by country, from the SWIFT IBAN registry (release 2023/2024).
struct IbanCountry {
  char code[3];
  int length;
};
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

int AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c; }

}  // namespace

int LuhnCheckDigit(std::string_view payload) {
  int sum = 0;
  bool twice = true;  // the payload's last digit sits next to the check digit
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

bool LuhnValid(std::string_view digits) {
  if (digits.empty() || !AllDigits(digits)) return false;
  return LuhnCheckDigit(digits.substr(0, digits.size() - 1)) == digits.back() - '0';
}

bool CardNumberValid(std::string_view digits, bool* known_issuer) {
  if (known_issuer != nullptr) *known_issuer = false;
  const size_t n = digits.size();
  if (n < 12 || n > 19 || !LuhnValid(digits)) return false;
  if (digits.find_first_not_of(digits[0]) == std::string_view::npos) return false;  // 0000..., 4444...
  const int p1 = Prefix(digits, 1), p2 = Prefix(digits, 2), p3 = Prefix(digits, 3), p4 = Prefix(digits, 4);
  bool known = false;
  if (p1 == 4) known = n == 13 || n == 16 || n == 19;                                  // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) known = known || n == 16;  // Mastercard
  if (p2 == 34 || p2 == 37) known = known || n == 15;                                  // Amex
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) known = known || n >= 16;    // Discover
  if (p4 >= 3528 && p4 <= 3589) known = known || n >= 16;                              // JCB
  if (p4 == 2131 || p4 == 1800) known = known || n == 15;                              // JCB (old)
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) known = known || (n >= 14 && n <= 19);
  if (p2 == 62) known = known || n >= 16;                            // UnionPay
  if (p2 == 50 || (p2 >= 56 && p2 <= 69)) known = known || n >= 12;  // Maestro
  if (p4 == 2014 || p4 == 2149) known = known || n == 15;            // enRoute
  if (known_issuer != nullptr) *known_issuer = known;
  return true;
}

int IbanLength(std::string_view country) {
  if (country.size() != 2) return 0;
  for (const IbanCountry& c : kIbanCountries) {
    if (c.code[0] == country[0] && c.code[1] == country[1]) return c.length;
  }
  return 0;
}

bool IbanValid(std::string_view iban) {
  char buf[40];
  size_t n = 0;
  for (char c : iban) {
    if (c == ' ') continue;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!alnum || n == sizeof(buf)) return false;
    buf[n++] = static_cast<char>(AsciiUpper(c));
  }
  if (n < 15) return false;
  const std::string_view s(buf, n);
  if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z') || !AllDigits(s.substr(2, 2))) return false;
  if (IbanLength(s.substr(0, 2)) != static_cast<int>(n)) return false;
  return IbanCheckDigits(s.substr(0, 2), s.substr(4)) == (s[2] - '0') * 10 + (s[3] - '0');
}

int IbanCheckDigits(std::string_view country, std::string_view bban) {
  // ISO 7064 MOD 97-10, letters as 10..35, computed incrementally over BBAN + country + "00".
  int rem = 0;
  const auto feed = [&rem](char c) {
    const int u = AsciiUpper(c);
    rem = u >= 'A' && u <= 'Z' ? (rem * 100 + (u - 'A' + 10)) % 97 : (rem * 10 + (u - '0')) % 97;
  };
  for (char c : bban) feed(c);
  for (char c : country) feed(c);
  feed('0');
  feed('0');
  return 98 - rem;
}

int NhsCheckDigit(std::string_view nine) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (nine[i] - '0') * (10 - i);
  const int check = 11 - sum % 11;
  return check == 11 ? 0 : check;
}

bool NhsNumberValid(std::string_view d) {
  if (d.size() != 10 || !AllDigits(d)) return false;
  const int check = NhsCheckDigit(d.substr(0, 9));
  return check != 10 && check == d[9] - '0';
}

bool UsSsnValid(int area, int group, int serial) {
  if (area <= 0 || area == 666 || area >= 900) return false;
  return group > 0 && group <= 99 && serial > 0 && serial <= 9999;
}

bool UsItinValid(int area, int group, int serial) {
  if (area < 900 || area > 999 || serial < 0 || serial > 9999) return false;
  return (group >= 70 && group <= 88) || (group >= 90 && group <= 92) || (group >= 94 && group <= 99);
}

std::optional<std::array<uint8_t, 4>> ParseIpv4(std::string_view s) {
  std::array<uint8_t, 4> out{};
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
    const size_t start = i;
    int v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) v = v * 10 + (s[i++] - '0');
    const size_t len = i - start;
    if (len == 0 || v > 255 || (len > 1 && s[start] == '0')) return std::nullopt;
    out[part] = static_cast<uint8_t>(v);
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

bool Ipv6Valid(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  char buf[46];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

bool DateValid(int year, int month, int day) {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1]) return false;
  if (month == 2 && day == 29) return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return true;
}

}  // namespace veil::pii::internal
