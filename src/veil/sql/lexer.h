// The lexer of Veil's DP SQL: turns query text into tokens, and formats errors that point at a place in it.
//
//   VEIL_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
//   return SqlError(sql, tokens[3].offset, "unexpected \"JOIN\"");
//   // InvalidArgument: 1:24: unexpected "JOIN"
//   //   SELECT ... FROM a JOIN b
//   //                     ^
//
// The lexical rules are those of GoogleSQL (BigQuery / ZetaSQL), restricted to what the DP subset needs:
//   whitespace    space, tab, CR, LF, FF, VT
//   comments      -- to the end of the line, # to the end of the line, /* ... */ (not nested)
//   identifiers   [A-Za-z_][A-Za-z0-9_]*, or any text in backticks: `my column`, with the escapes below.
//                 Words in kReservedKeywords (any case) are keywords, not identifiers; quote them to use
//                 them as names (`select`).
//   integers      decimal digits, or 0x followed by hex digits
//   floats        digits with a decimal point and/or an exponent: 1.5, .5, 1., 1e-6, 2.5E+3
//   strings       '...' or "..." with the escapes \a \b \f \n \r \t \v \\ \? \" \' \` \ooo (three octal
//                 digits), \xhh, \uhhhh, \Uhhhhhhhh; raw strings r'...' / R"..." take the text as it is.
//                 A string may not span lines.
//   operators     ( ) [ ] { } , . ; : * / % + - = != <> < <= > >= => || | & ^ ~ << >> @ ?
// Rejected with an error, never guessed at: a NUL byte anywhere, invalid UTF-8 (checked before anything
// else), any other character outside strings and comments, unterminated strings, quoted identifiers and
// comments, triple-quoted strings and bytes literals (b'...'), an escape that is malformed or decodes to NUL
// or to invalid UTF-8, an empty quoted identifier, a number immediately followed by a letter (1abc), and
// text longer than kMaxQueryBytes.
//
// Positions are byte offsets into the query text; SqlError turns one into line:column (both 1-based; the
// column counts Unicode code points, so it matches what an editor shows for a line without tabs).
//
// Thread safety: pure functions.
#ifndef VEIL_SQL_LEXER_H_
#define VEIL_SQL_LEXER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace veil::sql {

// The longest query text accepted (bytes). A DP query is a few hundred bytes; the limit keeps hostile input
// from costing more than a few milliseconds.
inline constexpr size_t kMaxQueryBytes = 1 << 20;

enum class TokenKind : uint8_t {
  kEnd,               // end of input (always the last token, offset = text size)
  kIdentifier,        // value: the name as written (case kept)
  kQuotedIdentifier,  // value: the decoded name between backticks
  kKeyword,           // value: the keyword in upper case ("SELECT")
  kInteger,           // value: the literal's text ("42", "0x1F"); the parser converts it
  kFloat,             // value: the literal's text ("1e-6")
  kString,            // value: the decoded string
  kOperator,          // value: the operator's text ("<=", "=>")
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  int32_t offset = 0;  // byte offset of the token's first character in the query text
  int32_t length = 0;  // bytes of query text the token covers (quotes and prefix included)
  std::string value;

  // True for an identifier or keyword spelled `word` in any case (quoted identifiers never match: `select`
  // is a name). `word` is given in upper case.
  bool IsWord(std::string_view word) const;
  // True for the operator `op`.
  bool IsOperator(std::string_view op) const { return kind == TokenKind::kOperator && value == op; }
};

// GoogleSQL's reserved keywords (upper case), sorted. They cannot be unquoted identifiers.
extern const std::vector<std::string_view>& ReservedKeywords();

// True if `word` (any case) is a reserved keyword.
bool IsReservedKeyword(std::string_view word);

// True if two identifiers name the same thing: unquoted names compare case-insensitively (ASCII).
bool SameName(std::string_view a, std::string_view b);

// Splits `sql` into tokens, ending with one kEnd token. Errors: InvalidArgument (see SqlError for the form)
// naming the offending character or token and its position, for everything listed at the top of this file.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql);

// A position in the query text, 1-based.
struct SourceLocation {
  int line = 1;
  int column = 1;  // in Unicode code points from the start of the line
};

// The line and column of byte `offset` of `sql` (an offset at or past the end is the end of the text). Lines
// end at LF, CR LF or a lone CR.
SourceLocation Locate(std::string_view sql, int offset);

// InvalidArgument with the message
//   LINE:COLUMN: MESSAGE
//     <the query line holding `offset`>
//     <spaces, then a caret under the character at `offset`>
// Lines longer than about 100 characters are cut to a window around the caret, marked with "...". Control
// characters and bytes that are not valid UTF-8 are shown as '?', tabs are kept (so that the caret lines up).
absl::Status SqlError(std::string_view sql, int offset, std::string_view message);

// How a token is named in messages: "end of input", or its text quoted ("\"JOIN\"", "\"'abc'\""), cut to 40
// bytes.
std::string DescribeToken(std::string_view sql, const Token& token);

// GoogleSQL text for a string literal holding `value`: single-quoted, with \\ \' and control characters
// escaped, so that Tokenize reads it back as exactly `value`.
std::string QuoteString(std::string_view value);

// GoogleSQL text for an identifier: `name` as it is when it is a plain identifier and not a reserved keyword,
// otherwise in backticks with escapes.
std::string QuoteIdentifier(std::string_view name);

}  // namespace veil::sql

#endif  // VEIL_SQL_LEXER_H_
