// The crash test of issue 3: a real process appends to a real directory from two threads and is killed
// with SIGKILL mid-burst; every Append it acknowledged (printed) must be in the reopened log, and Verify
// must pass.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "veil/audit/audit_log.h"
#include "veil/audit/audit_test_util.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"

extern char** environ;

namespace veil::audit {
namespace {

// Runs the helper until it has been appending for `run_for` (or it dies), kills it with SIGKILL, and returns
// the acknowledged seq -> reason lines.
std::map<uint64_t, std::string> RunAndKill(const std::string& dir, std::chrono::milliseconds run_for) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string helper = VEIL_AUDIT_CRASH_HELPER;
  std::vector<char*> argv = {helper.data(), const_cast<char*>(dir.c_str()), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(::posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);

  std::string out;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    if (n == 0) break;  // the helper exited (it should not)
    if (n < 0) ::usleep(1000);
  }
  ::kill(pid, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  // Whatever it printed before dying was acknowledged too.
  ::fcntl(fds[0], F_SETFL, 0);
  while (true) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "helper did not run until killed";

  std::map<uint64_t, std::string> acked;
  // Only complete lines: a line cut by the kill was still acknowledged, but we cannot read it.
  const size_t end = out.rfind('\n');
  if (end == std::string::npos) return acked;
  for (absl::string_view line : absl::StrSplit(absl::string_view(out.data(), end), '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    uint64_t seq = 0;
    EXPECT_EQ(parts.size(), 2u) << line;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &seq)) continue;
    EXPECT_TRUE(acked.emplace(seq, parts[1]).second) << "seq acknowledged twice: " << seq;
  }
  return acked;
}

TEST(AuditCrashTest, KillDuringBurstLosesNoAcknowledgedEntry) {
  const base::testing::ScopedTempDir tmp("veil_audit_crash");  // removed at the end, unlike before
  const std::string& dir = tmp.path();
  base::Env& env = crypto::DefaultEnv();
  std::map<uint64_t, std::string> all_acked;
  for (int round = 0; round < 3; ++round) {
    std::map<uint64_t, std::string> acked = RunAndKill(dir, std::chrono::milliseconds(500));
    ASSERT_GT(acked.size(), 10u) << "round " << round;
    for (auto& [seq, reason] : acked) all_acked[seq] = reason;

    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(env, dir, testing::TestKey());
    ASSERT_TRUE(log.ok()) << log.status();
    const AuditLogRecovery& rec = (*log)->recovery();
    if (rec.torn_tail_bytes > 0) {
      std::printf("round %d: truncated a torn tail of %llu bytes at byte %llu (%s)\n", round,
                  static_cast<unsigned long long>(rec.torn_tail_bytes),
                  static_cast<unsigned long long>(rec.torn_tail_offset), rec.torn_tail_reason.c_str());
    }
    absl::StatusOr<std::vector<AuditEntry>> entries = (*log)->ReadEntries(0);
    ASSERT_TRUE(entries.ok()) << entries.status();
    std::printf("round %d: %zu acknowledged this round, %zu entries in the log\n", round, acked.size(),
                entries->size());
    for (const auto& [seq, reason] : all_acked) {
      ASSERT_LT(seq, entries->size()) << "acknowledged seq " << seq << " lost";
      EXPECT_EQ((*entries)[seq].reason, reason) << seq;
    }
    absl::StatusOr<AuditVerifyReport> v = (*log)->Verify();
    ASSERT_TRUE(v.ok()) << v.status();
    ASSERT_TRUE((*log)->Checkpoint().ok());
  }
  for (const char* f : {"audit.log", "checkpoints.log"}) (void)env.DeleteFile(absl::StrCat(dir, "/", f));
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace veil::audit
