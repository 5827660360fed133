// Env: Veil's one abstraction over the clock, the filesystem and randomness (after LevelDB's Env).
//
// Everything that touches time, files or randomness takes an Env, so that tests can freeze time (retention,
// deadlines), inject faults into the filesystem (disk full, a crash that loses unsynced data) and fix seeds.
//
// Implementations:
//   - NewPosixEnv(rng): the real clock and POSIX files. Production code uses veil::crypto::DefaultEnv(),
//     which is a process-wide PosixEnv wired to the OS CSPRNG.
//   - veil::base::testing::TestEnv (test_env.h, library veil_base_testing): frozen clock, in-memory files,
//     fault injection.
//
// Paths are plain UTF-8 strings. All methods are thread-safe unless stated otherwise; a single file object is
// not (use one per thread).
#ifndef VEIL_BASE_ENV_H_
#define VEIL_BASE_ENV_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "veil/base/random.h"

namespace veil::base {

// A file read front to back.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to buf.size() bytes into buf and returns how many were read; 0 means end of file.
  virtual absl::StatusOr<size_t> Read(std::span<char> buf) = 0;
};

// A file written front to back. Data is durable only after Sync() returned OK.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  // Flushes to the OS and then to stable storage (fdatasync).
  virtual absl::Status Sync() = 0;
  // Closes the file; further calls fail. The destructor closes an open file but ignores errors.
  virtual absl::Status Close() = 0;
};

// A whole file's bytes, read-only, valid while this object lives (Env::ReadWholeFile).
class FileContents {
 public:
  virtual ~FileContents() = default;
  virtual std::span<const uint8_t> bytes() const = 0;
};

// An exclusive lock on a file, held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  explicit Env(RandomSource& random) : random_(random) {}
  virtual ~Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // --- Clock ---
  virtual absl::Time Now() = 0;

  // --- Files ---
  // Errors: NotFound if the file does not exist; other errors carry the path and the OS reason.
  virtual absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;
  // Creates or truncates `path`.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Creates `path` or opens it for appending at its end.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> GetFileSize(const std::string& path) = 0;
  virtual absl::Status DeleteFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2) semantics).
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Creates the directory and any missing parents; OK if it already exists.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Removes an empty directory. Errors: NotFound; FailedPrecondition if it is not empty.
  virtual absl::Status DeleteDir(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, sorted, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // Makes a directory's entries (creations, renames) durable. A new file's existence, unlike its content
  // (WritableFile::Sync), survives a crash only after SyncDir of its directory. CreateDirs syncs the
  // directories it creates.
  virtual absl::Status SyncDir(const std::string& path) = 0;

  // Takes an exclusive advisory lock on `path` (created, mode 0600, if missing) for the life of the returned
  // object, so that two processes, or two users of one Env, cannot both open the same workspace or log for
  // writing. Does not wait. Errors: Unavailable if someone else holds the lock.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // The whole file, read-only, for reading large files once (the vault's). This default reads it into memory
  // with ReadFileToString; the POSIX Env maps it instead (no copy and no fresh memory: the pages are the
  // page cache's), and reads it where the file system cannot map files. A mapped file must not be truncated
  // in place while its contents are in use, and an I/O error of the disk under it surfaces when a page is
  // touched: either ends the process with SIGBUS instead of returning an error. Veil never truncates in
  // place: vault files get new names (the old ones are unlinked) and other files are replaced by renaming a
  // new one over them, which leaves a mapping of the old one intact. An Env that watches reads through
  // NewSequentialFile must override this too (ForwardingEnv forwards it to its target). Errors: as
  // NewSequentialFile.
  virtual absl::StatusOr<std::unique_ptr<FileContents>> ReadWholeFile(const std::string& path);

  // --- Randomness ---
  RandomSource& random() { return random_; }

  // --- Helpers built on the primitives above (non-virtual, so every Env behaves alike) ---
  absl::StatusOr<std::string> ReadFileToString(const std::string& path);
  // Writes `data` to `path` so that a reader (or a crash) sees either the old content or all of the new one:
  // write to a temporary file beside it (`path`.tmp), sync, rename over `path`, sync the directory.
  // Callers must serialise writes to the same path (they share the temporary file).
  absl::Status WriteFileAtomically(const std::string& path, std::string_view data);
  // Deletes `path` and, if it is a directory, everything below it. OK if `path` does not exist.
  absl::Status DeleteRecursively(const std::string& path);

 private:
  RandomSource& random_;
};

// The real clock and POSIX filesystem, with randomness from `random`, which must outlive the Env.
std::unique_ptr<Env> NewPosixEnv(RandomSource& random);

}  // namespace veil::base

#endif  // VEIL_BASE_ENV_H_
