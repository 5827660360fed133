// The DICOM Basic Application Level Confidentiality Profile (DICOM PS3.15 Annex E, Table E.1-1) and its
// options, as a lookup from an attribute's tag to the action to apply to it.
//
// The table is the machine-readable PS3.15 Table E.1-1 (data/dicom/ps315/, JSON by Innolitics, MIT licence,
// DICOM rev2024b: 621 rows), embedded in the library at build time and parsed once, at first use.
//
// Action codes (PS3.15 E.1.1, Table E.1-1 legend):
//   D  replace with a non-zero-length dummy value consistent with the VR
//   Z  replace with a zero-length value (or a dummy consistent with the VR)
//   X  remove
//   K  keep (non-sequence attributes; sequences are kept and their items processed with the same profile)
//   C  clean: replace identifying information with values of similar meaning that are not identifying
//   U  replace the UID with a non-zero-length UID, consistently within the set of instances
// Combinations. Annex E makes the choice depend on the attribute's Type in the IOD of the SOP class (X/Z: X
// if Type 3, Z if Type 2; X/D and X/Z/D: D if Type 1; Z/D: D if Type 1; X/Z/U*: U if the sequence is Type 1
// or Type 2 and holds UIDs). Veil has no IOD tables, so it takes the variant that keeps every IOD conformant
// whatever the Type, since none of them leaks the original value:
//   X/Z -> Z,  X/D -> D,  X/Z/D -> D,  Z/D -> D,  X/Z/U* -> U (the sequence is kept; the UIDs inside are
//   replaced by their own rows, e.g. Referenced SOP Instance UID is U).
// An emptied (Z) or dummy (D) attribute carries no more information than a removed one, so this choice is as
// private as always removing, and the output stays valid for receivers that check Type 1 / Type 2 presence.
//
// Options (PS3.15 E.3, the option columns of Table E.1-1). When options are selected, each row's action is
// the entry of a selected option's column if it has one, else the basic profile's. When two selected options
// both have an entry for the row, C (retain after cleaning) wins over K (retain as is), the more protective
// of the two, and among C entries the date shift of Retain Longitudinal Temporal Information With Modified
// Dates comes first. Retain Longitudinal Full Dates and Modified Dates exclude each other (InvalidArgument).
// What C means depends on the column it comes from (DicomCleanKind).
//
// Thread safety: DicomProfile is immutable once built; all methods are const and thread-safe.
#ifndef VEIL_ANON_DICOM_PROFILE_H_
#define VEIL_ANON_DICOM_PROFILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace veil::anon {

// The action codes of Table E.1-1, after combinations are resolved.
enum class DicomAction : uint8_t {
  kKeep,    // K
  kRemove,  // X
  kEmpty,   // Z
  kDummy,   // D
  kClean,   // C
  kUid,     // U
};

// The options of PS3.15 E.3 that have a column in Table E.1-1, in the table's column order.
enum class DicomOption : uint8_t {
  kRetainSafePrivate = 0,            // rtnSafePrivOpt        CID 7050 113111
  kRetainUids,                       // rtnUIDsOpt            113110
  kRetainDeviceIdentity,             // rtnDevIdOpt           113109
  kRetainInstitutionIdentity,        // rtnInstIdOpt          113112
  kRetainPatientCharacteristics,     // rtnPatCharsOpt        113108
  kRetainLongitudinalFullDates,      // rtnLongFullDatesOpt   113106
  kRetainLongitudinalModifiedDates,  // rtnLongModifDatesOpt  113107
  kCleanDescriptors,                 // cleanDescOpt          113105
  kCleanStructuredContent,           // cleanStructContOpt    113104
  kCleanGraphics,                    // cleanGraphOpt         113103
};
inline constexpr size_t kNumDicomOptions = 10;

// One option's names: the CLI spelling ("retain-safe-private"), the JSON column ("rtnSafePrivOpt"), and its
// PS3.16 CID 7050 code (coding scheme DCM) and meaning.
struct DicomOptionInfo {
  DicomOption option;
  std::string_view cli_name;
  std::string_view column;
  std::string_view code;
  std::string_view meaning;
};
// All ten, in DicomOption order.
const std::array<DicomOptionInfo, kNumDicomOptions>& DicomOptionInfos();
// The option named `cli_name` (e.g. "retain-uids"). Errors: InvalidArgument naming the unknown name.
absl::StatusOr<DicomOption> ParseDicomOption(std::string_view cli_name);

// CID 7050 code of the Basic Application Confidentiality Profile itself.
inline constexpr std::string_view kBasicProfileCode = "113100";
inline constexpr std::string_view kBasicProfileMeaning = "Basic Application Confidentiality Profile";

// A set of selected options. Default: none (the basic profile alone).
class DicomProfileOptions {
 public:
  DicomProfileOptions() = default;
  DicomProfileOptions& Set(DicomOption o, bool on = true) {
    selected_[static_cast<size_t>(o)] = on;
    return *this;
  }
  bool Has(DicomOption o) const { return selected_[static_cast<size_t>(o)]; }
  // InvalidArgument if both Retain Longitudinal Full Dates and Modified Dates are selected (E.3.6).
  absl::Status Validate() const;

 private:
  std::array<bool, kNumDicomOptions> selected_{};
};

// What a C action means, by the column it came from.
enum class DicomCleanKind : uint8_t {
  kNone,               // the action is not C
  kText,               // Clean Descriptors, Retain Patient Characteristics (C), Retain Device Identity (C):
                       // free text cleaned of the PII analyzer's findings
  kShiftDates,         // Retain Longitudinal Modified Dates: dates shifted by the patient's offset
  kStructuredContent,  // Clean Structured Content: the content tree kept, each item de-identified
  kGraphics,           // Clean Graphics: overlay / curve attributes
  kSafePrivate,        // Retain Safe Private: private attributes on the known-safe list kept
};

struct DicomResolvedAction {
  DicomAction action = DicomAction::kKeep;
  DicomCleanKind clean = DicomCleanKind::kNone;
  friend bool operator==(const DicomResolvedAction&, const DicomResolvedAction&) = default;
};

// One row of Table E.1-1.
struct DicomProfileRow {
  std::string name;          // "Patient's Name"
  std::string tag;           // as in the table: "(0010,0010)", "(50XX,XXXX)", "(GGGG,EEEE) WHERE GGGG IS ODD"
  uint32_t value = 0;        // (group << 16) | element, X digits as 0
  uint32_t mask = 0;         // the bits of `value` that must match: 0xFFFFFFFF except for wildcard digits
  bool private_row = false;  // the "(GGGG,EEEE) WHERE GGGG IS ODD" row
  std::string basic;         // the basicProfile code as written: "X", "X/Z/D", "X/Z/U*", ...
  DicomAction basic_action = DicomAction::kRemove;   // `basic` resolved (ResolveBasic), once, by Parse
  std::array<char, kNumDicomOptions> option_code{};  // 'K', 'C' or 0 per option column
};

class DicomProfile {
 public:
  // The embedded table, parsed at the first call (thread-safe). Errors: Internal if the embedded JSON does
  // not parse (a build defect).
  static absl::StatusOr<const DicomProfile*> Embedded();

  // Parses a table in the Innolitics JSON format (an array of objects with "name", "tag", "basicProfile" and
  // optional option columns). Errors: InvalidArgument naming the row (index and tag) and the problem: not
  // JSON, a missing field, a tag that is not "(gggg,eeee)" with hex or X digits, an unknown action code, a
  // duplicate tag.
  static absl::StatusOr<DicomProfile> Parse(std::string_view json);

  const std::vector<DicomProfileRow>& rows() const { return rows_; }

  // The row governing the attribute (group, element): for an odd (private) group the private row, always
  // (the repeating groups 50xx and 60xx are even only, PS3.5 7.6, so (5001,0010) is a private creator, not
  // curve data); otherwise the exact row, else a wildcard row ((50XX,XXXX), (60XX,4000), (60XX,3000)).
  // nullptr if the table does not list it.
  const DicomProfileRow* Find(uint16_t group, uint16_t element) const;

  // The action for `row` under `options` (see the file comment for the rules).
  static DicomResolvedAction Resolve(const DicomProfileRow& row, const DicomProfileOptions& options);

  // Resolves a basic-profile code alone ("X/Z" -> Z, ...). nullopt for an unknown code.
  static std::optional<DicomAction> ResolveBasic(std::string_view code);

 private:
  std::vector<DicomProfileRow> rows_;
  absl::flat_hash_map<uint32_t, size_t> exact_;
  std::vector<size_t> wildcards_;
  std::optional<size_t> private_row_;
};

// "D", "Z", "X", "K", "C", "U".
std::string_view DicomActionCode(DicomAction a);

}  // namespace veil::anon

#endif  // VEIL_ANON_DICOM_PROFILE_H_
