// The lexicon behind the dictionary recognizers: every word list of data/pii/ folded to lower case, the
// address grammar's closed word classes, and the affix weights of the name model, in one open-addressing hash
// table that is generated at build time (names_gen.cc, dictionary_lexicon_build.h) and compiled into the
// binary. Using it costs no start-up work: the table is read in place. Internal to veil_pii_names.
#ifndef VEIL_PII_DICTIONARY_LEXICON_H_
#define VEIL_PII_DICTIONARY_LEXICON_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace veil::pii::internal {

// What a folded word or phrase is known as. One entry may have several.
enum LexFlag : uint32_t {
  kFirstName = 1u << 0,       // first_names.txt
  kMobyName = 1u << 1,        // names_moby.txt (first names and surnames)
  kCommonWord = 1u << 2,      // english_words.txt (a lower-case English word)
  kCity = 1u << 3,            // cities.txt
  kCountry = 1u << 4,         // countries.txt
  kSubdivision = 1u << 5,     // subdivisions.tsv (names)
  kUsState = 1u << 6,         // a US state or territory name
  kStreetSuffix = 1u << 7,    // street_suffixes.tsv ("street", "st", "ave")
  kStreetPrefix = 1u << 8,    // a street type written before the name ("rue", "via", "calle", "ul")
  kUnitWord = 1u << 9,        // "apt", "suite", "unit"
  kTitle = 1u << 10,          // "mr", "mrs", "dr"
  kNameSuffix = 1u << 11,     // "jr", "sr", "ii", "iii"
  kNotName = 1u << 12,        // months, weekdays, nationalities and other capitalised words never a name
  kPersonCue = 1u << 13,      // a word after which a capitalised word is a name ("dear", "signed")
  kPlaceCue = 1u << 14,       // a preposition before a place ("in", "from", "to")
  kHungarianType = 1u << 15,  // "u", "utca", "út", "tér": written between the street name and the number
  kDirection = 1u << 16,      // "north", "n", "ne"
  kParticle = 1u << 17,       // name particles ("van", "de", "del", "von", "da")
  kAddressCue = 1u << 18,     // "at", "on", "address"
  kPoBox = 1u << 19,          // "postbox", "pob"
  kStopWord = 1u << 20,       // function words that never belong to a street or place name ("in", "its")
  kOrgMarker = 1u << 21,   // a word that makes a capitalised run an organisation ("inc", "bank", "orchestra")
  kPersonVerb = 1u << 22,  // a verb after which/before which a lone capitalised word is a person ("said")
  kLocation = kCity | kCountry | kSubdivision,
  kName = kFirstName | kMobyName,
};

// The table's hash (64-bit, over the key's bytes; the image builder and the reader must agree).
inline uint64_t LexiconHash(std::string_view key) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (key.size() * 0xFF51AFD7ED558CCDull);
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, key.data() + i, 8);
    h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  if (i < key.size()) {
    uint64_t v = 0;
    std::memcpy(&v, key.data() + i, key.size() - i);
    h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

// Layout of the generated image (native-endian uint32 words): header, slots, key pool.
struct LexiconImageHeader {
  static constexpr uint32_t kMagic = 0x31584C56;  // "VLX1"
  uint32_t magic;
  uint32_t slot_count;  // a power of two
  uint32_t entry_count;
  uint32_t pool_size;
  int32_t unseen_affix_weight;  // the name model's weight of an affix absent from the table (hundredths)
  uint32_t reserved[3];
};
struct LexiconSlot {
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  uint32_t tag;      // high 32 bits of the key's hash
  uint32_t value;    // word: LexFlag bits | max phrase tokens << 24; affix: int32 weight in hundredths
  uint32_t key_off;  // offset in the pool of [length byte][key bytes], kEmpty if the slot is free
};
// Keys of the name model's affixes start with this byte (never part of a folded word): "\x01S" + suffix,
// "\x01P" + prefix.
inline constexpr char kAffixKeyMark = '\x01';
inline constexpr uint32_t kFlagMask = 0x00FFFFFFu;
inline constexpr int kPhraseShift = 24;

class Lexicon {
 public:
  // The lexicon compiled into the binary. Costs nothing on first use (the image is read in place);
  // thread-safe. The image's validity is checked by the tests and the build, not at run time.
  static const Lexicon& Get();

  // A lexicon over an image made by BuildLexiconImage (which must outlive it).
  explicit Lexicon(std::string_view image);

  // Flags of a folded single word or of a folded phrase (words joined by one space), 0 if unknown.
  uint32_t Flags(std::string_view folded) const { return Value(folded) & kFlagMask; }
  // The largest number of tokens of a multi-token location phrase starting with this folded word (0 if none).
  int MaxPhraseTokens(std::string_view folded_first) const {
    return static_cast<int>(Value(folded_first) >> kPhraseShift);
  }
  // Whether a folded word ends with a street-name morpheme of a European language ("straße", "katu", "vej").
  bool HasStreetMorpheme(std::string_view folded) const;
  // The name model's score of a folded word: naive Bayes log-odds "personal name" vs "English word" from its
  // affixes, divided by the square root of their count (data/pii/name_model.tsv, make_name_model.py).
  // Above about 1 the word looks like a name; below 0 like an English word. 0 for words of 2 code points.
  double NameScore(std::string_view folded) const;

  size_t size() const { return header_->entry_count; }

 private:
  uint32_t Value(std::string_view key) const {
    uint64_t h = LexiconHash(key);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint32_t i = static_cast<uint32_t>(h) & mask_;; i = (i + 1) & mask_) {
      const LexiconSlot& s = slots_[i];
      if (s.key_off == LexiconSlot::kEmpty) return 0;
      if (s.tag == tag) {
        const unsigned char* k = pool_ + s.key_off;
        if (k[0] == key.size() && std::memcmp(k + 1, key.data(), key.size()) == 0) return s.value;
      }
    }
  }

  const LexiconImageHeader* header_;
  const LexiconSlot* slots_;
  const unsigned char* pool_;
  uint32_t mask_;
};

}  // namespace veil::pii::internal

#endif  // VEIL_PII_DICTIONARY_LEXICON_H_
