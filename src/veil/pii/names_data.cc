#include "veil/pii/names_data.h"

// Symbols defined by names_data.S (configured from names_data.S.in).
extern "C" {
extern const char veil_pii_first_names_begin[], veil_pii_first_names_end[];
extern const char veil_pii_names_moby_begin[], veil_pii_names_moby_end[];
extern const char veil_pii_cities_begin[], veil_pii_cities_end[];
extern const char veil_pii_countries_begin[], veil_pii_countries_end[];
extern const char veil_pii_subdivisions_begin[], veil_pii_subdivisions_end[];
extern const char veil_pii_english_words_begin[], veil_pii_english_words_end[];
extern const char veil_pii_street_suffixes_begin[], veil_pii_street_suffixes_end[];
}

namespace veil::pii::internal {
namespace {

std::string_view Range(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

}  // namespace

const EmbeddedLists& Lists() {
  static const EmbeddedLists lists = {
      Range(veil_pii_first_names_begin, veil_pii_first_names_end),
      Range(veil_pii_names_moby_begin, veil_pii_names_moby_end),
      Range(veil_pii_cities_begin, veil_pii_cities_end),
      Range(veil_pii_countries_begin, veil_pii_countries_end),
      Range(veil_pii_subdivisions_begin, veil_pii_subdivisions_end),
      Range(veil_pii_english_words_begin, veil_pii_english_words_end),
      Range(veil_pii_street_suffixes_begin, veil_pii_street_suffixes_end),
  };
  return lists;
}

}  // namespace veil::pii::internal
