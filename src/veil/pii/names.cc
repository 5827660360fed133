#include "veil/pii/names.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "veil/pii/dictionary_lexicon.h"
#include "veil/pii/dictionary_text.h"

namespace veil::pii {
namespace internal {
namespace {

constexpr std::string_view kRecognizerName = "dictionary";

// How far the grammar looks ahead from one token; keeps every scan linear in the text's length.
constexpr int kMaxNameWords = 5;
constexpr int kMaxSegments = 8;
// How far a street core may look for its number: four name words with dots, a Hungarian type and its dot.
constexpr int kNumberReach = 12;
// The name model's score above which an unknown word counts as name-like (tuned on the dev split).
constexpr double kNameScoreMin = 1.0;

// One pass over one text: tokens, their folded forms and lexicon flags, then the address grammar, the
// location matcher and the person rules, each marking the tokens it claims so that later passes skip them.
class Scan {
 public:
  Scan(const Lexicon& lex, std::string_view text) : lex_(lex), text_(text) {
    toks_.reserve(text.size() / 4 + 16);  // about one token per 5 bytes of prose
    folded_.reserve(text.size());
    Tokenize(text, toks_);
    n_ = static_cast<int>(toks_.size());
    fold_begin_.resize(n_ + 1);
    flags_.assign(n_, 0);
    word_end_.resize(n_);
    claimed_.assign(n_, 0);
    for (int i = 0; i < n_; ++i) {
      const Token& t = toks_[i];
      fold_begin_[i] = static_cast<uint32_t>(folded_.size());
      word_end_[i] = t.end;
      if (t.kind == TokenKind::kWord) {
        std::string_view w = Raw(i);
        // A possessive "'s" is not part of the name: "Yefremova's".
        if (w.size() > 2 && w.back() == 's' && (w[w.size() - 2] == '\'')) {
          word_end_[i] = t.end - 2;
        } else if (w.size() > 4 && w.back() == 's' && w.substr(w.size() - 4, 3) == "\xE2\x80\x99") {
          word_end_[i] = t.end - 4;
        }
        FoldCase(text_.substr(t.begin, word_end_[i] - t.begin), folded_);
      } else if (t.kind != TokenKind::kJunk) {
        folded_.append(Raw(i));
      }
    }
    fold_begin_[n_] = static_cast<uint32_t>(folded_.size());
    // The next number at or after each token: street cores without one close by are skipped at once.
    next_num_.resize(n_ + 1);
    next_num_[n_] = n_ + kNumberReach + 1;
    for (int i = n_ - 1; i >= 0; --i)
      next_num_[i] = toks_[i].kind == TokenKind::kNumber ? i : next_num_[i + 1];
    // Only words are looked up: no entry of the lexicon is punctuation or a number.
    for (int i = 0; i < n_; ++i) {
      if (toks_[i].kind == TokenKind::kWord) flags_[i] = lex_.Flags(F(i));
    }
    // A text without one capital letter (chat, a lower-cased export) cannot show its names by their case.
    bool any_word = false, any_capital = false;
    for (int i = 0; i < n_ && !any_capital; ++i) {
      any_word |= Word(i);
      any_capital |= Cap(i);
    }
    caseless_ = any_word && !any_capital;
  }

  void Run(std::vector<Span>& out) {
    FindAddresses(out);
    FindLocations(out);
    FindPersons(out);
  }

 private:
  // ---- token predicates ----
  std::string_view Raw(int i) const { return text_.substr(toks_[i].begin, toks_[i].end - toks_[i].begin); }
  std::string_view F(int i) const {
    return std::string_view(folded_).substr(fold_begin_[i], fold_begin_[i + 1] - fold_begin_[i]);
  }
  bool In(int i) const { return i >= 0 && i < n_; }
  bool Word(int i) const { return In(i) && toks_[i].kind == TokenKind::kWord; }
  bool Num(int i) const { return In(i) && toks_[i].kind == TokenKind::kNumber; }
  bool Punct(int i, uint32_t c) const {
    return In(i) && toks_[i].kind == TokenKind::kPunct && toks_[i].first_cp == c;
  }
  uint32_t Fl(int i) const { return In(i) ? flags_[i] : 0; }
  bool Has(int i, uint32_t f) const { return (Fl(i) & f) != 0; }
  uint8_t Shape(int i) const { return In(i) ? toks_[i].shape : 0; }
  bool Cap(int i) const { return Word(i) && (Shape(i) & (kShapeCapital | kShapeAllCaps | kShapeInitial)); }
  bool Capital(int i) const { return Word(i) && (Shape(i) & kShapeCapital); }
  bool AllCaps(int i) const { return Word(i) && (Shape(i) & kShapeAllCaps); }
  bool Lower(int i) const { return Word(i) && (Shape(i) & kShapeLower); }
  bool Initial(int i) const { return Word(i) && (Shape(i) & kShapeInitial); }
  // Token i follows i-1 on the same line.
  bool SameLine(int i) const { return In(i) && toks_[i].newlines_before == 0; }
  // Token i is glued to i-1 (no white space between): "St." or "u.".
  bool Glued(int i) const { return In(i) && !toks_[i].space_before; }
  bool Is(int i, std::string_view folded) const { return In(i) && F(i) == folded; }
  // Token i is one of these folded words.
  bool IsOneOf(int i, std::initializer_list<std::string_view> words) const {
    if (!In(i)) return false;
    const std::string_view f = F(i);
    return std::find(words.begin(), words.end(), f) != words.end();
  }
  // The pronoun, alone or contracted: "I", "I'm", "I’ll" ("Hi Freddy, I'm ..." lists no names).
  bool PronounI(int i) const {
    return Word(i) && (Is(i, "i") || F(i).starts_with("i'") || F(i).starts_with("i\xE2\x80\x99"));
  }
  bool Free(int i) const { return In(i) && !claimed_[i]; }
  int Digits(int i) const {
    if (!Num(i)) return 0;
    int d = 0;
    for (char c : Raw(i)) d += (c >= '0' && c <= '9');
    return d;
  }
  bool AllDigits(int i) const { return Num(i) && Digits(i) == static_cast<int>(Raw(i).size()); }
  // Token i is a piece of an alphanumeric identifier: a word or number glued to another word or number with
  // no space or punctuation between ("DE45", "GB82", "e78a6229", "NL81"). Such chunks are codes, keys and
  // digests, neither name words nor house numbers. ("12B" and "4th" are one number token, not chunks.)
  bool InAlnumChunk(int i) const {
    const auto alnum = [&](int k) { return Word(k) || Num(k); };
    if (!alnum(i)) return false;
    return (Glued(i) && alnum(i - 1)) || (Glued(i + 1) && alnum(i + 1));
  }
  // "ETag", "PDFs", "IPv6": two capitals and then a lower-case letter is the shape of an acronym-derived
  // identifier, not of a personal name ("McDonald", "DeShawn" have a lower-case letter before the second
  // capital).
  bool AcronymShaped(int i) const {
    std::string_view w = Raw(i);
    return w.size() >= 3 && IsAsciiUpper(w[0]) && IsAsciiUpper(w[1]) &&
           std::any_of(w.begin() + 2, w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  }
  static bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
  // A word that is only a common English word, no name and no place.
  bool CommonOnly(int i) const {
    uint32_t f = Fl(i);
    return (f & kCommonWord) && !(f & (kName | kLocation));
  }
  // Skips an abbreviation's dot glued to token i: returns the index after it.
  int SkipDot(int i) const { return Punct(i + 1, '.') && Glued(i + 1) ? i + 2 : i + 1; }

  void Emit(int b, int e, EntityType type, double score, std::vector<Span>& out) {
    size_t begin = toks_[b].begin;
    size_t end = Word(e - 1) ? word_end_[e - 1] : toks_[e - 1].end;
    out.push_back(Span{begin, end, type, std::min(score, 1.0), kRecognizerName});
    for (int i = b; i < e; ++i) claimed_[i] = 1;
  }

  // ---- locations (phrase lookup) ----
  // The longest known location phrase starting at token i on one line: returns its end (exclusive) and flags.
  int MatchPlace(int i, uint32_t* flags) const {
    *flags = 0;
    if (!Word(i)) return i;
    int best = i;
    uint32_t f = Fl(i) & kLocation;
    if (f) best = i + 1, *flags = f;
    int max = lex_.MaxPhraseTokens(F(i));
    if (max > 1) {
      std::string& key = key_;
      key.assign(F(i));
      for (int k = 1; k < max && In(i + k) && SameLine(i + k) && toks_[i + k].kind != TokenKind::kJunk; ++k) {
        key.push_back(' ');
        key.append(F(i + k));
        uint32_t pf = lex_.Flags(key) & kLocation;
        if (pf && (Word(i + k) || Punct(i + k, ')'))) best = i + k + 1, *flags = pf;
      }
    }
    return best;
  }

  // ---- addresses ----
  // Name words of a street (capitalised, or any case in a lower-case address), starting at i; returns the
  // index after them. Dots glued to abbreviations and name particles are part of the name.
  int NameWords(int i, int max, bool any_case) const {
    int j = i, words = 0;
    while (words < max && Word(j) && (SameLine(j) || (j == i && !Num(i - 1))) &&
           (Cap(j) || any_case || Has(j, kParticle) || (Shape(j) & kShapeNonAscii))) {
      if (Has(j, kUnitWord) && (Num(j + 1) || Punct(j + 1, '.'))) break;
      if (Has(j, kStopWord)) break;
      j = SkipDot(j);
      ++words;
    }
    return j;
  }

  // Hungarian order "Király u. 15.": the street type word then the number, whose trailing dot belongs to it.
  int HungarianNumber(int i) const {
    if (!Has(i, kHungarianType) || !SameLine(i)) return -1;
    int j = SkipDot(i);
    if (!Num(j) || !SameLine(j)) return -1;
    return SkipDot(j);
  }

  // A street (without the city/postcode continuation) starting at token s. Returns its end or -1, and its
  // score. `cue` says an address cue precedes s.
  int StreetCore(int s, bool cue, double* score) const {
    // "GB82 IIVO 7770 7441", "DE45 1551 7586": an identifier's pieces are no house number or street word.
    if (InAlnumChunk(s)) return -1;
    // Every core but a street type with a house number before it ends in a number a few tokens on.
    if (next_num_[s] - s > kNumberReach && !Has(s, kStreetPrefix) && !(Capital(s) && StrongAddressCue(s)))
      return -1;
    // An amount is no house number: "$25 Main Street", "12.99 Oak Road", "€45".
    if (Num(s) && Glued(s) &&
        (Punct(s - 1, '$') || Punct(s - 1, 0x20AC) || Punct(s - 1, 0xA3) || Punct(s - 1, 0xA5) ||
         ((Punct(s - 1, '.') || Punct(s - 1, ',')) && Num(s - 2) && Glued(s - 1)))) {
      return -1;
    }
    int i = s;
    bool lead = false;
    if (Num(i) && Digits(i) <= 6) {
      lead = true;
      ++i;
      if (Num(i) && SameLine(i) && Digits(i) <= 6) ++i;
    }
    if (lead && !SameLine(i)) return -1;
    bool lower = Lower(i);
    if (!lead && (Has(i, kStopWord) || (lower && (CommonOnly(i) || Has(i, kParticle))))) return -1;
    // P.O. Box 149 / PO Box 149 / Postbox 21.
    {
      int j = i;
      if (Is(j, "p") && Punct(j + 1, '.') && Is(j + 2, "o") && Punct(j + 3, '.')) {
        j += 4;
      } else if (Is(j, "po") || Is(j, "pob")) {
        j = SkipDot(j);
      }
      if (j != i && Is(j, "box") && Num(j + 1)) {
        *score = 0.8;
        return j + 2;
      }
      if (Has(i, kPoBox) && Num(i + 1) && SameLine(i + 1)) {
        *score = 0.75;
        return i + 2;
      }
    }
    // Prefix type: "Rua do Arenque 1634", "62 Rue Gafsa", "ul. Miła 53", "C/ Señores Curas 88".
    if (Word(i) && Has(i, kStreetPrefix) && (Cap(i) || lead || Has(i, kParticle) || Lower(i))) {
      int j = SkipDot(i);
      if (Punct(j, '/') && Glued(j)) ++j;
      int k = NameWords(j, kMaxNameWords, lower);
      if (k > j) {
        if (Num(k) && SameLine(k)) {
          int e = SkipDotIfHungarian(k);
          if (Num(e) && SameLine(e) && Digits(e) <= 3) ++e;  // "Strada Provinciale 65 22"
          *score = 0.85;
          return e;
        }
        if (lead && (Cap(i) || lower)) {
          // A street suffix after a name that already has its type is not part of it: "137 Avenue Teboulbi
          // St.", "33 avenue de Provence street".
          int last = Punct(k - 1, '.') ? k - 2 : k - 1;
          if (last > j && Has(last, kStreetSuffix) && !Has(last - 1, kParticle)) k = last;
          *score = 0.8;
          return k;
        }
      }
    }
    // Morpheme or Hungarian type: "Hauptstraße 5", "Passauer Strasse 33", "Király u. 15.", "Kiannonkatu 98".
    {
      int k = NameWords(i, 4, lead || lower);
      for (int m = i; m < k; ++m) {
        // The number follows the last name word, or a Hungarian type word follows it.
        int after = SkipDot(m);
        int e = HungarianNumber(after);
        if (e < 0 && after == k && Num(k) && SameLine(k) && Digits(k) <= 5 && !CommonOnly(m) &&
            lex_.HasStreetMorpheme(F(m))) {
          e = k + 1;
        }
        if (e > 0) {
          *score = 0.85;
          return e;
        }
      }
    }
    // Suffix type: "1668 Glyn St", "74 Diakou Street", "3911 fourth avenue": needs the house number.
    if (lead) {
      int k = NameWords(i, kMaxNameWords + 1, true);
      for (int m = i + 1; m < k; ++m) {
        if (!Has(m, kStreetSuffix)) continue;
        // The first suffix after at least one name word ends the street; a directional may follow.
        int e = SuffixEnd(m);
        if (Has(e, kDirection) && SameLine(e) && (Cap(e) || lower)) e = SkipDot(e);
        *score = 0.85;
        return e;
      }
      // Double number: "28245 Puruntie 82", "5850 Jana Nerudy 894".
      int k2 = NameWords(i, 3, lower);
      if (k2 > i && Num(k2) && SameLine(k2) && Digits(k2) <= 5) {
        bool plausible = true;
        for (int m = i; m < k2; ++m) plausible &= !CommonOnly(m) || Has(m, kParticle);
        if (plausible && s + 1 == i) {
          *score = 0.7;
          return k2 + 1;
        }
      }
    }
    // No number, but a street suffix after capitalised name words and a strong address cue before them:
    // "lives at Lindley Road", "Ship to: Martinez Mall". The suffix must not start the name.
    if (!lead && Capital(i) && StrongAddressCue(s)) {
      int k = NameWords(i, 4, false);
      int m = -1;  // the last suffix: "Harbour View Drive"
      for (int n = i + 1; n < k; ++n) {
        if (Has(n, kStreetSuffix) && Capital(n)) m = n;
      }
      bool plausible = m > 0;
      for (int n = i; n < m; ++n) plausible &= !Has(n, kNotName | kOrgMarker | kTitle);
      if (plausible) {
        int e = SuffixEnd(m);
        if (Has(e, kDirection) && SameLine(e) && Cap(e)) e = SkipDot(e);
        *score = 0.7;
        return e;
      }
    }
    // After an address cue: "Sludevej 13", "Joaquin Suarez 2906".
    if (!lead && cue && Cap(i)) {
      int k = NameWords(i, 3, false);
      if (k > i && Num(k) && SameLine(k) && Digits(k) <= 5 && AllDigits(k)) {
        bool plausible = true;
        for (int m = i; m < k; ++m) plausible &= !CommonOnly(m) && !Has(m, kNotName);
        if (plausible) {
          *score = 0.6;
          return k + 1;
        }
      }
    }
    return -1;
  }

  int SkipDotIfHungarian(int k) const { return k + 1; }

  // The end of a street suffix at m: its abbreviation dot belongs to it ("St.", "Ave."), the full stop after
  // a whole word that ends a sentence does not ("Harbour View Drive. It opens").
  int SuffixEnd(int m) const {
    int e = SkipDot(m);
    if (e == m + 2 && F(m).size() >= 4 && (!In(e) || toks_[e].newlines_before > 0 || Capital(e)))
      return m + 1;
    return e;
  }

  // A cue before token s that says an address follows even without a house number: "lives at", "located
  // on", "ship to", "send it to", "Address:", "address is", "the corner of".
  bool StrongAddressCue(int s) const {
    int p = s - 1;
    if (Punct(p, ':')) return Is(p - 1, "address") || Is(p - 1, "to") || Is(p - 1, "location");
    if (Is(p, "is")) return Is(p - 1, "address");
    if (Is(p, "of")) return Is(p - 1, "corner");
    if (!(Is(p, "at") || Is(p, "on") || Is(p, "to"))) return false;
    int q = p - 1;
    if (Is(q, "it") || Is(q, "them") || Is(q, "this")) --q;  // "send it to"
    return IsOneOf(
        q, {"lives",    "live",  "living",  "lived",   "located",   "situated",      "resides", "reside",
            "residing", "ship",  "shipped", "deliver", "delivered", "send",          "sent",    "mail",
            "mailed",   "moved", "stays",   "staying", "based",     "headquartered", "office",  "offices"});
  }

  // Another street name after a street: "14 Crown Street Kishiev Squares", "Tungata 11 Rott Crossroad".
  int StreetNameTail(int e, bool lower) const {
    int k = NameWords(e, 3, lower);
    for (int m = e; m < k; ++m) {
      if (m > e && Has(m, kStreetSuffix) && SkipDot(m) >= k - 0) return SkipDot(m);
    }
    return e;
  }

  // Military addresses: "PSC 0413, Box 8144\nAPO AA 42323", "Unit 4719 Box 7394\nDPO AP 70942",
  // "USNS Møller\nFPO AA 85844".
  int Military(int s) const {
    int i = s;
    if ((Is(i, "psc") || Is(i, "unit") || Is(i, "cmr")) && Num(i + 1)) {
      i += 2;
      if (Punct(i, ',')) ++i;
      if (!(Is(i, "box") && Num(i + 1))) return -1;
      i += 2;
    } else if (Is(i, "usns") || Is(i, "usnv") || Is(i, "uss") || Is(i, "uscgc")) {
      ++i;
      int k = i;
      while (Word(k) && SameLine(k) && k - i < 4) ++k;
      if (k == i) return -1;
      i = k;
    } else {
      return -1;
    }
    if (!(Is(i, "apo") || Is(i, "fpo") || Is(i, "dpo"))) return -1;
    if (!(Word(i + 1) && F(i + 1).size() == 2 && Num(i + 2))) return -1;
    return i + 3;
  }

  // An alphanumeric postcode starting at word i, written in capitals: UK "S10 1QT", "SW1A 1AA", "M1 1AE"
  // (outward code A9, A99, AA9, AA99, A9A or AA9A, one space, inward code 9AA; BS 7666) or Canadian "K1A
  // 0B1", "B0J2H0" (A9A 9A9). Returns the index after its last token, or -1.
  int AlnumPostcode(int i) const {
    if (!Word(i) || !(Shape(i) & (kShapeInitial | kShapeAllCaps))) return -1;
    std::string_view t = text_.substr(toks_[i].begin, std::min<size_t>(9, text_.size() - toks_[i].begin));
    auto up = [&](size_t k) { return k < t.size() && t[k] >= 'A' && t[k] <= 'Z'; };
    auto dig = [&](size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
    size_t end = 0;
    if (up(0) && dig(1) && up(2) &&
        ((t.size() > 3 && t[3] == ' ' && dig(4) && up(5) && dig(6)) || (dig(3) && up(4) && dig(5)))) {
      end = t[3] == ' ' ? 7 : 6;  // Canada
    } else {
      size_t k = up(1) ? 2 : 1;  // outward code: one or two letters,
      if (up(0) && dig(k)) {     // a digit,
        ++k;
        if (dig(k) || up(k)) ++k;  // an optional digit or letter,
        if (k < t.size() && t[k] == ' ' && dig(k + 1) && up(k + 2) && up(k + 3)) end = k + 4;
      }
    }
    if (end == 0) return -1;
    if (end < t.size() && ((t[end] >= '0' && t[end] <= '9') || (t[end] >= 'A' && t[end] <= 'Z') ||
                           (t[end] >= 'a' && t[end] <= 'z'))) {
      return -1;
    }
    size_t end_byte = toks_[i].begin + end;
    int k = i;
    while (In(k) && toks_[k].end < end_byte) ++k;
    return In(k) && toks_[k].end == end_byte ? k + 1 : -1;
  }

  // A numeric postcode at token j: 3-10 digits, ZIP+4 "62704-1234", Dutch "1234 AB", Swedish/Greek/Czech
  // "114 55". A number followed by another on its line is a phone number ("655 437 108"), not a postcode.
  // Returns the index after it, or -1.
  int NumericPostcode(int j) const {
    if (!Num(j) || Digits(j) < 3 || Digits(j) > 10) return -1;
    int e = j + 1;
    if (Punct(e, '-') && Glued(e) && Num(e + 1) && Glued(e + 1)) {
      // Not the first two groups of a phone number: "45 Elm St\n217-555-0143".
      if (Punct(e + 2, '-') && Glued(e + 2) && Num(e + 3) && Glued(e + 3)) return -1;
      return e + 2;
    }
    if (Num(e) && SameLine(e)) {
      if (Digits(j) == 3 && Digits(e) == 2 && AllDigits(e) && !(Num(e + 1) && SameLine(e + 1))) return e + 1;
      return -1;
    }
    if (Digits(j) == 4 && AllDigits(j) && AllCaps(e) && SameLine(e) && F(e).size() == 2 && Cap(e + 1) &&
        SameLine(e + 1)) {
      return e + 1;  // "1234 AB Amsterdam"
    }
    return e;
  }

  // The rest of an address after its street: units, city, state or province, postcode and country, across
  // commas and line breaks. Returns the new end.
  int Continuation(int e, bool lower) const {
    bool seen_zip = false, seen_country = false, seen_unit = false, town_may_follow = false;
    for (int seg = 0; seg < kMaxSegments; ++seg) {
      int j = e;
      int commas = 0;
      while (Punct(j, ',') && commas < 2) ++j, ++commas;
      if (!In(j) || toks_[j].newlines_before > 2) break;
      for (int k = e; k <= j && k < n_; ++k) {
        if (toks_[k].newlines_before > 2) return e;
      }
      bool broken = commas > 0 || toks_[j].newlines_before > 0 || (In(e) && toks_[e].newlines_before > 0);
      // Unit: "Apt. 595", "Suite 501", "# 12".
      if ((Has(j, kUnitWord) && !Is(j, "box") && (Cap(j) || lower || Lower(j))) || Punct(j, '#')) {
        int k = Punct(j, '#') ? j + 1 : SkipDot(j);
        if (Punct(k, '#')) ++k;
        if (Num(k) && SameLine(k)) {
          e = k + 1;
          seen_unit = true;
          continue;
        }
      }
      // Postcode: "S10 1QT", "K1A 0B1", digits, ZIP+4. A European postcode written before its town ("10115
      // Berlin", "75008 Paris") lets a town follow on the same line.
      if (int pc = AlnumPostcode(j); pc > 0) {
        e = pc;
        seen_zip = true;
        continue;
      }
      if (Num(j)) {
        int pc = NumericPostcode(j);
        if (pc < 0 && Digits(j) >= 3) break;  // a phone number
        if (pc > 0) {
          town_may_follow = !seen_zip && !seen_country && Digits(j) >= 4 && Digits(j) <= 5 && AllDigits(j) &&
                            (broken || j == e) && Cap(pc) && SameLine(pc) && !Has(pc, kUnitWord);
          e = pc;
          seen_zip = true;
          continue;
        }
      }
      // A one- or two-digit region code after a comma: "Hania Bazid, 43 73313".
      if (Num(j) && Digits(j) <= 2 && commas > 0 && Num(j + 1)) {
        e = j + 1;
        continue;
      }
      uint32_t pf;
      int pe = MatchPlace(j, &pf);
      if (pe > j && (pf & (kCountry | kSubdivision)) && (Cap(j) || lower)) {
        e = pe;
        if (Punct(e, '(') && Word(e + 1) && Punct(e + 2, ')')) e += 3;  // "Cyprus (Greek)"
        seen_country |= (pf & kCountry) != 0;
        continue;
      }
      // State or province code: "ON", "QC", "AA"; "nan" (a missing value written by data tools).
      if (Word(j) && ((AllCaps(j) && F(j).size() <= 3) || Is(j, "nan")) &&
          (broken || seen_zip || SameLine(j))) {
        e = j + 1;
        continue;
      }
      if ((seen_zip && !town_may_follow) || seen_country) break;
      town_may_follow = false;
      // City: capitalised words (lower-case words in a lower-case address), with inner particles ("Ostrov nad
      // Ohrí", "Chomutice u Horic"); it ends before a country, a region code or a postcode ("NUNGATTA
      // Australia", "OULU NO", "Sheffield S10 1QT").
      int k = j;
      int words = 0;
      while (words < 4 && Word(k) && (SameLine(k) || k == j) &&
             (Cap(k) || (lower && !CommonOnly(k)) ||
              (words > 0 && (Has(k, kParticle) || (Lower(k) && F(k).size() <= 3 && !CommonOnly(k))) &&
               Cap(k + 1) && SameLine(k + 1)))) {
        if (words > 0 && !lower) {
          uint32_t kf;
          int ke = MatchPlace(k, &kf);
          if (ke > k && (kf & (kCountry | kSubdivision)) && k >= pe) break;
          if (AllCaps(k) && F(k).size() <= 3 && k >= pe) break;
          if (AlnumPostcode(k) > 0) break;
        }
        // A common word may open a town only before a word that is not one: "Cite Essanaouber".
        if (!lower && CommonOnly(k) && Capital(k) && !(pe > j) &&
            !(words == 0 && Capital(k + 1) && SameLine(k + 1) && !CommonOnly(k + 1) &&
              !Has(k + 1, kStopWord)))
          break;
        k = SkipDot(k);
        ++words;
        if (Punct(k, '(') && Word(k + 1) && Punct(k + 2, ')')) k += 3;
      }
      if (words == 0) break;
      // Accept the city when a known place, or when something address-like follows it, or at a line end.
      bool known = pe >= k;
      int next = k;
      while (Punct(next, ',')) ++next;
      bool followed = In(next) && (Num(next) || (AllCaps(next) && F(next).size() <= 3) || Is(next, "nan") ||
                                   MatchPlace(next, &pf) > next || AlnumPostcode(next) > 0 ||
                                   (Cap(next) && SameLine(next + 1) &&
                                    ((Num(next + 1) && NumericPostcode(next + 1) > 0) ||
                                     (MatchPlace(next + 1, &pf) > next + 1 && (pf & kCountry)))));
      if (Punct(k, ':') && Glued(k)) break;  // a label ("Mobile: 723 813 266"), not a town
      bool line_end = !In(k) || toks_[k].newlines_before > 0 || Punct(k, '?') ||
                      (Punct(k, '.') && (!In(k + 1) || toks_[k + 1].newlines_before > 0));
      if (!(known || followed || (line_end && (broken || seen_unit)))) break;
      e = k;
    }
    return e;
  }

  void FindAddresses(std::vector<Span>& out) {
    for (int s = 0; s < n_; ++s) {
      if (claimed_[s]) continue;
      int e = Military(s);
      double score = 0.9;
      int b = s;
      if (e < 0) {
        bool cue = In(s - 1) && (Has(s - 1, kAddressCue) || Punct(s - 1, ':') || StrongAddressCue(s));
        e = StreetCore(s, cue, &score);
        if (e < 0) continue;
        bool lower = true;
        for (int k = s; k < e; ++k) lower &= !Cap(k);
        e = StreetNameTail(e, lower);
        // "the corner of X and Y"; "Růžena and Király u. 15."
        if (Is(s - 1, "of") && Is(s - 2, "corner") && Is(s - 3, "the")) {
          b = s - 3;
          if (Is(e, "and") && SameLine(e)) {
            double s2;
            int e2 = StreetCore(e + 1, true, &s2);
            if (e2 < 0) {
              int k = NameWords(e + 1, 3, lower);
              for (int m = e + 2; m < k; ++m) {
                if (Has(m, kStreetSuffix)) e2 = SkipDot(m);
              }
            }
            if (e2 > 0) e = e2;
          }
        } else if (Is(s - 1, "and") && Cap(s - 2) && !claimed_[s - 2] &&
                   (Punct(s - 3, ':') || Has(s - 3, kAddressCue))) {
          b = s - 2;
        }
        int c = Continuation(e, lower);
        score = std::min(0.95, score + 0.05 * std::min(c - e, 2));
        e = c;
      }
      Emit(b, e, EntityType::kStreetAddress, score, out);
      s = e - 1;
    }
  }

  // ---- locations ----
  bool PlaceContext(int i) const {
    if (!In(i - 1)) return false;
    if (Has(i - 1, kPlaceCue) && SameLine(i)) return true;
    return Punct(i - 1, ':') && (Is(i - 2, "where") || Is(i - 2, "location") || Is(i - 2, "city"));
  }

  // Two-word cues that introduce a place whatever the word: "flew to X", "I'm in X", "originally from X".
  bool StrongPlaceContext(int i) const {
    if (!In(i - 2) || !SameLine(i)) return false;
    if (Punct(i - 1, ':') && Is(i - 2, "where")) return true;
    std::string_view p = F(i - 1), q = F(i - 2);
    if (p == "to") {
      return q == "flew" || q == "travelling" || q == "traveling" || q == "moved" || q == "fly" ||
             q == "trip" || q == "relocated" || q == "welcome" || q == "returned" || q == "world" ||
             q == "back" || q == "went" || q == "coming" || q == "travel" || q == "drove" || q == "headed";
    }
    if (p == "in") {
      return q == "i'm" || q == "am" || q == "live" || q == "lives" || q == "living" || q == "born" ||
             q == "based" || q == "year" || q == "years" || q == "located" || q == "we're" || q == "stay" ||
             q == "up" || q == "lived" || q == "arrived" || q == "settled" || q == "raised" || q == "year";
    }
    if (p == "at") return q == "arrived";
    if (p == "city" || p == "town") return q == "home";  // "the band's home city Assen"
    if (p == "from") {
      return q == "originally" || q == "here" || q == "come" || q == "comes" || q == "am" || q == "hails";
    }
    return false;
  }

  // A first name, title or initial right before token i on its line: "Jennifer Alcaraz", "Hanne I.
  // Kreutzmann" are persons even when the surname is also a town.
  bool NameBefore(int i) const {
    if (!SameLine(i)) return false;
    int p = i - 1;
    if (Punct(p, '.') && Glued(p) && Initial(p - 1)) return true;
    if (Initial(p)) return Cap(p - 1) && SameLine(p);
    if (Has(p, kTitle) && Cap(p)) return true;
    if (Capital(p) && PersonCue(p) == 2) return true;  // "Name: Toshimi Arata"
    return Capital(p) && Has(p, kFirstName) && !Has(p, kCommonWord | kCountry | kNotName);
  }

  // "in Bjert 6091 in its mission", "in Quinta de São Tiago 3610-114,": after "in", a capitalised town (up to
  // 4 words; particles de/da/do/del/la/di/u/nad and a one-letter district as in "København K" inside) and a
  // postcode on its line (4-5 digits, "840 24", "3610-114"; no year 1900-2099), then the end of the clause
  // (a function word, a comma or a full stop). Returns the postcode's first token, or -1; *town_end is the
  // town's end (exclusive).
  int TownAndPostcode(int i, int* town_end) const {
    if (!Is(i - 1, "in") || !SameLine(i) || !Cap(i) || claimed_[i] || CommonOnly(i) ||
        Has(i, kNotName | kOrgMarker | kStopWord | kCountry) || InAlnumChunk(i) || AcronymShaped(i)) {
      return -1;
    }
    int k = i + 1, words = 1;
    while (words < 4 && SameLine(k) && !claimed_[k]) {
      if (Cap(k) && !Has(k, kOrgMarker | kNotName)) {
        ++k, ++words;
      } else if (Lower(k) &&
                 (Is(k, "de") || Is(k, "da") || Is(k, "do") || Is(k, "del") || Is(k, "la") || Is(k, "di") ||
                  Is(k, "u") || Is(k, "nad")) &&
                 Cap(k + 1) && SameLine(k + 1)) {
        k += 2, words += 2;
      } else {
        break;
      }
    }
    const int j = k;
    if (!Num(j) || !SameLine(j) || claimed_[j] || !AllDigits(j)) return -1;
    int pe = NumericPostcode(j);
    if (pe < 0) return -1;
    const int d = Digits(j);
    if (pe == j + 1) {
      if (d < 4 || d > 5) return -1;
      if (d == 4 && (Raw(j).substr(0, 2) == "19" || Raw(j).substr(0, 2) == "20")) return -1;
    } else if (!(Num(pe - 1) && AllDigits(pe - 1))) {
      return -1;  // "1234 AB": a Dutch postcode written before its town, not after
    }
    const bool clause_end =
        !In(pe) || Punct(pe, ',') || Punct(pe, '.') || (SameLine(pe) && Lower(pe) && Has(pe, kStopWord));
    if (!clause_end) return -1;
    *town_end = j;
    return j;
  }

  void FindLocations(std::vector<Span>& out) {
    for (int i = 0; i < n_; ++i) {
      int town_end, zip;
      if (Word(i) && (zip = TownAndPostcode(i, &town_end)) >= 0) {
        const int zip_end = NumericPostcode(zip);
        Emit(i, town_end, EntityType::kLocation, 0.6, out);
        Emit(zip, zip_end, EntityType::kZipCode, 0.6, out);
        i = zip_end - 1;
        continue;
      }
      if (claimed_[i] || !Word(i) || (Lower(i) && !StrongPlaceContext(i))) continue;
      uint32_t pf;
      int e = MatchPlace(i, &pf);
      bool context = PlaceContext(i);
      bool strong = StrongPlaceContext(i);
      // A title or "my name is" before, or a name pattern after ("Faina D. Yefremova"), makes it a person.
      if (e > i &&
          (PersonCue(i) == 2 || (e == i + 1 && Cap(e) && SameLine(e) &&
                                 (Initial(e) || (Has(e, kName) && !Has(e, kLocation | kCommonWord)))))) {
        continue;
      }
      // A one-word town that follows a first name is a surname; one that is itself a first name ("Logan",
      // "Mary") is a place only after a strong cue, and "Gary:" starts a line of dialogue.
      if (e == i + 1 && !(pf & kCountry) && !strong) {
        if (NameBefore(i)) continue;
        if (Has(i, kFirstName) && !Has(i, kCommonWord)) continue;
        if (Punct(e, ':') && Glued(e) && SameLine(e)) continue;
        if (Has(i, kNotName)) continue;  // "in March"
        if (Has(i, kName)) {             // "at Jones, Mitchell and Williams": a firm named after people
          int first_item, last_item;
          ListAround(i, &first_item, &last_item);
          if (first_item != last_item) continue;
        }
      }
      if (e > i) {
        bool multi = e - i > 1;
        bool cased = Cap(i) || (Lower(i) && strong);
        bool all_free = true;
        for (int k = i; k < e; ++k) all_free &= !claimed_[k];
        if (!cased || !all_free) continue;
        // One-word places that are also English words or names need a cue: "Turkey", "Jordan", "Reading". A
        // country that is only in Moby's list of names, which holds places too ("Canada", "France", "Poland",
        // "Spain"), needs none: only a first name or an English word makes a country doubtful.
        const uint32_t doubtful =
            (pf & kCountry) ? (kCommonWord | kFirstName | kNotName) : (kCommonWord | kName | kNotName);
        bool ambiguous = !multi && (Has(i, doubtful) || F(i).size() <= 3);
        // "Country Club" is a town too: a phrase of common words only needs a cue. A country name of several
        // words is a closed ISO 3166 phrase and needs none ("that United Kingdom is moving", "the United
        // States.").
        if (multi && !(pf & kCountry)) {
          bool all_common = true;
          for (int k = i; k < e; ++k) all_common &= !Word(k) || CommonOnly(k) || Has(k, kStopWord);
          ambiguous = all_common;
        } else if (multi) {
          ambiguous = false;
        }
        double score;
        if (pf & kCountry) {
          score = ambiguous ? (context ? 0.75 : 0.4) : 0.85;
        } else if (pf & kSubdivision) {
          score = ambiguous ? (context ? 0.65 : 0.35) : ((pf & kUsState) ? 0.8 : 0.65);
        } else {
          score = ambiguous ? (context ? 0.6 : 0.3) : (context ? 0.7 : 0.6);
        }
        if (strong) score = std::max(score, 0.7);
        if (score >= 0.5) {
          Emit(i, e, EntityType::kLocation, score, out);
          i = e - 1;
        }
        continue;
      }
      // An unknown capitalised name right after a strong place cue: "flew to LEPPEN"; its first word may be
      // an English word when an unknown one follows ("moved here from Cite Guedouala").
      const auto unknown = [&](int k) {
        return Cap(k) && SameLine(k) && !claimed_[k] && !CommonOnly(k) &&
               !Has(k, kName | kNotName | kOrgMarker);
      };
      if (strong && Cap(i) && !Has(i, kName | kNotName) && (!CommonOnly(i) || unknown(i + 1))) {
        int k = i;
        while (k - i < 3 && Cap(k) && SameLine(k) && !claimed_[k] && !Has(k, kNotName | kOrgMarker) &&
               (k == i || !CommonOnly(k))) {
          ++k;
        }
        Emit(i, k, EntityType::kLocation, 0.55, out);
        i = k - 1;
      }
    }
  }

  // ---- persons ----
  // A token that can be part of a person's name.
  bool NameToken(int i) const {
    if (!Word(i) || claimed_[i]) return false;
    if (InAlnumChunk(i) || AcronymShaped(i)) return false;
    // An initial, even "I." or "A": "Hanne I. Kreutzmann", "Martim A Pereira"; the pronoun "I" is none.
    if (Initial(i) && !Has(i, kTitle)) return !Is(i, "i") || (Punct(i + 1, '.') && Glued(i + 1));
    if (Has(i, kNotName | kTitle | kStopWord)) return false;
    if (PronounI(i)) return false;  // I'm
    if (Initial(i)) return true;
    return Capital(i) || (AllCaps(i) && F(i).size() > 3 && Has(i, kName));
  }

  // A cue right before token i that says a name follows ("Dr.", "My name is", "Dear").
  int PersonCue(int i) const {
    int p = i - 1;
    if (Punct(p, '.') && Glued(p)) --p;
    if (Has(p, kTitle)) return 2;
    if (Punct(p, ':') && (Is(p - 1, "name") || Is(p - 1, "user") || Is(p - 1, "by") || Is(p - 1, "contact") ||
                          Is(p - 1, "attn") || Is(p - 1, "patient") || Is(p - 1, "from"))) {
      return 2;
    }
    if (Is(p, "is") && (Is(p - 1, "name") || Is(p - 1, "this"))) return 2;
    if ((Is(p, "i'm") || Is(p, "im")) || (Is(p, "am") && Is(p - 1, "i"))) return 1;
    if (Is(p, "name") && Is(p - 1, "last")) return 2;
    if (Has(p, kPersonCue) && SameLine(i)) return 1;
    // A naming verb and its object: "She named him Frank", "people call me Csanád".
    // ("call us Toll Free", "call them Sales" name no one.)
    if (IsOneOf(p, {"him", "her", "me"}) && IsOneOf(p - 1, {"named", "called", "call", "calls", "name"}) &&
        SameLine(i)) {
      return 1;
    }
    if (Punct(p, '?') && Is(p - 1, "name")) return 2;  // "What's your last name? Boyle"
    return 0;
  }

  // The run [i, e) names the author or performer of a work: "the Jensen novel", "a Harvey Leach concert";
  // not when a word of it is a place and no first name ("the London book fair", "the Paris concert").
  int WorkOf(int i, int e, bool known) const {
    if (!IsOneOf(i - 1, {"the", "a", "an"}) || !SameLine(e) || !Lower(e)) return 0;
    for (int k = i; k < e; ++k) {
      if (Has(k, kLocation) && !Has(k, kFirstName)) return 0;  // "the London book fair", "the Paris concert"
    }
    if (IsOneOf(e, {"novel", "novels", "poem", "poems", "biography", "memoir"})) return 1;
    return known && IsOneOf(e, {"book", "books", "song", "songs", "album", "film", "movie", "concert",
                                "version", "recording"});
  }

  // The list [first, last] is of people: a plural verb follows ("... and Bowers were"), or a colon after a
  // noun for people precedes it ("founders: Monjeau, Graves and Reed").
  bool PeopleList(int first, int last) const {
    // Each item looks like a name and one is a listed name: not "Tylenol and Advil are", "Accenture and
    // Deloitte were".
    bool listed = false;
    for (int j = first; j <= last; ++j) {
      if (!Capital(j)) continue;
      if (!Has(j, kName) && !Namey(j)) return false;
      listed |= Has(j, kName);
    }
    if (!listed) return false;
    if (SameLine(last + 1) && PluralVerb(last + 1)) return true;
    return Punct(first - 1, ':') &&
           IsOneOf(first - 2, {"founders", "partners", "authors", "members", "children", "kids", "siblings",
                               "parents", "speakers", "guests", "winners", "candidates", "employees"});
  }

  // One word that someone is spoken to by: "Don't go to town, Mark!", "Remember me, Randy?", "Kuba, can I
  // please speak to your boss?".
  int Vocative(int i, int e) const {
    if (e != i + 1 || CommonOnly(i) || Has(i, kLocation))
      return 0;  // "However, can we ...", "Paris, can you"
    if (Punct(i - 1, ',') && (Punct(e, '!') || Punct(e, '?'))) return 1;
    const bool line_start = !In(i - 1) || toks_[i].newlines_before > 0;
    if (!line_start || !Punct(e, ',') || !SameLine(e + 1)) return 0;
    // "Kuba, can I ...", not "Metformin, can cause nausea".
    return IsOneOf(e + 1, {"can", "could", "would", "will", "do", "did"}) &&
           IsOneOf(e + 2, {"i", "you", "we"});
  }

  // The run ending before e is a possessive naming what only a person has: "Matej's address", "Asya's kid".
  // Contact details only after a listed name ("Microsoft's address" names a firm).
  int Belonging(int e, bool known) const {
    if (!In(e - 1) || word_end_[e - 1] == toks_[e - 1].end || !SameLine(e) || !Lower(e)) return 0;
    if (IsOneOf(e, {"kid", "kids", "son", "daughter", "wife", "husband", "mother", "father", "brother",
                    "sister", "parents", "friend", "birthday", "boss"})) {
      return 1;
    }
    return known && IsOneOf(e, {"address", "phone", "email", "e-mail", "number"});
  }

  // Not person verbs on their own ("Deloitte were", "who have Crohn disease"): after a list, they say the
  // list is of people (PeopleList).
  bool PluralVerb(int i) const { return IsOneOf(i, {"were", "are", "have"}); }

  bool Adverb(int i) const {
    return IsOneOf(
        i, {"just", "also", "never", "always", "really", "still", "already", "often", "finally", "then"});
  }

  // The name model says an unknown word looks like a personal name rather than an English word.
  bool Namey(int i) const { return lex_.NameScore(F(i)) >= kNameScoreMin; }

  // A lower-case verb right after the run ending before e ("Nora is", "Scott had given", "Kaczmarek was") or
  // right before the run starting at i ("says Hartvigsson", "said Gladys", "starring Westgård").
  bool PersonVerbAround(int i, int e) const {
    if (SameLine(e) && Lower(e) && Has(e, kPersonVerb)) return true;
    // One adverb between: "Akifumi just has to", "Nora also said".
    if (SameLine(e) && Adverb(e) && SameLine(e + 1) && Lower(e + 1) && Has(e + 1, kPersonVerb)) return true;
    return SameLine(i) && Lower(i - 1) && Has(i - 1, kPersonVerb | kPersonCue);
  }

  // "Halldór: What a wife." - a word alone at the start of a line, then a colon and text: a speaker.
  bool Speaker(int i, int e) const {
    bool line_start = !In(i - 1) || toks_[i].newlines_before > 0 || Punct(i - 1, '>');
    return line_start && Punct(e, ':') && Glued(e) && SameLine(e + 1) && In(e + 1);
  }

  // An organisation: the run is followed by "Inc", "LLC", "Bank", "Orchestra" ... or holds such a word.
  bool Organisation(int i, int e) const {
    for (int k = i; k < e; ++k) {
      if (Has(k, kOrgMarker) && k > i) return true;
    }
    int a = Punct(e, '.') && Glued(e) ? e + 1 : e;
    if (Punct(a, ',') && Has(a + 1, kOrgMarker) && Cap(a + 1)) return true;  // "Shepherd, Inc."
    return SameLine(a) && Cap(a) && Has(a, kOrgMarker);
  }

  // The run [i, e) is said to be a firm: "Telenav is a design agency based in ...", "Ramsey-Johnson is an
  // Swedish multinational investment bank", "I work for Wolters Kluwer".
  bool DescribedAsFirm(int i, int e) const {
    if (Is(i - 1, "for") && IsOneOf(i - 2, {"work", "works", "worked", "working"})) return true;
    if (!Is(e, "is") || !IsOneOf(e + 1, {"a", "an"}) || !SameLine(e + 1)) return false;
    for (int k = e + 2; k < e + 7 && SameLine(k) && Word(k); ++k) {
      if (IsOneOf(k, {"agency", "company", "firm", "bank", "corporation", "startup", "business", "retailer",
                      "manufacturer", "brand", "consultancy", "provider"})) {
        // The firm word heads the phrase, not "a business analyst" or "an agency nurse".
        return !(SameLine(k + 1) && Lower(k + 1) && !Has(k + 1, kStopWord) && !Is(k + 1, "based"));
      }
    }
    return false;
  }

  // "A, B and C" around the single word at i: the list's first and last word (i itself when there is none).
  void ListAround(int i, int* first, int* last) const {
    *first = *last = i;
    for (int dir = -1; dir <= 1; dir += 2) {
      int j = i;
      while (true) {
        int sep = j + dir;
        if (!(Punct(sep, ',') || Is(sep, "and") || Punct(sep, '&'))) break;
        int next = sep + dir;
        if (Is(next, "and") || Punct(next, ',')) next += dir;  // ", and"
        if (!Capital(next) || PronounI(next) || !SameLine(dir > 0 ? next : j)) break;
        if (Cap(next + 1) && SameLine(next + 1) && !Punct(next + 1, ',')) {
          if (dir > 0 && !Has(next + 1, kOrgMarker)) break;  // a longer run: not a one-word item
        }
        if (dir < 0 && Cap(next - 1) && SameLine(next)) break;
        j = next;
      }
      (dir < 0 ? *first : *last) = j;
    }
  }

  // Lists of surnames named after a preposition or followed by an organisation word are firm names:
  // "at Jones, Mitchell and Williams", "The Clark, Romero and Hall Orchestra".
  bool FirmList(int first, int last) const {
    if (first == last) return false;
    int p = first - 1;
    if (Is(p, "the") || Is(p, "of") || Is(p, "at") || Is(p, "from") || Is(p, "for") || Is(p, "with") ||
        Is(p, "by") || Is(p, "to") || Is(p, "joined") || Is(p, "became")) {
      return true;
    }
    return Organisation(last, last + 1) || DescribedAsFirm(first, last + 1) ||
           (SameLine(last + 1) && Lower(last + 1) && !Has(last + 1, kStopWord) &&
            !Has(last + 1, kPersonVerb) && !PluralVerb(last + 1));
  }

  // In a caseless text: a known first name that is no English word, an optional one-letter initial, then a
  // surname that is no English word only ("patricia desrosiers", "eric g. samoylova's", "naomi ryan"); or
  // such a first name alone where a person is spoken of ("tracy: i'm ...", "dear nina", "says mika").
  void FindCaselessPersons(std::vector<Span>& out) {
    const auto first_name = [&](int i) {
      return Lower(i) && !claimed_[i] && Has(i, kFirstName) &&
             !Has(i, kCommonWord | kNotName | kStopWord | kParticle);
    };
    const auto surname = [&](int i) {
      return Lower(i) && SameLine(i) && !claimed_[i] && !CommonOnly(i) &&
             !Has(i, kStopWord | kNotName | kTitle | kLocation) && F(i).size() > 1 && !InAlnumChunk(i);
    };
    for (int i = 0; i < n_; ++i) {
      if (!first_name(i) || (Punct(i - 1, '@') && Glued(i)) || (Punct(i + 1, '@') && Glued(i + 1))) continue;
      int k = i + 1;
      const bool possessive = word_end_[i] < toks_[i].end;
      // A one-letter initial, with or without its dot; "a" and "i" only with the dot.
      if (!possessive && Lower(k) && SameLine(k) && F(k).size() == 1 &&
          ((!Is(k, "a") && !Is(k, "i")) || (Punct(k + 1, '.') && Glued(k + 1))) && surname(SkipDot(k))) {
        k = SkipDot(k);
      }
      double score = 0;
      int e = i + 1;
      if (!possessive && surname(k)) {
        score = 0.6;
        e = k + 1;
      } else if (PersonCue(i) > 0 || PersonVerbAround(i, i + 1) || Speaker(i, i + 1) || possessive) {
        score = 0.55;
      }
      if (score == 0) continue;
      Emit(i, e, EntityType::kPerson, score, out);
      i = e - 1;
    }
    // A list of three or more single words, most of them known first names, lists people: "they had 6:
    // silvana, adam, christopher, kristina, chad and caleb."
    std::vector<int> items;
    for (int i = 0; i < n_; ++i) {
      if (!Lower(i)) continue;
      items.assign(1, i);
      for (int j = i;;) {
        int next = j + 1;
        if (!Punct(next, ',') && !Is(next, "and")) break;
        if (Punct(next, ',') && Is(next + 1, "and")) ++next;
        ++next;
        if (!Lower(next) || !SameLine(next) || Is(next, "and")) break;
        items.push_back(j = next);
      }
      int names = 0;
      for (int k : items)
        names += Has(k, kFirstName) && !Has(k, kCommonWord | kNotName | kStopWord | kCountry | kSubdivision);
      if (items.size() >= 3 && 2 * names > static_cast<int>(items.size())) {
        for (int k : items) {
          if (!claimed_[k] && !CommonOnly(k) && !Has(k, kStopWord | kNotName | kCountry | kSubdivision) &&
              !InAlnumChunk(k))
            Emit(k, k + 1, EntityType::kPerson, 0.55, out);
        }
      }
      i = items.back();
    }
  }

  void FindPersons(std::vector<Span>& out) {
    std::vector<char> person(n_, 0);
    if (caseless_) FindCaselessPersons(out);  // the passes below look at capitalised words only
    // Words of names found with strong evidence (two words with a known name, an initial or a title); their
    // other capitalised occurrences in the same text are the same person ("... starring Westgård").
    absl::flat_hash_set<std::string_view> known_names;
    for (int i = 0; i < n_; ++i) {
      if (!NameToken(i)) continue;
      // Part of an e-mail address or a handle: "EwanDawson@dayrep.com".
      if ((Punct(i + 1, '@') && Glued(i + 1)) || (Punct(i - 1, '@') && Glued(i))) continue;
      // A common word before a name is no part of it: "Producer Velimir R. Janković".
      if (CommonOnly(i) && SameLine(i + 1) && NameToken(i + 1) && !Initial(i + 1)) continue;
      // The run of name tokens on this line: "Faina D. Yefremova", "Kevin Veitonen II".
      int k = i, words = 0, initials = 0, first = 0, moby = 0, common = 0, non_ascii = 0;
      int ambiguous_first = 0, namey = 0;
      while (words < 4 && (k == i || (SameLine(k) && NameToken(k)))) {
        if (Initial(k)) {
          ++initials;
        } else {
          // Moby's list has words such as "Can" or "Love": a name that is also an English word counts as a
          // word unless it is a known first name.
          bool is_common = Has(k, kCommonWord) && !Has(k, kFirstName);
          first += Has(k, kFirstName) && !Has(k, kCommonWord);
          moby += Has(k, kMobyName) && !Has(k, kFirstName | kCommonWord);
          common += is_common;
          ambiguous_first += Has(k, kFirstName) && Has(k, kCommonWord);
          namey += !Has(k, kName | kCommonWord) && Namey(k);
          non_ascii += (Shape(k) & kShapeNonAscii) != 0;
        }
        ++words;
        bool possessive = word_end_[k] < toks_[k].end;
        k = Initial(k) ? SkipDot(k) : k + 1;
        if (possessive) break;  // "Emmie Ström's Cautionary Tales"
        if (Has(k, kParticle) && Lower(k) && SameLine(k) && NameToken(k + 1)) ++k;  // "Ludwig van Beethoven"
      }
      int full = words - initials;
      // The weaker cues (a work, someone spoken to, a possession) count only for a run with a listed name or
      // non-ASCII letters in it, or, for a written work or a relative, a word the name model takes for a
      // name: "the Jensen novel", "the Brzezinski novel", "Orsolya's kid", never "the Apple book", "Client's
      // phone", "the Netflix film" or "Microsoft's address" (brand names often look like names to the model).
      int cue = PersonCue(i);
      const bool known = first + moby + non_ascii + ambiguous_first > 0;
      if (cue == 0 && (known || namey > 0))
        cue = std::max({WorkOf(i, k, known), known ? Vocative(i, k) : 0, Belonging(k, known)});
      double score = 0;
      bool strong = false;
      if (full == 0) continue;
      if (Organisation(i, k)) continue;  // "Civic Impulse LLC", "Aunt Bertha Inc"
      // Said to be a firm, and nothing in it says person: "Telenav is a design agency", not "Jane Smith is a
      // brand manager" or "I work for John Carter".
      if (first == 0 && initials == 0 && cue < 2 && DescribedAsFirm(i, k)) continue;
      if (cue == 2) {
        score = common == full ? 0.6 : 0.85;
        strong = common < full;
      } else if (initials > 0 && full >= 2 && !Initial(i)) {
        score = 0.85;
        strong = true;
      } else if (full >= 2) {
        if (common > 0) {
          score = cue ? 0.6 : 0;
        } else if (Has(i, kFirstName)) {
          score = 0.85;
          strong = true;
        } else if (first + moby >= 1) {
          score = 0.75;
          strong = first + moby + namey >= full;
        } else if (namey == full) {
          score = 0.7;  // "Przemek Kucharski": both words look like names
        } else if (non_ascii > 0 || namey > 0) {
          score = 0.6;
        } else if (cue) {
          score = 0.6;
        }
      } else {  // one word
        int first_item, last_item;
        ListAround(i, &first_item, &last_item);
        bool listed = first_item != last_item;
        if (listed && FirmList(first_item, last_item)) continue;
        bool context = cue > 0 || PersonVerbAround(i, k) || Speaker(i, k);
        if (common > 0 || ambiguous_first > 0) {
          score = (cue && !Has(i, kCountry)) ? 0.55 : 0;
        } else if (Has(i, kLocation) && !Has(i, kFirstName)) {
          score = (context && !Has(i, kCountry) && !PlaceContext(i)) ? 0.55 : 0;
        } else if (first > 0) {
          score = StrongPlaceContext(i) ? 0 : 0.65;
        } else if (moby > 0) {
          score = context ? 0.65 : 0.55;
        } else if (context && (namey > 0 || non_ascii > 0 || cue)) {
          score = 0.6;  // "says Hartvigsson", "Shovda is very reliable", "Vinka: What a wife.", "Tómas had"
        }
      }
      // The words of a run that failed can still start a shorter run ("Crown Street" was claimed already).
      if (score < 0.5) continue;
      int e = k;
      if (Has(e, kNameSuffix) && SameLine(e) && Cap(e)) e = SkipDot(e);  // "Jr.", "II"
      Emit(i, e, EntityType::kPerson, score, out);
      for (int m = i; m < e; ++m) {
        person[m] = 1;
        if (strong && Word(m) && !Initial(m) && !Has(m, kCommonWord | kTitle | kNameSuffix)) {
          known_names.insert(F(m));
        }
      }
      i = e - 1;
    }
    // Coordination: "Kónya, Becker and Vasquez", "Usamov and Bowers": single capitalised words listed with
    // a name are names, unless the list names a firm.
    // So are those of a list that people do something in, or that names people: "Usamov and Bowers were
    // precision engineers", "our 3 founders: Monjeau, Graves and Reed".
    for (int i = 0; i < n_; ++i) {
      const bool seed = person[i] && !(In(i + 1) && person[i + 1]) && !(In(i - 1) && person[i - 1]);
      // Without a seed, only a list's first item is looked at (the list around it is the same).
      if (!seed && !(Capital(i) && (Punct(i + 1, ',') || Is(i + 1, "and")) && NameToken(i))) continue;
      int first_item, last_item;
      ListAround(i, &first_item, &last_item);
      if (first_item == last_item || (!seed && first_item != i) || FirmList(first_item, last_item)) continue;
      if (!seed && !PeopleList(first_item, last_item)) continue;
      for (int j = first_item; j <= last_item; ++j) {
        if (person[j] || !Capital(j) || !NameToken(j) || CommonOnly(j) || Has(j, kPersonCue)) continue;
        if (Has(j, kLocation) && !Has(j, kName)) continue;
        Emit(j, j + 1, EntityType::kPerson, 0.6, out);
        person[j] = 1;
      }
    }
    // Later mentions of a name found with strong evidence: "Bonifacy Kaczmarek ... Kaczmarek was".
    if (known_names.empty()) return;
    for (int i = 0; i < n_; ++i) {
      if (person[i] || claimed_[i] || !Capital(i) || !NameToken(i) || !known_names.contains(F(i))) continue;
      int e = i + 1;
      while (e < n_ && e - i < 3 && SameLine(e) && Capital(e) && !claimed_[e] && known_names.contains(F(e)))
        ++e;
      Emit(i, e, EntityType::kPerson, 0.6, out);
      for (int m = i; m < e; ++m) person[m] = 1;
      i = e - 1;
    }
  }

  const Lexicon& lex_;
  std::string_view text_;
  std::vector<Token> toks_;
  int n_ = 0;
  std::string folded_;
  std::vector<uint32_t> fold_begin_;
  std::vector<uint32_t> flags_;
  std::vector<uint32_t> word_end_;
  std::vector<char> claimed_;
  std::vector<int> next_num_;
  bool caseless_ = false;    // no word of the text has a capital letter
  mutable std::string key_;  // scratch for phrase lookups
};

class DictionaryRecognizer : public Recognizer {
 public:
  DictionaryRecognizer() = default;
  std::string_view name() const override { return kRecognizerName; }
  std::vector<EntityType> entities() const override {
    // ZIP_CODE: only the postcode after a town ("in Bjert 6091 in its mission"), see TownAndPostcode.
    return {EntityType::kPerson, EntityType::kStreetAddress, EntityType::kLocation, EntityType::kZipCode};
  }
  void Find(std::string_view text, std::vector<Span>& out) const override {
    Scan scan(Lexicon::Get(), text);
    scan.Run(out);
  }
};

}  // namespace
}  // namespace internal

std::vector<std::unique_ptr<Recognizer>> NewDictionaryRecognizers() {
  std::vector<std::unique_ptr<Recognizer>> r;
  r.push_back(std::make_unique<internal::DictionaryRecognizer>());
  return r;
}

}  // namespace veil::pii
