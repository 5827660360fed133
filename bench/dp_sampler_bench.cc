// dp_sampler_bench: how fast Veil's exact DP samplers run on one thread with the production CSPRNG, against
// the issue 4 target of at least 10,000,000 discrete Laplace samples per second per core.
//
// Measures, single-threaded, each sampler drawing from a dp::RandomBits over crypto::SecureRandom() (OpenSSL
// RAND_bytes, refilled RandomBits::kBlockBytes at a time):
//   (a) discrete Laplace (CKS20 Algorithm 2) at scales 1, 10, 1000, 10^6 and 10/3 (a non-integer scale, which
//       adds a 128-bit division per round);
//   (b) discrete Gaussian (CKS20 Algorithm 3) at sigma 1, 10, 1000;
//   (c) secure real-valued noise: AddSecureLaplaceNoise(scale 2.5) and AddSecureGaussianNoise(sigma 7.3)
//       (granularity 2^-38 and 2^-17; discrete noise of scale ~2^40 and sigma ~2^20 underneath);
// each as the median samples/s of several runs, with the CSPRNG bytes used per sample. It also measures the
// raw cost of RAND_bytes per request size (why RandomBits draws blocks) in the same run. Prints the target,
// each discrete Laplace figure's ratio to it, and PASS or FAIL; exits 1 if any discrete Laplace scale misses
// the target (the other samplers are reported, not judged: the issue sets no target for them).
//
// Two rates are printed per sampler: per CPU-second of the measuring thread (CLOCK_THREAD_CPUTIME_ID) and per
// wall-clock second. The target is "per core", so the CPU-time rate is the one judged: on a shared machine
// (e.g. 2 cores with a load average of 10) the wall-clock rate mostly measures how often the scheduler ran
// this thread. On an idle machine the two agree (compare them, and the load average printed at the top).
//
// Usage: dp_sampler_bench [--runs N] [--samples N]
#include <openssl/rand.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "veil/crypto/random.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/samplers.h"

namespace {

using veil::bench::Clock;
using veil::bench::Join;
using veil::bench::Median;
using veil::bench::SecondsSince;
using veil::bench::ThreadCpuSeconds;

constexpr double kTarget = 10'000'000;  // discrete Laplace samples per second per core (issue 4)

// Passes SecureRandom() through and counts the bytes drawn.
class CountingSource final : public veil::base::RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t> out) override {
    bytes += out.size();
    return veil::crypto::SecureRandom().Fill(out);
  }
  uint64_t bytes = 0;
};

struct Flags {
  int runs = 5;
  int64_t samples = 5'000'000;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> int64_t { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (a == "--runs") {
      flags->runs = static_cast<int>(value());
    } else if (a == "--samples") {
      flags->samples = value();
    } else {
      std::fprintf(stderr, "usage: dp_sampler_bench [--runs N] [--samples N]\n");
      return false;
    }
  }
  return flags->runs > 0 && flags->samples > 0;
}

struct Result {
  double median_per_cpu_second = 0;
  double median_per_wall_second = 0;
  std::vector<double> millions_per_cpu_second;
  double bytes_per_sample = 0;
  bool ok = true;
};

// Runs `draw` (which returns false on a sampler error) `samples` times per run; a fresh RandomBits per run.
Result Measure(const Flags& flags, const std::function<bool(veil::dp::RandomBits&)>& draw) {
  Result r;
  std::vector<double> per_cpu, per_wall;
  CountingSource source;
  for (int run = 0; run < flags.runs; ++run) {
    veil::dp::RandomBits bits(source);
    const Clock::time_point start = Clock::now();
    const double cpu_start = ThreadCpuSeconds();
    for (int64_t i = 0; i < flags.samples; ++i) {
      if (!draw(bits)) {
        r.ok = false;
        return r;
      }
    }
    const double cpu = ThreadCpuSeconds() - cpu_start;
    const double wall = SecondsSince(start);
    per_cpu.push_back(static_cast<double>(flags.samples) / cpu);
    per_wall.push_back(static_cast<double>(flags.samples) / wall);
    r.millions_per_cpu_second.push_back(per_cpu.back() / 1e6);
  }
  r.median_per_cpu_second = Median(per_cpu);
  r.median_per_wall_second = Median(per_wall);
  r.bytes_per_sample = static_cast<double>(source.bytes) / (static_cast<double>(flags.samples) * flags.runs);
  return r;
}

// The sum of the samples keeps the compiler from dropping the work.
int64_t sink = 0;
double real_sink = 0;

template <typename T>
bool Keep(const absl::StatusOr<T>& v) {
  if (!v.ok()) {
    std::fprintf(stderr, "sampler failed: %s\n", v.status().ToString().c_str());
    return false;
  }
  if constexpr (std::is_same_v<T, double>) {
    real_sink += *v;
  } else {
    sink += *v;
  }
  return true;
}

void PrintRandBytes() {
  std::printf(
      "OpenSSL RAND_bytes by request size (what one refill of RandomBits costs; 8 B = one word per call):\n");
  for (const size_t size : {size_t{8}, size_t{4096}, size_t{8192}, size_t{16384}, size_t{65536}}) {
    std::vector<uint8_t> buf(size);
    const uint64_t total = size < 4096 ? (uint64_t{4} << 20) : (uint64_t{256} << 20);
    std::vector<double> mbs;
    for (int run = 0; run < 3; ++run) {
      const Clock::time_point start = Clock::now();
      for (uint64_t done = 0; done < total; done += size) {
        if (RAND_bytes(buf.data(), static_cast<int>(size)) != 1) {
          std::fprintf(stderr, "RAND_bytes failed\n");
          return;
        }
      }
      mbs.push_back(static_cast<double>(total) / SecondsSince(start) / 1e6);
    }
    std::printf("  %6zu B per call: median %7.0f MB/s   (runs: %s)\n", size, Median(mbs),
                Join(mbs, 0).c_str());
  }
  std::printf("  RandomBits::kBlockBytes = %zu\n\n", veil::dp::RandomBits::kBlockBytes);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  std::printf("dp_sampler_bench: %lld samples per run, %d runs, one thread, RandomBits over SecureRandom()\n",
              static_cast<long long>(flags.samples), flags.runs);
  veil::bench::PrintMachine();
  std::printf("\n");
  PrintRandBytes();

  int failures = 0;
  const auto report = [&](const char* name, const Result& r, bool judged) {
    if (!r.ok) {
      std::printf("%-30s FAILED (sampler error)\n", name);
      ++failures;
      return;
    }
    std::printf("%-30s %6.2f M/s per CPU-s (wall %6.2f M/s)  %4.1f B/sample", name,
                r.median_per_cpu_second / 1e6, r.median_per_wall_second / 1e6, r.bytes_per_sample);
    if (judged) {
      const bool pass = r.median_per_cpu_second >= kTarget;
      std::printf("  %4.2fx target  %s", r.median_per_cpu_second / kTarget, pass ? "PASS" : "FAIL");
      if (!pass) ++failures;
    }
    std::printf("  (runs: %s)\n", Join(r.millions_per_cpu_second, 2).c_str());
  };

  std::printf("medians of %d runs; \"runs\" lists each run's M samples per CPU-second\n\n", flags.runs);
  std::printf("(a) discrete Laplace, target >= %.0f M samples/s per core:\n", kTarget / 1e6);
  for (const auto& [num, den, name] :
       std::vector<std::tuple<uint64_t, uint64_t, const char*>>{{1, 1, "  scale 1"},
                                                                {10, 1, "  scale 10"},
                                                                {1000, 1, "  scale 1000"},
                                                                {1'000'000, 1, "  scale 10^6"},
                                                                {10, 3, "  scale 10/3"}}) {
    report(name,
           Measure(flags,
                   [num = num, den = den](veil::dp::RandomBits& bits) {
                     return Keep(veil::dp::SampleDiscreteLaplace(bits, num, den));
                   }),
           /*judged=*/true);
  }
  std::printf("\n(b) discrete Gaussian (no target):\n");
  for (const auto& [num, name] : std::vector<std::pair<uint64_t, const char*>>{
           {1, "  sigma 1"}, {100, "  sigma 10"}, {1'000'000, "  sigma 1000"}}) {
    report(name,
           Measure(flags,
                   [num = num](veil::dp::RandomBits& bits) {
                     return Keep(veil::dp::SampleDiscreteGaussian(bits, num, 1));
                   }),
           /*judged=*/false);
  }
  std::printf("\n(c) secure real-valued noise (no target):\n");
  report("  AddSecureLaplaceNoise(2.5)",
         Measure(flags,
                 [](veil::dp::RandomBits& bits) {
                   return Keep(veil::dp::AddSecureLaplaceNoise(bits, 3.7, 2.5));
                 }),
         /*judged=*/false);
  report("  AddSecureGaussianNoise(7.3)",
         Measure(flags,
                 [](veil::dp::RandomBits& bits) {
                   return Keep(veil::dp::AddSecureGaussianNoise(bits, 3.7, 7.3));
                 }),
         /*judged=*/false);

  std::printf("\n(checksum %lld %g)\noverall: %s\n", static_cast<long long>(sink), real_sink,
              failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}
