// Analyzer: every recognizer over a text in one pass, with conflicts between overlapping findings resolved.
//
// Pattern recognizers share one multi-pattern scan (Vectorscan/Hyperscan, database compiled at build time) as
// a prefilter; each candidate is then validated in linear time (hand-written checks and checksums,
// libphonenumber) and scored with context words. Dictionary
// recognizers (person names, street addresses, locations; names.h) tokenize the text once.
//
//   VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create({}));
//   for (const pii::Span& s : analyzer->Analyze(text)) ...
#ifndef VEIL_PII_ANALYZER_H_
#define VEIL_PII_ANALYZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/pii/entity.h"

namespace veil::pii {

struct AnalyzerOptions {
  // The types to report; empty means every type.
  std::vector<EntityType> entities;
  // Spans scoring below this are dropped.
  double min_score = 0.5;
  // Regions (ISO 3166-1 alpha-2) whose national phone formats are recognised; numbers in international
  // format (+CC ...) are recognised for every region.
  std::vector<std::string> phone_regions = {"US", "GB", "DE", "FR", "IN", "CA", "AU"};
  // The dictionary recognizers (person names, street addresses, locations). Off: only the
  // pattern-and-checksum recognizers run (the fast path).
  bool dictionaries = true;
};

class Analyzer {
 public:
  // Errors: InvalidArgument for a bad option (unknown phone region, min_score outside [0, 1]); Internal if
  // the pattern database can be neither loaded nor compiled (a defect). Cheap: the first call in a process
  // deserializes the embedded pattern database (milliseconds); with dictionaries, see names.h.
  static absl::StatusOr<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options);
  virtual ~Analyzer() = default;

  // The spans found in `text` (UTF-8; invalid sequences are skipped, never reported inside a span), sorted by
  // begin, non-overlapping: where findings overlap, the higher score wins, then the longer span. Thread-safe.
  virtual std::vector<Span> Analyze(std::string_view text) const = 0;
};

}  // namespace veil::pii

#endif  // VEIL_PII_ANALYZER_H_
