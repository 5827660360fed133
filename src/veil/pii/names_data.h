// The word lists of data/pii/ compiled into the binary (names_data.S.in embeds them with .incbin). Internal
// to the dictionary recognizers.
#ifndef VEIL_PII_NAMES_DATA_H_
#define VEIL_PII_NAMES_DATA_H_

#include <string_view>

namespace veil::pii::internal {

// The embedded lists, each the verbatim content of one file of data/pii/ (UTF-8, one entry a line).
struct EmbeddedLists {
  std::string_view first_names;      // first_names.txt
  std::string_view names_moby;       // names_moby.txt
  std::string_view cities;           // cities.txt
  std::string_view countries;        // countries.txt
  std::string_view subdivisions;     // subdivisions.tsv (ISO 3166-2 code TAB name)
  std::string_view english_words;    // english_words.txt
  std::string_view street_suffixes;  // street_suffixes.tsv (written form TAB USPS standard suffix)
};

const EmbeddedLists& Lists();

}  // namespace veil::pii::internal

#endif  // VEIL_PII_NAMES_DATA_H_
