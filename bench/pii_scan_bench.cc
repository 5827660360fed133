// Throughput of the PII analyzer on one thread (issue 5, Performance: at least 50 MB/s with the
// pattern-and-checksum recognizers, at least 10 MB/s with every recognizer on).
//
// Corpus (about 50 MB): the texts of presidio-research's synth_dataset_v2.json (dense with PII: names,
// addresses, cards, phones) concatenated, alternating with generated prose paragraphs (common words,
// numbers, prices, versions and the occasional e-mail address or date), repeated. Baseline, in the same run:
// a speed-of-light pass over the same bytes (memchr for '\n' plus std::string_view::find of '@'), which any
// scanner must at least read. Prints the median of several runs and its ratio to the baseline.
//
// Run from the repository root: build/<dir>/bench/pii_scan_bench [MB] [runs] [a: only (a)]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"
#include "veil/pii/analyzer.h"

namespace veil::bench {
namespace {

constexpr char kDataset[] = "../shared/data/pii/presidio-research/synth_dataset_v2.json";

std::vector<std::string> DatasetTexts() {
  std::ifstream in(kDataset, std::ios::binary);
  std::vector<std::string> texts;
  if (!in) return texts;
  const nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return texts;
  for (const auto& sample : doc) {
    if (sample.contains("full_text") && sample["full_text"].is_string()) texts.push_back(sample["full_text"]);
  }
  return texts;
}

std::string Prose(DataRandom& rng, size_t bytes) {
  static const char* kWords[] = {
      "the",     "of",      "and",     "to",      "in",       "report", "quarter", "revenue", "customer",
      "meeting", "project", "team",    "will",    "was",      "with",   "for",     "on",      "this",
      "that",    "system",  "update",  "release", "version",  "order",  "number",  "service", "data",
      "privacy", "account", "support", "we",      "is",       "are",    "a",       "new",     "from",
      "should",  "review",  "policy",  "today",   "schedule", "office", "travel",  "budget",  "results"};
  std::string out;
  out.reserve(bytes + 128);
  while (out.size() < bytes) {
    const int words = 8 + static_cast<int>(rng.Below(16));
    for (int w = 0; w < words; ++w) {
      const uint64_t r = rng.Below(100);
      if (w > 0) out += ' ';
      if (r < 4) {
        out += std::to_string(rng.Below(100000));  // order numbers, counts
      } else if (r == 4) {
        out += absl::StrFormat("%d.%d.%d", rng.Below(10), rng.Below(20), rng.Below(100));  // versions
      } else if (r == 5) {
        out += absl::StrFormat("$%d.%02d", rng.Below(5000), rng.Below(100));
      } else if (r == 6 && rng.Below(10) == 0) {
        out += absl::StrFormat("user%d@example.com", rng.Below(1000));
      } else if (r == 7 && rng.Below(10) == 0) {
        out += absl::StrFormat("2024-%02d-%02d", 1 + rng.Below(12), 1 + rng.Below(28));
      } else {
        out += kWords[rng.Below(sizeof(kWords) / sizeof(kWords[0]))];
      }
    }
    out += rng.Below(4) == 0 ? ".\n\n" : ". ";
  }
  return out;
}

// CPU seconds of this thread: on a shared, loaded machine the wall clock measures the other processes too,
// so throughput is computed from thread CPU time (wall time is printed beside it).
// Prevents the baseline from being optimised away.
volatile size_t sink;

double Baseline(const std::string& text) {
  const double start = ThreadCpuSeconds();
  size_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\n', end - p))) != nullptr) {
    ++n;
    ++p;
  }
  std::string_view v(text);
  for (size_t at = v.find('@'); at != std::string_view::npos; at = v.find('@', at + 1)) ++n;
  sink = n;
  return ThreadCpuSeconds() - start;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) {
  using namespace veil::bench;
  const size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  PrintMachine();
  std::vector<std::string> samples = DatasetTexts();
  if (samples.empty()) {
    std::fprintf(stderr, "cannot read %s (run from the repository root)\n", kDataset);
    return 1;
  }
  DataRandom rng(20260105);
  std::string text;
  text.reserve(mb << 20);
  size_t dataset_bytes = 0;
  for (size_t i = 0; text.size() < (mb << 20); ++i) {
    const std::string& s = samples[i % samples.size()];
    text += s;
    text += "\n\n";
    dataset_bytes += s.size() + 2;
    text += Prose(rng, s.size());
  }
  std::printf("corpus: %.1f MB (%.0f%% presidio-research synth_dataset_v2 texts, the rest generated prose)\n",
              text.size() / 1e6, 100.0 * dataset_bytes / text.size());

  std::vector<double> base;
  for (int r = 0; r < runs; ++r) base.push_back(Baseline(text));
  const double base_mbs = text.size() / 1e6 / Median(base);
  std::printf("%-44s %9.1f MB/s  (CPU s: %s)\n", "baseline: memchr('\\n') + find('@')", base_mbs,
              Join(base).c_str());

  const bool only_patterns = argc > 3 && std::string(argv[3]) == "a";  // for profiling (a) alone
  for (const bool dictionaries : {false, true}) {
    if (dictionaries && only_patterns) break;
    veil::pii::AnalyzerOptions options;
    options.dictionaries = dictionaries;
    const auto create_start = Clock::now();
    auto analyzer = veil::pii::Analyzer::Create(options);
    const double create_s = SecondsSince(create_start);
    if (!analyzer.ok()) {
      std::fprintf(stderr, "%s\n", analyzer.status().ToString().c_str());
      return 1;
    }
    (*analyzer)->Analyze(text.substr(0, 1 << 20));  // warm up (dictionary first-call cost, scratch)
    std::vector<double> times, walls;
    size_t spans = 0;
    for (int r = 0; r < runs; ++r) {
      const auto wall_start = Clock::now();
      const double start = ThreadCpuSeconds();
      spans = (*analyzer)->Analyze(text).size();
      times.push_back(ThreadCpuSeconds() - start);
      walls.push_back(SecondsSince(wall_start));
    }
    const double mbs = text.size() / 1e6 / Median(times);
    const double target = dictionaries ? 10 : 50;
    std::printf(
        "%-44s %9.1f MB/s  = %.4f x baseline; target %.0f MB/s: %s  (%zu spans; create %.2f s; CPU s: "
        "%s; wall s: %s)\n",
        dictionaries ? "(b) analyzer, every recognizer" : "(a) analyzer, pattern-and-checksum only", mbs,
        mbs / base_mbs, target, mbs >= target ? "met" : "NOT met", spans, create_s, Join(times).c_str(),
        Join(walls).c_str());
  }
  return 0;
}
