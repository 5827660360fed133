// Small helpers for tests (library veil_base_testing, linked by tests only).
#ifndef VEIL_BASE_TEST_UTIL_H_
#define VEIL_BASE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "veil/base/random.h"

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

// splitmix64: a fast deterministic generator for test and benchmark DATA (never privacy randomness, which
// comes only from a RandomSource, DESIGN.md 5.6).
class DataRandom {
 public:
  explicit DataRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Slightly biased for n not a power of two, which does not matter for test data.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace veil::base::testing

#endif  // VEIL_BASE_TEST_UTIL_H_
