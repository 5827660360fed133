// Test helper for crash_test.cc: opens the audit log in argv[1] and appends from two threads in a tight loop,
// printing "<seq> <reason>" on stdout (flushed) for every acknowledged Append, until it is killed.
// The reason "t<thread>-<n>" lets the test check each acknowledged entry's content after the crash.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "veil/audit/audit_log.h"
#include "veil/audit/audit_test_util.h"
#include "veil/crypto/random.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<veil::audit::AuditLog>> log =
      veil::audit::AuditLog::Open(veil::crypto::DefaultEnv(), argv[1], veil::audit::testing::TestKey());
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  absl::Mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        veil::audit::AuditEntry e = veil::audit::testing::SampleEntry(i, absl::StrCat("t", t));
        e.reason = absl::StrCat("t", t, "-", i);
        absl::StatusOr<uint64_t> seq = (*log)->Append(e);
        if (!seq.ok()) {
          std::fprintf(stderr, "append: %s\n", std::string(seq.status().message()).c_str());
          std::_Exit(1);
        }
        absl::MutexLock lock(&out_mu);
        std::printf("%llu %s\n", static_cast<unsigned long long>(*seq), e.reason.c_str());
        std::fflush(stdout);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return 0;
}
