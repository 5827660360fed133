// Dictionary recognizers: person names, street addresses and locations (cities, states, countries), from
// word lists shipped in data/pii/ (see data/pii/README.md for their sources and licences) plus an address
// grammar and context words.
#ifndef VEIL_PII_NAMES_H_
#define VEIL_PII_NAMES_H_

#include <memory>
#include <vector>

#include "veil/pii/entity.h"

namespace veil::pii {

// The dictionary recognizers (PERSON, STREET_ADDRESS, LOCATION, and ZIP_CODE for a postcode after a town, as
// in "in Bjert 6091"): one recognizer named "dictionary" that reports them in one pass over the tokens, so
// that a city inside an address is not also reported as a LOCATION. The word lists are compiled into the
// binary as a lexicon image generated at build time and read in place: creating the recognizer and its first
// call build nothing (the first Find costs well under a millisecond). Recognizers are immutable
// (thread-safe); Find is linear in the text's length. Rules and measured figures: docs/pii.md section 2.
std::vector<std::unique_ptr<Recognizer>> NewDictionaryRecognizers();

}  // namespace veil::pii

#endif  // VEIL_PII_NAMES_H_
