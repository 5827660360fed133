#include "veil/pii/names_data.h"

// Symbols defined by names_data.S (configured from names_data.S.in).
extern "C" {
extern const char veil_pii_lexicon_begin[], veil_pii_lexicon_end[];
}

namespace veil::pii::internal {

std::string_view LexiconImage() {
  return std::string_view(veil_pii_lexicon_begin,
                          static_cast<size_t>(veil_pii_lexicon_end - veil_pii_lexicon_begin));
}

}  // namespace veil::pii::internal
