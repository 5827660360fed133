// The lexicon behind the dictionary recognizers: every word list of data/pii/ (compiled in, names_data.h)
// folded to lower case and indexed in hash maps, plus the address grammar's closed word classes. Internal to
// veil_pii_names.
#ifndef VEIL_PII_DICTIONARY_LEXICON_H_
#define VEIL_PII_DICTIONARY_LEXICON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

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
  kNotName = 1u << 12,        // months, weekdays and other capitalised words that are never a name
  kPersonCue = 1u << 13,      // a word after which a capitalised word is a name ("dear", "signed")
  kPlaceCue = 1u << 14,       // a preposition before a place ("in", "from", "to")
  kHungarianType = 1u << 15,  // "u", "utca", "út", "tér": written between the street name and the number
  kDirection = 1u << 16,      // "north", "n", "ne"
  kParticle = 1u << 17,       // name particles ("van", "de", "del", "von", "da")
  kAddressCue = 1u << 18,     // "at", "on", "address"
  kPoBox = 1u << 19,          // "postbox", "pob"
  kStopWord = 1u << 20,       // function words that never belong to a street or place name ("in", "its")
  kLocation = kCity | kCountry | kSubdivision,
  kName = kFirstName | kMobyName,
};

class Lexicon {
 public:
  // The lexicon built from the embedded lists (once, on first use; thread-safe).
  static const Lexicon& Get();

  // Flags of a folded single word or of a folded phrase (words joined by one space), 0 if unknown.
  uint32_t Flags(std::string_view folded) const {
    auto it = entries_.find(absl::string_view(folded.data(), folded.size()));
    return it == entries_.end() ? 0 : it->second;
  }
  // The largest number of tokens of a multi-token location phrase starting with this folded word (0 if none).
  int MaxPhraseTokens(std::string_view folded_first) const {
    auto it = phrase_tokens_.find(absl::string_view(folded_first.data(), folded_first.size()));
    return it == phrase_tokens_.end() ? 0 : it->second;
  }
  // Whether a folded word ends with a street-name morpheme of a European language ("straße", "katu", "vej").
  bool HasStreetMorpheme(std::string_view folded) const;

  size_t size() const { return entries_.size(); }

 private:
  Lexicon();
  void AddList(std::string_view list, uint32_t flag);
  void Add(std::string_view entry, uint32_t flag);

  absl::flat_hash_map<std::string, uint32_t> entries_;
  absl::flat_hash_map<std::string, int> phrase_tokens_;
};

}  // namespace veil::pii::internal

#endif  // VEIL_PII_DICTIONARY_LEXICON_H_
