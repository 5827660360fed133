// Dictionary recognizers: person names, street addresses and locations (cities, states, countries), from
// word lists shipped in data/pii/ (see data/pii/README.md for their sources and licences) plus an address
// grammar and context words.
#ifndef VEIL_PII_NAMES_H_
#define VEIL_PII_NAMES_H_

#include <memory>
#include <vector>

#include "veil/pii/entity.h"

namespace veil::pii {

// The dictionary recognizers (PERSON, STREET_ADDRESS, LOCATION). The word lists are compiled into the binary;
// building the recognizers takes milliseconds and they are immutable (thread-safe) afterwards.
std::vector<std::unique_ptr<Recognizer>> NewDictionaryRecognizers();

}  // namespace veil::pii

#endif  // VEIL_PII_NAMES_H_
