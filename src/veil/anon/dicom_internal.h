// Internal helpers of veil_anon_dicom, shared by dicom_profile.cc, dicom_deid.cc and the DICOM benchmark and
// fuzz target. Not part of the library's contract.
#ifndef VEIL_ANON_DICOM_INTERNAL_H_
#define VEIL_ANON_DICOM_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

class DcmFileFormat;

namespace veil::anon::internal {

// absl here predates std::string_view support (absl::string_view is its own type).
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// DCMTK's read of `bytes` (a Part 10 file, or a bare dataset whose transfer syntax DCMTK guesses) into
// `file`, which must be empty. Every value is in memory on return (`file` does not refer to `bytes`); a
// declared length beyond the end is refused by DCMTK's own check, before it allocates. Errors:
// InvalidArgument "malformed DICOM file" with DCMTK's parse error or the value that runs past the end, or
// when parsing stopped before the last byte. No nesting-depth pre-scan: that is DeidentifyDicomBytes's.
absl::Status ReadDicom(std::span<const uint8_t> bytes, DcmFileFormat& file);

// DCMTK's write of `file` to memory as a Part 10 file, in its dataset's original transfer syntax (explicit VR
// little endian if unknown); the meta information gets only what it lacks. `size_hint`: the expected size,
// reserved up front. Errors: Internal with DCMTK's encoding error.
absl::StatusOr<std::string> WriteDicom(DcmFileFormat& file, size_t size_hint);

}  // namespace veil::anon::internal

#endif  // VEIL_ANON_DICOM_INTERNAL_H_
