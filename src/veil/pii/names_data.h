// The lexicon image of the dictionary recognizers, generated at build time from data/pii/ by names_gen.cc
// and compiled into the binary (names_data.S.in embeds it with .incbin). Internal to veil_pii_names.
#ifndef VEIL_PII_NAMES_DATA_H_
#define VEIL_PII_NAMES_DATA_H_

#include <string_view>

namespace veil::pii::internal {

// The embedded image (see LexiconImageHeader in dictionary_lexicon.h), 16-byte aligned.
std::string_view LexiconImage();

}  // namespace veil::pii::internal

#endif  // VEIL_PII_NAMES_DATA_H_
