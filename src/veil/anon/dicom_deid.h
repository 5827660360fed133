// De-identification of DICOM objects (DCMTK) by the PS3.15 Annex E Basic Application Level Confidentiality
// Profile and its options (dicom_profile.h).
//
// What happens to each attribute, at every nesting depth (items inside sequences inside items...):
// - Listed in Table E.1-1: the resolved action (dicom_profile.h) applied as follows.
//     X  the attribute is removed (with everything nested in it).
//     Z  the value is emptied (a sequence loses its items).
//     D  a dummy of the attribute's VR: PN "ANONYMIZED", DA "19000101", TM "000000", DT "19000101000000",
//        AS "000Y", IS/DS and the binary numbers 0, UI a mapped UID (as U), other strings "ANONYMIZED" cut to
//        the VR's maximum length; a sequence becomes one empty item; OB/OW/UN and the like are emptied.
//     K  kept; a sequence is kept and its items processed with the same profile.
//     U  each UID value (every value of a multi-valued UI) replaced by MapUid(); a sequence (X/Z/U*) is kept
//        and its items processed (the UIDs inside have rows of their own).
//     C  by the option it came from: free text (Clean Descriptors; the C entries of Retain Patient
//        Characteristics and Retain Device Identity) has every span the PII analyzer (veil/pii/analyzer.h,
//        default options) finds replaced by '*' of the same byte length, so the VR's length limit still
//        holds; dates (Retain Longitudinal Modified Dates) are shifted by the patient's offset (DA, the date
//        part of DT; TM is kept, since whole days are shifted); Clean Structured Content keeps the content
//        tree, with each item processed by the profile and the free text (LT, ST, UT, UC, e.g. Text Value) of
//        its unlisted attributes cleaned as descriptors (and its unlisted UN values removed); Clean Graphics
//        cleans text (Overlay Comments) and removes binary overlay and curve data (Veil does not look into
//        pixels); Retain Safe Private keeps a private attribute only if it is on Veil's known-safe list,
//        which is empty in this version (conservative: every private attribute is removed). A C on an
//        attribute whose VR has nothing to clean falls back to the basic profile's action. A C on a value of
//        unknown VR (UN: bytes Veil cannot interpret as text or a date) removes it (fail closed).
//     Cleaning is best effort: the PII analyzer finds what its recognizers know (names in context, phone
//     numbers, e-mail addresses, dates, ...) and misses bare identifiers ("MRN 884422") and run-together
//     names ("JohnDoe"). When descriptors cannot be trusted, do not select the options that keep them.
//   A value DCMTK cannot return as a string (a defective element) where U or C needs to read it is emptied
//   (fail closed) and counted as emptied.
// - Not listed: kept (PS3.15 E.1.1: the profile lists what to change; standard attributes not listed are
//   retained), except that a sequence's items are still processed. Private attributes (odd groups,
//   including private creators) are covered by the table's private row: removed.
// - Then (PS3.15 E.1.1 and C.7.1.1): Patient Identity Removed (0012,0062) = YES, De-identification Method
//   (0012,0063), De-identification Method Code Sequence (0012,0064) with CID 7050 codes (113100 and one per
//   selected option), Longitudinal Temporal Information Modified (0028,0303) = MODIFIED (dates shifted),
//   UNMODIFIED (full dates retained) or REMOVED.
// - File meta information (group 0002): the same profile (Media Storage SOP Instance UID is U, so it maps to
//   the same new UID as SOP Instance UID); the AE titles (0002,0016-0018) and private information
//   (0002,0100/0102) are removed.
//
// Keys. One key (>= 32 bytes) is given; two subkeys are derived from it with HMAC-SHA-256 under the labels
// "veil dicom uid v1" and "veil dicom date shift v1".
// - MapUid(uid) = "2.25." + the decimal value of a 128-bit UUID (RFC 9562 version 8, variant 10) made of the
//   first 16 bytes of HMAC-SHA-256(uid key, uid) with the version and variant bits set (PS3.5 B.2,
//   UUID-derived UIDs): the same input UID gives the same output UID in every file processed under the same
//   key, so references between objects (Referenced SOP Instance UID, ...) stay valid.
// - DateOffsetDays(patient_id) = -(1 + (first 8 bytes of HMAC-SHA-256(date key, patient_id) mod 3650)): a
//   shift of 1 to 3650 days into the past, the same for every date of one patient (Patient ID (0010,0020) of
//   the top-level dataset, read before anything is changed), so intervals within a patient are preserved.
//
// Errors name the attribute by tag and never quote a value (values are personal data).
// Thread safety: a DicomDeidentifier is immutable after Create; Deidentify* may run concurrently on
// different DCMTK objects.
#ifndef VEIL_ANON_DICOM_DEID_H_
#define VEIL_ANON_DICOM_DEID_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/anon/dicom_profile.h"
#include "veil/base/secret_bytes.h"

class DcmDataset;
class DcmFileFormat;
class DcmItem;
class DcmMetaInfo;

namespace veil::pii {
class Analyzer;
}

namespace veil::anon {
namespace internal {
struct DicomDeidentifierImpl;
}  // namespace internal

struct DicomDeidOptions {
  // The options of PS3.15 E.3 to apply. Default: none (the Basic Profile alone).
  DicomProfileOptions profile;
  // The text written to De-identification Method (0012,0063).
  std::string method_description = "Veil: PS3.15 Annex E Basic Application Confidentiality Profile";
};

// What one run did, counted per attribute.
struct DicomDeidStats {
  int64_t removed = 0;          // X (private attributes included)
  int64_t private_removed = 0;  // of which private
  int64_t emptied = 0;          // Z
  int64_t replaced = 0;         // D
  int64_t cleaned = 0;          // C (text cleaned, dates shifted)
  int64_t uids_mapped = 0;      // U (values)
  int64_t kept = 0;             // K, and listed C attributes with nothing to clean
  // Objects whose Burned In Annotation (0028,0301) is YES: their pixel data may show identifying text (names,
  // dates, IDs burned into the image), which Veil does not detect or clean (it never looks into pixels). The
  // attribute itself is kept; callers should warn (veil dicom deid does, per file).
  int64_t burned_in_annotation = 0;

  DicomDeidStats& operator+=(const DicomDeidStats& o);
};

class DicomDeidentifier {
 public:
  // `key`: at least 32 bytes (InvalidArgument otherwise). Errors: InvalidArgument for conflicting options
  // (DicomProfileOptions::Validate); the profile's or the PII analyzer's errors (the analyzer is built only
  // when an option needs it).
  static absl::StatusOr<std::unique_ptr<DicomDeidentifier>> Create(const base::SecretBytes& key,
                                                                   const DicomDeidOptions& options);
  ~DicomDeidentifier();
  DicomDeidentifier(const DicomDeidentifier&) = delete;
  DicomDeidentifier& operator=(const DicomDeidentifier&) = delete;

  // De-identifies `file` in place: its dataset and its meta information. Errors: InvalidArgument naming the
  // attribute (tag) DCMTK refused to change; `stats` is added to.
  absl::Status Deidentify(DcmFileFormat& file, DicomDeidStats* stats = nullptr) const;
  // The same for a dataset alone (and, if given, its meta information).
  absl::Status DeidentifyDataset(DcmDataset& dataset, DcmMetaInfo* meta,
                                 DicomDeidStats* stats = nullptr) const;

  // The replacement for one UID (see the file comment). Deterministic under the key.
  std::string MapUid(std::string_view uid) const;
  // The date shift, in days (negative), for a patient.
  int DateOffsetDays(std::string_view patient_id) const;

 private:
  explicit DicomDeidentifier(std::unique_ptr<internal::DicomDeidentifierImpl> impl);
  std::unique_ptr<internal::DicomDeidentifierImpl> impl_;
};

// Parses a DICOM Part 10 file (128-byte preamble, "DICM", meta information, dataset) from memory,
// de-identifies it and returns the new file's bytes, a Part 10 file in the input's transfer syntax. A bare
// dataset without preamble and meta information (as in some old files) is accepted when it starts with a
// group 0008 attribute in little endian and parses to its last byte; its output gets a new meta header.
// An element declaring more bytes than the input has left is rejected before anything is allocated for it
// (DCMTK would otherwise allocate the declared length, up to 4 GB, first), deflated datasets included, and
// sequences nested more than 200 deep are rejected (DCMTK's reader would overflow the stack).
// Errors: InvalidArgument "not a DICOM file" (neither form) or "malformed DICOM file" with DCMTK's parse
// error (truncated, malformed, stopped before the end), "element (7fe0,0010) at byte 1234 declares
// 4294836224 bytes, the file has 5000 left" (found by the pre-scan) or "a value at byte 1246 declares
// 4294836224 bytes; only 5000 are left" (found by DCMTK's parser); Deidentify's errors.
absl::StatusOr<std::string> DeidentifyDicomBytes(const DicomDeidentifier& deid,
                                                 std::span<const uint8_t> bytes,
                                                 DicomDeidStats* stats = nullptr);

// The same for files: reads `in_path`, writes `out_path` atomically (a temporary file beside it, then
// rename), never overwriting `in_path` (InvalidArgument if both name the same file). Errors: NotFound for a
// missing input; InvalidArgument for bad input as above (nothing is written); Internal for write failures.
absl::Status DeidentifyDicomFile(const DicomDeidentifier& deid, const std::string& in_path,
                                 const std::string& out_path, DicomDeidStats* stats = nullptr);

}  // namespace veil::anon

#endif  // VEIL_ANON_DICOM_DEID_H_
