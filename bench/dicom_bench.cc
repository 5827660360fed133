// DICOM de-identification throughput on the sample CT file (issue 6: at least 200 files per second per core).
//
// One thread, in memory: each iteration parses CT_small.dcm (39 KB) from a buffer with DCMTK, de-identifies
// it (anon::DeidentifyDicomBytes: the Basic Profile, UIDs mapped, private tags removed) and writes the result
// to a buffer. The baseline, measured in the same run, is plain DCMTK on the same bytes: parse from the
// buffer and write back to a buffer, nothing changed. Files per second is the median over several runs; the
// ratio says what the de-identification costs on top of DCMTK's own load + save.
//
// Usage (from the repository root): dicom_bench [RUNS] [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include "bench/bench_util.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "veil/anon/dicom_deid.h"
#include "veil/anon/dicom_internal.h"
#include "veil/base/bytes.h"
#include "veil/base/secret_bytes.h"

namespace veil::bench {
namespace {

constexpr char kFile[] = "../shared/data/dicom/pydicom/CT_small.dcm";

// DCMTK load + save from and to memory, through the same read and write as DeidentifyDicomBytes: what any
// DICOM tool pays per file.
size_t LoadSave(const std::string& bytes) {
  DcmFileFormat file;
  if (!anon::internal::ReadDicom(base::AsBytes(bytes), file).ok()) std::abort();
  absl::StatusOr<std::string> out = anon::internal::WriteDicom(file, bytes.size() + 1024);
  if (!out.ok()) std::abort();
  return out->size();
}

template <typename F>
double FilesPerSecond(int iterations, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  size_t sink = 0;
  for (int i = 0; i < iterations; ++i) sink += f();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sink == 0) std::abort();
  return iterations / s;
}

int Main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const int iterations = argc > 2 ? std::max(1, std::atoi(argv[2])) : 400;
  std::ifstream f(kFile, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    std::fprintf(stderr, "dicom_bench: cannot read %s (run from the repository root)\n", kFile);
    return 1;
  }
  auto deid = anon::DicomDeidentifier::Create(base::SecretBytes::FromString(std::string(32, 'k')), {});
  if (!deid.ok()) {
    std::fprintf(stderr, "dicom_bench: %s\n", std::string(deid.status().message()).c_str());
    return 1;
  }
  const auto run_deid = [&]() -> size_t {
    absl::StatusOr<std::string> out = anon::DeidentifyDicomBytes(**deid, base::AsBytes(bytes));
    if (!out.ok()) std::abort();
    return out->size();
  };
  // Warm up both (dictionary, allocator, caches).
  FilesPerSecond(20, [&] { return LoadSave(bytes); });
  FilesPerSecond(20, run_deid);
  std::vector<double> base, veil;
  for (int r = 0; r < runs; ++r) {
    base.push_back(FilesPerSecond(iterations, [&] { return LoadSave(bytes); }));
    veil.push_back(FilesPerSecond(iterations, run_deid));
  }
  const double b = Median(base), v = Median(veil);
  std::printf(
      "DICOM de-identification, CT_small.dcm (%zu bytes), one thread, in memory, median of %d runs x %d "
      "files\n",
      bytes.size(), runs, iterations);
  std::printf("  baseline  DCMTK load + save          %10.0f files/s\n", b);
  std::printf(
      "  veil      load + de-identify + save  %10.0f files/s   ratio %.2f of baseline (target >= 200 "
      "files/s: %s)\n",
      v, v / b, v >= 200 ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) { return veil::bench::Main(argc, argv); }
