// Fuzz target for the PII analyzer (src/veil/pii/analyzer.h; DESIGN.md 5.11).
//
// The input is any byte string, taken as text (often invalid UTF-8). For every input, with the pattern
// recognizers alone and with every recognizer:
//   - Analyze must not crash, hang or read out of bounds;
//   - the spans must be sorted, non-overlapping, inside the text, non-empty, scored in [min_score, 1], named,
//     and start and end on code point boundaries of well-formed UTF-8 (never inside a multibyte sequence);
//   - a second call must return the same spans (no hidden state).
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "veil/pii/analyzer.h"

namespace {

const veil::pii::Analyzer& Get(bool dictionaries) {
  static const veil::pii::Analyzer* analyzers[2] = {nullptr, nullptr};
  const veil::pii::Analyzer*& a = analyzers[dictionaries ? 1 : 0];
  if (a == nullptr) {
    veil::pii::AnalyzerOptions options;
    options.dictionaries = dictionaries;
    options.min_score = 0.3;
    auto created = veil::pii::Analyzer::Create(options);
    if (!created.ok()) __builtin_trap();
    a = created->release();  // lives for the process
  }
  return *a;
}

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

void Check(const veil::pii::Analyzer& analyzer, std::string_view text) {
  const std::vector<veil::pii::Span> spans = analyzer.Analyze(text);
  size_t prev_end = 0;
  for (const veil::pii::Span& s : spans) {
    if (s.begin < prev_end || s.begin >= s.end || s.end > text.size()) __builtin_trap();
    if (!(s.score >= 0.3 && s.score <= 1.0) || s.recognizer.empty()) __builtin_trap();
    if (IsContinuation(text[s.begin]) || (s.end < text.size() && IsContinuation(text[s.end])))
      __builtin_trap();
    prev_end = s.end;
  }
  if (analyzer.Analyze(text) != spans) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(Get(false), text);
  Check(Get(true), text);
  return 0;
}
