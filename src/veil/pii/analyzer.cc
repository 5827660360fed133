#include "veil/pii/analyzer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/pii/names.h"
#include "veil/pii/pattern_recognizers.h"

namespace veil::pii {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// True if text[begin, end) is well-formed UTF-8 (base/utf8.h: RFC 3629) that does not continue a sequence
// past `end` (a span starting inside one is not well-formed on its own).
bool ValidUtf8Span(std::string_view text, size_t begin, size_t end) {
  return begin < end && end <= text.size() && base::IsValidUtf8(text.substr(begin, end - begin)) &&
         (end == text.size() || !IsContinuation(static_cast<unsigned char>(text[end])));
}

class AnalyzerImpl final : public Analyzer {
 public:
  AnalyzerImpl(AnalyzerOptions options, std::vector<std::unique_ptr<Recognizer>> recognizers)
      : options_(std::move(options)), recognizers_(std::move(recognizers)) {
    for (EntityType t : options_.entities) wanted_[static_cast<size_t>(t)] = true;
    if (options_.entities.empty()) wanted_.fill(true);
  }

  std::vector<Span> Analyze(std::string_view text) const override {
    std::vector<Span> found;
    for (const auto& r : recognizers_) r->Find(text, found);
    // Keep what is wanted, scores high enough, and spans that are well-formed UTF-8 on code point boundaries.
    std::erase_if(found, [&](const Span& s) {
      return !wanted_[static_cast<size_t>(s.type)] || !(s.score >= options_.min_score) || s.score > 1.0 ||
             !ValidUtf8Span(text, s.begin, s.end);
    });
    DropPhonesInsideAddresses(found);
    // Overlaps: the higher score wins, then the longer span, then the earlier one. Greedy over that order,
    // with an ordered map of accepted spans for the overlap test: O(n log n).
    std::sort(found.begin(), found.end(), [](const Span& a, const Span& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.end - a.begin != b.end - b.begin) return a.end - a.begin > b.end - b.begin;
      if (a.begin != b.begin) return a.begin < b.begin;
      return a.type < b.type;
    });
    std::map<size_t, const Span*> kept;  // by begin; non-overlapping
    for (const Span& s : found) {
      auto next = kept.lower_bound(s.begin);
      if (next != kept.end() && next->first < s.end) continue;  // overlaps the next kept span
      if (next != kept.begin() && std::prev(next)->second->end > s.begin) continue;  // or the previous one
      kept.emplace_hint(next, s.begin, &s);
    }
    std::vector<Span> result;
    result.reserve(kept.size());
    for (const auto& [begin, s] : kept) result.push_back(*s);
    return result;
  }

 private:
  // A street address holds numbers that can pass for a phone number: "17031 2202" in "office is at 17031
  // 2202 Rissik St Apt. 050" is the building and house number, however sure the phone recognizer is (a
  // valid number after "office"). A phone span inside an address span is dropped before the overlaps are
  // resolved. O(n log n): addresses sorted by start, with the furthest end reached so far.
  static void DropPhonesInsideAddresses(std::vector<Span>& found) {
    std::vector<std::pair<size_t, size_t>> addresses;  // (begin, furthest end of this and earlier ones)
    for (const Span& s : found) {
      if (s.type == EntityType::kStreetAddress) addresses.emplace_back(s.begin, s.end);
    }
    if (addresses.empty()) return;
    std::sort(addresses.begin(), addresses.end());
    for (size_t i = 1; i < addresses.size(); ++i)
      addresses[i].second = std::max(addresses[i].second, addresses[i - 1].second);
    std::erase_if(found, [&](const Span& s) {
      if (s.type != EntityType::kPhoneNumber) return false;
      auto it = std::upper_bound(addresses.begin(), addresses.end(),
                                 std::make_pair(s.begin, std::numeric_limits<size_t>::max()));
      return it != addresses.begin() && std::prev(it)->second >= s.end;
    });
  }

  AnalyzerOptions options_;
  std::vector<std::unique_ptr<Recognizer>> recognizers_;
  std::array<bool, kEntityTypeCount> wanted_{};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  if (!(options.min_score >= 0.0 && options.min_score <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("min_score must be in [0, 1], got ", options.min_score));
  }
  PatternRecognizerOptions pattern_options;
  pattern_options.entities = options.entities;
  pattern_options.phone_regions = options.phone_regions;
  pattern_options.min_score = options.min_score;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<PatternRecognizers> patterns,
                        PatternRecognizers::Create(pattern_options));
  std::vector<std::unique_ptr<Recognizer>> recognizers;
  recognizers.push_back(std::move(patterns));
  if (options.dictionaries) {
    for (auto& r : NewDictionaryRecognizers()) recognizers.push_back(std::move(r));
  }
  return std::unique_ptr<Analyzer>(new AnalyzerImpl(options, std::move(recognizers)));
}

}  // namespace veil::pii
