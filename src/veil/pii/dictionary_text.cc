#include "veil/pii/dictionary_text.h"

#include <algorithm>
#include <limits>

namespace veil::pii::internal {

size_t DecodeUtf8(std::string_view text, size_t pos, uint32_t* cp) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const unsigned char c = s[pos];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v;
  uint32_t min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (pos + len > n) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[pos + i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[pos + i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsLetter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp <= 0x24F) return cp != 0xD7 && cp != 0xF7;
  if (cp >= 0x250 && cp <= 0x2AF) return true;  // IPA extensions (used in some African orthographies)
  if (cp >= 0x370 && cp <= 0x3FF) return cp != 0x37E && cp != 0x387;
  if (cp >= 0x400 && cp <= 0x52F) return cp < 0x482 || cp > 0x489;
  if (cp >= 0x531 && cp <= 0x587) return true;  // Armenian
  if (cp >= 0x5D0 && cp <= 0x5EA) return true;  // Hebrew
  if (cp >= 0x620 && cp <= 0x64A) return true;  // Arabic letters
  if (cp >= 0x671 && cp <= 0x6D3) return true;
  if (cp >= 0xE01 && cp <= 0xE30) return true;    // Thai
  if (cp >= 0x1E00 && cp <= 0x1EFF) return true;  // Latin Extended Additional (Vietnamese)
  if (cp == 0x2206 || cp == 0x2126) return true;  // INCREMENT and OHM SIGN written for Delta and Omega
  if (cp >= 0x3041 && cp <= 0x30FF) return true;  // kana
  if (cp >= 0x4E00 && cp <= 0x9FFF) return true;  // CJK unified ideographs
  if (cp >= 0xAC00 && cp <= 0xD7A3) return true;  // Hangul syllables
  return false;
}

namespace {

// Latin Extended-A pairs upper/lower by parity, with the parity flipping in U+0139..U+0148 and
// U+0179..U+017E.
bool ExtAUpper(uint32_t cp) {
  if (cp == 0x130) return true;
  if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return false;
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1;
  if (cp == 0x178) return true;
  return cp % 2 == 0;
}

}  // namespace

bool IsUpper(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  if (cp >= 0xC0 && cp <= 0xDE) return cp != 0xD7;
  if (cp >= 0x100 && cp <= 0x17F) return ExtAUpper(cp);
  if (cp >= 0x391 && cp <= 0x3A9) return cp != 0x3A2;
  if (cp == 0x386 || (cp >= 0x388 && cp <= 0x38F)) return cp != 0x38B && cp != 0x38D;
  if (cp >= 0x400 && cp <= 0x42F) return true;
  if (cp == 0x2206 || cp == 0x2126) return true;
  if (cp >= 0x1E00 && cp <= 0x1EFF) return cp % 2 == 0;
  return false;
}

bool IsLower(uint32_t cp) {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  if (cp >= 0xDF && cp <= 0xFF) return cp != 0xF7;
  if (cp >= 0x100 && cp <= 0x17F) return !ExtAUpper(cp);
  if (cp >= 0x3AC && cp <= 0x3CE) return true;
  if (cp >= 0x430 && cp <= 0x45F) return true;
  if (cp >= 0x1E00 && cp <= 0x1EFF) return cp % 2 == 1;
  return false;
}

uint32_t ToLower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) return 'i';
    if (cp == 0x178) return 0xFF;
    return ExtAUpper(cp) ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
  if (cp == 0x386) return 0x3AC;
  if (cp >= 0x388 && cp <= 0x38A) return cp + 0x25;
  if (cp == 0x38C) return 0x3CC;
  if (cp == 0x38E || cp == 0x38F) return cp + 0x3F;
  if (cp == 0x3C2) return 0x3C3;  // final sigma folds with sigma
  if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  if (cp == 0x2206) return 0x3B4;
  if (cp == 0x2126) return 0x3C9;  // OHM SIGN is canonically equivalent to capital omega
  if (cp >= 0x1E00 && cp <= 0x1EFF && cp % 2 == 0) return cp + 1;
  return cp;
}

void FoldCase(std::string_view word, std::string& out) {
  size_t i = 0;
  while (i < word.size()) {
    unsigned char b = static_cast<unsigned char>(word[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>((b >= 'A' && b <= 'Z') ? b + 0x20 : b));
      ++i;
      continue;
    }
    uint32_t cp;
    size_t len = DecodeUtf8(word, i, &cp);
    if (len == 0) {  // cannot happen for tokenizer output; keep the byte so that lookups simply miss
      out.push_back(word[i]);
      ++i;
      continue;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>((cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp));
    } else {
      AppendUtf8(ToLower(cp), out);
    }
    i += len;
  }
}

namespace {

bool IsSpace(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0xA0 ||
         cp == 0x2007 || cp == 0x202F || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x3000;
}

bool IsDigit(uint32_t cp) { return cp >= '0' && cp <= '9'; }

bool IsApostrophe(uint32_t cp) { return cp == '\'' || cp == 0x2019; }

}  // namespace

void Tokenize(std::string_view text, std::vector<Token>& out) {
  const size_t n = std::min<size_t>(text.size(), std::numeric_limits<uint32_t>::max());
  size_t i = 0;
  int newlines = 0;
  bool space = false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  while (i < n) {
    uint32_t cp;
    size_t len;
    if (bytes[i] < 0x80) {
      cp = bytes[i];
      len = 1;
    } else {
      len = DecodeUtf8(text, i, &cp);
    }
    if (len != 0 && IsSpace(cp)) {
      if (cp == '\n' || cp == 0x2028 || cp == 0x2029) ++newlines;
      space = true;
      i += len;
      continue;
    }
    Token t;
    t.begin = static_cast<uint32_t>(i);
    t.newlines_before = static_cast<uint8_t>(std::min(newlines, 255));
    t.space_before = space;
    t.first_cp = cp;
    newlines = 0;
    space = false;
    if (len == 0 || cp < 0x20 || cp == 0x7F) {
      t.kind = TokenKind::kJunk;
      i += len == 0 ? 1 : len;
    } else if (IsLetter(cp)) {
      t.kind = TokenKind::kWord;
      int letters = 0, upper = 0, lower = 0;
      bool non_ascii = false;
      bool first_upper = IsUpper(cp), first_lower = IsLower(cp);
      size_t j = i;
      while (j < n) {
        // ASCII letters are most of any text: take them without decoding.
        unsigned char b = bytes[j];
        if (b < 0x80 && static_cast<unsigned char>((b | 0x20) - 'a') < 26) {
          ++letters;
          upper += b < 'a';
          lower += b >= 'a';
          ++j;
          continue;
        }
        uint32_t c;
        size_t l = DecodeUtf8(text, j, &c);
        if (l == 0) break;
        if (IsLetter(c)) {
          ++letters;
          upper += IsUpper(c);
          lower += IsLower(c);
          non_ascii |= c >= 0x80;
          j += l;
          continue;
        }
        // An inner hyphen or apostrophe followed by a letter stays in the word.
        if ((c == '-' || IsApostrophe(c)) && j + l < n) {
          uint32_t next;
          size_t l2 = DecodeUtf8(text, j + l, &next);
          if (l2 != 0 && IsLetter(next)) {
            j += l;
            continue;
          }
        }
        break;
      }
      i = j;
      uint8_t shape = non_ascii ? kShapeNonAscii : 0;
      if (letters == 1 && first_upper) {
        shape |= kShapeInitial;
      } else if (first_upper && lower == 0 && upper >= 2) {
        shape |= kShapeAllCaps;
      } else if (first_upper) {
        shape |= kShapeCapital;
      } else if (first_lower) {
        shape |= kShapeLower;
      }
      t.shape = shape;
    } else if (IsDigit(cp)) {
      t.kind = TokenKind::kNumber;
      size_t j = i + 1;
      while (j < n) {
        uint32_t c;
        size_t l = DecodeUtf8(text, j, &c);
        if (l == 0 || !(IsDigit(c) || (c < 0x80 && IsLetter(c)))) break;
        j += l;
      }
      i = j;
    } else {
      t.kind = TokenKind::kPunct;
      i += len;
    }
    t.end = static_cast<uint32_t>(i);
    out.push_back(t);
  }
}

}  // namespace veil::pii::internal
