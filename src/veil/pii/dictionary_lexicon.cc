#include "veil/pii/dictionary_lexicon.h"

#include <cmath>

#include "veil/pii/dictionary_text.h"
#include "veil/pii/names_data.h"

namespace veil::pii::internal {
namespace {

// Street-name endings in European languages (German, Dutch, Scandinavian, Finnish, Estonian, Icelandic,
// Czech/Slovak, Polish, Hungarian, Slovenian). Order does not matter: any suffix match counts, so an ending
// that another one ends with ("straatweg" and "weg") is not listed.
constexpr std::string_view kStreetMorphemes[] = {
    "straße", "strasse", "str",      "gasse",  "weg",    "allee", "platz",   "damm", "ufer",     "steig",
    "pfad",   "graben",  "chaussee", "straat", "laan",   "plein", "gracht",  "kade", "dreef",    "singel",
    "steeg",  "vej",     "gade",     "vænget", "stræde", "allé",  "torv",    "gata", "gatan",    "vägen",
    "väg",    "gränd",   "stigen",   "vegen",  "veien",  "vei",   "veg",     "katu", "tie",      "kuja",
    "polku",  "raitti",  "kaari",    "rinne",  "piha",   "tänav", "maantee", "põik", "puiestee", "stræti",
    "braut",  "vegur",   "stígur",   "ulice",  "třída",  "ulica", "cesta",   "utca", "út",       "útja",
    "tér",    "körút",   "sétány",   "gården"};

}  // namespace

const Lexicon& Lexicon::Get() {
  static const Lexicon lexicon(LexiconImage());
  return lexicon;
}

Lexicon::Lexicon(std::string_view image) {
  header_ = reinterpret_cast<const LexiconImageHeader*>(image.data());
  slots_ = reinterpret_cast<const LexiconSlot*>(image.data() + sizeof(LexiconImageHeader));
  pool_ = reinterpret_cast<const unsigned char*>(image.data()) + sizeof(LexiconImageHeader) +
          size_t{header_->slot_count} * sizeof(LexiconSlot);
  mask_ = header_->slot_count - 1;
}

bool Lexicon::HasStreetMorpheme(std::string_view folded) const {
  for (std::string_view m : kStreetMorphemes) {
    if (folded.size() >= m.size() && folded.substr(folded.size() - m.size()) == m) return true;
  }
  return false;
}

double Lexicon::NameScore(std::string_view folded) const {
  // Code point boundaries of the word; a word of more than 64 code points is no name.
  constexpr int kMax = 64;
  uint32_t starts[kMax];
  int n = 0;
  for (size_t i = 0; i < folded.size(); ++i) {
    if ((static_cast<unsigned char>(folded[i]) & 0xC0) != 0x80) {
      if (n == kMax) return 0;
      starts[n++] = static_cast<uint32_t>(i);
    }
  }
  if (n <= 2) return 0;
  char key[2 + 4 * 5];  // the longest affix: 5 code points of at most 4 bytes
  int64_t sum = 0;
  int count = 0;
  auto add = [&](char kind, std::string_view affix) {
    key[0] = kAffixKeyMark;
    key[1] = kind;
    std::memcpy(key + 2, affix.data(), affix.size());
    std::string_view k(key, affix.size() + 2);
    uint64_t h = LexiconHash(k);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    int32_t w = header_->unseen_affix_weight;
    for (uint32_t i = static_cast<uint32_t>(h) & mask_;; i = (i + 1) & mask_) {
      const LexiconSlot& s = slots_[i];
      if (s.key_off == LexiconSlot::kEmpty) break;
      const unsigned char* p = pool_ + s.key_off;
      if (s.tag == tag && p[0] == k.size() && std::memcmp(p + 1, k.data(), k.size()) == 0) {
        w = static_cast<int32_t>(s.value);
        break;
      }
    }
    sum += w;
    ++count;
  };
  for (int k = 2; k <= 5 && k < n; ++k) add('S', folded.substr(starts[n - k]));
  for (int k = 2; k <= 3 && k < n; ++k) add('P', folded.substr(0, starts[k]));
  return static_cast<double>(sum) / 100.0 / std::sqrt(static_cast<double>(count));
}

}  // namespace veil::pii::internal
