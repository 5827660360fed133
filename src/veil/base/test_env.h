// TestEnv: an Env for tests — a frozen clock, an in-memory filesystem and fault injection.
//
//   crypto::testing::DeterministicRandom rng(42);
//   base::testing::TestEnv env(rng);
//   env.SetNow(absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone()));
//   env.AdvanceClock(absl::Hours(24 * 31));          // retention deadlines
//   env.SetWriteLimit(1024);                          // "disk full" after 1 KiB more appended bytes
//   env.FailNextOperation(TestEnv::Op::kRename, absl::InternalError("injected"));
//   env.SimulateCrash();                              // unsynced data is lost, as after a power cut
//   env.SimulateCrash(/*keep_unsynced_bytes=*/5);     // ... or partly written: a torn tail
//
// Crash model (pessimistic, so that durability bugs show): Append() data becomes durable at
// WritableFile::Sync(); truncation (NewWritableFile of an existing file) is durable at once; a new file's
// existence, and a rename, become durable at SyncDir() of its directory. SimulateCrash() reverts every file
// to its durable state (removing files whose creation was never made durable, undoing renames not followed by
// SyncDir()), optionally keeping a prefix of each file's unsynced appends, and invalidates every file handle
// opened before it (their calls fail with FailedPrecondition, as a process killed by the crash would never
// make them). Directories are always durable.
//
// Linked only by tests (library veil_base_testing). Thread-safe.
#ifndef VEIL_BASE_TEST_ENV_H_
#define VEIL_BASE_TEST_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "veil/base/env.h"

namespace veil::base::testing {

class TestEnv final : public Env {
 public:
  enum class Op { kOpenRead, kOpenWrite, kAppend, kSync, kRename, kDelete, kSyncDir };

  // The clock starts at 2026-01-01T00:00:00Z.
  explicit TestEnv(RandomSource& random);

  // --- Clock control ---
  void SetNow(absl::Time t);
  void AdvanceClock(absl::Duration d);

  // --- Fault injection ---
  // After `bytes` more bytes have been appended in total, Append fails with Unavailable ("disk full"), as
  // the POSIX Env reports ENOSPC.
  // std::nullopt removes the limit.
  void SetWriteLimit(std::optional<uint64_t> bytes);
  // The next operation of kind `op` fails with `status` (once).
  void FailNextOperation(Op op, absl::Status status);
  // Loses everything not made durable (see the crash model above), except that up to `keep_unsynced_bytes`
  // of each file's unsynced appended data survive, as a torn write would leave them.
  void SimulateCrash(size_t keep_unsynced_bytes = 0);

  // --- Env ---
  absl::Time Now() override;
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override;
  absl::Status DeleteFile(const std::string& path) override;
  absl::Status RenameFile(const std::string& from, const std::string& to) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::Status DeleteDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  friend class TestWritableFile;
  friend class TestSequentialFile;
  friend class TestFileLock;
  // A file's content, shared by the names that refer to it (like an inode).
  struct Node {
    std::string data;    // what a reader sees now
    std::string synced;  // what survives a crash: the content at the last Sync()
  };

  // Returns the injected failure for `op`, if one is pending, and clears it.
  absl::Status TakeInjectedFailure(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path, bool truncate);
  absl::Status Append(const std::shared_ptr<Node>& node, uint64_t generation, std::string_view data);
  absl::Status Sync(const std::shared_ptr<Node>& node, uint64_t generation);
  absl::Status CheckGeneration(uint64_t generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // The namespace as a reader sees it now, and as it survives a crash (as of each directory's last SyncDir).
  std::map<std::string, std::shared_ptr<Node>> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Node>> durable_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> dirs_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> write_limit_ ABSL_GUARDED_BY(mu_);
  std::map<Op, absl::Status> injected_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // incremented by each SimulateCrash
  std::set<std::string> locked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace veil::base::testing

#endif  // VEIL_BASE_TEST_ENV_H_
