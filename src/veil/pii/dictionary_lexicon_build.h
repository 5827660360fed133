// Builds the lexicon image of the dictionary recognizers (dictionary_lexicon.h) from the word lists of
// data/pii/. Run at build time by names_gen.cc; the tests use it too. Internal to veil_pii_names.
#ifndef VEIL_PII_DICTIONARY_LEXICON_BUILD_H_
#define VEIL_PII_DICTIONARY_LEXICON_BUILD_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace veil::pii::internal {

// The verbatim contents of the files of data/pii/ (UTF-8, one entry a line).
struct LexiconSources {
  std::string_view first_names;      // first_names.txt
  std::string_view names_moby;       // names_moby.txt
  std::string_view cities;           // cities.txt
  std::string_view countries;        // countries.txt
  std::string_view subdivisions;     // subdivisions.tsv (ISO 3166-2 code TAB name)
  std::string_view english_words;    // english_words.txt
  std::string_view street_suffixes;  // street_suffixes.tsv (written form TAB USPS standard suffix)
  std::string_view name_model;       // name_model.tsv (affix TAB weight; first line "#unseen TAB weight")
};

// The image read by Lexicon: every entry folded to lower case (phrases as their folded tokens joined by one
// space) with its LexFlag bits, the grammar's closed word classes, and the name model's affixes. The same
// sources give a byte-identical image. Errors: InvalidArgument naming the file and line of a malformed
// name_model.tsv row, ResourceExhausted if the pool outgrows 4 GiB.
absl::StatusOr<std::string> BuildLexiconImage(const LexiconSources& sources);

}  // namespace veil::pii::internal

#endif  // VEIL_PII_DICTIONARY_LEXICON_BUILD_H_
