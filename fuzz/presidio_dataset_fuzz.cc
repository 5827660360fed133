// Fuzz target for the presidio-research dataset reader and the scoring of src/veil/pii/evaluation.h
// (DESIGN.md 5.11).
//
// The input is any byte string, taken as a dataset (JSON) and as a text. For every input:
//   - ParsePresidioDataset must not crash, hang or read out of bounds, and fail only with InvalidArgument;
//   - on success, every text is valid UTF-8 and every gold span non-empty, inside its text, on code point
//     boundaries and sorted; the per-type counts add up to the spans, the out-of-scope ones to the spans
//     without a Veil type, text_bytes to the texts' sizes;
//   - scoring each sample with its own in-scope gold spans as the predictions succeeds and is perfect: no
//     false positive or negative at span level (per type, overall, any PII) or token level (per type, PII);
//   - internal::Tokenize, on the input itself and on every text, returns sorted, disjoint, non-empty tokens
//     inside the text, on code point boundaries when the text is valid UTF-8.
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "veil/pii/evaluation.h"

namespace {

using veil::pii::Counts;
using veil::pii::EvalReport;
using veil::pii::GoldSpan;
using veil::pii::LabeledDataset;
using veil::pii::LabeledSample;
using veil::pii::Span;

bool IsContinuation(std::string_view text, size_t i) {
  return i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
}

void CheckTokens(std::string_view text, bool valid_utf8) {
  size_t prev = 0;
  for (const veil::pii::internal::Token& t : veil::pii::internal::Tokenize(text)) {
    if (t.begin < prev || t.begin >= t.end || t.end > text.size()) __builtin_trap();
    if (valid_utf8 && (IsContinuation(text, t.begin) || IsContinuation(text, t.end))) __builtin_trap();
    prev = t.end;
  }
}

bool Perfect(const Counts& c) { return c.fp == 0 && c.fn == 0; }

void CheckSample(const LabeledSample& s) {
  if (!veil::pii::internal::CodePointByteOffsets(s.text).ok()) __builtin_trap();
  CheckTokens(s.text, /*valid_utf8=*/true);
  std::vector<Span> predicted;
  const GoldSpan* prev = nullptr;
  for (const GoldSpan& g : s.spans) {
    if (g.begin >= g.end || g.end > s.text.size()) __builtin_trap();
    if (IsContinuation(s.text, g.begin) || IsContinuation(s.text, g.end)) __builtin_trap();
    if (prev != nullptr && (prev->begin > g.begin || (prev->begin == g.begin && prev->end > g.end)))
      __builtin_trap();
    if (g.type.has_value() != veil::pii::MapDatasetEntity(g.dataset_type).has_value()) __builtin_trap();
    if (g.type.has_value()) predicted.push_back(Span{g.begin, g.end, *g.type, 1.0, "gold"});
    prev = &g;
  }
  EvalReport report;
  if (!veil::pii::ScoreSample(s.text, s.spans, predicted, {}, report).ok()) __builtin_trap();
  for (const Counts& c : report.per_type)
    if (!Perfect(c)) __builtin_trap();
  for (const Counts& c : report.token_per_type)
    if (!Perfect(c)) __builtin_trap();
  if (!Perfect(report.overall) || !Perfect(report.any_pii) || !Perfect(report.token_pii)) __builtin_trap();
  if (report.overall.tp != static_cast<int64_t>(predicted.size())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckTokens(input, veil::pii::internal::CodePointByteOffsets(input).ok());
  absl::StatusOr<LabeledDataset> parsed = veil::pii::ParsePresidioDataset(input);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument || parsed.status().message().empty())
      __builtin_trap();
    return 0;
  }
  int64_t spans = 0, out_of_scope = 0, by_type = 0, oos_by_type = 0;
  uint64_t bytes = 0;
  for (const LabeledSample& s : parsed->samples) {
    CheckSample(s);
    spans += static_cast<int64_t>(s.spans.size());
    for (const GoldSpan& g : s.spans) out_of_scope += g.type.has_value() ? 0 : 1;
    bytes += s.text.size();
  }
  for (const auto& [name, n] : parsed->gold_by_dataset_type) by_type += n;
  for (const auto& [name, n] : parsed->out_of_scope_by_dataset_type) oos_by_type += n;
  if (by_type != spans || oos_by_type != out_of_scope || bytes != parsed->text_bytes) __builtin_trap();
  return 0;
}
