// ForwardingEnv: an Env that passes every call to another one, for Envs that change one thing and keep the
// rest (the tests' frozen clock in `veil`, a test's count of the files written, injected audit faults).
// Subclasses override what they change.
#ifndef VEIL_BASE_FORWARDING_ENV_H_
#define VEIL_BASE_FORWARDING_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "veil/base/env.h"

namespace veil::base {

class ForwardingEnv : public Env {
 public:
  // `target` must outlive this Env; `random` is this Env's random() (often target's).
  ForwardingEnv(Env& target, RandomSource& random) : Env(random), target_(target) {}

  absl::Time Now() override { return target_.Now(); }
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& p) override {
    return target_.NewSequentialFile(p);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return target_.NewWritableFile(p);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    return target_.NewAppendableFile(p);
  }
  bool FileExists(const std::string& p) override { return target_.FileExists(p); }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& p) override { return target_.GetFileSize(p); }
  absl::Status DeleteFile(const std::string& p) override { return target_.DeleteFile(p); }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    return target_.RenameFile(from, to);
  }
  absl::Status CreateDirs(const std::string& p) override { return target_.CreateDirs(p); }
  absl::Status DeleteDir(const std::string& p) override { return target_.DeleteDir(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& p) override {
    return target_.ListDir(p);
  }
  absl::Status SyncDir(const std::string& p) override { return target_.SyncDir(p); }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return target_.LockFile(p);
  }
  absl::StatusOr<std::unique_ptr<FileContents>> ReadWholeFile(const std::string& p) override {
    return target_.ReadWholeFile(p);
  }

 protected:
  Env& target() { return target_; }

 private:
  Env& target_;
};

}  // namespace veil::base

#endif  // VEIL_BASE_FORWARDING_ENV_H_
