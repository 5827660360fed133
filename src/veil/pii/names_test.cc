#include "veil/pii/names.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace veil::pii {
namespace {

TEST(Names, Smoke) {
  auto r = NewDictionaryRecognizers();
  ASSERT_EQ(r.size(), 1u);
  std::vector<Span> out;
  r[0]->Find("My name is John Smith and I live at 12 Main Street, Springfield.", out);
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace veil::pii
