// Internal helpers shared by dicom_profile.cc and dicom_deid.cc. Not part of the library's contract.
#ifndef VEIL_ANON_DICOM_INTERNAL_H_
#define VEIL_ANON_DICOM_INTERNAL_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace veil::anon::internal {

// absl here predates std::string_view support (absl::string_view is its own type).
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace veil::anon::internal

#endif  // VEIL_ANON_DICOM_INTERNAL_H_
