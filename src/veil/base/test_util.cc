#include "veil/base/test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace veil::base::testing {

ScopedTempDir::ScopedTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("ScopedTempDir: mkdtemp " + tmpl).c_str());
    std::abort();
  }
  path_ = tmpl;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;  // best effort: a test's failure must not become a crash in cleanup
  std::filesystem::remove_all(path_, ignored);
}

std::string FileContents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

absl::Status ZeroRandom::Fill(std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  return absl::OkStatus();
}

absl::Status FailingRandom::Fill(std::span<uint8_t>) {
  return absl::UnavailableError("entropy source unavailable");
}

}  // namespace veil::base::testing
