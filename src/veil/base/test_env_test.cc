#include "veil/base/test_env.h"

#include <string>

#include "gtest/gtest.h"
#include "veil/base/test_util.h"

namespace veil::base::testing {
namespace {

class TestEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDirs("/ws").ok()); }

  void WriteUnsynced(const std::string& path, const std::string& data) {
    auto f = env_.NewWritableFile(path);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(data).ok());
  }

  ZeroRandom rng_;
  TestEnv env_{rng_};
};

TEST_F(TestEnvTest, DeleteDirAndDeleteRecursively) {
  ASSERT_TRUE(env_.CreateDirs("/ws/t/u").ok());
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/t/u/f", "F").ok());
  EXPECT_EQ(env_.DeleteDir("/ws/t/u").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(env_.DeleteDir("/ws/t").code(), absl::StatusCode::kFailedPrecondition) << "holds a directory";
  ASSERT_TRUE(env_.DeleteRecursively("/ws/t").ok());
  EXPECT_FALSE(env_.FileExists("/ws/t"));
  EXPECT_FALSE(env_.FileExists("/ws/t/u/f"));
  EXPECT_EQ(*env_.ListDir("/ws"), std::vector<std::string>{});
}

TEST_F(TestEnvTest, FrozenClock) {
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(env_.Now(), start);
  EXPECT_EQ(env_.Now(), start) << "time does not move by itself";
  env_.AdvanceClock(absl::Hours(48));
  EXPECT_EQ(env_.Now(), start + absl::Hours(48));
  env_.SetNow(absl::UnixEpoch());
  EXPECT_EQ(env_.Now(), absl::UnixEpoch());
}

TEST_F(TestEnvTest, FilesBehaveLikeAFilesystem) {
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/a", "alpha").ok());
  EXPECT_EQ(*env_.ReadFileToString("/ws/a"), "alpha");
  EXPECT_EQ(*env_.GetFileSize("/ws/a"), 5u);
  EXPECT_EQ(*env_.ListDir("/ws"), std::vector<std::string>{"a"});
  EXPECT_EQ(env_.NewSequentialFile("/ws/b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_.NewWritableFile("/nodir/x").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(env_.DeleteFile("/ws/a").ok());
  EXPECT_FALSE(env_.FileExists("/ws/a"));
}

TEST_F(TestEnvTest, WriteLimitActsAsDiskFull) {
  env_.SetWriteLimit(4);
  auto f = env_.NewWritableFile("/ws/big");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("ab").ok());
  absl::Status s = (*f)->Append("cdef");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(*env_.ReadFileToString("/ws/big"), "abcd") << "a full disk keeps what fit";
  env_.SetWriteLimit(std::nullopt);
  EXPECT_TRUE((*f)->Append("more").ok());
}

TEST_F(TestEnvTest, InjectedFailureHappensOnce) {
  env_.FailNextOperation(TestEnv::Op::kRename, absl::InternalError("injected"));
  ASSERT_FALSE(env_.WriteFileAtomically("/ws/a", "old").ok());
  EXPECT_FALSE(env_.FileExists("/ws/a")) << "a failed atomic write leaves no target";
  EXPECT_FALSE(env_.FileExists("/ws/a.tmp")) << "nor its temporary";
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/a", "new").ok());
  EXPECT_EQ(*env_.ReadFileToString("/ws/a"), "new");
}

TEST_F(TestEnvTest, CrashLosesUnsyncedData) {
  auto f = env_.NewWritableFile("/ws/log");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("durable;").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE(env_.SyncDir("/ws").ok());
  ASSERT_TRUE((*f)->Append("lost").ok());
  WriteUnsynced("/ws/never-synced", "x");
  EXPECT_EQ(*env_.ReadFileToString("/ws/log"), "durable;lost");

  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFileToString("/ws/log"), "durable;");
  EXPECT_FALSE(env_.FileExists("/ws/never-synced")) << "its directory entry was never made durable";
}

TEST_F(TestEnvTest, AtomicWriteSurvivesCrashWholeOrNotAtAll) {
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/meta", "version 1").ok());
  // A replacement that crashes before its rename is durable leaves the old content.
  WriteUnsynced("/ws/meta.tmp", "version 2 (half");
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFileToString("/ws/meta"), "version 1");
  // A completed replacement survives.
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/meta", "version 2").ok());
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFileToString("/ws/meta"), "version 2");
}

TEST_F(TestEnvTest, EveryInjectedFailureFailsAnAtomicWriteCleanly) {
  for (TestEnv::Op op : {TestEnv::Op::kOpenWrite, TestEnv::Op::kAppend, TestEnv::Op::kSync,
                         TestEnv::Op::kRename, TestEnv::Op::kSyncDir}) {
    ASSERT_TRUE(env_.WriteFileAtomically("/ws/f", "old").ok());
    env_.FailNextOperation(op, absl::InternalError("injected"));
    absl::Status s = env_.WriteFileAtomically("/ws/f", "new");
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << static_cast<int>(op);
    EXPECT_FALSE(env_.FileExists("/ws/f.tmp")) << static_cast<int>(op);
    // Before the rename the old content stays; a failed directory sync comes after it.
    EXPECT_EQ(*env_.ReadFileToString("/ws/f"), op == TestEnv::Op::kSyncDir ? "new" : "old")
        << static_cast<int>(op);
  }
}

TEST_F(TestEnvTest, TornWriteKeepsAPrefixOfUnsyncedData) {
  auto f = env_.NewWritableFile("/ws/log");
  ASSERT_TRUE((*f)->Append("rec1;").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE(env_.SyncDir("/ws").ok());
  ASSERT_TRUE((*f)->Append("rec2;rec3;").ok());
  env_.SimulateCrash(/*keep_unsynced_bytes=*/7);
  EXPECT_EQ(*env_.ReadFileToString("/ws/log"), "rec1;rec2;re");
  EXPECT_EQ((*f)->Append("x").code(), absl::StatusCode::kFailedPrecondition) << "the crash killed the writer";
  EXPECT_EQ((*f)->Sync().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TestEnvTest, TruncationIsDurableAtOnce) {
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/meta", "version 1").ok());
  WriteUnsynced("/ws/meta", "version 2, rewritten in place without sync");
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFileToString("/ws/meta"), "") << "rewriting in place can lose both versions";
}

TEST_F(TestEnvTest, FileLockIsExclusiveUntilReleased) {
  auto held = env_.LockFile("/ws/LOCK");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(env_.LockFile("/ws/LOCK").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(env_.LockFile("/ws/OTHER").ok());
  held->reset();
  EXPECT_TRUE(env_.LockFile("/ws/LOCK").ok());
  EXPECT_EQ(env_.LockFile("/missing/LOCK").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TestEnvTest, RenameWithoutDirSyncIsUndoneByCrash) {
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/a", "A").ok());
  ASSERT_TRUE(env_.RenameFile("/ws/a", "/ws/b").ok());
  EXPECT_TRUE(env_.FileExists("/ws/b"));
  env_.SimulateCrash();
  EXPECT_TRUE(env_.FileExists("/ws/a"));
  EXPECT_FALSE(env_.FileExists("/ws/b"));
}

}  // namespace
}  // namespace veil::base::testing
