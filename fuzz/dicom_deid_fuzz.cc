// Fuzz target: arbitrary bytes -> DCMTK parse from memory -> de-identification under an option set picked by
// the input's last byte (none, each PS3.15 E.3 option alone, every option at once with either longitudinal
// date option) -> write to memory. Bad input must give a Status, never a crash, a leak or undefined
// behaviour. When de-identification succeeds, the output is parsed again and checked at every depth: no
// attribute of an odd (private) group is left, and no attribute whose resolved action under the option set
// is X (remove) is left; a violation traps. Seeds: fuzz/corpus/dicom_deid/ (small DICOM files).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/oflog/oflog.h"
#include "veil/anon/dicom_deid.h"
#include "veil/anon/dicom_internal.h"
#include "veil/anon/dicom_profile.h"
#include "veil/base/bytes.h"
#include "veil/base/secret_bytes.h"

namespace {

using veil::anon::DicomOption;
using veil::anon::DicomProfileOptions;

std::vector<DicomProfileOptions> OptionSets() {
  std::vector<DicomProfileOptions> sets = {DicomProfileOptions()};
  for (const auto& info : veil::anon::DicomOptionInfos())
    sets.push_back(DicomProfileOptions().Set(info.option));
  for (DicomOption excluded :
       {DicomOption::kRetainLongitudinalFullDates, DicomOption::kRetainLongitudinalModifiedDates}) {
    DicomProfileOptions all;
    for (const auto& info : veil::anon::DicomOptionInfos()) {
      if (info.option != excluded) all.Set(info.option);
    }
    sets.push_back(all);
  }
  return sets;
}

struct Profile {
  DicomProfileOptions options;
  std::unique_ptr<veil::anon::DicomDeidentifier> deid;
};

// The invariant on one item, recursively.
void Check(DcmItem& item, const veil::anon::DicomProfile& profile, const DicomProfileOptions& options) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    if (e == nullptr) continue;
    const DcmTagKey t = e->getTag().getXTag();
    if ((t.getGroup() & 1) != 0) __builtin_trap();  // a private attribute survived
    if (const veil::anon::DicomProfileRow* row = profile.Find(t.getGroup(), t.getElement()); row != nullptr) {
      if (veil::anon::DicomProfile::Resolve(*row, options).action == veil::anon::DicomAction::kRemove) {
        __builtin_trap();  // an attribute marked X survived
      }
    }
    if (e->ident() == EVR_SQ) {
      auto* seq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < seq->card(); ++j) {
        if (DcmItem* it = seq->getItem(j); it != nullptr) Check(*it, profile, options);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    return true;
  }();
  (void)quiet;
  static const std::vector<DicomProfileOptions> sets = OptionSets();
  // Built lazily: the text-cleaning options build a PII analyzer each.
  static std::vector<Profile>* const profiles = new std::vector<Profile>(sets.size());
  static const veil::anon::DicomProfile* const table = [] {
    auto p = veil::anon::DicomProfile::Embedded();
    if (!p.ok()) __builtin_trap();
    return *p;
  }();
  // The last byte picks the option set, so every set sees every input shape.
  const size_t which = size > 0 ? data[size - 1] % sets.size() : 0;
  Profile& profile = (*profiles)[which];
  if (profile.deid == nullptr) {
    veil::anon::DicomDeidOptions options;
    options.profile = sets[which];
    auto d = veil::anon::DicomDeidentifier::Create(veil::base::SecretBytes::FromString(std::string(32, 'f')),
                                                   options);
    if (!d.ok()) __builtin_trap();
    profile.options = sets[which];
    profile.deid = *std::move(d);
  }
  const std::span<const uint8_t> bytes(data, size);
  auto out = veil::anon::DeidentifyDicomBytes(*profile.deid, bytes);
  if (!out.ok()) return 0;
  // The output as a receiver reads it. An output DCMTK cannot read back is not checked here (the unit tests
  // run dcmdump on real outputs); what it can read must hold the invariant.
  DcmFileFormat file;
  if (!veil::anon::internal::ReadDicom(veil::base::AsBytes(*out), file).ok()) return 0;
  if (file.getMetaInfo() != nullptr) Check(*file.getMetaInfo(), *table, profile.options);
  if (file.getDataset() != nullptr) Check(*file.getDataset(), *table, profile.options);
  return 0;
}
