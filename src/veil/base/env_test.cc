// Tests of the POSIX Env against a real temporary directory.
#include "veil/base/env.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "veil/base/test_util.h"

namespace veil::base {
namespace {

// Randomness is not exercised here; a fixed source keeps base's tests free of a crypto dependency.
using testing::ZeroRandom;

class PosixEnvTest : public ::testing::Test {
 protected:
  testing::ScopedTempDir tmp_{"veil_env_test"};
  const std::string dir_ = tmp_.path();
  ZeroRandom rng_;
  std::unique_ptr<Env> env_ = NewPosixEnv(rng_);
};

TEST_F(PosixEnvTest, WriteReadRoundTrip) {
  const std::string path = dir_ + "/a.txt";
  ASSERT_TRUE(env_->WriteFileAtomically(path, "hello\nworld").ok());
  EXPECT_TRUE(env_->FileExists(path));
  EXPECT_FALSE(env_->FileExists(path + ".tmp"));
  EXPECT_EQ(*env_->GetFileSize(path), 11u);
  EXPECT_EQ(*env_->ReadFileToString(path), "hello\nworld");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "files Veil writes are readable by their owner only";
}

// ReadFileToString sizes its buffer from the file's size, and ReadWholeFile maps the file: both must give
// every byte of a file larger than one read, of an empty file, and of a file whose size stat does not know
// (a /proc file says 0), and both fail with NotFound naming the path of a missing one.
TEST_F(PosixEnvTest, WholeFileReadsOfEverySize) {
  std::string big(3 * 65536 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  const std::string big_path = dir_ + "/big", empty_path = dir_ + "/empty";
  ASSERT_TRUE(env_->WriteFileAtomically(big_path, big).ok());
  ASSERT_TRUE(env_->WriteFileAtomically(empty_path, "").ok());
  EXPECT_EQ(*env_->ReadFileToString(big_path), big);
  EXPECT_EQ(*env_->ReadFileToString(empty_path), "");
  const auto whole = [&](const std::string& path) {
    absl::StatusOr<std::unique_ptr<FileContents>> c = env_->ReadWholeFile(path);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return std::string("<error>");
    return std::string(reinterpret_cast<const char*>((*c)->bytes().data()), (*c)->bytes().size());
  };
  EXPECT_EQ(whole(big_path), big);
  EXPECT_EQ(whole(empty_path), "");
  // The mapping is of the file that was opened: replacing the file by renaming does not change it.
  {
    absl::StatusOr<std::unique_ptr<FileContents>> c = env_->ReadWholeFile(big_path);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(env_->WriteFileAtomically(big_path, "new").ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>((*c)->bytes().data()), (*c)->bytes().size()), big);
  }
  const std::string proc = *env_->ReadFileToString("/proc/self/status");
  EXPECT_EQ(*env_->GetFileSize("/proc/self/status"), 0u);
  EXPECT_NE(proc.find("Name:"), std::string::npos);
  EXPECT_NE(whole("/proc/self/status").find("Name:"), std::string::npos);
  const std::string missing = dir_ + "/none";
  EXPECT_EQ(env_->ReadFileToString(missing).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::unique_ptr<FileContents>> c = env_->ReadWholeFile(missing);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find(missing), std::string::npos) << c.status();
}

TEST_F(PosixEnvTest, AppendableFileAppends) {
  const std::string path = dir_ + "/log";
  for (const char* part : {"one,", "two"}) {
    auto file = env_->NewAppendableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(part).ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Close().ok());
    EXPECT_FALSE((*file)->Append("x").ok()) << "a closed file refuses writes";
  }
  EXPECT_EQ(*env_->ReadFileToString(path), "one,two");
}

TEST_F(PosixEnvTest, ErrorsNameThePathAndUseCanonicalCodes) {
  auto missing = env_->NewSequentialFile(dir_ + "/nope.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.csv"), std::string::npos);

  auto dir_as_file = env_->NewSequentialFile(dir_);
  EXPECT_EQ(dir_as_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env_->DeleteFile(dir_ + "/nope").code(), absl::StatusCode::kNotFound);
}

TEST_F(PosixEnvTest, FileLockIsExclusiveAcrossOpensAndProcesses) {
  const std::string path = dir_ + "/LOCK";
  auto held = env_->LockFile(path);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(env_->LockFile(path).status().code(), absl::StatusCode::kUnavailable)
      << "second holder, same process";

  // Another process is refused too.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ZeroRandom rng;
    auto env = NewPosixEnv(rng);
    ::_exit(env->LockFile(path).status().code() == absl::StatusCode::kUnavailable ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the other process must not get the lock";

  held->reset();  // release
  EXPECT_TRUE(env_->LockFile(path).ok()) << "free again once released";
}

TEST_F(PosixEnvTest, DirectoriesAndRename) {
  ASSERT_TRUE(env_->CreateDirs(dir_ + "/x/y/z").ok());
  ASSERT_TRUE(env_->CreateDirs(dir_ + "/x/y/z").ok()) << "idempotent";
  ASSERT_TRUE(env_->WriteFileAtomically(dir_ + "/x/b", "B").ok());
  ASSERT_TRUE(env_->RenameFile(dir_ + "/x/b", dir_ + "/x/c").ok());
  EXPECT_EQ(*env_->ListDir(dir_ + "/x"), (std::vector<std::string>{"c", "y"}));
  ASSERT_TRUE(env_->SyncDir(dir_ + "/x").ok());
  EXPECT_FALSE(env_->CreateDirs(dir_ + "/x/c").ok()) << "a file is in the way";
}

TEST_F(PosixEnvTest, DeleteDirAndDeleteRecursively) {
  ASSERT_TRUE(env_->CreateDirs(dir_ + "/t/u/v").ok());
  ASSERT_TRUE(env_->WriteFileAtomically(dir_ + "/t/u/f", "F").ok());
  ASSERT_TRUE(env_->WriteFileAtomically(dir_ + "/t/g", "G").ok());
  EXPECT_EQ(env_->DeleteDir(dir_ + "/t/u").code(), absl::StatusCode::kFailedPrecondition) << "not empty";
  EXPECT_TRUE(env_->DeleteDir(dir_ + "/t/u/v").ok());
  EXPECT_EQ(env_->DeleteDir(dir_ + "/t/u/v").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(env_->DeleteRecursively(dir_ + "/t").ok());
  EXPECT_FALSE(env_->FileExists(dir_ + "/t"));
  EXPECT_TRUE(env_->DeleteRecursively(dir_ + "/t").ok()) << "nothing there is fine";
  ASSERT_TRUE(env_->WriteFileAtomically(dir_ + "/lone", "L").ok());
  EXPECT_TRUE(env_->DeleteRecursively(dir_ + "/lone").ok()) << "a plain file";
  EXPECT_FALSE(env_->FileExists(dir_ + "/lone"));
}

}  // namespace
}  // namespace veil::base
