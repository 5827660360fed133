#include "veil/anon/dicom_deid.h"

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcvrda.h"
#include "dcmtk/dcmdata/dcvrlo.h"
#include "dcmtk/dcmdata/dcvrlt.h"
#include "dcmtk/dcmdata/dcvrobow.h"
#include "dcmtk/dcmdata/dcvrui.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/anon/dicom_internal.h"
#include "veil/base/bytes.h"
#include "veil/base/test_util.h"

namespace veil::anon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kDir[] = "../shared/data/dicom/pydicom/";
const std::vector<std::string> kFiles = {"CT_small.dcm", "MR_small.dcm", "rtstruct.dcm", "test-SR.dcm",
                                         "priv_SQ.dcm"};

using base::testing::FileContents;

// A sample file's bytes ("" if it is missing).
std::string Sample(const std::string& name) { return FileContents(std::string(kDir) + name); }

base::SecretBytes Key(char c) { return base::SecretBytes::FromString(std::string(32, c)); }

std::unique_ptr<DicomDeidentifier> Make(char key, DicomProfileOptions o = {}) {
  DicomDeidOptions options;
  options.profile = o;
  absl::StatusOr<std::unique_ptr<DicomDeidentifier>> d = DicomDeidentifier::Create(Key(key), options);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : nullptr;
}

// DCMTK's reading of `bytes`, to the last byte.
std::unique_ptr<DcmFileFormat> Parse(const std::string& bytes) {
  auto file = std::make_unique<DcmFileFormat>();
  const absl::Status s = internal::ReadDicom(base::AsBytes(bytes), *file);
  EXPECT_TRUE(s.ok()) << s;
  return file;
}

// Every element of `item` at every depth, with its value as a string ("" for sequences and binary values).
void Walk(DcmItem& item, const std::function<void(DcmElement&, int depth)>& f, int depth = 0) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    f(*e, depth);
    if (e->ident() == EVR_SQ) {
      auto* seq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < seq->card(); ++j) Walk(*seq->getItem(j), f, depth + 1);
    }
  }
}

std::string Value(DcmElement& e) {
  OFString v;
  if (e.ident() == EVR_SQ || e.getOFStringArray(v).bad()) return "";
  return std::string(v.c_str(), v.size());
}

// All values of attribute `key` at any depth.
std::vector<std::string> Values(DcmItem& item, const DcmTagKey& key) {
  std::vector<std::string> out;
  Walk(item, [&](DcmElement& e, int) {
    if (e.getTag().getXTag() == key) out.push_back(Value(e));
  });
  return out;
}

std::string Top(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v, false).bad()) return "<absent>";
  return std::string(v.c_str(), v.size());
}

struct Output {
  std::string bytes;
  DicomDeidStats stats;
};

Output Deid(const DicomDeidentifier& d, const std::string& name) {
  const std::string in = Sample(name);
  EXPECT_FALSE(in.empty()) << name;
  Output out;
  absl::StatusOr<std::string> r = DeidentifyDicomBytes(d, base::AsBytes(in), &out.stats);
  EXPECT_TRUE(r.ok()) << name << ": " << r.status();
  if (r.ok()) out.bytes = *std::move(r);
  return out;
}

// The option sets the invariant below is checked under: none, each option alone, and every option at once
// (with one or the other of the two exclusive longitudinal date options).
std::vector<DicomProfileOptions> OptionSets() {
  std::vector<DicomProfileOptions> sets = {DicomProfileOptions()};
  for (const DicomOptionInfo& info : DicomOptionInfos())
    sets.push_back(DicomProfileOptions().Set(info.option));
  for (DicomOption excluded :
       {DicomOption::kRetainLongitudinalFullDates, DicomOption::kRetainLongitudinalModifiedDates}) {
    DicomProfileOptions all;
    for (const DicomOptionInfo& info : DicomOptionInfos()) {
      if (info.option != excluded) all.Set(info.option);
    }
    sets.push_back(all);
  }
  return sets;
}

// CT_small with private attributes in the odd groups next to the repeating curve (50xx) and overlay (60xx)
// groups, at the top level and inside a sequence, next to a real (even) overlay.
std::string WithOddRepeatingGroups() {
  auto file = Parse(Sample("CT_small.dcm"));
  const auto add = [](DcmItem& item) {
    // Private elements have no dictionary VR: make them with an explicit one.
    const auto text = [&](uint16_t g, uint16_t e, DcmEVR vr, const char* v) {
      DcmElement* el = vr == EVR_LT ? static_cast<DcmElement*>(new DcmLongText(DcmTag(g, e, vr)))
                                    : static_cast<DcmElement*>(new DcmLongString(DcmTag(g, e, vr)));
      EXPECT_TRUE(el->putString(v).good());
      EXPECT_TRUE(item.insert(el, /*replaceOld=*/true).good());
    };
    const Uint16 words[2] = {0x1234, 0x5678};
    const auto words_at = [&](uint16_t g, uint16_t e) {
      DcmElement* el = new DcmOtherByteOtherWord(DcmTag(g, e, EVR_OW));
      EXPECT_TRUE(el->putUint16Array(words, 2).good());
      EXPECT_TRUE(item.insert(el, /*replaceOld=*/true).good());
    };
    text(0x5001, 0x0010, EVR_LO, "ACME CURVES");
    text(0x5001, 0x1000, EVR_LO, "Doe^John");
    text(0x6001, 0x0010, EVR_LO, "ACME OVERLAY");
    words_at(0x6001, 0x3000);
    text(0x60FF, 0x4000, EVR_LT, "Patient JohnDoe");
    words_at(0x6000, 0x3000);
  };
  DcmDataset& ds = *file->getDataset();
  add(ds);
  DcmItem* nested = nullptr;
  EXPECT_TRUE(ds.findOrCreateSequenceItem(DCM_ReferencedImageSequence, nested, -2).good());
  add(*nested);
  DcmItem* deeper = nullptr;
  EXPECT_TRUE(nested->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, deeper, -2).good());
  add(*deeper);
  absl::StatusOr<std::string> out = internal::WriteDicom(*file, 1 << 16);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *std::move(out) : "";
}

TEST(DicomDeidTest, NothingMarkedXAndNoPrivateTagSurvivesAtAnyDepth) {
  const DicomProfile& profile = **DicomProfile::Embedded();
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const std::string& name : kFiles) inputs.emplace_back(name, Sample(name));
  inputs.emplace_back("CT_small.dcm with odd 50xx/60xx groups", WithOddRepeatingGroups());
  for (const auto& [name, bytes] : inputs) ASSERT_FALSE(bytes.empty()) << name;
  int set_index = 0;
  for (const DicomProfileOptions& o : OptionSets()) {
    auto d = Make('k', o);
    ASSERT_NE(d, nullptr);
    for (const auto& [name, bytes] : inputs) {
      SCOPED_TRACE(absl::StrCat(name, ", option set ", set_index));
      absl::StatusOr<std::string> out = DeidentifyDicomBytes(*d, base::AsBytes(bytes));
      ASSERT_TRUE(out.ok()) << out.status();
      auto file = Parse(*out);
      int checked = 0;
      for (DcmItem* item :
           {static_cast<DcmItem*>(file->getMetaInfo()), static_cast<DcmItem*>(file->getDataset())}) {
        Walk(*item, [&](DcmElement& e, int depth) {
          const DcmTagKey t = e.getTag().getXTag();
          ++checked;
          EXPECT_EQ(t.getGroup() & 1, 0) << "private attribute " << t.toString() << " at depth " << depth;
          const DicomProfileRow* row = profile.Find(t.getGroup(), t.getElement());
          if (row != nullptr) {
            EXPECT_NE(DicomProfile::Resolve(*row, o).action, DicomAction::kRemove)
                << row->name << " " << t.toString() << " at depth " << depth;
          }
        });
      }
      EXPECT_GT(checked, 5);
    }
    ++set_index;
  }
}

TEST(DicomDeidTest, PrivateTagsAreCountedAndGoneInsidePrivateSequences) {
  auto d = Make('k');
  Output ct = Deid(*d, "CT_small.dcm");
  EXPECT_GT(ct.stats.private_removed, 10);
  Output sq = Deid(*d, "priv_SQ.dcm");
  EXPECT_GE(sq.stats.private_removed, 2);  // the private creator and the private sequence
  auto file = Parse(sq.bytes);
  EXPECT_EQ(file->getDataset()->tagExists(DcmTagKey(0x3F03, 0x0010), OFTrue), OFFalse);
}

TEST(DicomDeidTest, EveryOutputParsesWithDcmdump) {
  auto d = Make('k', DicomProfileOptions().Set(DicomOption::kRetainLongitudinalModifiedDates));
  const base::testing::ScopedTempDir tmp("veil_dicom_dump");
  const std::filesystem::path dir = tmp.path();
  for (const std::string& name : kFiles) {
    SCOPED_TRACE(name);
    Output out = Deid(*d, name);
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << out.bytes;
    const std::string err = (dir / "err").string();
    // -q: errors only. dcmdump exits non-zero on a parse error.
    const int rc = std::system(("dcmdump -q '" + path + "' >/dev/null 2>'" + err + "'").c_str());
    EXPECT_EQ(rc, 0) << FileContents(err);
    EXPECT_EQ(FileContents(err), "");
  }
}

TEST(DicomDeidTest, IdentifyingValuesAppearNowhereInTheOutput) {
  const std::map<std::string, std::vector<std::string>> values = {
      {"CT_small.dcm",
       {"CompressedSamples^CT1", "1CT1", "ABCD1234", "1234ABCD", "JFK IMAGING CENTER", "CT01_OC0",
        "GEMS_IDEN_01", "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "20040119", "19970430"}},
      {"MR_small.dcm", {"CompressedSamples^MR1", "4MR1", "20040826", "-0000200"}},
      {"rtstruct.dcm", {"Test^Phantom30sep", "tPhantom30sep", "19691231", "dmason", "station1", "20091223"}},
      {"test-SR.dcm", {"Test^S R", "Observer^Verifying", "OFFIS e.V.", "Organisation", "20010213"}},
      {"priv_SQ.dcm", {"aaabbbccc MEDICAL SYSTEMS", "1.1.111.111111.1.111.1111111111.1111.1111111111.111"}},
  };
  for (const DicomProfileOptions& o :
       {DicomProfileOptions(), DicomProfileOptions().Set(DicomOption::kRetainLongitudinalModifiedDates)}) {
    auto d = Make('k', o);
    for (const auto& [name, secrets] : values) {
      SCOPED_TRACE(name);
      Output out = Deid(*d, name);
      for (const std::string& s : secrets) EXPECT_THAT(out.bytes, Not(HasSubstr(s)));
    }
  }
  // MR_small's Institution Name is "TOSHIBA", which is also in its Manufacturer "TOSHIBA_MEC" (not in the
  // table, kept): check the attribute rather than the bytes.
  auto d = Make('k');
  auto mr = Parse(Deid(*d, "MR_small.dcm").bytes);
  EXPECT_EQ(Top(*mr->getDataset(), DCM_InstitutionName), "ANONYMIZED");
  EXPECT_EQ(Top(*mr->getDataset(), DCM_Manufacturer), "TOSHIBA_MEC");
}

TEST(DicomDeidTest, ActionsOnKnownAttributes) {
  auto d = Make('k');
  auto ct = Parse(Deid(*d, "CT_small.dcm").bytes);
  DcmDataset& ds = *ct->getDataset();
  EXPECT_EQ(Top(ds, DCM_PatientName), "");                           // Z
  EXPECT_EQ(Top(ds, DCM_PatientID), "ANONYMIZED");                   // Z/D -> D
  EXPECT_EQ(Top(ds, DCM_StudyDate), "");                             // Z
  EXPECT_EQ(Top(ds, DCM_SeriesDate), "19000101");                    // X/D -> D
  EXPECT_EQ(Top(ds, DCM_AcquisitionDate), "");                       // X/Z -> Z
  EXPECT_EQ(Top(ds, DCM_OtherPatientIDsSequence), "<absent>");       // X
  EXPECT_EQ(Top(ds, DCM_StudyDescription), "<absent>");              // X
  EXPECT_EQ(Top(ds, DCM_SOPClassUID), "1.2.840.10008.5.1.4.1.1.2");  // not listed: kept
  EXPECT_THAT(Top(ds, DCM_SOPInstanceUID), StartsWith("2.25."));
  EXPECT_EQ(Top(ds, DCM_PatientIdentityRemoved), "YES");
  EXPECT_EQ(Top(ds, DCM_LongitudinalTemporalInformationModified), "REMOVED");
  EXPECT_EQ(Values(ds, DCM_CodeValue), std::vector<std::string>{"113100"});
  // The meta header carries the same new instance UID.
  EXPECT_EQ(Top(*ct->getMetaInfo(), DCM_MediaStorageSOPInstanceUID), Top(ds, DCM_SOPInstanceUID));

  // test-SR: Content Sequence is D: one empty item.
  auto sr = Parse(Deid(*d, "test-SR.dcm").bytes);
  DcmSequenceOfItems* content = nullptr;
  ASSERT_TRUE(sr->getDataset()->findAndGetSequence(DCM_ContentSequence, content).good());
  ASSERT_NE(content, nullptr);
  ASSERT_EQ(content->card(), 1u);
  EXPECT_EQ(content->getItem(0)->card(), 0u);
}

TEST(DicomDeidTest, UidReferencesResolveAcrossFilesAndRuns) {
  auto d = Make('k');
  // Within a file: test-SR's Predecessor Documents Sequence repeats the study and series UIDs.
  auto sr_in = Parse(Sample("test-SR.dcm"));
  auto sr = Parse(Deid(*d, "test-SR.dcm").bytes);
  const std::string study = Top(*sr->getDataset(), DCM_StudyInstanceUID);
  EXPECT_EQ(study, d->MapUid(Top(*sr_in->getDataset(), DCM_StudyInstanceUID)));
  for (const std::string& v : Values(*sr->getDataset(), DCM_StudyInstanceUID)) EXPECT_EQ(v, study);
  // rtstruct: nested Referenced SOP Instance UID and Frame of Reference UIDs map like top-level ones.
  auto rt_in = Parse(Sample("rtstruct.dcm"));
  auto rt = Parse(Deid(*d, "rtstruct.dcm").bytes);
  const std::vector<std::string> ref_in = Values(*rt_in->getDataset(), DCM_ReferencedSOPInstanceUID);
  const std::vector<std::string> ref_out = Values(*rt->getDataset(), DCM_ReferencedSOPInstanceUID);
  ASSERT_EQ(ref_in.size(), ref_out.size());
  ASSERT_FALSE(ref_in.empty());
  for (size_t i = 0; i < ref_in.size(); ++i) EXPECT_EQ(ref_out[i], d->MapUid(ref_in[i]));
  const std::string frame = d->MapUid("1.2.826.0.1.3680043.8.498.2010020400001.2");
  for (const std::string& v : Values(*rt->getDataset(), DCM_ReferencedFrameOfReferenceUID))
    EXPECT_EQ(v, frame);

  // Across files: an object that references CT_small's instance (Referenced Image Sequence, X/Z/U*) points at
  // CT_small's new SOP Instance UID after both are de-identified.
  auto mr_in = Parse(Sample("MR_small.dcm"));
  DcmItem* ref = nullptr;
  ASSERT_TRUE(mr_in->getDataset()->findOrCreateSequenceItem(DCM_ReferencedImageSequence, ref, -2).good());
  ASSERT_TRUE(ref->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.2").good());
  ASSERT_TRUE(
      ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
          .good());
  ASSERT_TRUE(d->Deidentify(*mr_in).ok());
  auto ct = Parse(Deid(*d, "CT_small.dcm").bytes);
  EXPECT_EQ(Values(*mr_in->getDataset(), DCM_ReferencedSOPInstanceUID),
            std::vector<std::string>{Top(*ct->getDataset(), DCM_SOPInstanceUID)});

  // Across runs: the same key gives the same bytes; another key other UIDs.
  auto again = Make('k');
  auto other = Make('j');
  for (const std::string& name : kFiles) {
    EXPECT_EQ(Deid(*d, name).bytes, Deid(*again, name).bytes) << name;
  }
  auto ct_other = Parse(Deid(*other, "CT_small.dcm").bytes);
  EXPECT_NE(Top(*ct_other->getDataset(), DCM_SOPInstanceUID), Top(*ct->getDataset(), DCM_SOPInstanceUID));
}

TEST(DicomDeidTest, MappedUidsAreUuidDerived) {
  auto d = Make('k');
  const std::string u = d->MapUid("1.2.3.4");
  ASSERT_THAT(u, StartsWith("2.25."));
  EXPECT_LE(u.size(), 64u);
  EXPECT_EQ(u.find_first_not_of("0123456789", 5), std::string::npos);
  EXPECT_NE(u[5], '0');  // no leading zero (PS3.5 9.1)
  EXPECT_EQ(d->MapUid("1.2.3.4"), u);
  EXPECT_NE(d->MapUid("1.2.3.5"), u);
}

TEST(DicomDeidTest, DatesShiftedByOnePatientOffset) {
  auto d = Make('k', DicomProfileOptions().Set(DicomOption::kRetainLongitudinalModifiedDates));
  auto ct = Parse(Deid(*d, "CT_small.dcm").bytes);
  DcmDataset& ds = *ct->getDataset();
  const int offset = d->DateOffsetDays("1CT1");
  EXPECT_LT(offset, 0);
  EXPECT_GE(offset, -3650);
  const auto day = [](const std::string& s) {
    return absl::CivilDay(std::stoi(s.substr(0, 4)), std::stoi(s.substr(4, 2)), std::stoi(s.substr(6, 2)));
  };
  EXPECT_EQ(day(Top(ds, DCM_StudyDate)) - day("20040119"), offset);
  EXPECT_EQ(day(Top(ds, DCM_SeriesDate)) - day("19970430"), offset);
  EXPECT_EQ(day(Top(ds, DCM_ContentDate)) - day("19970430"), offset);
  EXPECT_EQ(day(Top(ds, DCM_InstanceCreationDate)) - day("20040119"), offset);
  EXPECT_EQ(Top(ds, DCM_LongitudinalTemporalInformationModified), "MODIFIED");
  EXPECT_EQ(Values(ds, DCM_CodeValue), (std::vector<std::string>{"113100", "113107"}));
  // Another patient, another offset (with overwhelming probability; fixed key, so this is deterministic).
  EXPECT_NE(d->DateOffsetDays("4MR1"), offset);
  // rtstruct: Structure Set Date and Instance Creation Date, both 20091223, stay equal.
  auto rt = Parse(Deid(*d, "rtstruct.dcm").bytes);
  const std::string ssd = Top(*rt->getDataset(), DcmTagKey(0x3006, 0x0008));
  EXPECT_EQ(ssd, Top(*rt->getDataset(), DCM_InstanceCreationDate));
  EXPECT_EQ(day(ssd) - day("20091223"), d->DateOffsetDays("tPhantom30sep"));
}

TEST(DicomDeidTest, RetainOptionsKeepTheirAttributes) {
  DicomProfileOptions o;
  o.Set(DicomOption::kRetainUids)
      .Set(DicomOption::kRetainInstitutionIdentity)
      .Set(DicomOption::kRetainPatientCharacteristics);
  auto d = Make('k', o);
  auto ct = Parse(Deid(*d, "CT_small.dcm").bytes);
  DcmDataset& ds = *ct->getDataset();
  EXPECT_EQ(Top(ds, DCM_SOPInstanceUID), "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322");
  EXPECT_EQ(Top(ds, DCM_InstitutionName), "JFK IMAGING CENTER");
  EXPECT_EQ(Top(ds, DCM_PatientSex), "O");
  EXPECT_EQ(Top(ds, DCM_PatientName), "");
  EXPECT_EQ(Values(ds, DCM_CodeValue), (std::vector<std::string>{"113100", "113110", "113112", "113108"}));
}

TEST(DicomDeidTest, CleanDescriptorsRunsThePiiAnalyzer) {
  auto d = Make('k', DicomProfileOptions().Set(DicomOption::kCleanDescriptors));
  auto in = Parse(Sample("MR_small.dcm"));
  ASSERT_TRUE(
      in->getDataset()
          ->putAndInsertString(DCM_StudyDescription, "Follow-up, call 212-555-0198 or jane.doe@example.com")
          .good());
  ASSERT_TRUE(d->Deidentify(*in).ok());
  const std::string v = Top(*in->getDataset(), DCM_StudyDescription);
  EXPECT_THAT(v, StartsWith("Follow-up, call "));
  EXPECT_THAT(v, Not(HasSubstr("jane.doe@example.com")));
  EXPECT_THAT(v, Not(HasSubstr("555-0198")));
  EXPECT_EQ(v.size(), std::string("Follow-up, call 212-555-0198 or jane.doe@example.com").size());
  // Image Comments (X, C under Clean Descriptors) kept when there is nothing to clean.
  EXPECT_EQ(Top(*in->getDataset(), DCM_ImageComments), "Uncompressed");
}

// An element whose value DCMTK cannot return (as a defective element in a damaged file): reading it fails.
template <typename Base>
class Unreadable : public Base {
 public:
  using Base::Base;
  OFCondition getOFStringArray(OFString&, OFBool) override { return EC_IllegalCall; }
  OFCondition getOFString(OFString&, const unsigned long, OFBool) override { return EC_IllegalCall; }
};

// The length of the value, or -1 if the attribute is absent.
long LengthAt(DcmItem& item, const DcmTagKey& key) {
  DcmElement* e = nullptr;
  if (item.findAndGetElement(key, e, /*searchIntoSub=*/false).bad() || e == nullptr) return -1;
  return static_cast<long>(e->getLength());
}

TEST(DicomDeidTest, UnreadableValuesAreEmptiedNotKept) {
  DicomProfileOptions o;
  o.Set(DicomOption::kRetainLongitudinalModifiedDates).Set(DicomOption::kCleanDescriptors);
  auto d = Make('k', o);
  auto in = Parse(Sample("MR_small.dcm"));
  DcmDataset& ds = *in->getDataset();
  auto* uid = new Unreadable<DcmUniqueIdentifier>(DcmTag(DCM_SOPInstanceUID));
  ASSERT_TRUE(uid->putString("1.2.3.4.5.6.7").good());
  ASSERT_TRUE(ds.insert(uid, /*replaceOld=*/true).good());
  auto* date = new Unreadable<DcmDate>(DcmTag(DCM_StudyDate));
  ASSERT_TRUE(date->putString("20040826").good());
  ASSERT_TRUE(ds.insert(date, /*replaceOld=*/true).good());
  auto* text = new Unreadable<DcmLongString>(DcmTag(DCM_StudyDescription));
  ASSERT_TRUE(text->putString("Exam of John Smith").good());
  ASSERT_TRUE(ds.insert(text, /*replaceOld=*/true).good());
  DicomDeidStats stats;
  ASSERT_TRUE(d->Deidentify(*in, &stats).ok());
  EXPECT_EQ(LengthAt(ds, DCM_SOPInstanceUID), 0);    // U could not map it: emptied
  EXPECT_EQ(LengthAt(ds, DCM_StudyDate), 0);         // C (date shift) could not read it: emptied
  EXPECT_EQ(LengthAt(ds, DCM_StudyDescription), 0);  // C (descriptor) could not read it: emptied
  EXPECT_GE(stats.emptied, 3);
}

TEST(DicomDeidTest, UnknownVrTextInStructuredContentIsRemoved) {
  auto d = Make('k', DicomProfileOptions().Set(DicomOption::kCleanStructuredContent));
  auto in = Parse(Sample("test-SR.dcm"));
  DcmItem* item = nullptr;
  ASSERT_TRUE(in->getDataset()->findOrCreateSequenceItem(DCM_ContentSequence, item, 0).good());
  // Text Value written by a sender that did not know its VR.
  auto* un = new DcmOtherByteOtherWord(DcmTag(0x0040, 0xA160, EVR_UN));
  const std::string secret = "Patient JohnDoe MRN 884422";
  ASSERT_TRUE(un->putUint8Array(reinterpret_cast<const Uint8*>(secret.data()), secret.size()).good());
  ASSERT_TRUE(item->insert(un, /*replaceOld=*/true).good());
  ASSERT_TRUE(d->Deidentify(*in).ok());
  bool found = false;
  Walk(*in->getDataset(), [&](DcmElement& e, int) {
    if (e.ident() == EVR_UN) found = true;
  });
  EXPECT_FALSE(found);
}

TEST(DicomDeidTest, BurnedInAnnotationIsCounted) {
  auto d = Make('k');
  DicomDeidStats none;
  auto in = Parse(Sample("CT_small.dcm"));
  ASSERT_TRUE(d->Deidentify(*in, &none).ok());
  EXPECT_EQ(none.burned_in_annotation, 0);
  auto yes = Parse(Sample("CT_small.dcm"));
  ASSERT_TRUE(yes->getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES").good());
  DicomDeidStats stats;
  ASSERT_TRUE(d->Deidentify(*yes, &stats).ok());
  EXPECT_EQ(stats.burned_in_annotation, 1);
}

TEST(DicomDeidTest, CorruptInputIsAClearError) {
  auto d = Make('k');
  const std::string ct = Sample("CT_small.dcm");
  // Not DICOM at all.
  std::string noise(4000, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  absl::StatusOr<std::string> r = DeidentifyDicomBytes(*d, base::AsBytes(noise));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("not a DICOM file"));
  // Truncated in the middle of the dataset.
  for (size_t cut : {size_t{140}, size_t{1000}, ct.size() / 2, ct.size() - 7}) {
    r = DeidentifyDicomBytes(*d, base::AsBytes(std::string_view(ct).substr(0, cut)));
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << cut;
    EXPECT_THAT(r.status().message(), HasSubstr("malformed DICOM file")) << cut;
  }
  // DICM prefix, then garbage.
  std::string fake = ct.substr(0, 132) + noise;
  EXPECT_FALSE(DeidentifyDicomBytes(*d, base::AsBytes(fake)).ok());
}

// Little-endian element headers for crafted files.
std::string Le16(uint16_t v) { return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string Le32(uint32_t v) {
  return Le16(static_cast<uint16_t>(v & 0xffff)) + Le16(static_cast<uint16_t>(v >> 16));
}
std::string Implicit(uint16_t g, uint16_t e, uint32_t len) { return Le16(g) + Le16(e) + Le32(len); }
std::string ExplicitShort(uint16_t g, uint16_t e, const char* vr, std::string_view value) {
  return Le16(g) + Le16(e) + vr + Le16(static_cast<uint16_t>(value.size())) + std::string(value);
}
std::string ExplicitLong(uint16_t g, uint16_t e, const char* vr, uint32_t len) {
  return Le16(g) + Le16(e) + vr + std::string(2, '\0') + Le32(len);
}

// A declared value length beyond the end of the input is rejected before DCMTK allocates it (it would
// allocate up to 4 GB for a few bytes: found by dicom_deid_fuzz as an out-of-memory).
TEST(DicomDeidTest, DeclaredLengthBeyondTheInputIsRejectedBeforeAllocating) {
  auto d = Make('k');
  // A bare dataset in implicit VR little endian: (0008,0005) then Pixel Data declaring 4294836224 bytes.
  const std::string bare = Implicit(0x0008, 0x0005, 10) + "ISO_IR 100" +
                           Implicit(0x7fe0, 0x0010, 0xfffe0000u) + std::string(4, 'x');
  absl::StatusOr<std::string> r = DeidentifyDicomBytes(*d, base::AsBytes(bare));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("element (7fe0,0010) at byte 18 declares 4294836224 bytes, the file has 4 left"));

  // A Part 10 file in explicit VR little endian, the long length inside an item of a sequence of undefined
  // length (nested in a defined-length item of an undefined-length sequence).
  const std::string uid = std::string("1.2.840.10008.1.2.1") + '\0';
  std::string part10 = std::string(128, '\0') + "DICM" + ExplicitShort(0x0002, 0x0010, "UI", uid);
  const size_t dataset = part10.size();
  const std::string inner = ExplicitShort(0x0008, 0x0100, "SH", "CODE01") +
                            ExplicitLong(0x0009, 0x1010, "OB", 0x00100000u) + std::string(16, '\0');
  part10 +=
      ExplicitShort(0x0008, 0x0005, "CS", "ISO_IR 100") + ExplicitLong(0x0040, 0xa730, "SQ", 0xffffffffu) +
      Implicit(0xfffe, 0xe000, static_cast<uint32_t>(inner.size())) + inner + Implicit(0xfffe, 0xe0dd, 0);
  const size_t ob = dataset + 18 + 12 + 8 + 14;
  r = DeidentifyDicomBytes(*d, base::AsBytes(part10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("element (0009,1010) at byte ", ob,
                                                           " declares 1048576 bytes, the file has ",
                                                           part10.size() - ob - 12, " left")));
  // The same file with the length it really has parses (the scan does not reject good files).
  std::string fixed = part10;
  fixed.replace(ob + 8, 4, Le32(16));
  EXPECT_TRUE(DeidentifyDicomBytes(*d, base::AsBytes(fixed)).ok());

  // The fuzzer's reproducer (a bare implicit-VR RT dataset, 1532 bytes) and the file path of veil dicom deid.
  const std::string repro = FileContents("fuzz/corpus/dicom_deid/oom_declared_length");
  ASSERT_FALSE(repro.empty());
  r = DeidentifyDicomBytes(*d, base::AsBytes(repro));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("declares"));
  // A Part 10 file whose meta information lost its transfer syntax (inside a long OB): the dataset's syntax
  // is guessed as DCMTK guesses it (implicit VR here, since "HA" is no VR).
  r = DeidentifyDicomBytes(*d, base::AsBytes(FileContents("fuzz/corpus/dicom_deid/oom_guessed_implicit")));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("element (5343,0010) at byte 668 declares 2740142408 bytes"));
  const base::testing::ScopedTempDir tmp("veil_dicom_len");
  const std::filesystem::path dir = tmp.path();
  const std::string in = (dir / "in.dcm").string();
  std::ofstream(in, std::ios::binary) << bare;
  const absl::Status s = DeidentifyDicomFile(*d, in, (dir / "out.dcm").string());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(": malformed DICOM file: element (7fe0,0010) at byte 18 declares"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.dcm"));
}

// DCMTK's raw deflate (RFC 1951) of `raw`, as it writes a deflated dataset.
std::string DeflateWithDcmtk(const std::string& raw) {
  std::vector<char> buffer(64 * 1024);
  DcmOutputBufferStream os(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  EXPECT_TRUE(os.installCompressionFilter(ESC_zlib).good());
  std::string out;
  const auto drain = [&] {
    void* p = nullptr;
    offile_off_t n = 0;
    os.flushBuffer(p, n);
    if (n > 0) out.append(static_cast<const char*>(p), static_cast<size_t>(n));
  };
  for (size_t done = 0; done < raw.size(); drain()) {
    done += static_cast<size_t>(os.write(raw.data() + done, static_cast<offile_off_t>(raw.size() - done)));
  }
  while (!os.isFlushed()) {
    os.flush();
    drain();
  }
  return out;
}

// The check against the bytes left is DCMTK's own (its stream can be reopened, so it skips a long value
// instead of allocating it): it holds where the pre-scan loses track of the encoding, and inside a deflated
// dataset, where the pre-scan cannot look.
TEST(DicomDeidTest, DeclaredLengthBeyondTheInputIsRejectedWhereverTheParserIs) {
  auto d = Make('k');
  // The fuzzer's reproducer: a meta information group length that takes dataset elements into the meta
  // information, so the dataset starts where the pre-scan does not expect it.
  absl::StatusOr<std::string> r =
      DeidentifyDicomBytes(*d, base::AsBytes(FileContents("fuzz/corpus/dicom_deid/oom_meta_group_length")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("declares 4264570926 bytes; only"));

  // A deflated dataset (explicit VR little endian inside) whose OB value (after 18 + 12 header bytes)
  // declares 4026531840 bytes.
  const std::string uid = std::string("1.2.840.10008.1.2.1.99") + '\0';
  const std::string meta = std::string(128, '\0') + "DICM" + ExplicitShort(0x0002, 0x0010, "UI", uid);
  const std::string raw = ExplicitShort(0x0008, 0x0005, "CS", "ISO_IR 100") +
                          ExplicitLong(0x0009, 0x1010, "OB", 0xf0000000u) + std::string(64, '\0');
  r = DeidentifyDicomBytes(*d, base::AsBytes(meta + DeflateWithDcmtk(raw)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(r.status().message()),
      HasSubstr("a value at byte 30 of the inflated dataset declares 4026531840 bytes; only 64 are left"));

  // A good deflated file (CT_small with its pixel data, far above the 4 KB read in one go) is de-identified
  // and stays deflated, its long values read back through the reopened stream.
  const base::testing::ScopedTempDir tmp("veil_dicom_deflate");
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((std::string(kDir) + "CT_small.dcm").c_str()).good());
  const std::string deflated_path = tmp.path() + "/deflated.dcm";
  ASSERT_TRUE(ct.saveFile(deflated_path.c_str(), EXS_DeflatedLittleEndianExplicit).good());
  r = DeidentifyDicomBytes(*d, base::AsBytes(FileContents(deflated_path)));
  ASSERT_TRUE(r.ok()) << r.status();
  std::unique_ptr<DcmFileFormat> out = Parse(*r);
  EXPECT_EQ(out->getDataset()->getOriginalXfer(), EXS_DeflatedLittleEndianExplicit);
  const Uint8* in_pixels = nullptr;
  const Uint8* out_pixels = nullptr;
  unsigned long in_count = 0, out_count = 0;
  ASSERT_TRUE(ct.getDataset()->findAndGetUint8Array(DCM_PixelData, in_pixels, &in_count).good());
  ASSERT_TRUE(out->getDataset()->findAndGetUint8Array(DCM_PixelData, out_pixels, &out_count).good());
  ASSERT_EQ(in_count, out_count);
  EXPECT_EQ(std::memcmp(in_pixels, out_pixels, in_count), 0);
}

// DCMTK's reader recurses once per nesting level (dcmdump crashes on a 6 MB file nested 200000 deep): the
// pre-scan refuses more than 200 levels before DCMTK reads anything.
TEST(DicomDeidTest, DeepNestingIsRefusedBeforeDcmtkRecurses) {
  auto d = Make('k');
  const auto nested = [](int levels) {
    std::string b = Implicit(0x0008, 0x0005, 10) + "ISO_IR 100";
    for (int i = 0; i < levels; ++i)
      b += Implicit(0x0040, 0xa730, 0xffffffffu) + Implicit(0xfffe, 0xe000, 0xffffffffu);
    b += Implicit(0x0008, 0x0100, 6) + "CODE01";
    for (int i = 0; i < levels; ++i) b += Implicit(0xfffe, 0xe00d, 0) + Implicit(0xfffe, 0xe0dd, 0);
    return b;
  };
  EXPECT_TRUE(DeidentifyDicomBytes(*d, base::AsBytes(nested(40))).ok());
  const absl::StatusOr<std::string> r = DeidentifyDicomBytes(*d, base::AsBytes(nested(100000)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nested more than 200 deep"));
}

// A poor man's fuzz run in the unit tests (the real one is fuzz/dicom_deid_fuzz.cc): byte flips and cuts of
// every sample give either an output or InvalidArgument, never a crash or another code.
TEST(DicomDeidTest, MutatedInputsGiveOutputOrInvalidArgument) {
  auto d = Make('k', DicomProfileOptions().Set(DicomOption::kRetainLongitudinalModifiedDates));
  base::testing::DataRandom rng(0x9E3779B97F4A7C15u);
  for (const std::string& name : kFiles) {
    const std::string original = Sample(name);
    ASSERT_FALSE(original.empty()) << name << ": sample file missing (run from the repository root)";
    for (int i = 0; i < 60; ++i) {
      std::string m = original;
      for (int k = 0; k < 1 + i % 4; ++k) m[rng.Below(m.size())] = static_cast<char>(rng.Next());
      if (i % 3 == 0) m.resize(rng.Below(m.size()));
      absl::StatusOr<std::string> r = DeidentifyDicomBytes(*d, base::AsBytes(m));
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name << " " << i;
      }
    }
  }
}

TEST(DicomDeidTest, FilesAreWrittenAtomicallyAndNeverOverInputs) {
  auto d = Make('k');
  const base::testing::ScopedTempDir tmp("veil_dicom_file");
  const std::filesystem::path dir = tmp.path();
  const std::string in = (dir / "in.dcm").string();
  std::filesystem::copy_file(std::string(kDir) + "MR_small.dcm", in);
  EXPECT_EQ(DeidentifyDicomFile(*d, in, in).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FileContents(in), Sample("MR_small.dcm"));
  const std::string out = (dir / "out.dcm").string();
  ASSERT_TRUE(DeidentifyDicomFile(*d, in, out).ok());
  EXPECT_EQ(FileContents(out), Deid(*d, "MR_small.dcm").bytes);
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
  EXPECT_EQ(DeidentifyDicomFile(*d, (dir / "missing.dcm").string(), out).code(), absl::StatusCode::kNotFound);
  // A bad input leaves no output.
  const std::string bad = (dir / "bad.dcm").string();
  std::ofstream(bad) << "hello";
  EXPECT_EQ(DeidentifyDicomFile(*d, bad, (dir / "bad.out").string()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.out"));
}

TEST(DicomDeidTest, BadKeyAndOptions) {
  DicomDeidOptions o;
  EXPECT_EQ(DicomDeidentifier::Create(base::SecretBytes::FromString("short"), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.profile.Set(DicomOption::kRetainLongitudinalFullDates).Set(DicomOption::kRetainLongitudinalModifiedDates);
  EXPECT_EQ(DicomDeidentifier::Create(Key('k'), o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::anon
