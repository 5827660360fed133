// Audit log benchmarks (issue 3, Performance): durable appends per second with group commit against one
// fdatasync per entry, Verify of 1,000,000 entries, and an inclusion proof on a 1,000,000-entry log.
// Prints the median of several runs of each figure and PASS/FAIL against the targets.
//
// Usage: audit_bench [DIR]   (default: a fresh directory under $TMPDIR or /tmp; removed at exit)
// The directory should be on the disk whose durability is being measured (not tmpfs).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "veil/audit/audit_entry.h"
#include "veil/audit/audit_log.h"
#include "veil/audit/encoding.h"
#include "veil/audit/log_format.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"

namespace veil::audit {
namespace {

using Clock = std::chrono::steady_clock;
using bench::Median;

crypto::Ed25519PrivateKey Key() {
  // A fixed seed: the bench's signatures are not secret.
  base::SecretBytes seed(crypto::kEd25519SeedSize);
  return *crypto::Ed25519PrivateKey::FromSeed(seed);
}

AuditEntry Entry(uint64_t i) {
  AuditEntry e;
  e.actor = "analyst-7";
  e.action = "query";
  e.dataset = "adult";
  e.purpose = "research";
  e.reason = "role analyst; purpose declared";
  e.cost = "rho=0.005";
  e.subject_pseudonyms = {absl::StrCat("ps", i % 977)};
  e.params_hash = crypto::Sha256(absl::StrCat("params", i));
  e.result_hash = crypto::Sha256(absl::StrCat("result", i));
  return e;
}

void RemoveLog(base::Env& env, const std::string& dir) {
  for (const char* f : {"audit.log", "checkpoints.log"}) (void)env.DeleteFile(absl::StrCat(dir, "/", f));
  ::rmdir(dir.c_str());
}

// Appends from `threads` threads for `seconds`; returns acknowledged appends per second.
double AppendRate(base::Env& env, const std::string& dir, int threads, double seconds, size_t max_batch) {
  AuditLogOptions options;
  options.max_batch_entries = max_batch;
  std::unique_ptr<AuditLog> log = *AuditLog::Open(env, dir, Key(), options);
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = 0; Clock::now() < deadline; ++i) {
        if (!log->Append(Entry(i * 64 + static_cast<uint64_t>(t))).ok()) failed = true;
        ++done;
      }
    });
  }
  for (std::thread& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) std::printf("  (some appends FAILED)\n");
  log.reset();
  RemoveLog(env, dir);
  return static_cast<double>(done.load()) / elapsed;
}

// Writes a valid n-entry log directly (the same bytes Append would write, minus the per-entry fsync).
void WriteBigLog(base::Env& env, const std::string& dir, uint64_t n) {
  (void)env.CreateDirs(dir);
  internal::LogHeader header;
  (void)env.random().Fill(header.log_id);
  header.public_key = Key().public_key().bytes();
  std::unique_ptr<base::WritableFile> f = *env.NewWritableFile(absl::StrCat(dir, "/audit.log"));
  std::vector<uint8_t> buf = internal::EncodeLogHeader(header);
  internal::CompactRange range;
  const int64_t t0 = absl::ToUnixNanos(absl::Now());
  for (uint64_t i = 0; i < n; ++i) {
    AuditEntry e = Entry(i);
    e.seq = i;
    e.time = absl::FromUnixNanos(t0 + static_cast<int64_t>(i));
    std::vector<uint8_t> bytes = *EncodeAuditEntry(e);
    range.Append(LeafHash(bytes));
    internal::AppendEntryRecord(bytes, range.Root(), buf);
    if (buf.size() > (8 << 20)) {
      (void)f->Append(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
      buf.clear();
    }
  }
  (void)f->Append(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
  (void)f->Sync();
  (void)f->Close();
}

const char* Verdict(bool ok) { return ok ? "PASS" : "FAIL"; }

}  // namespace
}  // namespace veil::audit

int main(int argc, char** argv) {
  using namespace veil::audit;  // NOLINT: a benchmark's main
  veil::base::Env& env = veil::crypto::DefaultEnv();
  std::string base;
  if (argc > 1) {
    base = argv[1];
  } else {
    base = veil::bench::MakeTempDir("veil_audit_bench");
    if (base.empty()) return 1;
  }
  std::printf("audit_bench: directory %s\n", base.c_str());
  bool all_ok = true;

  // 1. Durable appends: group commit with 8 and with 32 appender threads, against the baseline of one
  // fdatasync per entry (batches of one) with 8 threads. With group commit the rate is bounded by
  // (appenders per batch) / (fdatasync latency), so it grows with the number of concurrent appenders.
  constexpr int kRuns = 3;
  std::vector<double> g8, g32, single;
  for (int r = 0; r < kRuns; ++r) {
    g8.push_back(AppendRate(env, absl::StrCat(base, "/g8_", r), 8, 1.0, 4096));
    g32.push_back(AppendRate(env, absl::StrCat(base, "/g32_", r), 32, 1.0, 4096));
    single.push_back(AppendRate(env, absl::StrCat(base, "/s", r), 8, 1.0, 1));
  }
  auto print = [](const char* what, const std::vector<double>& runs) {
    std::printf("durable appends/s, %-40s %9.0f  (runs:", what, Median(runs));
    for (double x : runs) std::printf(" %.0f", x);
    std::printf(")\n");
  };
  print("8 threads, group commit:", g8);
  print("32 threads, group commit:", g32);
  print("8 threads, one fdatasync per entry:", single);
  const double s = Median(single);
  std::printf("group commit / baseline: %.1fx (8 threads), %.1fx (32 threads)\n", Median(g8) / s,
              Median(g32) / s);
  const double g = std::max(Median(g8), Median(g32));
  std::printf("target >= 20000 durable appends/s: %s (8 threads: %s, 32 threads: %s)\n", Verdict(g >= 20000),
              Verdict(Median(g8) >= 20000), Verdict(Median(g32) >= 20000));
  all_ok &= g >= 20000;

  // 2. Verify of 1,000,000 entries.
  constexpr uint64_t kN = 1000000;
  const std::string big = absl::StrCat(base, "/big");
  auto t0 = Clock::now();
  WriteBigLog(env, big, kN);
  const double gen = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  std::unique_ptr<AuditLog> log = *AuditLog::Open(env, big, Key());
  const double open = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("generated a %llu-entry log (%.0f MB) in %.2f s; Open (replay) %.2f s\n",
              static_cast<unsigned long long>(kN),
              static_cast<double>(*env.GetFileSize(absl::StrCat(big, "/audit.log"))) / 1e6, gen, open);
  (void)log->Checkpoint();
  std::vector<double> verify;
  for (int r = 0; r < kRuns; ++r) {
    t0 = Clock::now();
    absl::StatusOr<AuditVerifyReport> rep = log->Verify();
    verify.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (!rep.ok() || rep->entries != kN) {
      std::printf("verify FAILED: %s\n", std::string(rep.status().message()).c_str());
      all_ok = false;
    }
  }
  const double v = Median(verify);
  std::printf("verify of %llu entries: %.3f s (runs: %.3f %.3f %.3f)\n", static_cast<unsigned long long>(kN),
              v, verify[0], verify[1], verify[2]);
  std::printf("target < 3 s: %s\n", Verdict(v < 3.0));
  all_ok &= v < 3.0;

  // 3. Inclusion proof on the 1,000,000-entry log: produce it and verify it.
  std::mt19937_64 rng(1);
  std::vector<double> make_us, check_us;
  for (int r = 0; r < 2000; ++r) {
    const uint64_t seq = rng() % kN;
    t0 = Clock::now();
    absl::StatusOr<LogInclusionProof> p = log->InclusionProof(seq, kN);
    make_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    t0 = Clock::now();
    const bool ok = p.ok() && VerifyInclusionProof(*p).ok();
    check_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!ok) all_ok = false;
  }
  const double m = Median(make_us);
  std::printf("inclusion proof on %llu entries: %.1f us to produce, %.1f us to verify (median of 2000)\n",
              static_cast<unsigned long long>(kN), m, Median(check_us));
  std::printf("target < 1000 us: %s\n", Verdict(m < 1000.0));
  all_ok &= m < 1000.0;

  log.reset();
  RemoveLog(env, big);
  ::rmdir(base.c_str());
  std::printf("%s\n", all_ok ? "ALL TARGETS MET" : "SOME TARGETS MISSED");
  return all_ok ? 0 : 1;
}
