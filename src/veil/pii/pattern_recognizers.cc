#include "veil/pii/pattern_recognizers.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "phonenumbers/logger.h"
#include "phonenumbers/phonemetadata.pb.h"
#include "phonenumbers/phonenumber.pb.h"
#include "phonenumbers/phonenumberutil.h"
#include "re2/re2.h"
#include "veil/base/status_macros.h"
#include "veil/pii/checksums.h"
#include "veil/pii/pattern_table.h"

namespace veil::pii {
namespace {

using internal::Check;
using internal::DateValid;
using internal::Mode;
using internal::Pattern;

// --- The recognizer table: base scores and context words -------------------------------------------------

// True if `word` is one of the space-separated words of `list` (no allocation: called per candidate).
bool WordIn(std::string_view word, std::string_view list) {
  if (word.empty()) return false;
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find(' ', start);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(start, end - start) == word) return true;
    start = end + 1;
  }
  return false;
}

// A space-separated list of lowercase words with a filter built at compile time: per first character
// (a-z, 0-9), a bit per word length (31 for 31 and more). Most words before a candidate are not in the list
// and are rejected by one lookup instead of a walk over the list.
class WordList {
 public:
  constexpr WordList(const char* words) : words_(words) {  // NOLINT: implicit from a literal
    size_t start = 0;
    while (start < words_.size()) {
      size_t end = words_.find(' ', start);
      if (end == std::string_view::npos) end = words_.size();
      const int k = Slot(words_[start]);
      if (k >= 0) filter_[k] |= uint32_t{1} << (end - start < 31 ? end - start : 31);
      start = end + 1;
    }
  }
  std::string_view words() const { return words_; }
  bool empty() const { return words_.empty(); }
  bool Contains(std::string_view word) const {
    if (word.empty()) return false;
    const int k = Slot(word[0]);
    if (k < 0 || ((filter_[k] >> (word.size() < 31 ? word.size() : 31)) & 1) == 0) return false;
    return WordIn(word, words_);
  }

 private:
  static constexpr int Slot(char c) {
    return c >= 'a' && c <= 'z' ? c - 'a' : c >= '0' && c <= '9' ? 26 + (c - '0') : -1;
  }
  std::string_view words_;
  uint32_t filter_[36] = {};
};

struct Scoring {
  Check check;
  double score;
  WordList context;   // raise the score
  WordList negative;  // lower it (to kNegativeScore)
};
constexpr double kNegativeScore = 0.05;
// A phone number that is possible (right length) but valid for no region: needs a context word.
constexpr double kPossiblePhoneScore = 0.4;

constexpr Scoring kScoring[] = {
    {Check::kEmail, 1.0, "email mail e-mail contact address", ""},
    {Check::kUrl, 0.85, "url link website site web homepage visit", ""},
    {Check::kDomain, 0.6, "domain website site web url visit host", ""},
    {Check::kIpv4, 0.9, "ip ipv4 address host server", "version ver v release build firmware"},
    {Check::kIpv6, 0.9, "ip ipv6 address host server", ""},
    {Check::kMac, 0.8, "mac ethernet hardware address wifi nic", ""},
    {Check::kCard, 0.9, "card credit debit visa mastercard amex cc payment",
     "order invoice tracking isbn serial"},
    {Check::kIban, 1.0, "iban bank account transfer", ""},
    {Check::kSsn, 0.6, "ssn social security ss ssns ssa", ""},
    {Check::kItin, 0.6, "itin taxpayer tax", ""},
    {Check::kPassport, 0.05, "passport travel", ""},
    {Check::kDriverLicense, 0.05, "driver drivers driving license licence dl permit", ""},
    {Check::kNhs, 0.5, "nhs health patient", ""},
    {Check::kPhone, 0.7,
     "phone telephone tel call mobile cell cellphone fax contact reach dial office whatsapp landline ring "
     "text",
     "card credit debit ssn social security license licence driver passport account iban zip postal itin nhs "
     "order invoice"},
    {Check::kDateNumeric, 0.6, "date born birth dob birthday on", ""},
    {Check::kDateIso, 0.85, "date born birth dob birthday when", ""},
    {Check::kDateMonth, 0.8, "date born birth dob birthday on", ""},
    {Check::kTime, 0.6, "at time when", ""},
    {Check::kWeekday, 0.6, "on", ""},
    {Check::kYear, 0.3, "in since during of until by from year born circa early late mid before after", ""},
    {Check::kZip, 0.1, "zip zipcode postal postcode code", ""},
    {Check::kPostcodeUk, 0.5, "postcode postal zip code", ""},
    {Check::kPostcodeCa, 0.5, "postal code zip", ""},
    {Check::kPostalGeneric, 0.0, "zip zipcode postal postcode", ""},
    {Check::kAge, 0.85, "age aged old", ""},
};

const Scoring& ScoringOf(Check c) {
  for (const Scoring& s : kScoring) {
    if (s.check == c) return s;
  }
  return kScoring[0];
}

// --- Text helpers
// --------------------------------------------------------------------------------------------

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string_view Slice(std::string_view text, size_t begin, size_t end) {
  return text.substr(begin, end - begin);
}

// The char at i, or '\0' outside the text.
char At(std::string_view text, size_t i) { return i < text.size() ? text[i] : '\0'; }
char Before(std::string_view text, size_t i, size_t k = 1) { return i >= k ? text[i - k] : '\0'; }

// Pieces of `s` between `sep` characters (empty pieces included). absl::StrSplit takes absl::string_view,
// which is not std::string_view in Debian's Abseil build.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

// The lowercased alphanumeric words before `begin`, nearest first: at most `max_words` of them, looking back
// at most 80 bytes. Calls f(word, index) for each; stops when f returns true.
template <typename F>
bool WordsBefore(std::string_view text, size_t begin, int max_words, F&& f, size_t lookback = 80) {
  const size_t limit = begin > lookback ? begin - lookback : 0;
  size_t i = begin;
  for (int k = 0; k < max_words; ++k) {
    while (i > limit && !IsAlnum(text[i - 1])) --i;
    if (i <= limit) return false;
    const size_t end = i;
    while (i > limit && IsAlnum(text[i - 1])) --i;
    char buf[32];
    const size_t n = std::min<size_t>(end - i, sizeof(buf));
    for (size_t j = 0; j < n; ++j) buf[j] = absl::ascii_tolower(static_cast<unsigned char>(text[i + j]));
    if (f(std::string_view(buf, n), k)) return true;
  }
  return false;
}

bool HasContext(std::string_view text, size_t begin, const WordList& words, int max_words = 5,
                size_t lookback = 80) {
  if (words.empty()) return false;
  return WordsBefore(
      text, begin, max_words, [&](std::string_view w, int) { return words.Contains(w); }, lookback);
}

// The previous word only.
bool PreviousWordIn(std::string_view text, size_t begin, const WordList& words) {
  return HasContext(text, begin, words, 1);
}

constexpr WordList kBirthWords("born birth founded established");

// --- The scan
// --------------------------------------------------------------------------------------------------

struct Cluster {
  bool active = false;
  bool poisoned = false;
  size_t begin = 0, end = 0;
  std::vector<std::pair<size_t, size_t>> matches;
};

// A region's national-number validity, IsValidNumberForRegion's test compiled once into RE2 (see
// RegionValidity() below).
struct RegionValidity {
  bool ok = false;                     // false: ask libphonenumber
  uint32_t general_lengths = 0;        // bit n: the general description allows n digits (all bits: no list)
  std::unique_ptr<const RE2> general;  // the general description's national number pattern
  // By national number length (0..15): the alternation of the patterns of every number type whose
  // possible lengths allow that length; null if none does (no number of that length is valid).
  std::array<std::unique_ptr<const RE2>, 16> types;
};

}  // namespace

struct PatternRecognizers::Impl {
  const hs_database_t* db = nullptr;  // the process-wide database (SharedDatabase); not owned
  std::vector<bool> wanted;           // by database id (= index into Patterns())
  std::vector<std::string> phone_regions;
  // Per region: its country calling code and national (trunk) prefix, for the parse-free validity check.
  std::vector<std::pair<int, std::string>> phone_region_codes;
  std::vector<RegionValidity> phone_validity;  // by region
  std::vector<EntityType> entities;
  const i18n::phonenumbers::PhoneNumberUtil* phone = nullptr;
  // By database id: the pattern anchored at its end ("(?:regex)$"), to find the leftmost start of a match
  // Vectorscan reports by its end (process-wide, immutable; StartFinders()).
  const std::vector<std::unique_ptr<const RE2>>* start_finders = nullptr;
  double min_score = 0;  // spans scoring below are not reported

  void Validate(std::string_view text, const Pattern& p, size_t begin, size_t end,
                std::vector<Span>& out) const;
  void ValidatePhone(std::string_view text, const Pattern& p, const Cluster& c, std::vector<Span>& out) const;
  bool PhoneScore(std::string_view candidate, double* score) const;
  // IsValidNumberForRegion(number, phone_regions[r]) for `number` built from the digits `nsn` (its national
  // significant number) under region r's calling code.
  bool ValidForRegion(size_t r, std::string_view nsn, const i18n::phonenumbers::PhoneNumber& number) const;
};

namespace {

struct ScanState {
  const PatternRecognizers::Impl* impl;
  std::string_view text;
  std::vector<Span>* out;
  std::vector<Cluster> clusters;
};

void Emit(std::string_view text, const Pattern& p, const Scoring& s, size_t begin, size_t end, double score,
          double min_score, std::vector<Span>& out) {
  // Negative words: the two words before (an IP address after "version"), four for phones (a number after
  // "my driver's license number is" is not a phone number).
  // One walk back over the words for both lists: the nearest word of either list in its window decides
  // ("bus driver / Phone: 201-948-1927" is a phone number; "my driver's license number is 201-948-1927" is
  // not).
  const int negative_words = s.negative.empty() ? 0 : p.check == Check::kPhone ? 4 : 2;
  const int context_words = p.check == Check::kTime || p.check == Check::kWeekday ? 1 : 5;
  bool negative = false, context = false;
  WordsBefore(text, begin, std::max(negative_words, context_words), [&](std::string_view w, int k) {
    negative = k < negative_words && s.negative.Contains(w);
    context = !negative && k < context_words && s.context.Contains(w);
    return negative || context;
  });
  if (negative) {
    score = std::min(score, kNegativeScore);
  } else if (context) {
    // Times and weekdays take only the word right before ("at 10:30", "on Tuesday"): the date in front of a
    // time ("on 2000-04-16 11:34") must not lift the time above the whole date-time.
    score = std::min(1.0, std::max(score + kContextBoost, kContextFloor));
  }
  if (score <= 0 || score < min_score) return;
  out.push_back(Span{begin, end, p.type, score, p.recognizer});
}

using Groups = absl::InlinedVector<int, 8>;

// Separators used between digits in [begin, end): returns false if more than one kind occurs. `sep` gets
// the kind ('\0' if none), `groups` the digit group lengths.
bool DigitGroups(std::string_view s, char* sep, Groups* groups) {
  *sep = '\0';
  int run = 0;
  for (char c : s) {
    if (IsDigit(c)) {
      ++run;
      continue;
    }
    if (*sep != '\0' && c != *sep) return false;
    *sep = c;
    if (groups != nullptr) groups->push_back(run);
    run = 0;
  }
  if (groups != nullptr) groups->push_back(run);
  return true;
}

std::string DigitsOf(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (IsDigit(c)) d.push_back(c);
  }
  return d;
}

// True if a phone candidate is one piece of a longer run of digit groups: a separator (space, '-', '.')
// and a digit right after it, or a digit and a separator right before it. Separators are single characters,
// so "call 020 7946 0958, 24 hours" and "tel 020 7946 0958 (24 hours)" are not runs.
bool ContinuesAsDigitGroups(std::string_view text, size_t begin, size_t end) {
  const auto sep = [](char c) { return c == ' ' || c == '-' || c == '.'; };
  if (sep(At(text, end)) && IsDigit(At(text, end + 1))) return true;
  if (sep(Before(text, begin)) && IsDigit(Before(text, begin, 2))) return true;
  return false;
}

// True if `begin` follows the groups of a printed IBAN-shaped string: space-separated groups of 4 letters or
// digits back to one that starts with a country code and two check digits ("GB28 BYGX 7146 4799 2374 66",
// ISO 13616's print format). Whether or not the IBAN's mod-97 check passes, its tail is not a phone number.
bool AfterIbanGroups(std::string_view text, size_t begin) {
  size_t i = begin;
  for (int groups = 0; groups < 8; ++groups) {
    if (i < 5 || text[i - 1] != ' ') return false;
    const size_t g = i - 5;  // the group is text[g, g + 4)
    for (size_t k = g; k < g + 4; ++k) {
      if (!IsAlnum(text[k])) return false;
    }
    if (g > 0 && IsAlnum(text[g - 1])) return false;
    if (IsAlpha(text[g]) && IsAlpha(text[g + 1]) && IsDigit(text[g + 2]) && IsDigit(text[g + 3])) return true;
    i = g;
  }
  return false;
}

// True if the candidate continues into more digits with the same separator ("1234 5678 ... 9012 34"), or is
// part of a decimal / dotted number.
bool ContinuesAsNumber(std::string_view text, size_t begin, size_t end, char sep) {
  const char after = At(text, end), before = Before(text, begin);
  if ((after == '.' || after == ',') && IsDigit(At(text, end + 1))) return true;
  if ((before == '.' || before == ',') && IsDigit(Before(text, begin, 2))) return true;
  if (sep != '\0') {
    if (after == sep && IsDigit(At(text, end + 1))) return true;
    if (before == sep && IsDigit(Before(text, begin, 2))) return true;
  } else {
    if (after == '-' && IsDigit(At(text, end + 1))) return true;
    if (before == '-' && IsDigit(Before(text, begin, 2))) return true;
  }
  return false;
}

bool MonthWordValid(std::string_view w) {
  static constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                                 "may",       "june",     "july",     "august",
                                                 "september", "october",  "november", "december"};
  std::string lower = Lower(w);
  if (lower == "sept") return true;
  for (std::string_view m : kMonths) {
    if (lower == m) return true;
    if (lower.size() == 3 && m.substr(0, 3) == lower) return IsUpper(w[0]);
  }
  return false;
}

// The month word inside a month-name date candidate (the first alphabetic word that is not an ordinal or
// "of").
bool FindMonthWord(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (!IsAlpha(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && IsAlpha(s[j])) ++j;
    std::string_view w = s.substr(i, j - i);
    const bool ordinal = i > 0 && IsDigit(s[i - 1]);
    if (!ordinal && Lower(w) != "of") return MonthWordValid(w);
    i = j;
  }
  return false;
}

constexpr std::string_view kUsStates =
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP AA AE AP";

// "..., CA 94105": a US state abbreviation right before a ZIP code.
bool AfterStateAbbreviation(std::string_view text, size_t begin) {
  size_t i = begin;
  while (i > 0 && (text[i - 1] == ' ' || text[i - 1] == ',')) --i;
  if (i < 2 || i == begin) return false;
  if (!IsUpper(text[i - 1]) || !IsUpper(text[i - 2]) || (i >= 3 && IsAlnum(text[i - 3]))) return false;
  return WordIn(text.substr(i - 2, 2), kUsStates);
}

}  // namespace

namespace {
// The North American Numbering Plan (country code 1): a 10-digit national number NPA-NXX-XXXX whose area
// code (NPA) starts with 2-9: a leading 0 or 1 is the operator or trunk prefix in NANP dialling, so
// "+1 (058) 743-8248" has the right length (possible) but can never be dialled. The plan also rules out an
// exchange code (NXX) starting with 0 or 1, but that is not checked: generated test data (Faker's
// "+1-984-182-0190") uses such exchanges and labels them phone numbers; they still need a context word.
// True for numbers of other countries.
bool InNanpPlan(const i18n::phonenumbers::PhoneNumber& number) {
  if (number.country_code() != 1) return true;
  const uint64_t n = number.national_number();
  return n >= 2000000000ull && n <= 9999999999ull;
}
}  // namespace

bool PatternRecognizers::Impl::ValidForRegion(size_t r, std::string_view nsn,
                                              const i18n::phonenumbers::PhoneNumber& number) const {
  const RegionValidity& v = phone_validity[r];
  if (!v.ok) return phone->IsValidNumberForRegion(number, phone_regions[r]);
  if (nsn.size() >= v.types.size() || (v.general_lengths >> nsn.size() & 1) == 0) return false;
  const RE2* types = v.types[nsn.size()].get();
  return types != nullptr && RE2::FullMatch(nsn, *v.general) && RE2::FullMatch(nsn, *types);
}

bool PatternRecognizers::Impl::PhoneScore(std::string_view candidate, double* score) const {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  int digits = 0;
  for (char c : candidate) digits += IsDigit(c) ? 1 : 0;
  // E.164 allows at most 15 digits (an extension's digits are not counted: stop at 'x' or 'e').
  const size_t ext = candidate.find_first_of("xXeE");
  int main_digits = 0;
  for (char c : candidate.substr(0, ext)) main_digits += IsDigit(c) ? 1 : 0;
  if (main_digits < 7 || main_digits > 15) return false;
  // Unseparated digits are a phone number only at the lengths of full national numbers (10 to 12 digits);
  // shorter runs are counts, codes and references (and would cost a parse each).
  if (candidate.find_first_not_of("0123456789") == std::string_view::npos && (digits < 10 || digits > 12)) {
    return false;
  }
  const std::string s(candidate);
  const bool international = s[0] == '+';
  // Short numbers without a country code or an area code in brackets (7 or 8 digits: "224 4966") are as often
  // house numbers, prices or references: they need a context word.
  // A bare run of 10-12 digits (no '+', no separator) is as often an epoch timestamp ("1644912028"), an
  // order or account number: it needs a context word too.
  const bool bare = !international && candidate.find_first_not_of("0123456789") == std::string_view::npos;
  const double valid_score =
      (international || s[0] == '(' || digits > 8) && !bare ? ScoringOf(Check::kPhone).score : 0.45;
  bool possible = false;
  PhoneNumber number;
  if (international) {
    if (phone->Parse(s, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return false;
    if (phone->IsValidNumber(number)) {
      *score = valid_score;
      return true;
    }
    possible = phone->IsPossibleNumber(number) && InNanpPlan(number);
  } else {
    // A national number: its digits, less the region's trunk prefix ("0" in GB, "1" in the US), are the
    // national significant number under the region's calling code. Building the PhoneNumber directly and
    // asking IsValidNumberForRegion gives Parse's answer for these plain digit strings without Parse's
    // dozen regular expressions per region (the scan's hot spot).
    std::string digits_only;
    for (char c : candidate.substr(0, ext)) {
      if (IsDigit(c)) digits_only.push_back(c);
    }
    // The number as region r's national number; false if its length cannot be one.
    std::string_view nsn;
    const auto as_national = [&](size_t r) {
      const auto& [code, trunk] = phone_region_codes[r];
      nsn = digits_only;
      if (!trunk.empty() && nsn.substr(0, trunk.size()) == trunk) nsn.remove_prefix(trunk.size());
      if (nsn.size() < 4 || nsn.size() > 15) return false;
      number.Clear();
      number.set_country_code(code);
      uint64_t v = 0;
      for (char c : nsn) v = v * 10 + static_cast<uint64_t>(c - '0');
      number.set_national_number(v);
      size_t zeros = 0;
      while (zeros < nsn.size() - 1 && nsn[zeros] == '0') ++zeros;
      if (zeros > 0) {
        number.set_italian_leading_zero(true);
        number.set_number_of_leading_zeros(static_cast<int32_t>(zeros));
      }
      return true;
    };
    for (size_t r = 0; r < phone_regions.size(); ++r) {
      if (as_national(r) && ValidForRegion(r, nsn, number)) {
        *score = valid_score;
        return true;
      }
    }
    // Only now "possible" (asking it in the loop above cost a call per region tried before a valid one).
    for (size_t r = 0; r < phone_regions.size() && !possible; ++r) {
      possible = as_national(r) && phone->IsPossibleNumber(number) && InNanpPlan(number);
    }
  }
  // Possible (the right length for its country) but valid for no region: below the default min_score, so
  // reported only with a phone context word ("Fax: +41 (0)96 471 07 95", a range libphonenumber does not
  // list). The '+' alone does not make an unassigned number a phone number.
  if (possible) *score = kPossiblePhoneScore;
  return possible;
}

void PatternRecognizers::Impl::ValidatePhone(std::string_view text, const Pattern& p, const Cluster& c,
                                             std::vector<Span>& out) const {
  const Scoring& s = ScoringOf(Check::kPhone);
  // The extent first, then the matches from the longest down; at most a few libphonenumber calls per cluster.
  // (No allocation: the extent and the longest other match, the first of them on a tie.)
  std::pair<size_t, size_t> tries[2] = {{c.begin, c.end}, {0, 0}};
  size_t n_tries = 1;
  for (const auto& x : c.matches) {
    if (x == tries[0]) continue;
    if (n_tries == 1 || x.second - x.first > tries[1].second - tries[1].first) {
      tries[1] = x;
      n_tries = 2;
    }
  }
  for (size_t t = 0; t < n_tries; ++t) {
    auto [begin, end] = tries[t];
    // Trim separators the pattern may have taken at the edges.
    while (begin < end && (text[end - 1] == ' ' || text[end - 1] == '.' || text[end - 1] == '-')) --end;
    const std::string_view cand = Slice(text, begin, end);
    // A date, an IP address or a decimal number is not a phone number.
    char sep;
    Groups groups;
    const bool uniform = DigitGroups(cand, &sep, &groups);
    if (uniform && sep == '.' && groups.size() == 4 &&
        std::all_of(groups.begin(), groups.end(), [](int g) { return g <= 3; })) {
      continue;
    }
    if (uniform && (sep == '-' || sep == '/') && groups.size() == 3 && groups[0] == 4 && groups[1] == 2 &&
        groups[2] == 2) {
      continue;
    }
    // 3-2-4 is the shape of a US SSN, never of a phone number.
    if (uniform && sep == '-' && groups.size() == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4) {
      continue;
    }
    if (ContinuesAsNumber(text, begin, end, '\0')) continue;
    // Part of a longer run of digit groups ("5414 6119 3844" in "5414 6119 3844 4251", a 16-digit reference
    // failing Luhn): the run is the identifier, and a run that is no phone number has no phone inside it.
    if (ContinuesAsDigitGroups(text, begin, end)) continue;
    if (AfterIbanGroups(text, begin)) continue;
    // Part of an identifier token: digits joined by '-' or '_' to letters or digits before them
    // ("ORD-2029-890650", a UUID's "8337-4192-9596"). Not after the candidate: "07700 063 966-Fax" is a
    // label.
    if ((Before(text, begin) == '-' || Before(text, begin) == '_') && IsAlnum(Before(text, begin, 2)))
      continue;
    // The tail of an international number, which its own '+' pattern reports whole (or rejects): "(0)38 549
    // 02 90" after "+41 ", "743-8248" after "+1 (058) ", "44 7700 900461" right after its '+'. Walks back
    // over the characters a phone number is written with, at most the pattern's bound.
    if (text[begin] != '+') {
      size_t k = begin;
      while (k > 0 && begin - k < p.max_cluster &&
             (IsDigit(text[k - 1]) || text[k - 1] == ' ' || text[k - 1] == '(' || text[k - 1] == ')' ||
              text[k - 1] == '.' || text[k - 1] == '-')) {
        --k;
      }
      if (k > 0 && text[k - 1] == '+') continue;
    }
    double score = 0;
    if (!PhoneScore(cand, &score)) continue;
    Emit(text, p, s, begin, end, score, min_score, out);
    return;
  }
}

void PatternRecognizers::Impl::Validate(std::string_view text, const Pattern& p, size_t begin, size_t end,
                                        std::vector<Span>& out) const {
  const Scoring& s = ScoringOf(p.check);
  std::string_view cand = Slice(text, begin, end);
  double score = s.score;
  switch (p.check) {
    case Check::kEmail: {
      const size_t at = cand.find('@');
      const std::string_view local = cand.substr(0, at), domain = cand.substr(at + 1);
      if (local.size() > 64 || domain.size() > 253 || local.back() == '.' || local.find("..") != local.npos) {
        return;
      }
      if (Before(text, begin) == '.' || Before(text, begin) == '@') return;
      for (std::string_view label : Split(domain, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return;
      }
      if (!internal::IsKnownTld(domain.substr(domain.rfind('.') + 1))) return;
      break;
    }
    case Check::kUrl: {
      // Trailing punctuation belongs to the sentence; a closing bracket only if it has no opening one.
      while (end > begin) {
        const char c = text[end - 1];
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?') {
          --end;
        } else if (c == ')' || c == ']') {
          std::string_view u = Slice(text, begin, end);
          const char open = c == ')' ? '(' : '[';
          if (std::count(u.begin(), u.end(), open) < std::count(u.begin(), u.end(), c)) {
            --end;
          } else {
            break;
          }
        } else {
          break;
        }
      }
      cand = Slice(text, begin, end);
      size_t host_begin = 0;
      const size_t scheme = cand.find("://");
      if (scheme != cand.npos) host_begin = scheme + 3;
      size_t host_end = cand.find_first_of("/?#", host_begin);
      if (host_end == cand.npos) host_end = cand.size();
      std::string_view host = cand.substr(host_begin, host_end - host_begin);
      if (const size_t at = host.rfind('@'); at != host.npos) host = host.substr(at + 1);
      if (const size_t colon = host.rfind(':'); colon != host.npos && host.front() != '[') {
        host = host.substr(0, colon);
      }
      if (host.empty()) return;
      // "www.example.com" alone is a domain name (the domain recognizer reports it); a URL has a scheme or
      // a path.
      if (scheme == cand.npos && host_end == cand.size()) return;
      if (!internal::ParseIpv4(host).has_value()) {
        const size_t dot = host.rfind('.');
        if (dot == host.npos || dot == 0 || !internal::IsKnownTld(host.substr(dot + 1))) return;
        for (char c : host) {
          if (!IsAlnum(c) && c != '-' && c != '.') return;
        }
      }
      break;
    }
    case Check::kDomain: {
      const char before = Before(text, begin);
      if (before == '@' || before == '.' || before == '/' || before == '-' || before == '_') return;
      if (At(text, end) == '@' || (At(text, end) == '.' && IsAlnum(At(text, end + 1)))) return;
      if (At(text, end) == '-' || At(text, end) == '_') return;
      const size_t dot = cand.rfind('.');
      const std::string_view tld = cand.substr(dot + 1);
      const bool lower = std::all_of(tld.begin(), tld.end(), IsLower);
      const bool upper = std::all_of(tld.begin(), tld.end(), IsUpper);
      if (!(lower || upper) || !internal::IsKnownTld(tld)) return;
      bool has_alpha = false;
      for (std::string_view label : Split(cand, '.')) {
        if (label.size() > 63) return;
        has_alpha = has_alpha || std::any_of(label.begin(), label.end(), IsAlpha);
      }
      if (!has_alpha) return;
      const bool www = Lower(cand.substr(0, 4)) == "www.";
      if (www) {
        score = 0.8;
      } else if (internal::IsFileLikeTld(tld) && std::count(cand.begin(), cand.end(), '.') == 1) {
        score = 0.3;
      }
      break;
    }
    case Check::kIpv4: {
      if (!internal::ParseIpv4(cand).has_value()) return;
      if (ContinuesAsNumber(text, begin, end, '.')) return;
      if (IsAlnum(Before(text, begin)) || Before(text, begin) == '.') return;
      break;
    }
    case Check::kIpv6: {
      // The cluster is the maximal run of [0-9A-Fa-f:.]; drop sentence punctuation at its end.
      while (end > begin && text[end - 1] == '.') --end;
      if (end > begin + 1 && text[end - 1] == ':' && text[end - 2] != ':') --end;
      cand = Slice(text, begin, end);
      if (IsAlnum(Before(text, begin)) || IsAlnum(At(text, end)) || At(text, end) == ':') return;
      if (std::count(cand.begin(), cand.end(), ':') < 2 || !std::any_of(cand.begin(), cand.end(), IsHex))
        return;
      if (!internal::Ipv6Valid(cand)) return;
      break;
    }
    case Check::kMac: {
      if (cand.size() == 17 && cand[2] != cand[5]) return;
      for (size_t i = 2; cand.size() == 17 && i < 17; i += 3) {
        if (cand[i] != cand[2]) return;
      }
      const char after = At(text, end);
      if ((after == ':' || after == '-' || after == '.') && IsHex(At(text, end + 1))) return;
      const char before = Before(text, begin);
      if ((before == ':' || before == '-' || before == '.') && IsHex(Before(text, begin, 2))) return;
      if (std::all_of(cand.begin(), cand.end(), [](char c) { return !IsAlpha(c); })) score = 0.4;
      break;
    }
    case Check::kCard: {
      char sep;
      Groups groups;
      if (!DigitGroups(cand, &sep, &groups)) return;
      if (sep != '\0') {
        // Printed card numbers are grouped 4-4-4-4[-3], 4-6-5 (Amex) or 4-6-4 (Diners).
        const bool fours = std::all_of(groups.begin(), groups.end() - 1, [](int g) { return g == 4; }) &&
                           groups.back() >= 1 && groups.back() <= 4;
        const bool amex = groups.size() == 3 && groups[0] == 4 && groups[1] == 6 && groups[2] >= 4;
        if (!fours && !amex) return;
      }
      if (ContinuesAsNumber(text, begin, end, sep)) return;
      bool known = false;
      if (!internal::CardNumberValid(DigitsOf(cand), &known)) return;
      if (!known) score = 0.3;
      break;
    }
    case Check::kIban: {
      // Grouped by 4 when spaced: "GB82 WEST 1234 5698 7654 32".
      if (cand.find(' ') != cand.npos) {
        size_t i = 0;
        for (std::string_view g : Split(cand, ' ')) {
          if (g.size() != 4 && i + g.size() != cand.size()) return;
          i += g.size() + 1;
        }
      }
      const bool lower = std::any_of(cand.begin(), cand.end(), IsLower);
      const bool upper = std::any_of(cand.begin(), cand.end(), IsUpper);
      if (lower && upper) return;
      if (!internal::IbanValid(cand)) return;
      break;
    }
    case Check::kSsn: {
      char sep;
      Groups groups;
      if (!DigitGroups(cand, &sep, &groups)) return;
      if (ContinuesAsNumber(text, begin, end, sep)) return;
      const std::string d = DigitsOf(cand);
      if (!internal::UsSsnValid(ToInt(d.substr(0, 3)), ToInt(d.substr(3, 2)), ToInt(d.substr(5)))) return;
      if (d.find_first_not_of(d[0]) == d.npos || d == "123456789") return;
      if (sep == '\0') {
        score = 0.05;
      } else if (sep == ' ') {
        score = 0.4;
      } else if (sep == '.') {
        score = 0.3;
      }
      break;
    }
    case Check::kItin: {
      char sep;
      Groups groups;
      if (!DigitGroups(cand, &sep, &groups)) return;
      if (ContinuesAsNumber(text, begin, end, sep)) return;
      const std::string d = DigitsOf(cand);
      if (!internal::UsItinValid(ToInt(d.substr(0, 3)), ToInt(d.substr(3, 2)), ToInt(d.substr(5)))) return;
      if (sep != '-') score = 0.3;
      break;
    }
    case Check::kPassport:
    case Check::kDriverLicense:
      if (ContinuesAsNumber(text, begin, end, '-')) return;
      // Weak patterns: reported only with their context words (the floor lifts them above 0.5).
      if (!HasContext(text, begin, s.context, 6)) return;
      break;
    case Check::kNhs: {
      char sep;
      Groups groups;
      if (!DigitGroups(cand, &sep, &groups)) return;
      if (ContinuesAsNumber(text, begin, end, sep)) return;
      if (!internal::NhsNumberValid(DigitsOf(cand))) return;
      if (sep != ' ') score = 0.3;
      break;
    }
    case Check::kPhone:
      return;  // ValidatePhone
    case Check::kDateNumeric: {
      char sep;
      Groups groups;
      if (!DigitGroups(cand, &sep, &groups) || groups.size() != 3) return;
      if (ContinuesAsNumber(text, begin, end, sep)) return;
      std::vector<int> v;
      for (std::string_view g : Split(cand, sep)) v.push_back(ToInt(g));
      int year = v[2];
      if (groups[2] == 2) year += year < 50 ? 2000 : 1900;
      if (!DateValid(year, v[0], v[1]) && !DateValid(year, v[1], v[0])) return;
      break;
    }
    case Check::kDateIso: {
      if (ContinuesAsNumber(text, begin, end, '-')) return;
      const char sep = cand[4];
      const size_t m_end = cand.find(sep, 5);
      if (m_end == cand.npos) return;
      size_t d_end = m_end + 1;
      while (d_end < cand.size() && IsDigit(cand[d_end])) ++d_end;
      if (!DateValid(ToInt(cand.substr(0, 4)), ToInt(cand.substr(5, m_end - 5)),
                     ToInt(cand.substr(m_end + 1, d_end - m_end - 1)))) {
        return;
      }
      if (d_end < cand.size()) {
        const std::string_view t = cand.substr(d_end + 1);
        if (ToInt(t.substr(0, 2)) > 23 || ToInt(t.substr(3, 2)) > 59) return;
        if (t.size() >= 8 && t[5] == ':' && ToInt(t.substr(6, 2)) > 60) return;
      }
      break;
    }
    case Check::kDateMonth: {
      if (!FindMonthWord(cand)) return;
      // Day within 1..31 when present.
      size_t i = 0;
      while (i < cand.size()) {
        if (!IsDigit(cand[i])) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < cand.size() && IsDigit(cand[j])) ++j;
        if (j - i <= 2 && (ToInt(cand.substr(i, j - i)) < 1 || ToInt(cand.substr(i, j - i)) > 31)) return;
        i = j;
      }
      if (std::count_if(cand.begin(), cand.end(), IsDigit) <= 2 && cand.find_first_of("0123456789") != 0) {
        // "May 5": plausible but weaker without a year.
        score = 0.6;
      }
      break;
    }
    case Check::kTime: {
      if (ContinuesAsNumber(text, begin, end, ':')) return;
      if (At(text, end) == ':' || Before(text, begin) == ':') return;
      const size_t colon = cand.find(':');
      const bool meridiem =
          std::any_of(cand.begin(), cand.end(), [](char c) { return c == 'm' || c == 'M'; });
      const int h = ToInt(cand.substr(0, colon == cand.npos ? cand.find_first_not_of("0123456789") : colon));
      if (h > (meridiem ? 12 : 23) || (meridiem && h == 0)) return;
      if (colon != cand.npos) {
        if (ToInt(cand.substr(colon + 1, 2)) > 59) return;
        if (cand.size() > colon + 3 && cand[colon + 3] == ':' && ToInt(cand.substr(colon + 4, 2)) > 59)
          return;
      } else {
        score = 0.5;
      }
      break;
    }
    case Check::kWeekday:
      break;
    case Check::kYear:
      if (ContinuesAsNumber(text, begin, end, '-') || Before(text, begin) == '$') return;
      if (PreviousWordIn(text, begin, s.context) || HasContext(text, begin, kBirthWords, 4)) {
        score = 0.6;
      }
      if (score >= min_score) out.push_back(Span{begin, end, p.type, score, p.recognizer});
      return;
    case Check::kZip: {
      if (ContinuesAsNumber(text, begin, end, '-')) return;
      if (AfterStateAbbreviation(text, begin)) score = 0.55;
      break;
    }
    case Check::kPostcodeUk: {
      // Outward code letters: the first position never uses Q, V, X; inward code letters never C, I, K, M,
      // O, V (Royal Mail's format rules).
      if (std::string_view("QVX").find(cand[0]) != std::string_view::npos) return;
      const std::string_view in = cand.substr(cand.size() - 2);
      if (in.find_first_of("CIKMOV") != in.npos) return;
      if (cand.find(' ') == cand.npos) score = 0.3;
      break;
    }
    case Check::kPostcodeCa:
      if (cand.find_first_of("DFIOQU") != cand.npos) return;
      break;
    case Check::kPostalGeneric:
      if (ContinuesAsNumber(text, begin, end, '-')) return;
      if (!HasContext(text, begin, s.context, 3)) return;
      break;
    case Check::kAge: {
      // The span is the number alone.
      size_t i = 0;
      while (i < cand.size() && !IsDigit(cand[i])) ++i;
      size_t j = i;
      while (j < cand.size() && IsDigit(cand[j])) ++j;
      const int age = ToInt(cand.substr(i, j - i));
      if (age < 1 || age > 125) return;
      if (i == 0 && (At(text, end) == '.' || At(text, end) == ',') && IsDigit(At(text, end + 1))) return;
      end = begin + j;
      begin += i;
      // "turned 60" is an age only with a person; "the page turned 3" is not. Keep it but weaker.
      if (i > 0 && IsAlpha(cand[0]) && (cand[0] == 't' || cand[0] == 'T')) score = 0.7;
      if (score >= min_score) out.push_back(Span{begin, end, p.type, score, p.recognizer});
      return;
    }
  }
  Emit(text, p, s, begin, end, score, min_score, out);
}

namespace {

// A byte the token of a union-mode pattern (URL, IPv6) may contain.
bool InUnionToken(Check check, char c) {
  if (check == Check::kIpv6) return IsHex(c) || c == ':' || c == '.';
  return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '<' ||
           c == '>' || c == '"' || c == '\'' || c == '{' || c == '}' || c == '|' || c == '\\' || c == '^' ||
           c == '`');
}

// The leftmost start of the match of `id` that ends at `end`, looking back at most max_cluster + 1 bytes (a
// longer match poisons its cluster either way). False if there is none (not expected).
bool FindStart(const PatternRecognizers::Impl& impl, std::string_view text, unsigned id, const Pattern& p,
               size_t end, size_t* begin) {
  const size_t cap = p.max_cluster + 1;
  const size_t from = end > cap ? end - cap : 0;
  re2::StringPiece match;
  if (!(*impl.start_finders)[id]->Match(re2::StringPiece(text.data(), end), from, end, RE2::UNANCHORED,
                                        &match, 1)) {
    return false;
  }
  *begin = static_cast<size_t>(match.data() - text.data());
  return true;
}

// A test from the end of a match, before its start is searched, for the candidates that need a context word
// (passport, driver's licence and generic postal numbers; years below min_score without one): their context
// words counted from the end, where the candidate itself adds at most 3 words and max_cluster bytes, are a
// superset of those Validate counts from the start. False: the candidate cannot be reported.
bool MayReachMinScore(std::string_view text, const Pattern& p, size_t end, double min_score) {
  const size_t lookback = 80 + p.max_cluster;
  switch (p.check) {
    case Check::kPassport:
    case Check::kDriverLicense:
      return HasContext(text, end, ScoringOf(p.check).context, 6 + 3, lookback);
    case Check::kPostalGeneric:
      return HasContext(text, end, ScoringOf(p.check).context, 3 + 3, lookback);
    case Check::kYear:
      return min_score <= ScoringOf(p.check).score ||
             HasContext(text, end, ScoringOf(p.check).context, 1 + 1, lookback) ||
             HasContext(text, end, kBirthWords, 4 + 1, lookback);
    default:
      return true;
  }
}

int OnMatch(unsigned int id, unsigned long long, unsigned long long to, unsigned int, void* ctx) {
  auto* st = static_cast<ScanState*>(ctx);
  if (!st->impl->wanted[id]) return 0;
  const Pattern& p = internal::Patterns()[id];
  Cluster& c = st->clusters[id];
  const size_t e = static_cast<size_t>(to);
  size_t b;
  if (p.mode == Mode::kUnion && c.active &&
      std::all_of(st->text.begin() + c.end, st->text.begin() + e,
                  [&](char ch) { return InUnionToken(p.check, ch); })) {
    b = c.begin;  // the same token: only the cluster's extent matters
  } else if (!MayReachMinScore(st->text, p, e, st->impl->min_score) ||
             !FindStart(*st->impl, st->text, id, p, e, &b)) {
    return 0;
  }
  if (c.active && b < c.end) {
    c.begin = std::min(c.begin, b);
    c.end = std::max(c.end, e);
    if (c.end - c.begin > p.max_cluster) {
      c.poisoned = true;
      c.matches.clear();
    } else if (!c.poisoned && p.mode != Mode::kUnion) {
      c.matches.emplace_back(b, e);
    }
    return 0;
  }
  if (c.active && !c.poisoned) {
    if (p.mode == Mode::kUnion) {
      st->impl->Validate(st->text, p, c.begin, c.end, *st->out);
    } else if (p.mode == Mode::kPhone) {
      st->impl->ValidatePhone(st->text, p, c, *st->out);
    } else {
      for (auto [mb, me] : c.matches) st->impl->Validate(st->text, p, mb, me, *st->out);
    }
  }
  c.active = true;
  c.poisoned = e - b > p.max_cluster;
  c.begin = b;
  c.end = e;
  c.matches.clear();
  if (!c.poisoned && p.mode != Mode::kUnion) c.matches.emplace_back(b, e);
  return 0;
}

struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
};

// Per pattern, RE2 of "(?:regex)$" with Vectorscan's case flag: RE2 runs an end-anchored expression
// backwards from the end (its reversed DFA, longest match), so finding the leftmost start of a match that
// ends at e costs O(match length), and gives the start HS_FLAG_SOM_LEFTMOST would have. Built once per
// process (thread-safe static; RE2 objects are thread-safe).
const std::vector<std::unique_ptr<const RE2>>& StartFinders() {
  static const auto* finders = [] {
    auto* v = new std::vector<std::unique_ptr<const RE2>>();
    for (const Pattern& p : internal::Patterns()) {
      RE2::Options options;
      options.set_case_sensitive((p.flags & HS_FLAG_CASELESS) == 0);
      options.set_longest_match(true);
      options.set_log_errors(false);
      v->push_back(std::make_unique<const RE2>(absl::StrCat("(?:", p.regex, ")$"), options));
    }
    return v;
  }();
  return *finders;
}

// The database of Patterns(), shared by every PatternRecognizers of the process and never freed: the one
// embedded at build time (pattern_db_gen.cc), deserialized at first use (a few milliseconds); compiled from
// the table only if the embedded one does not match it (about a second; pattern_db_test.cc fails in that
// case, so a stale database cannot ship unnoticed). Thread-safe (a function-local static).
absl::StatusOr<const hs_database_t*> SharedDatabase() {
  static const absl::StatusOr<const hs_database_t*> db = []() -> absl::StatusOr<const hs_database_t*> {
    absl::StatusOr<hs_database_t*> loaded = internal::LoadEmbeddedPatternDatabase();
    if (loaded.ok()) return *loaded;
    absl::StatusOr<hs_database_t*> compiled = internal::CompilePatternDatabase(internal::GenericPlatform());
    if (!compiled.ok()) return compiled.status();
    return *compiled;
  }();
  return db;
}

}  // namespace

PatternRecognizers::PatternRecognizers(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PatternRecognizers::~PatternRecognizers() = default;

namespace {

// PhoneNumberUtil::GetMetadataForRegion is private; the address of a private member may be named in an
// explicit template instantiation ([temp.spec.general]/6), which is how this reads a region's metadata.
using MetadataForRegionFn = const i18n::phonenumbers::PhoneMetadata* (
    i18n::phonenumbers::PhoneNumberUtil::*)(const std::string&) const;
MetadataForRegionFn MetadataForRegion();
template <MetadataForRegionFn F>
struct MetadataForRegionAccess {
  friend MetadataForRegionFn MetadataForRegion() { return F; }
};
template struct MetadataForRegionAccess<&i18n::phonenumbers::PhoneNumberUtil::GetMetadataForRegion>;

// libphonenumber's IsValidNumberForRegion(number, region), for a number under the region's own calling code,
// is GetNumberTypeHelper(national significant number, metadata) != UNKNOWN: the number must match the
// general description, then any of premium rate, toll free, shared cost, VoIP, personal number, pager, UAN,
// voicemail, fixed line or mobile. A description "matches" when its possible lengths (if it lists any)
// include the number's length and its national number pattern (if not empty) matches the whole number.
// libphonenumber runs each pattern through ICU with a regex cache keyed by the pattern text (half of the
// phone time); the same patterns (plain regular expressions over digits: same language under RE2) are
// compiled here once per region, the type patterns merged per length into one alternation.
// ok is false (libphonenumber is asked) if the metadata or any pattern is unavailable.
RegionValidity BuildRegionValidity(const i18n::phonenumbers::PhoneNumberUtil& phone,
                                   const std::string& region) {
  RegionValidity v;
  const i18n::phonenumbers::PhoneMetadata* m = (phone.*MetadataForRegion())(region);
  if (m == nullptr) return v;
  using Desc = i18n::phonenumbers::PhoneNumberDesc;
  const auto lengths = [](const Desc& d) {
    if (d.possible_length_size() == 0) return ~uint32_t{0};
    uint32_t bits = 0;
    for (int n : d.possible_length()) {
      if (n >= 0 && n < 32) bits |= uint32_t{1} << n;
    }
    return bits;
  };
  const Desc& g = m->general_desc();
  if (g.national_number_pattern().empty()) {
    v.ok = true;  // no number matches the general description: no national number is valid
    return v;
  }
  v.general_lengths = lengths(g);
  v.general = std::make_unique<const RE2>(g.national_number_pattern());
  if (!v.general->ok()) return v;
  const Desc* types[] = {&m->premium_rate(),    &m->toll_free(), &m->shared_cost(), &m->voip(),
                         &m->personal_number(), &m->pager(),     &m->uan(),         &m->voicemail(),
                         &m->fixed_line(),      &m->mobile()};
  for (size_t n = 0; n < v.types.size(); ++n) {
    std::string alternation;
    for (const Desc* d : types) {
      if (d->national_number_pattern().empty() || (lengths(*d) >> n & 1) == 0) continue;
      absl::StrAppend(&alternation, alternation.empty() ? "" : "|", "(?:", d->national_number_pattern(), ")");
    }
    if (alternation.empty()) continue;
    v.types[n] = std::make_unique<const RE2>(alternation);
    if (!v.types[n]->ok()) return v;
  }
  v.ok = true;
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PatternRecognizers>> PatternRecognizers::Create(
    const PatternRecognizerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->phone = i18n::phonenumbers::PhoneNumberUtil::GetInstance();
  static const bool logger_set = [] {
    // libphonenumber logs parse failures to stdout by default; Veil's output must not carry candidate text.
    i18n::phonenumbers::PhoneNumberUtil::GetInstance()->SetLogger(new i18n::phonenumbers::NullLogger());
    return true;
  }();
  (void)logger_set;
  std::set<std::string> supported;
  impl->phone->GetSupportedRegions(&supported);
  for (const std::string& r : options.phone_regions) {
    if (!supported.contains(r)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown phone region '", r, "' (expected an ISO 3166-1 alpha-2 code such as US or GB)"));
    }
    impl->phone_regions.push_back(r);
    std::string trunk;
    impl->phone->GetNddPrefixForRegion(r, /*strip_non_digits=*/true, &trunk);
    impl->phone_region_codes.emplace_back(impl->phone->GetCountryCodeForRegion(r), trunk);
    impl->phone_validity.push_back(BuildRegionValidity(*impl->phone, r));
  }
  const auto wanted = [&](EntityType t) {
    return options.entities.empty() ||
           std::find(options.entities.begin(), options.entities.end(), t) != options.entities.end();
  };
  for (const Pattern& p : internal::Patterns()) {
    impl->wanted.push_back(wanted(p.type));
    if (impl->wanted.back() &&
        std::find(impl->entities.begin(), impl->entities.end(), p.type) == impl->entities.end()) {
      impl->entities.push_back(p.type);
    }
  }
  VEIL_ASSIGN_OR_RETURN(impl->db, SharedDatabase());
  impl->start_finders = &StartFinders();
  impl->min_score = options.min_score;
  for (size_t i = 0; i < impl->start_finders->size(); ++i) {
    if (!(*impl->start_finders)[i]->ok()) {
      return absl::InternalError(
          absl::StrCat("PII pattern ", i, " is not valid RE2: ", (*impl->start_finders)[i]->error()));
    }
  }
  return std::unique_ptr<PatternRecognizers>(new PatternRecognizers(std::move(impl)));
}

std::vector<EntityType> PatternRecognizers::entities() const { return impl_->entities; }

namespace {

// One Vectorscan scan of `text` (at most 4 GiB) and the validation of every cluster.
void ScanOne(const PatternRecognizers::Impl& impl, hs_scratch_t* scratch, std::string_view text,
             std::vector<Span>& out) {
  ScanState st{&impl, text, &out, std::vector<Cluster>(impl.wanted.size())};
  hs_scan(impl.db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, OnMatch, &st);
  // Flush the clusters still open at the end of the text.
  for (size_t id = 0; id < st.clusters.size(); ++id) {
    const Cluster& c = st.clusters[id];
    if (!c.active || c.poisoned) continue;
    const Pattern& p = internal::Patterns()[id];
    if (p.mode == Mode::kUnion) {
      impl.Validate(text, p, c.begin, c.end, out);
    } else if (p.mode == Mode::kPhone) {
      impl.ValidatePhone(text, p, c, out);
    } else {
      for (auto [b, e] : c.matches) impl.Validate(text, p, b, e, out);
    }
  }
}

}  // namespace

void PatternRecognizers::Find(std::string_view text, std::vector<Span>& out) const {
  if (impl_->db == nullptr || text.empty() || impl_->entities.empty()) return;
  thread_local ThreadScratch ts;
  if (ts.scratch == nullptr && hs_alloc_scratch(impl_->db, &ts.scratch) != HS_SUCCESS) return;
  // Vectorscan takes an unsigned int length: a text over 1 GiB is scanned in 1 GiB pieces (an identifier
  // across a piece edge may be missed; such texts are not prose).
  constexpr size_t kPiece = size_t{1} << 30;
  for (size_t off = 0; off < text.size(); off += kPiece) {
    const size_t first = out.size();
    ScanOne(*impl_, ts.scratch, text.substr(off, kPiece), out);
    for (size_t k = first; off > 0 && k < out.size(); ++k) {
      out[k].begin += off;
      out[k].end += off;
    }
  }
}

const std::vector<PatternRecognizerInfo>& PatternRecognizerTable() {
  static const std::vector<PatternRecognizerInfo> table = [] {
    std::vector<PatternRecognizerInfo> t;
    for (const Pattern& p : internal::Patterns()) {
      if (!t.empty() && t.back().name == p.recognizer) continue;
      const Scoring& s = ScoringOf(p.check);
      t.push_back({p.recognizer, p.type, s.score, s.context.words()});
    }
    return t;
  }();
  return table;
}

}  // namespace veil::pii
