#include "veil/base/html.h"

#include "gtest/gtest.h"

namespace veil::base {
namespace {

TEST(HtmlEscapeTest, ReplacesTheMarkupCharactersOnly) {
  EXPECT_EQ(HtmlEscape(R"(<a href="x">Tom & Jerry's</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;") << "escaping twice is visible, not undone";
  EXPECT_EQ(HtmlEscape("Éloi, 1 rue de l'Hôpital"), "Éloi, 1 rue de l&#39;Hôpital");
  EXPECT_EQ(HtmlEscape(""), "");
}

}  // namespace
}  // namespace veil::base
