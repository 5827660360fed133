#include "veil/sql/lexer.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::sql {
namespace lexer_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// "kind:value" for each token but the final kEnd, for compact expectations.
std::vector<std::string> Describe(std::string_view sql) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  std::vector<std::string> out;
  if (!tokens.ok()) return out;
  EXPECT_EQ(tokens->back().kind, TokenKind::kEnd);
  EXPECT_EQ(tokens->back().offset, static_cast<int>(sql.size()));
  for (size_t i = 0; i + 1 < tokens->size(); ++i) {
    const Token& t = (*tokens)[i];
    const char* kind = "";
    switch (t.kind) {
      case TokenKind::kIdentifier:
        kind = "id";
        break;
      case TokenKind::kQuotedIdentifier:
        kind = "qid";
        break;
      case TokenKind::kKeyword:
        kind = "kw";
        break;
      case TokenKind::kInteger:
        kind = "int";
        break;
      case TokenKind::kFloat:
        kind = "float";
        break;
      case TokenKind::kString:
        kind = "str";
        break;
      case TokenKind::kOperator:
        kind = "op";
        break;
      case TokenKind::kEnd:
        kind = "end";
        break;
    }
    out.push_back(std::string(kind) + ":" + t.value);
  }
  return out;
}

std::string ErrorOf(std::string_view sql) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  EXPECT_FALSE(tokens.ok()) << "tokenized: " << sql;
  if (tokens.ok()) return "";
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(tokens.status().message());
}

TEST(LexerTest, KeywordsIdentifiersAndOperators) {
  EXPECT_THAT(Describe("select With DIFFERENTIAL_PRIVACY options(epsilon=1) a.b, `from` FROM t;"),
              ::testing::ElementsAre("kw:SELECT", "kw:WITH", "id:DIFFERENTIAL_PRIVACY", "id:options", "op:(",
                                     "id:epsilon", "op:=", "int:1", "op:)", "id:a", "op:.", "id:b", "op:,",
                                     "qid:from", "kw:FROM", "id:t", "op:;"));
  EXPECT_THAT(
      Describe("a<=b <> c != d >= e => f || g << h >> i"),
      ::testing::ElementsAre("id:a", "op:<=", "id:b", "op:<>", "id:c", "op:!=", "id:d", "op:>=", "id:e",
                             "op:=>", "id:f", "op:||", "id:g", "op:<<", "id:h", "op:>>", "id:i"));
  EXPECT_THAT(Describe("_x1 X_2"), ::testing::ElementsAre("id:_x1", "id:X_2"));
}

TEST(LexerTest, Offsets) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize("a  'x\\n'\n  b");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 4u);
  EXPECT_EQ((*tokens)[0].offset, 0);
  EXPECT_EQ((*tokens)[1].offset, 3);
  EXPECT_EQ((*tokens)[1].length, 5);
  EXPECT_EQ((*tokens)[1].value, "x\n");
  EXPECT_EQ((*tokens)[2].offset, 11);
}

TEST(LexerTest, Numbers) {
  EXPECT_THAT(Describe("42 0x1F 1.5 .5 1. 1e-6 2.5E+3 0"),
              ::testing::ElementsAre("int:42", "int:0x1F", "float:1.5", "float:.5", "float:1.", "float:1e-6",
                                     "float:2.5E+3", "int:0"));
  EXPECT_THAT(ErrorOf("SELECT 1abc"), StartsWith("1:8: malformed number: 'a' after it"));
  EXPECT_THAT(ErrorOf("1e"), StartsWith("1:1: malformed number: the exponent has no digits"));
  EXPECT_THAT(ErrorOf("0x"), StartsWith("1:1: malformed hex literal"));
  EXPECT_THAT(ErrorOf("1.2.3"), StartsWith("1:1: malformed number: '.' after it"));
}

TEST(LexerTest, Strings) {
  EXPECT_THAT(Describe(R"('a''b' "it's" 'x\'y' "q\"")"),
              ::testing::ElementsAre("str:a", "str:b", "str:it's", "str:x'y", "str:q\""));
  EXPECT_THAT(Describe(R"('\a\b\f\n\r\t\v\\\?\"\'\`')"),
              ::testing::ElementsAre(std::string("str:\a\b\f\n\r\t\v\\?\"'`")));
  EXPECT_THAT(Describe(R"('\101\x42\u00e9\U0001F600')"),
              ::testing::ElementsAre("str:AB\xc3\xa9\xf0\x9f\x98\x80"));
  EXPECT_THAT(Describe(R"(r'a\nb' R"c\"d")"), ::testing::ElementsAre("str:a\\nb", "str:c\\\"d"));
  EXPECT_THAT(Describe("'caf\xc3\xa9'"), ::testing::ElementsAre("str:caf\xc3\xa9"));
}

TEST(LexerTest, StringErrors) {
  EXPECT_THAT(ErrorOf("x = 'abc"), StartsWith("1:5: unterminated string literal"));
  EXPECT_THAT(ErrorOf("x = 'ab\ncd'"), StartsWith("1:5: unterminated string literal"));
  EXPECT_THAT(ErrorOf("x = 'ab\\"), StartsWith("1:5: unterminated string literal"));
  EXPECT_THAT(ErrorOf(R"(x = 'a\qb')"), StartsWith("1:7: invalid escape sequence \\'q'"));
  EXPECT_THAT(ErrorOf(R"('\x4')"), StartsWith("1:2: invalid hex escape"));
  EXPECT_THAT(ErrorOf(R"('\12')"), StartsWith("1:2: invalid octal escape"));
  EXPECT_THAT(ErrorOf(R"('\u12')"), StartsWith("1:2: invalid Unicode escape"));
  EXPECT_THAT(ErrorOf(R"('\uD800')"), StartsWith("1:2: invalid Unicode escape: not a Unicode scalar value"));
  EXPECT_THAT(ErrorOf(R"('\U00110000')"), StartsWith("1:2: invalid Unicode escape"));
  EXPECT_THAT(ErrorOf(R"('\x00')"), StartsWith("1:2: the quoted text contains a NUL character"));
  EXPECT_THAT(ErrorOf(R"('\xff')"), StartsWith("1:2: the quoted text's escapes make invalid UTF-8"));
  EXPECT_THAT(ErrorOf("'''abc'''"), StartsWith("1:1: triple-quoted strings are not supported"));
  EXPECT_THAT(ErrorOf("x = b'abc'"), StartsWith("1:5: bytes literals are not supported"));
  EXPECT_THAT(ErrorOf("x = RB'abc'"), StartsWith("1:5: bytes literals are not supported"));
}

TEST(LexerTest, QuotedIdentifiers) {
  EXPECT_THAT(Describe("`my col` `a\\`b` `select` `p.d.t`"),
              ::testing::ElementsAre("qid:my col", "qid:a`b", "qid:select", "qid:p.d.t"));
  EXPECT_THAT(ErrorOf("``"), StartsWith("1:1: empty quoted identifier"));
  EXPECT_THAT(ErrorOf("x `abc"), StartsWith("1:3: unterminated quoted identifier"));
}

TEST(LexerTest, Comments) {
  EXPECT_THAT(Describe("a -- comment 'x\nb # another\nc /* multi\nline */ d /**/e"),
              ::testing::ElementsAre("id:a", "id:b", "id:c", "id:d", "id:e"));
  EXPECT_THAT(Describe("a - -b"), ::testing::ElementsAre("id:a", "op:-", "op:-", "id:b"));
  EXPECT_THAT(ErrorOf("a /* never closed"), StartsWith("1:3: unterminated comment"));
}

TEST(LexerTest, HostileBytes) {
  EXPECT_THAT(ErrorOf(std::string("SELECT\0 1", 9)), StartsWith("1:7: NUL byte in the query"));
  EXPECT_THAT(ErrorOf(std::string("-- c\0", 5)), StartsWith("1:5: NUL byte in the query"));
  EXPECT_THAT(ErrorOf("SELECT '\xff'"), StartsWith("1:9: invalid UTF-8 in the query"));
  EXPECT_THAT(ErrorOf("x = \xc3\xa9"), StartsWith("1:5: unexpected character U+00E9"));
  EXPECT_THAT(ErrorOf("x = $1"), StartsWith("1:5: unexpected character '$'"));
  EXPECT_THAT(ErrorOf("x ! y"), StartsWith("1:3: unexpected character '!'"));
  EXPECT_THAT(ErrorOf(std::string(kMaxQueryBytes + 1, ' ')), HasSubstr("the limit is 1048576"));
  // Just under the limit is fine, and fast.
  EXPECT_THAT(Describe(std::string(kMaxQueryBytes - 1, ' ') + "a"), ::testing::ElementsAre("id:a"));
}

TEST(LexerTest, LocateCountsLinesAndCodePoints) {
  const std::string sql = "ab\ncd\r\nef\rg\xc3\xa9h";
  EXPECT_EQ(Locate(sql, 0).line, 1);
  EXPECT_EQ(Locate(sql, 1).column, 2);
  EXPECT_EQ(Locate(sql, 3).line, 2);
  EXPECT_EQ(Locate(sql, 3).column, 1);
  EXPECT_EQ(Locate(sql, 7).line, 3);     // after CR LF
  EXPECT_EQ(Locate(sql, 10).line, 4);    // after a lone CR
  EXPECT_EQ(Locate(sql, 13).column, 3);  // 'h' after the two-byte 'é'
  EXPECT_EQ(Locate(sql, 1000).line, 4);
}

TEST(LexerTest, SqlErrorShowsTheLineWithACaret) {
  const std::string sql = "SELECT a\nFROM t JOIN u\nWHERE x";
  const absl::Status s = SqlError(sql, static_cast<int>(sql.find("JOIN")), "joins are not supported");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "2:8: joins are not supported\n  FROM t JOIN u\n         ^");
  // Tabs are kept so that the caret lines up; a caret may point just past the end of the text.
  EXPECT_EQ(SqlError("\tx ?", 3, "m").message(), "1:4: m\n  \tx ?\n  \t  ^");
  EXPECT_EQ(SqlError("ab", 2, "m").message(), "1:3: m\n  ab\n    ^");
  // A multi-byte character counts as one column.
  EXPECT_EQ(SqlError("'\xc3\xa9' x", 5, "m").message(), "1:5: m\n  '\xc3\xa9' x\n      ^");
}

TEST(LexerTest, SqlErrorCutsLongLines) {
  const std::string sql = std::string(300, 'a') + " JOIN " + std::string(300, 'b');
  const absl::Status s = SqlError(sql, 301, "m");
  const std::vector<std::string> lines = absl::StrSplit(std::string(s.message()), '\n');
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "1:302: m");
  EXPECT_LT(lines[1].size(), 120u);
  EXPECT_THAT(lines[1], StartsWith("  ..."));
  EXPECT_THAT(lines[1], HasSubstr(" JOIN "));
  // The caret is under the J.
  const size_t caret = lines[2].find('^');
  ASSERT_NE(caret, std::string::npos);
  EXPECT_EQ(lines[1][caret], 'J');
}

TEST(LexerTest, SqlErrorOnAHugeLineShowsOnlyTheNeighbourhood) {
  // A 1 MB line: the excerpt is cut around the caret (and built without decoding the whole line).
  std::string sql(kMaxQueryBytes - 10, 'x');
  sql.replace(500000, 4, "JOIN");
  const absl::Status s = SqlError(sql, 500000, "m");
  const std::vector<std::string> lines = absl::StrSplit(std::string(s.message()), '\n');
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "1:500001: m");
  EXPECT_LT(lines[1].size(), 120u);
  EXPECT_THAT(lines[1], StartsWith("  ..."));
  EXPECT_THAT(lines[1], ::testing::EndsWith("..."));
  const size_t caret = lines[2].find('^');
  ASSERT_NE(caret, std::string::npos);
  EXPECT_EQ(lines[1].substr(caret, 4), "JOIN");
  // Near the start of the line, nothing is cut on the left.
  EXPECT_THAT(std::string(SqlError(sql, 3, "m").message()), HasSubstr("\n  xxx"));
}

TEST(LexerTest, DescribeToken) {
  const std::string sql = "a JOIN 'a very long string literal that goes on and on'";
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(DescribeToken(sql, (*tokens)[1]), "\"JOIN\"");
  EXPECT_EQ(DescribeToken(sql, (*tokens)[2]), "\"'a very long string literal that goes on...\"");
  EXPECT_EQ(DescribeToken(sql, (*tokens)[3]), "end of input");
}

TEST(LexerTest, QuotingRoundTrips) {
  for (const std::string value :
       {"", "plain", "it's", "back\\slash", "line\nbreak\ttab\x01", "caf\xc3\xa9"}) {
    absl::StatusOr<std::vector<Token>> tokens = Tokenize(QuoteString(value));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    ASSERT_EQ(tokens->size(), 2u);
    EXPECT_EQ((*tokens)[0].kind, TokenKind::kString);
    EXPECT_EQ((*tokens)[0].value, value);
  }
  EXPECT_EQ(QuoteIdentifier("age"), "age");
  EXPECT_EQ(QuoteIdentifier("select"), "`select`");
  EXPECT_EQ(QuoteIdentifier("my col"), "`my col`");
  EXPECT_EQ(QuoteIdentifier("1st"), "`1st`");
  for (const std::string name : {"a`b", "c\\d", "x\ny", "caf\xc3\xa9", "Group"}) {
    absl::StatusOr<std::vector<Token>> tokens = Tokenize(QuoteIdentifier(name));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    ASSERT_EQ(tokens->size(), 2u);
    EXPECT_EQ((*tokens)[0].kind, TokenKind::kQuotedIdentifier);
    EXPECT_EQ((*tokens)[0].value, name);
  }
}

TEST(LexerTest, ReservedKeywordsAreSortedAndCaseInsensitive) {
  const auto& words = ReservedKeywords();
  EXPECT_TRUE(std::is_sorted(words.begin(), words.end()));
  EXPECT_TRUE(IsReservedKeyword("select"));
  EXPECT_TRUE(IsReservedKeyword("Join"));
  EXPECT_TRUE(IsReservedKeyword("assert_rows_modified"));
  EXPECT_FALSE(IsReservedKeyword("options"));
  EXPECT_FALSE(IsReservedKeyword("differential_privacy"));
  EXPECT_FALSE(IsReservedKeyword("date"));
  EXPECT_FALSE(IsReservedKeyword(""));
  EXPECT_FALSE(IsReservedKeyword("a_very_long_identifier_name"));
}

}  // namespace
}  // namespace lexer_test
}  // namespace veil::sql
