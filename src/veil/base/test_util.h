// Small helpers for tests (library veil_base_testing, linked by tests only).
#ifndef VEIL_BASE_TEST_UTIL_H_
#define VEIL_BASE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "veil/base/random.h"
#include "veil/base/splitmix.h"

namespace veil::base::testing {

// A new, empty directory under $TMPDIR (or /tmp), removed with everything in it when this object is
// destroyed. Aborts with a message if the directory cannot be created (the test machine is broken).
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& prefix = "veil_test");
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole content of the file at `path`, or "" if it cannot be read (a file that does not exist yet).
std::string FileContents(const std::string& path);

// A RandomSource that yields zeros: for tests of code that needs a source but not randomness. Anything whose
// behaviour depends on randomness uses crypto::testing::DeterministicRandom instead.
class ZeroRandom final : public RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t> out) override;
};

// A RandomSource whose every Fill fails with UnavailableError("entropy source unavailable"): for the paths
// that must pass a failing entropy source's error on instead of using unfilled bytes.
class FailingRandom final : public RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t> out) override;
};

// A fast deterministic generator for test and benchmark DATA (never privacy randomness, which comes only
// from a RandomSource, DESIGN.md 5.6). See veil/base/splitmix.h.
using DataRandom = ::veil::base::SplitMix64;

}  // namespace veil::base::testing

#endif  // VEIL_BASE_TEST_UTIL_H_
