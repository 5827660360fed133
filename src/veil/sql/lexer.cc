#include "veil/sql/lexer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/absl_compat.h"
#include "veil/base/utf8.h"

namespace veil::sql {
namespace {

// absl::StrCat needs absl::string_view, which is not std::string_view in this Abseil.
using base::ToAbsl;

bool IsIdentStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The length of the well-formed UTF-8 sequence starting at s[i], or 0 if none starts there.
size_t SequenceLength(std::string_view s, size_t i) {
  const unsigned char b = static_cast<unsigned char>(s[i]);
  const size_t n = b < 0x80 ? 1 : b < 0xC2 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF5 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  return base::FindInvalidUtf8(s.substr(i, n)) == n ? n : 0;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// How a character of the query is named in a message: 'c' for printable ASCII, U+XXXX otherwise.
std::string DescribeChar(std::string_view sql, size_t i) {
  const unsigned char b = static_cast<unsigned char>(sql[i]);
  if (b >= 0x21 && b < 0x7F) return absl::StrCat("'", std::string(1, static_cast<char>(b)), "'");
  const size_t n = SequenceLength(sql, i);
  if (n == 0) return absl::StrFormat("byte 0x%02X", b);
  uint32_t cp = n == 1 ? b : (b & (0x7F >> n));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(sql[i + k]) & 0x3F);
  return absl::StrFormat("U+%04X", cp);
}

const std::vector<std::string_view>& BuildReservedKeywords() {
  static const auto* const kWords = [] {
    auto* words = new std::vector<std::string_view>{
        "ALL",      "AND",     "ANY",      "ARRAY",     "AS",        "ASC",         "ASSERT_ROWS_MODIFIED",
        "AT",       "BETWEEN", "BY",       "CASE",      "CAST",      "COLLATE",     "CONTAINS",
        "CREATE",   "CROSS",   "CUBE",     "CURRENT",   "DEFAULT",   "DEFINE",      "DESC",
        "DISTINCT", "ELSE",    "END",      "ENUM",      "ESCAPE",    "EXCEPT",      "EXCLUDE",
        "EXISTS",   "EXTRACT", "FALSE",    "FETCH",     "FOLLOWING", "FOR",         "FROM",
        "FULL",     "GROUP",   "GROUPING", "GROUPS",    "HASH",      "HAVING",      "IF",
        "IGNORE",   "IN",      "INNER",    "INTERSECT", "INTERVAL",  "INTO",        "IS",
        "JOIN",     "LATERAL", "LEFT",     "LIKE",      "LIMIT",     "LOOKUP",      "MERGE",
        "NATURAL",  "NEW",     "NO",       "NOT",       "NULL",      "NULLS",       "OF",
        "ON",       "OR",      "ORDER",    "OUTER",     "OVER",      "PARTITION",   "PRECEDING",
        "PROTO",    "QUALIFY", "RANGE",    "RECURSIVE", "RESPECT",   "RIGHT",       "ROLLUP",
        "ROWS",     "SELECT",  "SET",      "SOME",      "STRUCT",    "TABLESAMPLE", "THEN",
        "TO",       "TREAT",   "TRUE",     "UNBOUNDED", "UNION",     "UNNEST",      "USING",
        "WHEN",     "WHERE",   "WINDOW",   "WITH",      "WITHIN"};
    std::sort(words->begin(), words->end());
    return words;
  }();
  return *kWords;
}

// The longest reserved keyword ("ASSERT_ROWS_MODIFIED").
constexpr size_t kMaxKeywordLength = 20;

// Decodes the body of a quoted string or identifier, sql[begin, end), into *out. Errors point at the
// offending escape.
absl::Status DecodeBody(std::string_view sql, size_t begin, size_t end, bool raw, std::string* out) {
  out->clear();
  out->reserve(end - begin);
  size_t i = begin;
  while (i < end) {
    const char c = sql[i];
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (raw) {  // a backslash in a raw string is text, and keeps the next character from ending it
      out->append(sql.substr(i, 2));
      i += 2;
      continue;
    }
    const size_t escape = i;
    const char e = sql[i + 1];  // exists: the closing quote follows at `end`, and is never escaped
    i += 2;
    switch (e) {
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\\':
      case '?':
      case '"':
      case '\'':
      case '`':
        out->push_back(e);
        break;
      case '0':
      case '1':
      case '2':
      case '3': {
        if (i + 2 > end || sql[i] < '0' || sql[i] > '7' || sql[i + 1] < '0' || sql[i + 1] > '7') {
          return SqlError(sql, static_cast<int>(escape),
                          "invalid octal escape: \\ooo needs three octal digits");
        }
        out->push_back(static_cast<char>(((e - '0') << 6) | ((sql[i] - '0') << 3) | (sql[i + 1] - '0')));
        i += 2;
        break;
      }
      case 'x':
      case 'X': {
        if (i + 2 > end || !IsHexDigit(sql[i]) || !IsHexDigit(sql[i + 1])) {
          return SqlError(sql, static_cast<int>(escape), "invalid hex escape: \\xhh needs two hex digits");
        }
        out->push_back(static_cast<char>(HexValue(sql[i]) * 16 + HexValue(sql[i + 1])));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        const size_t digits = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < digits; ++k) {
          if (i + k >= end || !IsHexDigit(sql[i + k])) {
            return SqlError(sql, static_cast<int>(escape),
                            absl::StrCat("invalid Unicode escape: \\", std::string(1, e), " needs ", digits,
                                         " hex digits"));
          }
          cp = cp * 16 + static_cast<uint32_t>(HexValue(sql[i + k]));
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return SqlError(sql, static_cast<int>(escape),
                          "invalid Unicode escape: not a Unicode scalar value");
        }
        AppendUtf8(cp, out);
        i += digits;
        break;
      }
      default:
        return SqlError(sql, static_cast<int>(escape),
                        absl::StrCat("invalid escape sequence \\", DescribeChar(sql, escape + 1)));
    }
  }
  if (out->find('\0') != std::string::npos) {
    return SqlError(sql, static_cast<int>(begin), "the quoted text contains a NUL character");
  }
  if (!base::IsValidUtf8(*out)) {
    return SqlError(sql, static_cast<int>(begin), "the quoted text's escapes make invalid UTF-8");
  }
  return absl::OkStatus();
}

// The offset of the quote that ends the quoted text whose opening quote is at `open`, or npos if the text
// is unterminated (a line break or the end of input comes first). A backslash escapes the next character.
size_t FindClosingQuote(std::string_view sql, size_t open) {
  const char quote = sql[open];
  for (size_t i = open + 1; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == quote) return i;
    if (c == '\n' || c == '\r') return std::string_view::npos;
    if (c == '\\') {
      if (i + 1 >= sql.size() || sql[i + 1] == '\n' || sql[i + 1] == '\r') return std::string_view::npos;
      ++i;
    }
  }
  return std::string_view::npos;
}

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : sql_(sql) {}

  absl::StatusOr<std::vector<Token>> Run() {
    if (sql_.size() > kMaxQueryBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("the query is ", sql_.size(), " bytes long; the limit is ", kMaxQueryBytes));
    }
    const size_t bad = base::FindInvalidUtf8(sql_);
    if (bad != sql_.size()) return SqlError(sql_, static_cast<int>(bad), "invalid UTF-8 in the query");
    if (const void* nul = std::memchr(sql_.data(), '\0', sql_.size())) {
      return SqlError(sql_, static_cast<int>(static_cast<const char*>(nul) - sql_.data()),
                      "NUL byte in the query");
    }
    std::vector<Token> tokens;
    tokens.reserve(sql_.size() / 4 + 2);
    while (true) {
      SkipSpaceAndComments();
      if (!status_.ok()) return status_;
      if (pos_ >= sql_.size()) break;
      Token token;
      token.offset = static_cast<int32_t>(pos_);
      const absl::Status s = Next(token);
      if (!s.ok()) return s;
      token.length = static_cast<int32_t>(pos_ - static_cast<size_t>(token.offset));
      tokens.push_back(std::move(token));
    }
    Token end;
    end.offset = static_cast<int32_t>(sql_.size());
    tokens.push_back(std::move(end));
    return tokens;
  }

 private:
  void SkipSpaceAndComments() {
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (IsSpace(c)) {
        ++pos_;
      } else if (c == '#' || (c == '-' && pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '-')) {
        while (pos_ < sql_.size() && sql_[pos_] != '\n' && sql_[pos_] != '\r') ++pos_;
      } else if (c == '/' && pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '*') {
        const size_t close = sql_.find("*/", pos_ + 2);
        if (close == std::string_view::npos) {
          status_ = SqlError(sql_, static_cast<int>(pos_), "unterminated comment: /* without */");
          return;
        }
        pos_ = close + 2;
      } else {
        return;
      }
    }
  }

  absl::Status Next(Token& token) {
    const char c = sql_[pos_];
    if (IsIdentStart(c)) return Word(token);
    if (IsDigit(c) || (c == '.' && pos_ + 1 < sql_.size() && IsDigit(sql_[pos_ + 1]))) return Number(token);
    if (c == '\'' || c == '"') return String(token, /*raw=*/false);
    if (c == '`') return QuotedIdentifier(token);
    return Operator(token);
  }

  absl::Status Word(Token& token) {
    const size_t start = pos_;
    while (pos_ < sql_.size() && IsIdentChar(sql_[pos_])) ++pos_;
    const std::string_view word = sql_.substr(start, pos_ - start);
    if (pos_ < sql_.size() && (sql_[pos_] == '\'' || sql_[pos_] == '"')) {
      // A prefix glued to a quote: r'...' is a raw string; b'...' (bytes) is outside the subset.
      if (word == "r" || word == "R") return String(token, /*raw=*/true);
      const std::string lower = absl::AsciiStrToLower(ToAbsl(word));
      if (lower == "b" || lower == "rb" || lower == "br") {
        return SqlError(sql_, static_cast<int>(start), "bytes literals are not supported");
      }
    }
    if (word.size() <= kMaxKeywordLength && IsReservedKeyword(word)) {
      token.kind = TokenKind::kKeyword;
      token.value = absl::AsciiStrToUpper(ToAbsl(word));
    } else {
      token.kind = TokenKind::kIdentifier;
      token.value = std::string(word);
    }
    return absl::OkStatus();
  }

  absl::Status Number(Token& token) {
    const size_t start = pos_;
    bool is_float = false;
    if (sql_[pos_] == '0' && pos_ + 1 < sql_.size() && (sql_[pos_ + 1] == 'x' || sql_[pos_ + 1] == 'X')) {
      pos_ += 2;
      const size_t digits = pos_;
      while (pos_ < sql_.size() && IsHexDigit(sql_[pos_])) ++pos_;
      if (pos_ == digits) return SqlError(sql_, static_cast<int>(start), "malformed hex literal");
    } else {
      while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
      if (pos_ < sql_.size() && sql_[pos_] == '.') {
        is_float = true;
        ++pos_;
        while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
      }
      if (pos_ < sql_.size() && (sql_[pos_] == 'e' || sql_[pos_] == 'E')) {
        is_float = true;
        ++pos_;
        if (pos_ < sql_.size() && (sql_[pos_] == '+' || sql_[pos_] == '-')) ++pos_;
        const size_t digits = pos_;
        while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
        if (pos_ == digits) {
          return SqlError(sql_, static_cast<int>(start), "malformed number: the exponent has no digits");
        }
      }
    }
    if (pos_ < sql_.size() && (IsIdentChar(sql_[pos_]) || sql_[pos_] == '.')) {
      return SqlError(sql_, static_cast<int>(start),
                      absl::StrCat("malformed number: ", DescribeChar(sql_, pos_), " after it"));
    }
    token.kind = is_float ? TokenKind::kFloat : TokenKind::kInteger;
    token.value = std::string(sql_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status String(Token& token, bool raw) {
    const size_t start = raw ? pos_ - 1 : pos_;
    if (sql_.substr(pos_, 3) == "'''" || sql_.substr(pos_, 3) == R"(""")") {
      return SqlError(sql_, static_cast<int>(start), "triple-quoted strings are not supported");
    }
    const size_t close = FindClosingQuote(sql_, pos_);
    if (close == std::string_view::npos) {
      return SqlError(sql_, static_cast<int>(start),
                      "unterminated string literal (a string must end on the line it starts)");
    }
    token.kind = TokenKind::kString;
    const absl::Status s = DecodeBody(sql_, pos_ + 1, close, raw, &token.value);
    if (!s.ok()) return s;
    pos_ = close + 1;
    return absl::OkStatus();
  }

  absl::Status QuotedIdentifier(Token& token) {
    const size_t start = pos_;
    const size_t close = FindClosingQuote(sql_, pos_);
    if (close == std::string_view::npos) {
      return SqlError(sql_, static_cast<int>(start), "unterminated quoted identifier: ` without a closing `");
    }
    if (close == start + 1) return SqlError(sql_, static_cast<int>(start), "empty quoted identifier ``");
    token.kind = TokenKind::kQuotedIdentifier;
    const absl::Status s = DecodeBody(sql_, start + 1, close, /*raw=*/false, &token.value);
    if (!s.ok()) return s;
    pos_ = close + 1;
    return absl::OkStatus();
  }

  absl::Status Operator(Token& token) {
    static constexpr std::array<std::string_view, 8> kTwo = {"!=", "<>", "<=", ">=", "=>", "||", "<<", ">>"};
    static constexpr std::string_view kOne = "()[]{},.;:*/%+-=<>|&^~@?";
    const std::string_view two = sql_.substr(pos_, 2);
    for (std::string_view op : kTwo) {
      if (two == op) {
        token.kind = TokenKind::kOperator;
        token.value = std::string(op);
        pos_ += 2;
        return absl::OkStatus();
      }
    }
    if (kOne.find(sql_[pos_]) != std::string_view::npos) {
      token.kind = TokenKind::kOperator;
      token.value = std::string(1, sql_[pos_]);
      ++pos_;
      return absl::OkStatus();
    }
    return SqlError(sql_, static_cast<int>(pos_),
                    absl::StrCat("unexpected character ", DescribeChar(sql_, pos_)));
  }

  std::string_view sql_;
  size_t pos_ = 0;
  absl::Status status_;
};

// The line break at sql[i], if any: its length (2 for CR LF), else 0.
size_t LineBreakAt(std::string_view sql, size_t i) {
  if (sql[i] == '\n') return 1;
  if (sql[i] == '\r') return i + 1 < sql.size() && sql[i + 1] == '\n' ? 2 : 1;
  return 0;
}

}  // namespace

bool Token::IsWord(std::string_view word) const {
  return (kind == TokenKind::kIdentifier || kind == TokenKind::kKeyword) && value.size() == word.size() &&
         absl::EqualsIgnoreCase(ToAbsl(value), ToAbsl(word));
}

const std::vector<std::string_view>& ReservedKeywords() { return BuildReservedKeywords(); }

bool SameName(std::string_view a, std::string_view b) { return absl::EqualsIgnoreCase(ToAbsl(a), ToAbsl(b)); }

bool IsReservedKeyword(std::string_view word) {
  if (word.empty() || word.size() > kMaxKeywordLength) return false;
  char upper[kMaxKeywordLength];
  for (size_t i = 0; i < word.size(); ++i)
    upper[i] = absl::ascii_toupper(static_cast<unsigned char>(word[i]));
  const std::string_view key(upper, word.size());
  const auto& words = ReservedKeywords();
  return std::binary_search(words.begin(), words.end(), key);
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql) { return Lexer(sql).Run(); }

SourceLocation Locate(std::string_view sql, int offset) {
  const size_t end = std::min(sql.size(), static_cast<size_t>(std::max(offset, 0)));
  SourceLocation loc;
  for (size_t i = 0; i < end;) {
    const size_t brk = LineBreakAt(sql, i);
    if (brk != 0) {
      // A CR LF straddling `end` still ends the line only once `end` is past it.
      if (i + brk > end) break;
      ++loc.line;
      loc.column = 1;
      i += brk;
      continue;
    }
    if ((static_cast<unsigned char>(sql[i]) & 0xC0) != 0x80) ++loc.column;
    ++i;
  }
  return loc;
}

absl::Status SqlError(std::string_view sql, int offset, std::string_view message) {
  const size_t at = std::min(sql.size(), static_cast<size_t>(std::max(offset, 0)));
  const SourceLocation loc = Locate(sql, static_cast<int>(at));

  // The line holding `at`, or only its bytes near `at` for a long line: at most kWidth code points are
  // shown, of at most 4 bytes each.
  constexpr size_t kWidth = 100;
  constexpr size_t kNear = 4 * kWidth + 4;
  size_t begin = at;
  while (begin > 0 && sql[begin - 1] != '\n' && sql[begin - 1] != '\r' && at - begin < kNear) --begin;
  while (begin < at && (static_cast<unsigned char>(sql[begin]) & 0xC0) == 0x80) ++begin;
  const bool cut_left = begin > 0 && sql[begin - 1] != '\n' && sql[begin - 1] != '\r';
  size_t end = at;
  while (end < sql.size() && sql[end] != '\n' && sql[end] != '\r' && end - at < kNear) ++end;
  while (end > at && end < sql.size() && (static_cast<unsigned char>(sql[end]) & 0xC0) == 0x80) --end;
  const bool cut_right = end < sql.size() && sql[end] != '\n' && sql[end] != '\r';

  // The line as display units (one per code point, or per invalid byte) and the unit under the caret.
  struct Unit {
    size_t offset;
    std::string text;
  };
  std::vector<Unit> units;
  size_t caret = 0;
  for (size_t i = begin; i < end;) {
    if (i < at) caret = units.size() + 1;
    const size_t n = SequenceLength(sql, i);
    const unsigned char b = static_cast<unsigned char>(sql[i]);
    std::string shown;
    if (n == 0 || (n == 1 && (b < 0x20 || b == 0x7F) && b != '\t')) {
      shown = "?";
    } else if (n == 2 && b == 0xC2 && static_cast<unsigned char>(sql[i + 1]) < 0xA0) {
      shown = "?";  // C1 control characters
    } else {
      shown = std::string(sql.substr(i, n));
    }
    units.push_back({i, std::move(shown)});
    i += n == 0 ? 1 : n;
  }
  size_t first = 0, last = units.size();
  if (units.size() > kWidth) {
    first = caret > kWidth / 2 ? caret - kWidth / 2 : 0;
    last = std::min(units.size(), first + kWidth);
    if (last - first < kWidth) first = last > kWidth ? last - kWidth : 0;
  }
  std::string line = "  ", marker = "  ";
  if (first > 0 || cut_left) {
    line += "...";
    marker += "   ";
  }
  for (size_t u = first; u < last; ++u) {
    line += units[u].text;
    if (u < caret) marker += units[u].text == "\t" ? "\t" : " ";
  }
  if (last < units.size() || cut_right) line += "...";
  marker += "^";
  return absl::InvalidArgumentError(
      absl::StrCat(loc.line, ":", loc.column, ": ", ToAbsl(message), "\n", line, "\n", marker));
}

std::string DescribeToken(std::string_view sql, const Token& token) {
  if (token.kind == TokenKind::kEnd) return "end of input";
  std::string_view text = sql.substr(static_cast<size_t>(token.offset), static_cast<size_t>(token.length));
  constexpr size_t kMax = 40;
  std::string shown;
  if (text.size() > kMax) {
    size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    shown = absl::StrCat(ToAbsl(text.substr(0, cut)), "...");
  } else {
    shown = std::string(text);
  }
  return absl::StrCat("\"", shown, "\"");
}

std::string QuoteString(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "'";
  return out;
}

std::string QuoteIdentifier(std::string_view name) {
  bool plain = !name.empty() && IsIdentStart(name[0]) && !IsReservedKeyword(name);
  for (size_t i = 1; plain && i < name.size(); ++i) plain = IsIdentChar(name[i]);
  if (plain) return std::string(name);
  std::string out = "`";
  for (const char c : name) {
    if (c == '`' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  out += "`";
  return out;
}

}  // namespace veil::sql
