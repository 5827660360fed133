#include "veil/pii/names.h"

namespace veil::pii {

// Placeholder until the dictionary recognizers land.
std::vector<std::unique_ptr<Recognizer>> NewDictionaryRecognizers() { return {}; }

}  // namespace veil::pii
