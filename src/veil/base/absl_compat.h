#ifndef VEIL_BASE_ABSL_COMPAT_H_
#define VEIL_BASE_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace veil::base {

// Debian's Abseil is built with its own absl::string_view, a type distinct from std::string_view, which
// absl::StrCat, absl::StrSplit and the hash containers' heterogeneous lookup take: ToAbsl(name).
inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace veil::base

#endif  // VEIL_BASE_ABSL_COMPAT_H_
