// Test helpers of veil::gov (header-only; included by tests, never by the library).
#ifndef VEIL_GOV_TEST_UTIL_H_
#define VEIL_GOV_TEST_UTIL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "veil/audit/audit_entry.h"
#include "veil/base/env.h"
#include "veil/base/forwarding_env.h"
#include "veil/gov/session.h"
#include "veil/table/csv_reader.h"

namespace veil::gov::testing {

// The instant y-m-d h:00:00 UTC (the tests' frozen clock and expected dates).
inline absl::Time UtcTime(int y, int m, int d, int h = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

// Every entry of `s`'s audit log (its actor must be allowed audit.read); empty, with a test failure, if not.
inline std::vector<audit::AuditEntry> AuditEntries(Session& s) {
  auto log = s.AuditLogFor(Operation::kAuditRead);
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return {};
  auto entries = (*log)->ReadEntries(0);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *std::move(entries) : std::vector<audit::AuditEntry>{};
}

// The first column (the subject ids, as text) of what an export of `dataset` for `purpose` releases.
inline std::vector<std::string> ExportedSubjectIds(Session& s, const std::string& dataset,
                                                   const std::string& purpose) {
  auto r = s.Export(dataset, purpose);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  auto t = table::ReadCsvFromString(r->csv);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return {};
  std::vector<std::string> ids;
  for (int64_t i = 0; i < t->num_rows(); ++i) ids.push_back(t->FormatValue(i, 0));
  return ids;
}

// Flips one bit in the middle of each vault file of `dataset` in the workspace at `dir` (what a damaged disk
// or a tampering hand does): every read of the dataset then fails its SHA-256 check with DataLoss.
inline void DamageVault(base::Env& env, const std::string& dir, const std::string& dataset) {
  const std::string vault = dir + "/vault/" + dataset;
  auto files = env.ListDir(vault);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_FALSE(files->empty()) << vault << " holds no vault file";
  for (const std::string& f : *files) {
    const std::string path = vault + "/" + f;
    auto bytes = env.ReadFileToString(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_FALSE(bytes->empty()) << path;
    (*bytes)[bytes->size() / 2] ^= 1;
    ASSERT_TRUE(env.WriteFileAtomically(path, *bytes).ok()) << path;
  }
}

// A small patients table (CSV, 4 rows of 3 subjects, identified by mrn) that the gov tests ingest.
inline constexpr char kPatients[] =
    "mrn,name,age,diagnosis\n"
    "MRN-1001,Alice Moreau,34,asthma\n"
    "MRN-1002,Bruno Keller,51,diabetes\n"
    "MRN-1001,Alice Moreau,35,asthma\n"
    "MRN-1003,Chloe Dubois,29,migraine\n";

// A POSIX Env whose writes to files under an "audit" directory can be made to fail, as a full disk would, and
// which can run a callback right after an audit file was synced: the moment an audit entry becomes durable
// (a test copies the workspace there to simulate a crash, or breaks the next step). Thread-safe.
class AuditFaultEnv final : public base::ForwardingEnv {
 public:
  explicit AuditFaultEnv(base::RandomSource& rng) : AuditFaultEnv(base::NewPosixEnv(rng), rng) {}
  std::atomic<bool> fail_audit_writes{false};

  // Runs `callback` once, after the next successful Sync of an audit file.
  void AfterNextAuditSync(std::function<void()> callback) {
    absl::MutexLock lock(&mu_);
    after_sync_ = std::move(callback);
  }

  // The clock: real, until a test freezes it (retention, deadlines, consent expiry).
  void SetNow(absl::Time t) {
    absl::MutexLock lock(&mu_);
    frozen_ = t;
  }
  void AdvanceClock(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    frozen_ = frozen_.value_or(real_->Now()) + d;
  }
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return frozen_.has_value() ? *frozen_ : real_->Now();
  }
  // Files opened or mapped for reading under a workspace's vault/ directory: how often an operation reads
  // the vault.
  std::atomic<int> vault_file_reads{0};
  absl::StatusOr<std::unique_ptr<base::SequentialFile>> NewSequentialFile(const std::string& p) override {
    if (p.find("/vault/") != std::string::npos) ++vault_file_reads;
    return real_->NewSequentialFile(p);
  }
  absl::StatusOr<std::unique_ptr<base::FileContents>> ReadWholeFile(const std::string& p) override {
    if (p.find("/vault/") != std::string::npos) ++vault_file_reads;
    return real_->ReadWholeFile(p);
  }
  absl::StatusOr<std::unique_ptr<base::WritableFile>> NewWritableFile(const std::string& p) override {
    return Wrap(p, real_->NewWritableFile(p));
  }
  absl::StatusOr<std::unique_ptr<base::WritableFile>> NewAppendableFile(const std::string& p) override {
    return Wrap(p, real_->NewAppendableFile(p));
  }

 private:
  // The POSIX Env is made first and owned here; the base class forwards to it.
  AuditFaultEnv(std::unique_ptr<base::Env> real, base::RandomSource& rng)
      : base::ForwardingEnv(*real, rng), real_(std::move(real)) {}

  class File final : public base::WritableFile {
   public:
    File(std::unique_ptr<base::WritableFile> f, AuditFaultEnv* env) : f_(std::move(f)), env_(env) {}
    absl::Status Append(std::string_view data) override {
      if (env_->fail_audit_writes) return absl::ResourceExhaustedError("injected: disk full");
      return f_->Append(data);
    }
    absl::Status Sync() override {
      if (env_->fail_audit_writes) return absl::ResourceExhaustedError("injected: disk full");
      absl::Status s = f_->Sync();
      if (s.ok()) env_->RunAfterSync();
      return s;
    }
    absl::Status Close() override { return f_->Close(); }

   private:
    std::unique_ptr<base::WritableFile> f_;
    AuditFaultEnv* env_;
  };

  void RunAfterSync() {
    std::function<void()> callback;
    {
      absl::MutexLock lock(&mu_);
      callback = std::exchange(after_sync_, nullptr);
    }
    if (callback) callback();
  }

  absl::StatusOr<std::unique_ptr<base::WritableFile>> Wrap(
      const std::string& path, absl::StatusOr<std::unique_ptr<base::WritableFile>> f) {
    if (!f.ok() || path.find("/audit/") == std::string::npos) return f;
    return std::unique_ptr<base::WritableFile>(new File(*std::move(f), this));
  }

  std::unique_ptr<base::Env> real_;
  absl::Mutex mu_;
  std::function<void()> after_sync_;
  std::optional<absl::Time> frozen_;
};

}  // namespace veil::gov::testing

#endif  // VEIL_GOV_TEST_UTIL_H_
