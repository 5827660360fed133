#include "veil/anon/dicom_deid.h"

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcerror.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcvr.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "veil/anon/dicom_internal.h"
#include "veil/base/bytes.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/hmac.h"
#include "veil/crypto/random.h"
#include "veil/pii/analyzer.h"

namespace veil::anon {
namespace {

constexpr char kUidLabel[] = "veil dicom uid v1";
constexpr char kDateLabel[] = "veil dicom date shift v1";
constexpr int kMaxShiftDays = 3650;
constexpr char kDummy[] = "ANONYMIZED";

std::string TagName(const DcmTagKey& t) {
  return absl::StrFormat("(%04X,%04X)", t.getGroup(), t.getElement());
}

using internal::Sv;

// The values of a multi-valued string ('\\'-separated).
std::vector<std::string_view> SplitValues(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find('\\', start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool IsTextVr(DcmEVR vr) {
  switch (vr) {
    case EVR_AE:
    case EVR_CS:
    case EVR_LO:
    case EVR_LT:
    case EVR_PN:
    case EVR_SH:
    case EVR_ST:
    case EVR_UC:
    case EVR_UT:
      return true;
    default:
      return false;
  }
}

// The free-text VRs cleaned inside structured content.
bool IsFreeTextVr(DcmEVR vr) { return vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UC; }

bool IsBinaryNumberVr(DcmEVR vr) {
  switch (vr) {
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
    case EVR_SV:
    case EVR_UV:
      return true;
    default:
      return false;
  }
}

// Adds `days` to a "YYYYMMDD" date. false if `d` is not a valid date or the result leaves years 1..9999.
bool ShiftDa(std::string_view d, int days, std::string& out) {
  if (d.size() != 8 || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int y = std::stoi(std::string(d.substr(0, 4)));
  const int m = std::stoi(std::string(d.substr(4, 2)));
  const int dd = std::stoi(std::string(d.substr(6, 2)));
  const absl::CivilDay day(y, m, dd);
  if (day.year() != y || day.month() != m || day.day() != dd) return false;  // normalised: not a real date
  const absl::CivilDay shifted = day + days;
  if (shifted.year() < 1 || shifted.year() > 9999) return false;
  out = absl::StrFormat("%04d%02d%02d", shifted.year(), shifted.month(), shifted.day());
  return true;
}

}  // namespace

DicomDeidStats& DicomDeidStats::operator+=(const DicomDeidStats& o) {
  removed += o.removed;
  private_removed += o.private_removed;
  emptied += o.emptied;
  replaced += o.replaced;
  cleaned += o.cleaned;
  uids_mapped += o.uids_mapped;
  kept += o.kept;
  burned_in_annotation += o.burned_in_annotation;
  return *this;
}

namespace internal {
struct DicomDeidentifierImpl {
  const DicomProfile* profile = nullptr;
  DicomDeidOptions options;
  base::SecretBytes uid_key;
  base::SecretBytes date_key;
  std::unique_ptr<pii::Analyzer> analyzer;  // only when an option cleans text
};
}  // namespace internal
using internal::DicomDeidentifierImpl;

namespace {

// One de-identification of one object: the walk over its items.
class Walker {
 public:
  Walker(const DicomDeidentifier& deid, const DicomDeidentifierImpl& impl, int date_offset,
         DicomDeidStats& stats)
      : deid_(deid), impl_(impl), date_offset_(date_offset), stats_(stats) {}

  absl::Status ProcessItem(DcmItem& item, bool structured_content) {
    // Backwards, so that removing element i leaves the indices still to visit unchanged.
    for (unsigned long i = item.card(); i-- > 0;) {
      DcmElement* e = item.getElement(i);
      if (e == nullptr) continue;
      const DcmTagKey key = e->getTag().getXTag();
      const DicomProfileRow* row = impl_.profile->Find(key.getGroup(), key.getElement());
      if (row == nullptr) {
        VEIL_RETURN_IF_ERROR(Unlisted(item, i, *e, structured_content));
        continue;
      }
      VEIL_RETURN_IF_ERROR(Apply(item, i, *e, DicomProfile::Resolve(*row, impl_.options.profile),
                                 row->basic_action, structured_content));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Recurse(DcmElement& e, bool structured_content) {
    auto& seq = static_cast<DcmSequenceOfItems&>(e);
    for (unsigned long j = 0; j < seq.card(); ++j) {
      if (DcmItem* it = seq.getItem(j); it != nullptr)
        VEIL_RETURN_IF_ERROR(ProcessItem(*it, structured_content));
    }
    return absl::OkStatus();
  }

  absl::Status Unlisted(DcmItem& item, unsigned long index, DcmElement& e, bool structured_content) {
    if (e.ident() == EVR_SQ) return Recurse(e, structured_content);
    if (structured_content && IsFreeTextVr(e.ident())) return CleanText(e);
    // Inside structured content, a value of unknown VR (UN) may be text Veil cannot clean: removed.
    if (structured_content && e.ident() == EVR_UN) return Remove(item, index, e);
    return absl::OkStatus();
  }

  absl::Status Remove(DcmItem& item, unsigned long index, DcmElement& e) {
    const bool is_private = (e.getTag().getGroup() & 1) != 0;
    delete item.remove(index);
    ++stats_.removed;
    if (is_private) ++stats_.private_removed;
    return absl::OkStatus();
  }

  absl::Status Check(const OFCondition& c, const DcmElement& e, std::string_view what) {
    if (c.good()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("DICOM attribute ", TagName(e.getTag().getXTag()),
                                                   ": cannot ", Sv(what), ": ", c.text()));
  }

  absl::Status Apply(DcmItem& item, unsigned long index, DcmElement& e, DicomResolvedAction ra,
                     DicomAction basic, bool structured_content) {
    const DcmEVR vr = e.ident();
    const bool sq = vr == EVR_SQ;
    switch (ra.action) {
      case DicomAction::kRemove:
        return Remove(item, index, e);
      case DicomAction::kEmpty:
        ++stats_.emptied;
        if (sq) {
          static_cast<DcmSequenceOfItems&>(e).clear();
          return absl::OkStatus();
        }
        return Check(e.clear(), e, "empty the value");
      case DicomAction::kDummy:
        return Dummy(e);
      case DicomAction::kKeep:
        ++stats_.kept;
        return sq ? Recurse(e, structured_content) : absl::OkStatus();
      case DicomAction::kUid:
        if (sq) return Recurse(e, structured_content);
        if (vr == EVR_UI) return MapUids(e);
        return Dummy(e);  // a U on an attribute that holds no UID: a dummy of its VR
      case DicomAction::kClean:
        break;
    }
    // C, by the option it came from. A value of unknown VR (UN, e.g. text written by a sender that did not
    // know the attribute) cannot be cleaned as what it is: removed (fail closed), whatever the option.
    if (vr == EVR_UN) return Remove(item, index, e);
    switch (ra.clean) {
      case DicomCleanKind::kShiftDates:
        if (vr == EVR_DA || vr == EVR_DT) return ShiftDates(e);
        if (vr == EVR_TM) {
          ++stats_.kept;  // whole days are shifted: the time of day stays
          return absl::OkStatus();
        }
        if (sq) {
          ++stats_.kept;
          return Recurse(e, structured_content);
        }
        break;
      case DicomCleanKind::kStructuredContent:
        if (sq) {
          ++stats_.kept;
          return Recurse(e, /*structured_content=*/true);
        }
        if (IsTextVr(vr)) return CleanText(e);
        break;
      case DicomCleanKind::kText:
        if (IsTextVr(vr)) return CleanText(e);
        if (sq) {
          ++stats_.kept;
          return Recurse(e, structured_content);
        }
        break;
      case DicomCleanKind::kGraphics:
        if (IsTextVr(vr)) return CleanText(e);
        basic = DicomAction::kRemove;  // binary overlay and curve data: Veil does not look into pixels
        break;
      case DicomCleanKind::kSafePrivate:
        // The known-safe list is empty in this version (dicom_deid.h): remove.
        basic = DicomAction::kRemove;
        break;
      case DicomCleanKind::kNone:
        break;
    }
    // Nothing to clean in this VR: the basic profile's action.
    return Apply(item, index, e, {basic, DicomCleanKind::kNone}, basic, structured_content);
  }

  absl::Status Dummy(DcmElement& e) {
    const DcmEVR vr = e.ident();
    if (vr == EVR_UI) return MapUids(e);  // counted as UIDs mapped
    ++stats_.replaced;
    if (vr == EVR_SQ) {
      auto& seq = static_cast<DcmSequenceOfItems&>(e);
      seq.clear();
      return Check(seq.append(new DcmItem()), e, "replace the sequence with an empty item");
    }
    const char* value = nullptr;
    switch (vr) {
      case EVR_DA:
        value = "19000101";
        break;
      case EVR_TM:
        value = "000000";
        break;
      case EVR_DT:
        value = "19000101000000";
        break;
      case EVR_AS:
        value = "000Y";
        break;
      case EVR_IS:
      case EVR_DS:
        value = "0";
        break;
      default:
        if (IsBinaryNumberVr(vr)) {
          value = "0";
        } else if (IsTextVr(vr) || vr == EVR_UR) {
          value = kDummy;
        }
    }
    if (value == nullptr) return Check(e.clear(), e, "empty the value");  // OB, OW, UN, AT, ...
    return Check(e.putString(value), e, "write a dummy value");
  }

  // A value DCMTK cannot give back as a string (a defective element) is not kept as it is: it is emptied
  // (fail closed), since what it holds cannot be checked.
  absl::Status Unreadable(DcmElement& e) {
    ++stats_.emptied;
    return Check(e.clear(), e, "empty the unreadable value");
  }

  absl::Status MapUids(DcmElement& e) {
    OFString value;
    if (e.getOFStringArray(value).bad()) return Unreadable(e);
    if (value.empty()) return absl::OkStatus();
    std::vector<std::string> out;
    for (std::string_view uid : SplitValues(std::string_view(value.c_str(), value.size()))) {
      // UI values are padded with NUL to even length; DCMTK strips it, but be safe about spaces too.
      while (!uid.empty() && (uid.back() == ' ' || uid.back() == '\0')) uid.remove_suffix(1);
      if (uid.empty()) {
        out.emplace_back();
        continue;
      }
      out.push_back(deid_.MapUid(uid));
      ++stats_.uids_mapped;
    }
    return Check(e.putOFStringArray(OFString(absl::StrJoin(out, "\\").c_str())), e, "write the mapped UID");
  }

  absl::Status ShiftDates(DcmElement& e) {
    OFString value;
    if (e.getOFStringArray(value).bad()) return Unreadable(e);
    if (value.empty()) {
      ++stats_.kept;
      return absl::OkStatus();
    }
    const bool dt = e.ident() == EVR_DT;
    std::vector<std::string> out;
    bool ok = true;
    for (std::string_view v : SplitValues(std::string_view(value.c_str(), value.size()))) {
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      if (v.empty()) {
        out.emplace_back();
        continue;
      }
      std::string shifted;
      // A DT must hold at least the whole date (YYYYMMDD) to be shifted by days; the rest is kept.
      if (v.size() < 8 || !ShiftDa(v.substr(0, 8), date_offset_, shifted) || (!dt && v.size() != 8)) {
        ok = false;
        break;
      }
      out.push_back(absl::StrCat(shifted, Sv(v.substr(8))));
    }
    if (!ok) {
      // Not a date we can shift (a partial DT, a legacy format): emptied rather than kept.
      ++stats_.emptied;
      return Check(e.clear(), e, "empty the value");
    }
    ++stats_.cleaned;
    return Check(e.putOFStringArray(OFString(absl::StrJoin(out, "\\").c_str())), e, "write the shifted date");
  }

  absl::Status CleanText(DcmElement& e) {
    OFString value;
    if (e.getOFStringArray(value).bad()) return Unreadable(e);
    if (impl_.analyzer == nullptr || value.empty()) {
      ++stats_.kept;
      return absl::OkStatus();
    }
    std::string text(value.c_str(), value.size());
    const std::vector<pii::Span> spans = impl_.analyzer->Analyze(text);
    if (spans.empty()) {
      ++stats_.kept;
      return absl::OkStatus();
    }
    for (const pii::Span& s : spans) {
      std::fill(text.begin() + static_cast<std::ptrdiff_t>(s.begin),
                text.begin() + static_cast<std::ptrdiff_t>(s.end), '*');
    }
    ++stats_.cleaned;
    return Check(e.putOFStringArray(OFString(text.data(), text.size())), e, "write the cleaned text");
  }

  const DicomDeidentifier& deid_;
  const DicomDeidentifierImpl& impl_;
  const int date_offset_;
  DicomDeidStats& stats_;
};

}  // namespace

DicomDeidentifier::DicomDeidentifier(std::unique_ptr<DicomDeidentifierImpl> impl) : impl_(std::move(impl)) {}
DicomDeidentifier::~DicomDeidentifier() = default;

absl::StatusOr<std::unique_ptr<DicomDeidentifier>> DicomDeidentifier::Create(
    const base::SecretBytes& key, const DicomDeidOptions& options) {
  if (key.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("DICOM de-identification key must be at least 32 bytes, got ", key.size()));
  }
  VEIL_RETURN_IF_ERROR(options.profile.Validate());
  auto impl = std::make_unique<DicomDeidentifierImpl>();
  VEIL_ASSIGN_OR_RETURN(impl->profile, DicomProfile::Embedded());
  impl->options = options;
  const crypto::HmacSha256Tag uid_key = crypto::HmacSha256(key, std::string_view(kUidLabel));
  const crypto::HmacSha256Tag date_key = crypto::HmacSha256(key, std::string_view(kDateLabel));
  impl->uid_key = base::SecretBytes(std::span<const uint8_t>(uid_key));
  impl->date_key = base::SecretBytes(std::span<const uint8_t>(date_key));
  const DicomProfileOptions& o = options.profile;
  if (o.Has(DicomOption::kCleanDescriptors) || o.Has(DicomOption::kCleanStructuredContent) ||
      o.Has(DicomOption::kRetainPatientCharacteristics) || o.Has(DicomOption::kRetainDeviceIdentity) ||
      o.Has(DicomOption::kCleanGraphics)) {
    VEIL_ASSIGN_OR_RETURN(impl->analyzer, pii::Analyzer::Create({}));
  }
  return std::unique_ptr<DicomDeidentifier>(new DicomDeidentifier(std::move(impl)));
}

std::string DicomDeidentifier::MapUid(std::string_view uid) const {
  crypto::HmacSha256Tag h = crypto::HmacSha256(impl_->uid_key, uid);
  // RFC 9562 UUID version 8 (custom), variant 10.
  h[6] = static_cast<uint8_t>((h[6] & 0x0F) | 0x80);
  h[8] = static_cast<uint8_t>((h[8] & 0x3F) | 0x80);
  // The 128-bit big-endian integer h[0..15] in decimal: long division of 32-bit limbs by 10.
  std::array<uint32_t, 4> limbs{};
  for (size_t i = 0; i < 16; ++i) limbs[i / 4] = (limbs[i / 4] << 8) | h[i];
  std::string digits;
  while (std::any_of(limbs.begin(), limbs.end(), [](uint32_t l) { return l != 0; })) {
    uint64_t rem = 0;
    for (uint32_t& l : limbs) {
      const uint64_t cur = (rem << 32) | l;
      l = static_cast<uint32_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  // Never empty: the version bits make the number non-zero.
  std::reverse(digits.begin(), digits.end());
  return absl::StrCat("2.25.", digits);
}

int DicomDeidentifier::DateOffsetDays(std::string_view patient_id) const {
  const crypto::HmacSha256Tag h = crypto::HmacSha256(impl_->date_key, patient_id);
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | h[i];
  return -static_cast<int>(1 + v % kMaxShiftDays);
}

absl::Status DicomDeidentifier::DeidentifyDataset(DcmDataset& dataset, DcmMetaInfo* meta,
                                                  DicomDeidStats* stats) const {
  DicomDeidStats local;
  // Burned In Annotation (0028,0301) = YES: the pixels may show identifying text, which Veil does not clean.
  OFString burned_in;
  if (dataset.findAndGetOFString(DCM_BurnedInAnnotation, burned_in, 0, /*searchIntoSub=*/false).good()) {
    std::string v(burned_in.c_str(), burned_in.size());
    while (!v.empty() && v.back() == ' ') v.pop_back();
    if (v == "YES") local.burned_in_annotation = 1;
  }
  // The patient's date offset, from Patient ID before it is changed.
  OFString patient_id;
  if (dataset.findAndGetOFStringArray(DCM_PatientID, patient_id, /*searchIntoSub=*/false).bad()) {
    patient_id.clear();
  }
  const int offset = DateOffsetDays(std::string_view(patient_id.c_str(), patient_id.size()));
  Walker walker(*this, *impl_, offset, local);
  VEIL_RETURN_IF_ERROR(walker.ProcessItem(dataset, /*structured_content=*/false));

  // The attributes that record what was done (PS3.15 E.1.1 (6), PS3.3 C.7.1.1).
  const DicomProfileOptions& o = impl_->options.profile;
  const auto check = [](const OFCondition& c, std::string_view what) -> absl::Status {
    if (c.good()) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot write ", Sv(what), ": ", c.text()));
  };
  VEIL_RETURN_IF_ERROR(check(dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES"), "(0012,0062)"));
  VEIL_RETURN_IF_ERROR(
      check(dataset.putAndInsertString(DCM_DeidentificationMethod, impl_->options.method_description.c_str()),
            "(0012,0063)"));
  delete dataset.remove(DCM_DeidentificationMethodCodeSequence);
  std::vector<std::pair<std::string_view, std::string_view>> codes = {
      {kBasicProfileCode, kBasicProfileMeaning}};
  for (const DicomOptionInfo& info : DicomOptionInfos()) {
    if (o.Has(info.option)) codes.emplace_back(info.code, info.meaning);
  }
  for (const auto& [code, meaning] : codes) {
    DcmItem* item = nullptr;
    VEIL_RETURN_IF_ERROR(check(
        dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2), "(0012,0064)"));
    VEIL_RETURN_IF_ERROR(
        check(item->putAndInsertString(DCM_CodeValue, std::string(code).c_str()), "(0008,0100)"));
    VEIL_RETURN_IF_ERROR(check(item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM"), "(0008,0102)"));
    VEIL_RETURN_IF_ERROR(
        check(item->putAndInsertString(DCM_CodeMeaning, std::string(meaning).c_str()), "(0008,0104)"));
  }
  const char* longitudinal = o.Has(DicomOption::kRetainLongitudinalModifiedDates) ? "MODIFIED"
                             : o.Has(DicomOption::kRetainLongitudinalFullDates)   ? "UNMODIFIED"
                                                                                  : "REMOVED";
  VEIL_RETURN_IF_ERROR(check(
      dataset.putAndInsertString(DCM_LongitudinalTemporalInformationModified, longitudinal), "(0028,0303)"));

  if (meta != nullptr) {
    VEIL_RETURN_IF_ERROR(walker.ProcessItem(*meta, /*structured_content=*/false));
    for (const DcmTagKey& t :
         {DCM_SourceApplicationEntityTitle, DCM_SendingApplicationEntityTitle,
          DCM_ReceivingApplicationEntityTitle, DCM_PrivateInformationCreatorUID, DCM_PrivateInformation}) {
      if (DcmElement* e = meta->remove(t); e != nullptr) {
        delete e;
        ++local.removed;
      }
    }
  }
  if (stats != nullptr) *stats += local;
  return absl::OkStatus();
}

absl::Status DicomDeidentifier::Deidentify(DcmFileFormat& file, DicomDeidStats* stats) const {
  DcmDataset* dataset = file.getDataset();
  if (dataset == nullptr) return absl::InvalidArgumentError("DICOM file has no dataset");
  return DeidentifyDataset(*dataset, file.getMetaInfo(), stats);
}

namespace {

// A pre-scan of the element headers of a DICOM byte string, before DCMTK reads it. It bounds the nesting of
// sequences (DCMTK's reader recurses once per level, and a few bytes per level would overflow the stack) and
// names the element whose declared length runs past the end of the file. The scan follows the encoding as
// DCMTK reads it (meta information in explicit VR little endian, then the dataset in the transfer syntax the
// meta information names, or guessed for a bare dataset) and walks sequences and items of defined and
// undefined length; it does not look inside a deflated dataset. Where it loses track of DCMTK (a malformed
// meta information group, say), DCMTK's own length check through ReopenableBufferStream (below) still
// refuses any length beyond the end. Anything else malformed is left to DCMTK's parser.
class LengthScanner {
 public:
  explicit LengthScanner(std::span<const uint8_t> bytes) : b_(bytes) {}

  absl::Status Scan(bool part10) {
    size_t pos = 0;
    if (part10) {
      pos = 132;
      std::string_view xfer;
      // Meta information: explicit VR little endian, group 0002.
      while (pos + 8 <= b_.size() && U16(pos, false) == 0x0002) {
        size_t value = 0;
        uint32_t len = 0;
        VEIL_RETURN_IF_ERROR(Header(pos, /*explicit_vr=*/true, /*big_endian=*/false, &value, &len));
        if (len == kUndefined) return absl::OkStatus();  // not valid in the meta information: DCMTK's error
        if (U16(pos + 2, false) == 0x0010) {
          xfer = std::string_view(reinterpret_cast<const char*>(b_.data() + value), len);
          while (!xfer.empty() && (xfer.back() == '\0' || xfer.back() == ' ')) xfer.remove_suffix(1);
        }
        pos = value + len;
      }
      if (!xfer.empty()) {
        const DcmXfer x(std::string(xfer).c_str());
        if (x.getXfer() != EXS_Unknown) {
          if (x.getStreamCompression() != ESC_none)
            return absl::OkStatus();  // the lengths are inside the zlib stream
          return ScanItems(pos, b_.size(), x.isExplicitVR(), x.isBigEndian(), false, 0);
        }
      }
    }
    // No (known) transfer syntax: guessed as DcmItem::checkTransferSyntax does. Explicit VR when the bytes
    // after the first tag are a standard VR; big endian when only the big endian reading of the tag is in
    // the dictionary, or both or neither are and only the big endian group is below 0x0100.
    if (pos + 6 > b_.size()) return absl::OkStatus();
    const char vr[3] = {static_cast<char>(b_[pos + 4]), static_cast<char>(b_[pos + 5]), '\0'};
    const bool explicit_vr = std::isalpha(b_[pos + 4]) && std::isalpha(b_[pos + 5]) && DcmVR(vr).isStandard();
    const uint16_t g_le = U16(pos, false), g_be = U16(pos, true);
    const bool known_le = DcmTag(g_le, U16(pos + 2, false)).error().good();
    const bool known_be = DcmTag(g_be, U16(pos + 2, true)).error().good();
    const bool big_endian = known_be != known_le ? known_be : (g_le > 0xff && g_be <= 0xff);
    return ScanItems(pos, b_.size(), explicit_vr, big_endian, false, 0);
  }

 private:
  static constexpr uint32_t kUndefined = 0xffffffffu;
  static constexpr int kMaxDepth = 200;

  uint16_t U16(size_t p, bool be) const {
    return be ? static_cast<uint16_t>(b_[p] << 8 | b_[p + 1]) : static_cast<uint16_t>(b_[p] | b_[p + 1] << 8);
  }
  uint32_t U32(size_t p, bool be) const {
    return be ? (uint32_t{U16(p, true)} << 16 | U16(p + 2, true))
              : (U16(p, false) | uint32_t{U16(p + 2, false)} << 16);
  }

  // Reads the header at `pos` (precondition: 8 bytes there). Sets the value's offset and its declared
  // length; InvalidArgument if a defined length exceeds the bytes left. A header cut short: kUndefined
  // length and value = end of input (DCMTK reports the truncation).
  absl::Status Header(size_t pos, bool explicit_vr, bool be, size_t* value, uint32_t* len, bool* sq = nullptr,
                      bool* un = nullptr) const {
    const uint16_t group = U16(pos, be), element = U16(pos + 2, be);
    const bool delimitation = group == 0xfffe;
    bool is_sq = false, is_un = false;
    if (explicit_vr && !delimitation) {
      const char vr[3] = {static_cast<char>(b_[pos + 4]), static_cast<char>(b_[pos + 5]), '\0'};
      const DcmEVR evr = DcmVR(vr).getEVR();
      is_sq = evr == EVR_SQ;
      is_un = evr == EVR_UN;
      if (DcmVR(vr).usesExtendedLengthEncoding()) {  // as DcmItem::readTagAndLength decides
        if (pos + 12 > b_.size()) {
          *value = b_.size();
          *len = kUndefined;
          return absl::OkStatus();
        }
        *len = U32(pos + 8, be);
        *value = pos + 12;
      } else {
        *len = U16(pos + 6, be);
        *value = pos + 8;
      }
    } else {
      *len = U32(pos + 4, be);
      *value = pos + 8;
      if (!delimitation) is_sq = DcmTag(group, element).getEVR() == EVR_SQ;
    }
    if (sq != nullptr) *sq = is_sq;
    if (un != nullptr) *un = is_un;
    if (*len != kUndefined && *len > b_.size() - *value) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "malformed DICOM file: element (%04x,%04x) at byte %d declares %d bytes, the file has %d left",
          group, element, pos, *len, b_.size() - *value));
    }
    return absl::OkStatus();
  }

  // The elements of a dataset or item in [pos, end); with `in_item`, up to an item delimitation.
  absl::Status ScanItems(size_t pos, size_t end, bool explicit_vr, bool be, bool in_item, int depth) {
    return ScanElements(pos, end, explicit_vr, be, in_item, depth).status();
  }

  // Returns the position after what was scanned.
  absl::StatusOr<size_t> ScanElements(size_t pos, size_t end, bool explicit_vr, bool be, bool in_item,
                                      int depth) {
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed DICOM file: sequences nested more than ", kMaxDepth, " deep"));
    }
    while (pos + 8 <= end) {
      const uint16_t group = U16(pos, be), element = U16(pos + 2, be);
      size_t value = 0;
      uint32_t len = 0;
      bool sq = false, un = false;
      VEIL_RETURN_IF_ERROR(Header(pos, explicit_vr, be, &value, &len, &sq, &un));
      if (group == 0xfffe) {
        if (in_item && (element == 0xe00d || element == 0xe0dd)) return element == 0xe00d ? value : pos;
        pos = len == kUndefined ? value : value + len;  // a stray delimiter or item: DCMTK's business
        continue;
      }
      if (len == kUndefined) {
        // A sequence (or encapsulated pixel data, or UN holding implicit VR little endian items).
        VEIL_ASSIGN_OR_RETURN(pos, ScanSequence(value, end, un ? false : explicit_vr, un ? false : be,
                                                /*fragments=*/!sq && !un, depth + 1));
        continue;
      }
      const size_t value_end = std::min(end, value + len);
      if (sq)
        VEIL_RETURN_IF_ERROR(ScanSequence(value, value_end, explicit_vr, be, false, depth + 1).status());
      pos = value_end;
    }
    return end;
  }

  // The items of a sequence in [pos, end), up to a sequence delimitation. `fragments`: the items are opaque
  // (encapsulated pixel data), otherwise each holds a dataset.
  absl::StatusOr<size_t> ScanSequence(size_t pos, size_t end, bool explicit_vr, bool be, bool fragments,
                                      int depth) {
    while (pos + 8 <= end) {
      const uint16_t group = U16(pos, be), element = U16(pos + 2, be);
      if (group != 0xfffe) return pos;  // not an item: DCMTK's error
      size_t value = 0;
      uint32_t len = 0;
      VEIL_RETURN_IF_ERROR(Header(pos, /*explicit_vr=*/false, be, &value, &len));
      if (element == 0xe0dd) return value;  // end of the sequence
      if (len == kUndefined) {
        if (fragments) return value;  // DCMTK's error
        VEIL_ASSIGN_OR_RETURN(pos, ScanElements(value, end, explicit_vr, be, /*in_item=*/true, depth + 1));
        continue;
      }
      const size_t value_end = std::min(end, value + len);
      if (!fragments) VEIL_RETURN_IF_ERROR(ScanItems(value, value_end, explicit_vr, be, false, depth + 1));
      pos = value_end;
    }
    return end;
  }

  std::span<const uint8_t> b_;
};

// DCMTK's buffer stream, made reopenable. DCMTK reads a value longer than its maxReadLength only when the
// stream can give it a factory to reopen the stream there later; it then skips the value, and a skip that
// falls short of the declared length is its "larger than remaining bytes" error. A plain buffer stream has no
// factory, so DCMTK allocates the declared length (up to 4 GB) before it finds the bytes missing: a tiny file
// would make it allocate gigabytes. With this stream the check is DCMTK's own, at the position where its
// parser is, whatever the encoding (a deflated dataset included: the factory reopens the stream with the same
// filter and skips inflated bytes). `ReadDicom` loads every value before it returns, so the factories never
// outlive the call.
class ReopenableBufferStream : public DcmInputBufferStream {
 public:
  explicit ReopenableBufferStream(std::span<const uint8_t> bytes) : bytes_(bytes) {
    setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
    setEos();
  }

  DcmInputStreamFactory* newFactory() const override { return new Factory(bytes_, filter_, tell()); }

  OFCondition installCompressionFilter(E_StreamCompression type) override {
    filter_ = {type, tell()};
    return DcmInputBufferStream::installCompressionFilter(type);
  }

  // Records a skip that falls short (a declared length beyond the end), for the error message.
  offile_off_t skip(offile_off_t length) override {
    const offile_off_t at = tell();
    const offile_off_t skipped = DcmInputBufferStream::skip(length);
    if (skipped < length && !short_skip_) {
      const bool inflated = filter_.type != ESC_none;
      short_skip_ = ShortSkip{inflated ? at - filter_.from : at, length, skipped, inflated};
    }
    return skipped;
  }

  struct ShortSkip {
    offile_off_t at, declared, left;
    bool inflated;  // `at` is an offset in the inflated dataset of a deflated file
  };
  const std::optional<ShortSkip>& short_skip() const { return short_skip_; }

 private:
  struct Filter {
    E_StreamCompression type = ESC_none;
    offile_off_t from = 0;  // stream position where the filter was installed
  };

  class Factory : public DcmInputStreamFactory {
   public:
    Factory(std::span<const uint8_t> bytes, Filter filter, offile_off_t at)
        : bytes_(bytes), filter_(filter), at_(at) {}
    DcmInputStream* create() const override {
      auto stream = std::make_unique<ReopenableBufferStream>(bytes_);
      offile_off_t at = at_;
      if (filter_.type != ESC_none) {
        if (stream->skip(filter_.from) != filter_.from) return nullptr;
        if (stream->installCompressionFilter(filter_.type).bad()) return nullptr;
        at -= filter_.from;
      }
      if (stream->skip(at) != at) return nullptr;
      return stream.release();
    }
    DcmInputStreamFactory* clone() const override { return new Factory(*this); }
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

   private:
    std::span<const uint8_t> bytes_;
    Filter filter_;
    offile_off_t at_;
  };

  std::span<const uint8_t> bytes_;
  Filter filter_;
  std::optional<ShortSkip> short_skip_;
};

}  // namespace

namespace internal {

absl::Status ReadDicom(std::span<const uint8_t> bytes, DcmFileFormat& file) {
  ReopenableBufferStream in(bytes);
  file.transferInit();
  const OFCondition read = file.read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file.transferEnd();
  if (const auto& s = in.short_skip(); s.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed DICOM file: a value at byte ", s->at, s->inflated ? " of the inflated dataset" : "",
        " declares ", s->declared, " bytes; only ", s->left, " are left"));
  }
  if (read.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed DICOM file", read == EC_StreamNotifyClient ? " (truncated)" : "", ": ", read.text()));
  }
  // The values DCMTK skipped (longer than DCM_MaxReadLength) are read now, from `bytes`, so that `file` does
  // not depend on them once this returns.
  if (const OFCondition load = file.loadAllDataIntoMemory(); load.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed DICOM file: cannot read a value: ", load.text()));
  }
  if (!in.eos()) {
    // DCMTK stops at a delimiter it cannot place; what follows was not read.
    return absl::InvalidArgumentError(
        absl::StrCat("malformed DICOM file: parsing stopped at byte ", in.tell(), " of ", bytes.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteDicom(DcmFileFormat& file, size_t size_hint) {
  E_TransferSyntax xfer = file.getDataset()->getOriginalXfer();
  if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
  std::string out;
  out.reserve(size_hint);
  std::vector<char> buffer(64 * 1024);
  DcmOutputBufferStream os(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  file.transferInit();
  OFCondition cond;
  const auto drain = [&] {
    void* p = nullptr;
    offile_off_t n = 0;
    os.flushBuffer(p, n);
    if (n > 0) out.append(static_cast<const char*>(p), static_cast<size_t>(n));
  };
  do {
    // EWM_fileformat: DCMTK fills in only what the meta information lacks (a bare dataset gets a new header);
    // the 4-argument write would build a new header and lose the mapped Media Storage SOP Instance UID of a
    // dataset that has no SOP Instance UID.
    cond = file.write(os, xfer, EET_ExplicitLength, /*wcache=*/nullptr, EGL_recalcGL, EPD_noChange, 0, 0, 0,
                      EWM_fileformat);
    drain();
  } while (cond == EC_StreamNotifyClient);
  file.transferEnd();
  os.flush();
  drain();
  if (cond.bad()) return absl::InternalError(absl::StrCat("cannot encode the DICOM file: ", cond.text()));
  return out;
}

}  // namespace internal

absl::StatusOr<std::string> DeidentifyDicomBytes(const DicomDeidentifier& deid,
                                                 std::span<const uint8_t> bytes, DicomDeidStats* stats) {
  constexpr size_t kPreamble = 128;
  const bool part10 = bytes.size() >= kPreamble + 4 && std::memcmp(bytes.data() + kPreamble, "DICM", 4) == 0;
  // A bare dataset (no preamble and meta information, as some old files): accepted when it starts with a
  // group 0008 attribute, little endian (DCMTK guesses the transfer syntax) and parses to its last byte.
  const bool bare = !part10 && bytes.size() >= 8 && bytes[0] == 0x08 && bytes[1] == 0x00;
  if (!part10 && !bare) {
    return absl::InvalidArgumentError(
        "not a DICOM file (neither the 'DICM' prefix after a 128-byte preamble nor a dataset starting with "
        "group 0008)");
  }
  VEIL_RETURN_IF_ERROR(LengthScanner(bytes).Scan(part10));
  DcmFileFormat file;
  VEIL_RETURN_IF_ERROR(internal::ReadDicom(bytes, file));
  DicomDeidStats local;
  VEIL_RETURN_IF_ERROR(deid.Deidentify(file, &local));
  VEIL_ASSIGN_OR_RETURN(std::string out, internal::WriteDicom(file, bytes.size() + 1024));
  if (stats != nullptr) *stats += local;
  return out;
}

absl::Status DeidentifyDicomFile(const DicomDeidentifier& deid, const std::string& in_path,
                                 const std::string& out_path, DicomDeidStats* stats) {
  base::Env& env = crypto::DefaultEnv();
  if (!env.FileExists(in_path)) return absl::NotFoundError(absl::StrCat(in_path, ": no such file"));
  std::error_code ec;
  if (std::filesystem::exists(out_path, ec) && std::filesystem::equivalent(in_path, out_path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(out_path, ": the output would overwrite its input"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string bytes, env.ReadFileToString(in_path));
  absl::StatusOr<std::string> out = DeidentifyDicomBytes(deid, base::AsBytes(bytes), stats);
  if (!out.ok())
    return absl::Status(out.status().code(), absl::StrCat(in_path, ": ", out.status().message()));
  return env.WriteFileAtomically(out_path, *out);
}

}  // namespace veil::anon
