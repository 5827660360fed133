#include "veil/pii/analyzer.h"

#include "gtest/gtest.h"

namespace veil::pii {
namespace {

TEST(AnalyzerTest, Smoke) {
  auto a = Analyzer::Create({});
  ASSERT_TRUE(a.ok()) << a.status();
  auto spans = (*a)->Analyze("mail bob@example.com card 4111 1111 1111 1111");
  EXPECT_EQ(spans.size(), 2u);
}

}  // namespace
}  // namespace veil::pii
