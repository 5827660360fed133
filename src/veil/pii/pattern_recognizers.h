// The pattern-and-checksum recognizers: e-mail, phone, payment card, IBAN, US SSN/ITIN/passport/driver's
// licence, UK NHS number, IPv4/IPv6, MAC, URL, domain name, dates and times, ZIP/postal codes and ages.
//
// How a text is scanned (all linear in its length):
//  1. One Vectorscan (Hyperscan) block scan of every candidate pattern at once. The database (patterns in
//     pattern_table.cc) is compiled at build time, embedded in the binary and deserialized once per process
//     at first use; it is immutable and shared, scratch space is per thread. It is compiled without
//     start-of-match tracking (3x faster), so it reports where matches end; candidates that need a context
//     word are dropped there if none is near, and the leftmost start of the others is found by RE2 searching
//     the pattern anchored at that end backwards (O(match length)). Vectorscan and RE2 both run in linear
//     time; nothing in Veil uses a backtracking regex.
//  2. Overlapping matches of one pattern are grouped into a cluster. A cluster longer than the pattern's
//     bound is a run of digits or symbols, not an identifier, and is dropped whole (so a card number inside a
//     longer digit run is not reported, and a pathological input costs O(length)).
//  3. Each candidate is validated by hand-written linear-time code (Luhn, ISO 13616 mod-97, NHS mod-11, SSA
//     area/group/serial rules, octet ranges, inet_pton for IPv6, calendar validity, the IANA TLD list) or
//     libphonenumber, and given the recognizer's base score.
//  4. Context (the idea of Presidio's LemmaContextAwareEnhancer, our own implementation): a recognizer's
//     context words among the few words before the candidate raise its score to at least kContextFloor and
//     by kContextBoost; some recognizers also have negative words ("version 1.2.3.4" is not an IP address).
//
// The scores are calibrated so that AnalyzerOptions' default min_score of 0.5 keeps structured identifiers
// that validate and drops weak patterns (9-digit passport numbers, bare 5-digit ZIP codes) unless their
// context words are present.
#ifndef VEIL_PII_PATTERN_RECOGNIZERS_H_
#define VEIL_PII_PATTERN_RECOGNIZERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/pii/entity.h"

namespace veil::pii {

inline constexpr double kContextBoost = 0.35;
inline constexpr double kContextFloor = 0.6;

// One row of the recognizer table (for documentation and tests).
struct PatternRecognizerInfo {
  std::string_view name;     // e.g. "luhn_credit_card"
  EntityType type;           // what it reports
  double base_score;         // before context
  std::string_view context;  // its context words, space-separated
};
const std::vector<PatternRecognizerInfo>& PatternRecognizerTable();

struct PatternRecognizerOptions {
  // The types to look for (patterns of other types are not compiled); empty means all.
  std::vector<EntityType> entities;
  // Regions (ISO 3166-1 alpha-2, as libphonenumber knows them) for national-format phone numbers.
  std::vector<std::string> phone_regions = {"US", "GB", "DE", "FR", "IN", "CA", "AU"};
  // Spans scoring below this are not reported (the analyzer passes its min_score, so that weak candidates,
  // e.g. bare ZIP codes and years, are never stored). Default 0: every candidate that validates.
  double min_score = 0;
};

// All pattern recognizers behind one Recognizer (name "patterns"); each span names the recognizer in the
// table above that found it. Thread-safe: Find is const, the database is immutable, scratch is thread_local.
class PatternRecognizers : public Recognizer {
 public:
  // Errors: InvalidArgument for an unknown phone region; Internal if the Vectorscan database does not
  // compile (a defect).
  static absl::StatusOr<std::unique_ptr<PatternRecognizers>> Create(const PatternRecognizerOptions& options);
  ~PatternRecognizers() override;

  std::string_view name() const override { return "patterns"; }
  std::vector<EntityType> entities() const override;
  void Find(std::string_view text, std::vector<Span>& out) const override;

  struct Impl;

 private:
  explicit PatternRecognizers(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::pii

#endif  // VEIL_PII_PATTERN_RECOGNIZERS_H_
