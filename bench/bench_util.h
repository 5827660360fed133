// Helpers shared by the benchmark programs in bench/ (header-only; benchmarks are not a library): test data
// randomness, medians, temporary directories, running the baseline tools (sqlite3) and saying how busy and
// what kind of machine and disk a figure was measured on.
#ifndef VEIL_BENCH_BENCH_UTIL_H_
#define VEIL_BENCH_BENCH_UTIL_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/test_util.h"

extern char** environ;

namespace veil::bench {

using Clock = std::chrono::steady_clock;

// The value, or exit(1) after printing "what: error" (benchmarks stop at the first failure).
template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(v.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(v);
}
inline void OrDie(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
    std::exit(1);
  }
}

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread, in seconds: printed beside wall time, it shows how much of a figure the
// shared machine's other jobs took.
inline double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// splitmix64 for benchmark data (veil/base/test_util.h; not privacy randomness, DESIGN.md 5.6).
using DataRandom = ::veil::base::testing::DataRandom;

// Appends v in decimal, left-padded with zeros to `width` digits.
inline void AppendPadded(std::string* out, uint64_t v, int width) {
  std::string digits = std::to_string(v);
  if (static_cast<int>(digits.size()) < width) out->append(width - digits.size(), '0');
  out->append(digits);
}

// The median (the mean of the two middle values for an even count). `v` must not be empty.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "0.123 0.456 ..." with `decimals` digits after the point: the individual runs behind a median.
inline std::string Join(const std::vector<double>& v, int decimals = 3) {
  std::string out;
  for (double x : v) absl::StrAppend(&out, out.empty() ? "" : " ", absl::StrFormat("%.*f", decimals, x));
  return out;
}

// Creates a new directory `<parent>/<prefix>_XXXXXX` (parent: $TMPDIR or /tmp when empty) and returns its
// path, or "" (after printing why) if it cannot.
inline std::string MakeTempDir(const std::string& prefix, const std::string& parent = "") {
  const std::filesystem::path base =
      parent.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(parent);
  std::string dir = (base / (prefix + "_XXXXXX")).string();
  if (::mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s failed: %s\n", dir.c_str(), std::strerror(errno));
    return "";
  }
  return dir;
}

// Runs argv (looked up in PATH) with stdout and stderr sent to /dev/null (or kept, for `show_output`) and
// waits for it; returns its exit status, or -1 if it could not start or did not exit normally.
inline int Run(const std::vector<std::string>& args, bool show_output = false) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!show_output) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The first line of the file at `path` without its line break, or "" if it cannot be read.
inline std::string FirstLine(const std::string& path) {
  std::string line;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[256] = {};
    if (std::fgets(buf, sizeof(buf), f) != nullptr) line = buf;
    std::fclose(f);
  }
  return line.substr(0, line.find_first_of("\r\n"));
}

// Prints "machine: N hardware threads, load average ...": other work on the machine skews the figures.
inline void PrintMachine() {
  const std::string load = FirstLine("/proc/loadavg");
  if (!load.empty()) {
    std::printf("machine: %u hardware threads, load average %s\n", std::thread::hardware_concurrency(),
                load.c_str());
  }
}

// The kind of file system `path` is on ("ext4", "tmpfs", ...): an fsync on tmpfs costs nothing, so a
// durability figure measured there means little.
inline std::string FileSystemType(const std::string& path) {
  struct statfs s;
  if (::statfs(path.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrFormat("0x%x", static_cast<unsigned long>(s.f_type));
  }
}

}  // namespace veil::bench

#endif  // VEIL_BENCH_BENCH_UTIL_H_
