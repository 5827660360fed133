// Fuzz target: arbitrary bytes -> DCMTK parse from memory -> de-identification (Basic Profile plus the date
// shift and UID options that take other code paths) -> write to memory. Bad input must give a Status, never a
// crash, a leak or undefined behaviour. Seeds: fuzz/corpus/dicom_deid/ (small DICOM files).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include "dcmtk/oflog/oflog.h"
#include "veil/anon/dicom_deid.h"
#include "veil/base/secret_bytes.h"

namespace {

std::unique_ptr<veil::anon::DicomDeidentifier> Make(bool shift_dates) {
  veil::anon::DicomDeidOptions options;
  if (shift_dates) options.profile.Set(veil::anon::DicomOption::kRetainLongitudinalModifiedDates);
  auto d = veil::anon::DicomDeidentifier::Create(veil::base::SecretBytes::FromString(std::string(32, 'f')),
                                                 options);
  return d.ok() ? *std::move(d) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    return true;
  }();
  (void)quiet;
  static const auto basic = Make(false);
  static const auto shift = Make(true);
  if (basic == nullptr || shift == nullptr) __builtin_trap();
  const std::span<const uint8_t> bytes(data, size);
  // The last byte picks the profile, so both paths see every input shape.
  const auto& deid = (size > 0 && (data[size - 1] & 1)) ? *shift : *basic;
  (void)veil::anon::DeidentifyDicomBytes(deid, bytes);
  return 0;
}
