// The production Env: the system clock and POSIX file I/O.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/env.h"

namespace veil::base {
namespace {

// Maps errno to a canonical Status whose message names the operation and the path. PermissionDenied and
// ResourceExhausted are reserved for the gate and the privacy budget (DESIGN.md section 5.1), so a file the
// OS refuses is FailedPrecondition and a full disk is Unavailable.
absl::Status PosixError(const char* op, const std::string& path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::FailedPreconditionError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::UnavailableError(msg);
    case EISDIR:
    case ENOTDIR:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    // We read front to back in large blocks: let the kernel read ahead aggressively.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~PosixSequentialFile() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(std::span<char> buf) override {
    while (true) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return PosixError("read", path_, errno);
    }
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("append to closed file ", path_));
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("sync of closed file ", path_));
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync", path_, errno);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("close of closed file ", path_));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return PosixError("close", path_, errno);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  int fd_;
};

// flock(2) locks belong to the open file description: a second open of the same path, in this process or
// another, conflicts, and the kernel releases the lock if the process dies.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the lock

 private:
  const int fd_;
};

// A file mapped read-only. MAP_POPULATE sets up every page at once from the page cache, instead of one
// page fault per page as the bytes are first read.
class MappedFile final : public FileContents {
 public:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~MappedFile() override { ::munmap(addr_, size_); }
  std::span<const uint8_t> bytes() const override { return {static_cast<const uint8_t*>(addr_), size_}; }

 private:
  void* const addr_;
  const size_t size_;
};

class PosixEnv final : public Env {
 public:
  explicit PosixEnv(RandomSource& random) : Env(random) {}

  absl::Time Now() override { return absl::Now(); }

  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      return PosixError("open", path, EISDIR);
    }
    return std::make_unique<PosixSequentialFile>(path, fd);
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_TRUNC);
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_APPEND);
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return PosixError("rename", absl::StrCat(from, " -> ", to), errno);
    return absl::OkStatus();
  }

  absl::Status CreateDirs(const std::string& path) override {
    if (path.empty()) return absl::InvalidArgumentError("CreateDirs: empty path");
    // Create each prefix in turn; EEXIST on a prefix that is a directory is fine. A directory we create is
    // made durable in its parent at once, so that files later synced inside it cannot vanish with it.
    for (size_t pos = 1; pos <= path.size(); ++pos) {
      if (pos != path.size() && path[pos] != '/') continue;
      const std::string prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0700) == 0) {
        const size_t slash = prefix.find_last_of('/');
        const std::string parent =
            slash == std::string::npos ? "." : (slash == 0 ? "/" : prefix.substr(0, slash));
        if (absl::Status s = SyncDir(parent); !s.ok()) return s;
      } else if (errno != EEXIST) {
        return PosixError("mkdir", prefix, errno);
      }
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    if (!S_ISDIR(st.st_mode)) return PosixError("mkdir", path, ENOTDIR);
    return absl::OkStatus();
  }

  absl::Status DeleteDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) {
      const int err = errno;
      if (err == ENOTEMPTY || err == EEXIST)
        return absl::FailedPreconditionError(absl::StrCat("rmdir ", path, ": Directory not empty"));
      return PosixError("rmdir", path, err);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return PosixError("opendir", path, errno);
    std::vector<std::string> names;
    while (true) {
      errno = 0;  // readdir returns nullptr both at the end and on error; only errno tells them apart
      struct dirent* entry = ::readdir(dir);
      if (entry == nullptr) break;
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    const int err = errno;
    ::closedir(dir);
    if (err != 0) return PosixError("readdir", path, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError("open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        return absl::UnavailableError(absl::StrCat(path, " is locked: in use by another process"));
      return PosixError("flock", path, err);
    }
    return std::make_unique<PosixFileLock>(fd);
  }

  absl::StatusOr<std::unique_ptr<FileContents>> ReadWholeFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return PosixError("fstat", path, err);
    }
    // An empty file cannot be mapped, and a pipe or device has no size to map: read those.
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
      ::close(fd);
      return Env::ReadWholeFile(path);
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file open
    // A file system that cannot map files (some FUSE ones) can still be read.
    if (addr == MAP_FAILED && (err == ENODEV || err == EINVAL)) return Env::ReadWholeFile(path);
    if (addr == MAP_FAILED) return PosixError("mmap", path, err);
    return std::make_unique<MappedFile>(addr, size);
  }

  absl::Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError("fsync", path, err);
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::unique_ptr<WritableFile>> Open(const std::string& path, int flags) {
    // 0600: everything Veil writes may hold personal data or keys; only the owner reads it.
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError("open", path, errno);
    return std::make_unique<PosixWritableFile>(path, fd);
  }
};

}  // namespace

std::unique_ptr<Env> NewPosixEnv(RandomSource& random) { return std::make_unique<PosixEnv>(random); }

}  // namespace veil::base
