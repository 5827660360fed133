// Text primitives shared by the dictionary recognizers: UTF-8 decoding, letter case for the scripts the word
// lists use (Latin, Greek, Cyrillic), and a one-pass tokenizer. Internal to veil_pii_names.
#ifndef VEIL_PII_DICTIONARY_TEXT_H_
#define VEIL_PII_DICTIONARY_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace veil::pii::internal {

// Decodes the code point at text[pos]. Returns its length in bytes (1-4) and stores it in *cp, or returns 0
// for an invalid or truncated sequence (overlong forms, surrogates and values above U+10FFFF included).
size_t DecodeUtf8(std::string_view text, size_t pos, uint32_t* cp);

// Appends the UTF-8 encoding of cp.
void AppendUtf8(uint32_t cp, std::string& out);

// Letter classes. Letters are the Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Thai, Hangul, kana and
// CJK blocks; case is known for Latin (Basic, Latin-1, Extended-A), Greek and Cyrillic, other letters are
// caseless. U+2206 INCREMENT and U+2126 OHM SIGN count as upper-case Greek letters (Delta, Omega): legacy
// Greek encodings put them for those letters, and the ohm sign is canonically equivalent to omega.
bool IsLetter(uint32_t cp);
bool IsUpper(uint32_t cp);
bool IsLower(uint32_t cp);
uint32_t ToLower(uint32_t cp);

// Appends the lower-case form of `word` (simple case mapping of the classes above) to *out.
void FoldCase(std::string_view word, std::string& out);

enum class TokenKind : uint8_t {
  kWord,    // letters, with inner hyphens and apostrophes ("Jean-Luc", "O'Neil")
  kNumber,  // a digit followed by digits and letters ("12", "12B", "4th")
  kPunct,   // one other visible character
  kJunk,    // invalid UTF-8 or a control character: nothing may span it
};

enum TokenShape : uint8_t {
  kShapeLower = 1,    // first letter lower case
  kShapeCapital = 2,  // first letter upper case, some other letter lower case
  kShapeAllCaps = 4,  // every cased letter upper case, at least two letters
  kShapeInitial = 8,  // one upper-case letter
  kShapeNonAscii = 16,
};

struct Token {
  uint32_t begin = 0;  // byte offsets into the text
  uint32_t end = 0;
  TokenKind kind = TokenKind::kPunct;
  uint8_t shape = 0;
  uint8_t newlines_before = 0;  // line breaks in the gap before this token (saturating)
  bool space_before = false;    // the gap before this token is not empty
  uint32_t first_cp = 0;        // first code point (for kPunct: the character)
};

// Splits text into tokens in one pass. Gaps between tokens hold only white space. Texts of 4 GiB or more
// are tokenized only up to their first 4 GiB (offsets are 32-bit).
void Tokenize(std::string_view text, std::vector<Token>& out);

}  // namespace veil::pii::internal

#endif  // VEIL_PII_DICTIONARY_TEXT_H_
