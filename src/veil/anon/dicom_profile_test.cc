#include "veil/anon/dicom_profile.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::anon {
namespace {

using ::testing::HasSubstr;

const DicomProfile& Profile() {
  absl::StatusOr<const DicomProfile*> p = DicomProfile::Embedded();
  EXPECT_TRUE(p.ok()) << p.status();
  return **p;
}

DicomResolvedAction ResolveTag(uint16_t g, uint16_t e, const DicomProfileOptions& o = {}) {
  const DicomProfileRow* row = Profile().Find(g, e);
  EXPECT_NE(row, nullptr) << g << "," << e;
  return row == nullptr ? DicomResolvedAction{} : DicomProfile::Resolve(*row, o);
}

constexpr DicomResolvedAction kX{DicomAction::kRemove, DicomCleanKind::kNone};
constexpr DicomResolvedAction kZ{DicomAction::kEmpty, DicomCleanKind::kNone};
constexpr DicomResolvedAction kD{DicomAction::kDummy, DicomCleanKind::kNone};
constexpr DicomResolvedAction kK{DicomAction::kKeep, DicomCleanKind::kNone};
constexpr DicomResolvedAction kU{DicomAction::kUid, DicomCleanKind::kNone};

// The counts in ../shared/data/dicom/README.md (PS3.15 rev2024b Table E.1-1 as JSON).
TEST(DicomProfileTest, RowCountsPerActionMatchTheTable) {
  const DicomProfile& p = Profile();
  ASSERT_EQ(p.rows().size(), 621u);
  std::map<std::string, int> basic;
  std::map<std::string, std::map<char, int>> columns;
  for (const DicomProfileRow& r : p.rows()) {
    ++basic[r.basic];
    for (const DicomOptionInfo& info : DicomOptionInfos()) {
      const char c = r.option_code[static_cast<size_t>(info.option)];
      if (c != 0) ++columns[std::string(info.column)][c];
    }
  }
  EXPECT_EQ(basic, (std::map<std::string, int>{{"X", 384},
                                               {"D", 92},
                                               {"U", 54},
                                               {"Z", 42},
                                               {"X/D", 22},
                                               {"X/Z", 11},
                                               {"X/Z/D", 8},
                                               {"Z/D", 6},
                                               {"X/Z/U*", 2}}));
  EXPECT_EQ(columns["rtnLongFullDatesOpt"]['K'], 165);
  EXPECT_EQ(columns["rtnLongModifDatesOpt"]['C'], 165);
  EXPECT_EQ(columns["cleanDescOpt"]['C'], 125);
  EXPECT_EQ(columns["rtnUIDsOpt"]['K'], 59);
  EXPECT_EQ(columns["rtnDevIdOpt"]['K'], 46);
  EXPECT_EQ(columns["rtnDevIdOpt"]['C'], 11);
  EXPECT_EQ(columns["rtnPatCharsOpt"]['K'], 9);
  EXPECT_EQ(columns["rtnPatCharsOpt"]['C'], 4);
  EXPECT_EQ(columns["rtnInstIdOpt"]['K'], 10);
  EXPECT_EQ(columns["cleanGraphOpt"]['C'], 4);
  EXPECT_EQ(columns["cleanStructContOpt"]['C'], 3);
  EXPECT_EQ(columns["rtnSafePrivOpt"]['C'], 1);
}

TEST(DicomProfileTest, CombinationsResolveToTheConformantVariant) {
  EXPECT_EQ(DicomProfile::ResolveBasic("X/Z"), DicomAction::kEmpty);
  EXPECT_EQ(DicomProfile::ResolveBasic("X/D"), DicomAction::kDummy);
  EXPECT_EQ(DicomProfile::ResolveBasic("X/Z/D"), DicomAction::kDummy);
  EXPECT_EQ(DicomProfile::ResolveBasic("Z/D"), DicomAction::kDummy);
  EXPECT_EQ(DicomProfile::ResolveBasic("X/Z/U*"), DicomAction::kUid);
  EXPECT_EQ(DicomProfile::ResolveBasic("Q"), std::nullopt);
  // One row of each kind in the embedded table.
  EXPECT_EQ(ResolveTag(0x0010, 0x0010), kZ);  // Patient's Name: Z
  EXPECT_EQ(ResolveTag(0x0040, 0xA075), kD);  // Verifying Observer Name: D
  EXPECT_EQ(ResolveTag(0x0010, 0x0020), kD);  // Patient ID: Z/D
  EXPECT_EQ(ResolveTag(0x0008, 0x0050), kZ);  // Accession Number: Z
  EXPECT_EQ(ResolveTag(0x0008, 0x0022), kZ);  // Acquisition Date: X/Z
  EXPECT_EQ(ResolveTag(0x0008, 0x0021), kD);  // Series Date: X/D
  EXPECT_EQ(ResolveTag(0x0008, 0x0080), kD);  // Institution Name: X/Z/D
  EXPECT_EQ(ResolveTag(0x0008, 0x1140), kU);  // Referenced Image Sequence: X/Z/U*
  EXPECT_EQ(ResolveTag(0x0010, 0x1002), kX);  // Other Patient IDs Sequence: X
  EXPECT_EQ(ResolveTag(0x0008, 0x0018), kU);  // SOP Instance UID: U
  EXPECT_EQ(ResolveTag(0x0002, 0x0003), kU);  // Media Storage SOP Instance UID: U
}

TEST(DicomProfileTest, WildcardAndPrivateRows) {
  const DicomProfile& p = Profile();
  ASSERT_NE(p.Find(0x5002, 0x3000), nullptr);
  EXPECT_EQ(p.Find(0x5002, 0x3000)->tag, "(50XX,XXXX)");
  EXPECT_EQ(p.Find(0x601E, 0x4000)->tag, "(60XX,4000)");
  EXPECT_EQ(p.Find(0x6000, 0x3000)->tag, "(60XX,3000)");
  EXPECT_EQ(p.Find(0x6000, 0x0010), nullptr);  // Overlay Rows: not listed
  EXPECT_TRUE(p.Find(0x0009, 0x1001)->private_row);
  EXPECT_TRUE(p.Find(0x3F03, 0x0010)->private_row);  // private creators too
  EXPECT_EQ(p.Find(0x0008, 0x0016), nullptr);        // SOP Class UID: not listed, kept
  EXPECT_EQ(ResolveTag(0x0009, 0x1001), kX);
  EXPECT_EQ(ResolveTag(0x6000, 0x3000), kX);
  // Odd groups inside the repeating-group ranges are private, never curve or overlay data: under Clean
  // Graphics (which has a C for the wildcard rows) they still resolve by the private row.
  for (uint32_t g : {0x5001u, 0x50FFu, 0x6001u, 0x601Fu, 0x60FFu}) {
    for (uint16_t e : {uint16_t{0x0010}, uint16_t{0x3000}, uint16_t{0x4000}, uint16_t{0x1000}}) {
      const DicomProfileRow* row = p.Find(static_cast<uint16_t>(g), e);
      ASSERT_NE(row, nullptr) << std::hex << g << "," << e;
      EXPECT_TRUE(row->private_row) << std::hex << g << "," << e;
      EXPECT_EQ(DicomProfile::Resolve(*row, DicomProfileOptions().Set(DicomOption::kCleanGraphics)), kX);
    }
  }
}

TEST(DicomProfileTest, OptionsSelectTheirColumn) {
  const auto with = [](DicomOption o) { return DicomProfileOptions().Set(o); };
  // Retain UIDs: SOP Instance UID kept.
  EXPECT_EQ(ResolveTag(0x0008, 0x0018, with(DicomOption::kRetainUids)), kK);
  // Retain Device Identity: Device Serial Number kept, Station Name kept.
  EXPECT_EQ(ResolveTag(0x0018, 0x1000, with(DicomOption::kRetainDeviceIdentity)), kK);
  EXPECT_EQ(ResolveTag(0x0008, 0x1010, with(DicomOption::kRetainDeviceIdentity)), kK);
  // Retain Institution Identity: Institution Name kept.
  EXPECT_EQ(ResolveTag(0x0008, 0x0080, with(DicomOption::kRetainInstitutionIdentity)), kK);
  // Retain Patient Characteristics: sex and age kept, Allergies cleaned as text.
  EXPECT_EQ(ResolveTag(0x0010, 0x0040, with(DicomOption::kRetainPatientCharacteristics)), kK);
  EXPECT_EQ(ResolveTag(0x0010, 0x1010, with(DicomOption::kRetainPatientCharacteristics)), kK);
  EXPECT_EQ(ResolveTag(0x0010, 0x2110, with(DicomOption::kRetainPatientCharacteristics)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kText}));
  // Longitudinal: Study Date kept or shifted.
  EXPECT_EQ(ResolveTag(0x0008, 0x0020, with(DicomOption::kRetainLongitudinalFullDates)), kK);
  EXPECT_EQ(ResolveTag(0x0008, 0x0020, with(DicomOption::kRetainLongitudinalModifiedDates)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kShiftDates}));
  // Clean Descriptors: Study Description cleaned instead of removed.
  EXPECT_EQ(ResolveTag(0x0008, 0x1030), kX);
  EXPECT_EQ(ResolveTag(0x0008, 0x1030, with(DicomOption::kCleanDescriptors)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kText}));
  // Clean Structured Content: Content Sequence.
  EXPECT_EQ(ResolveTag(0x0040, 0xA730), kD);
  EXPECT_EQ(ResolveTag(0x0040, 0xA730, with(DicomOption::kCleanStructuredContent)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kStructuredContent}));
  // Clean Graphics: Overlay Data.
  EXPECT_EQ(ResolveTag(0x6000, 0x3000, with(DicomOption::kCleanGraphics)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kGraphics}));
  // Retain Safe Private: the private row.
  EXPECT_EQ(ResolveTag(0x0009, 0x1001, with(DicomOption::kRetainSafePrivate)),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kSafePrivate}));
  // An option without an entry for the row changes nothing.
  EXPECT_EQ(ResolveTag(0x0010, 0x0010, with(DicomOption::kRetainUids)), kZ);
}

TEST(DicomProfileTest, CleanWinsOverKeepWhenTwoOptionsApply) {
  // Date of Last Calibration (0018,1200): rtnDevIdOpt K and rtnLongModifDatesOpt C.
  DicomProfileOptions o;
  o.Set(DicomOption::kRetainDeviceIdentity);
  EXPECT_EQ(ResolveTag(0x0018, 0x1200, o), kK);
  o.Set(DicomOption::kRetainLongitudinalModifiedDates);
  EXPECT_EQ(ResolveTag(0x0018, 0x1200, o),
            (DicomResolvedAction{DicomAction::kClean, DicomCleanKind::kShiftDates}));
}

TEST(DicomProfileTest, FullAndModifiedDatesExcludeEachOther) {
  DicomProfileOptions o;
  o.Set(DicomOption::kRetainLongitudinalFullDates).Set(DicomOption::kRetainLongitudinalModifiedDates);
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DicomProfileOptions().Set(DicomOption::kRetainLongitudinalFullDates).Validate().ok());
}

TEST(DicomProfileTest, OptionNamesAndCodes) {
  EXPECT_EQ(*ParseDicomOption("retain-longitudinal-modified-dates"),
            DicomOption::kRetainLongitudinalModifiedDates);
  absl::StatusOr<DicomOption> bad = ParseDicomOption("retain-everything");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("retain-everything"));
  // PS3.16 CID 7050.
  std::map<std::string, std::string> codes;
  for (const DicomOptionInfo& i : DicomOptionInfos()) codes[std::string(i.code)] = std::string(i.meaning);
  EXPECT_EQ(codes["113103"], "Clean Graphics Option");
  EXPECT_EQ(codes["113104"], "Clean Structured Content Option");
  EXPECT_EQ(codes["113105"], "Clean Descriptors Option");
  EXPECT_EQ(codes["113106"], "Retain Longitudinal Temporal Information Full Dates Option");
  EXPECT_EQ(codes["113107"], "Retain Longitudinal Temporal Information Modified Dates Option");
  EXPECT_EQ(codes["113108"], "Retain Patient Characteristics Option");
  EXPECT_EQ(codes["113109"], "Retain Device Identity Option");
  EXPECT_EQ(codes["113110"], "Retain UIDs Option");
  EXPECT_EQ(codes["113111"], "Retain Safe Private Option");
  EXPECT_EQ(codes["113112"], "Retain Institution Identity Option");
}

TEST(DicomProfileTest, ParseErrorsNameTheRow) {
  EXPECT_THAT(DicomProfile::Parse("{").status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(DicomProfile::Parse(R"json([{"name":"a","tag":"(0010,001G)","basicProfile":"X"}])json")
                  .status()
                  .message(),
              HasSubstr("row 0 (0010,001G)"));
  EXPECT_THAT(DicomProfile::Parse(R"json([{"name":"a","tag":"(0010,0010)","basicProfile":"Q"}])json")
                  .status()
                  .message(),
              HasSubstr("unknown basic profile action"));
  EXPECT_THAT(DicomProfile::Parse(R"json([{"name":"a","tag":"(0010,0010)","basicProfile":"X"},
                                      {"name":"b","tag":"(0010,0010)","basicProfile":"Z"}])json")
                  .status()
                  .message(),
              HasSubstr("duplicate tag"));
  EXPECT_THAT(DicomProfile::Parse(
                  R"json([{"name":"a","tag":"(0010,0010)","basicProfile":"X","cleanDescOpt":"Y"}])json")
                  .status()
                  .message(),
              HasSubstr("cleanDescOpt"));
}

}  // namespace
}  // namespace veil::anon
