// The analyzer (every recognizer, default options) on the generated hard negatives of evaluation.h: the
// issue's bound is at most 1% of the texts with a false positive. Checked for several generator seeds, not
// only the default one that `veil pii eval` reports, so that the rules are not fitted to one sample.
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/evaluation.h"

namespace veil::pii {
namespace {

class HardNegativesTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  static void SetUpTestSuite() {
    auto a = Analyzer::Create({});
    ASSERT_TRUE(a.ok()) << a.status();
    analyzer_ = a->release();
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    analyzer_ = nullptr;
  }
  static Analyzer* analyzer_;
};
Analyzer* HardNegativesTest::analyzer_ = nullptr;

TEST_P(HardNegativesTest, AtMostOnePercentFalsePositives) {
  constexpr size_t kTexts = 2000;
  const std::vector<HardNegative> texts = GenerateHardNegatives(kTexts, GetParam());
  ASSERT_EQ(texts.size(), kTexts);
  size_t with_fp = 0;
  std::ostringstream examples;  // shown if the bound is exceeded (test data, not personal data)
  for (const HardNegative& h : texts) {
    const std::vector<Span> spans = analyzer_->Analyze(h.text);
    if (spans.empty()) continue;
    ++with_fp;
    if (with_fp > 30) continue;
    examples << HardNegativeKindName(h.kind) << ":";
    for (const Span& s : spans) {
      examples << " " << EntityName(s.type) << " '" << h.text.substr(s.begin, s.end - s.begin) << "'";
    }
    examples << " in \"" << h.text << "\"\n";
  }
  EXPECT_LE(with_fp, kTexts / 100) << "seed " << GetParam() << "\n" << examples.str();
}

INSTANTIATE_TEST_SUITE_P(Seeds, HardNegativesTest,
                         ::testing::Values(kDefaultHardNegativeSeed, uint64_t{1}, uint64_t{0xC0FFEE},
                                           uint64_t{20240607}));

}  // namespace
}  // namespace veil::pii
