#include "veil/base/test_env.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"

namespace veil::base::testing {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

class TestSequentialFile final : public SequentialFile {
 public:
  // Reads a snapshot taken at open time, as a POSIX reader of a file that is replaced by rename would.
  explicit TestSequentialFile(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(std::span<char> buf) override {
    const size_t n = std::min(buf.size(), data_.size() - pos_);
    if (n != 0) std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const std::string data_;
  size_t pos_ = 0;
};

class TestWritableFile final : public WritableFile {
 public:
  TestWritableFile(TestEnv& env, std::string path, std::shared_ptr<TestEnv::Node> node, uint64_t generation)
      : env_(env), path_(std::move(path)), node_(std::move(node)), generation_(generation) {}
  absl::Status Append(std::string_view data) override {
    if (!node_) return absl::FailedPreconditionError(absl::StrCat("append to closed file ", path_));
    return env_.Append(node_, generation_, data);
  }
  absl::Status Sync() override {
    if (!node_) return absl::FailedPreconditionError(absl::StrCat("sync of closed file ", path_));
    return env_.Sync(node_, generation_);
  }
  absl::Status Close() override {
    if (!node_) return absl::FailedPreconditionError(absl::StrCat("close of closed file ", path_));
    node_.reset();
    return absl::OkStatus();
  }

 private:
  TestEnv& env_;
  const std::string path_;
  std::shared_ptr<TestEnv::Node> node_;
  const uint64_t generation_;
};

class TestFileLock final : public FileLock {
 public:
  TestFileLock(TestEnv& env, std::string path) : env_(env), path_(std::move(path)) {}
  ~TestFileLock() override {
    absl::MutexLock lock(&env_.mu_);
    env_.locked_.erase(path_);
  }

 private:
  TestEnv& env_;
  const std::string path_;
};

TestEnv::TestEnv(RandomSource& random)
    : Env(random), now_(absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone())) {
  dirs_["."] = true;
  dirs_["/"] = true;
}

void TestEnv::SetNow(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
}

void TestEnv::AdvanceClock(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

void TestEnv::SetWriteLimit(std::optional<uint64_t> bytes) {
  absl::MutexLock lock(&mu_);
  write_limit_ = bytes;
}

void TestEnv::FailNextOperation(Op op, absl::Status status) {
  absl::MutexLock lock(&mu_);
  injected_[op] = std::move(status);
}

void TestEnv::SimulateCrash(size_t keep_unsynced_bytes) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  live_ = durable_;
  for (auto& [path, node] : live_) {
    std::string survived = node->synced;
    // A torn write keeps a prefix of what was appended after the last sync (if the file was only appended
    // to).
    if (node->data.size() > node->synced.size() &&
        node->data.compare(0, node->synced.size(), node->synced) == 0) {
      survived.append(node->data, node->synced.size(), keep_unsynced_bytes);
    }
    node->data = survived;
    node->synced = std::move(survived);
  }
}

absl::Status TestEnv::CheckGeneration(uint64_t generation) {
  if (generation != generation_) {
    return absl::FailedPreconditionError("file handle was opened before a simulated crash");
  }
  return absl::OkStatus();
}

absl::Status TestEnv::TakeInjectedFailure(Op op) {
  auto it = injected_.find(op);
  if (it == injected_.end()) return absl::OkStatus();
  absl::Status s = std::move(it->second);
  injected_.erase(it);
  return s;
}

absl::Time TestEnv::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

absl::StatusOr<std::unique_ptr<SequentialFile>> TestEnv::NewSequentialFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeInjectedFailure(Op::kOpenRead); !s.ok()) return s;
  auto it = live_.find(path);
  if (it == live_.end())
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  return std::make_unique<TestSequentialFile>(it->second->data);
}

absl::StatusOr<std::unique_ptr<WritableFile>> TestEnv::NewWritableFile(const std::string& path) {
  return OpenForWrite(path, /*truncate=*/true);
}

absl::StatusOr<std::unique_ptr<WritableFile>> TestEnv::NewAppendableFile(const std::string& path) {
  return OpenForWrite(path, /*truncate=*/false);
}

absl::StatusOr<std::unique_ptr<WritableFile>> TestEnv::OpenForWrite(const std::string& path, bool truncate) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeInjectedFailure(Op::kOpenWrite); !s.ok()) return s;
  if (!dirs_.contains(Parent(path))) {
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  }
  if (dirs_.contains(path))
    return absl::InvalidArgumentError(absl::StrCat("open ", path, ": Is a directory"));
  std::shared_ptr<Node>& node = live_[path];
  if (!node) node = std::make_shared<Node>();
  if (truncate) {
    node->data.clear();
    node->synced.clear();  // pessimistic: the truncation reaches the disk before any new content does
  }
  return std::make_unique<TestWritableFile>(*this, path, node, generation_);
}

absl::Status TestEnv::Append(const std::shared_ptr<Node>& node, uint64_t generation, std::string_view data) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckGeneration(generation); !s.ok()) return s;
  if (absl::Status s = TakeInjectedFailure(Op::kAppend); !s.ok()) return s;
  if (write_limit_.has_value()) {
    if (data.size() > *write_limit_) {
      // A full disk accepts what fits, as write(2) would, then fails.
      node->data.append(data.substr(0, *write_limit_));
      write_limit_ = 0;
      return absl::UnavailableError("write: No space left on device (injected)");
    }
    *write_limit_ -= data.size();
  }
  node->data.append(data);
  return absl::OkStatus();
}

absl::Status TestEnv::Sync(const std::shared_ptr<Node>& node, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckGeneration(generation); !s.ok()) return s;
  if (absl::Status s = TakeInjectedFailure(Op::kSync); !s.ok()) return s;
  node->synced = node->data;
  return absl::OkStatus();
}

bool TestEnv::FileExists(const std::string& path) {
  absl::MutexLock lock(&mu_);
  return live_.contains(path) || dirs_.contains(path);
}

absl::StatusOr<uint64_t> TestEnv::GetFileSize(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(path);
  if (it == live_.end())
    return absl::NotFoundError(absl::StrCat("stat ", path, ": No such file or directory"));
  return it->second->data.size();
}

absl::Status TestEnv::DeleteFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeInjectedFailure(Op::kDelete); !s.ok()) return s;
  if (live_.erase(path) == 0) {
    return absl::NotFoundError(absl::StrCat("unlink ", path, ": No such file or directory"));
  }
  return absl::OkStatus();
}

absl::Status TestEnv::RenameFile(const std::string& from, const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeInjectedFailure(Op::kRename); !s.ok()) return s;
  auto it = live_.find(from);
  if (it == live_.end()) {
    return absl::NotFoundError(absl::StrCat("rename ", from, " -> ", to, ": No such file or directory"));
  }
  if (!dirs_.contains(Parent(to))) {
    return absl::NotFoundError(absl::StrCat("rename ", from, " -> ", to, ": No such file or directory"));
  }
  std::shared_ptr<Node> node = std::move(it->second);
  live_.erase(it);
  live_[to] = std::move(node);
  return absl::OkStatus();
}

absl::Status TestEnv::CreateDirs(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (path.empty()) return absl::InvalidArgumentError("CreateDirs: empty path");
  if (live_.contains(path))
    return absl::InvalidArgumentError(absl::StrCat("mkdir ", path, ": Not a directory"));
  // Directories are modelled as always durable: Veil creates them once, at setup.
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') dirs_[path.substr(0, pos)] = true;
  }
  return absl::OkStatus();
}

absl::Status TestEnv::DeleteDir(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (!dirs_.contains(path))
    return absl::NotFoundError(absl::StrCat("rmdir ", path, ": No such file or directory"));
  const std::string prefix = path + "/";
  auto inside = [&](const std::string& p) { return p.compare(0, prefix.size(), prefix) == 0; };
  for (const auto& [p, node] : live_)
    if (inside(p))
      return absl::FailedPreconditionError(absl::StrCat("rmdir ", path, ": Directory not empty"));
  for (const auto& [p, is_dir] : dirs_)
    if (inside(p))
      return absl::FailedPreconditionError(absl::StrCat("rmdir ", path, ": Directory not empty"));
  dirs_.erase(path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TestEnv::ListDir(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (!dirs_.contains(path))
    return absl::NotFoundError(absl::StrCat("opendir ", path, ": No such file or directory"));
  std::set<std::string> names;
  const std::string prefix = path == "/" ? "/" : path + "/";
  auto add_child = [&](const std::string& p) {
    if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0) {
      const std::string rest = p.substr(prefix.size());
      names.insert(rest.substr(0, rest.find('/')));
    }
  };
  for (const auto& [p, node] : live_) add_child(p);
  for (const auto& [p, is_dir] : dirs_) add_child(p);
  return std::vector<std::string>(names.begin(), names.end());
}

absl::Status TestEnv::SyncDir(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeInjectedFailure(Op::kSyncDir); !s.ok()) return s;
  if (!dirs_.contains(path))
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  // The directory's entries become durable exactly as they are now.
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = Parent(it->first) == path ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [p, node] : live_) {
    if (Parent(p) == path) durable_[p] = node;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> TestEnv::LockFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (!dirs_.contains(Parent(path))) {
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  }
  if (!locked_.insert(path).second) {
    return absl::UnavailableError(absl::StrCat(path, " is locked: in use by another process"));
  }
  if (!live_.contains(path)) live_[path] = std::make_shared<Node>();
  return std::make_unique<TestFileLock>(*this, path);
}

}  // namespace veil::base::testing
