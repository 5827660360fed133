// Shared plumbing of the `veil` end-to-end tests (veil_cli_test.cc, pii_cli_test.cc, ...): run the binary
// under test (VEIL_BINARY, set by CMake) with stdout and stderr captured, in a per-test temporary directory
// with its own workspace. Tests run from the repository root.
#ifndef VEIL_TOOLS_VEIL_CLI_TEST_UTIL_H_
#define VEIL_TOOLS_VEIL_CLI_TEST_UTIL_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#ifndef VEIL_BINARY
#error "VEIL_BINARY must be defined by the build"
#endif

namespace veil::cli::testing {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline constexpr char kPatients[] = "examples/data/patients.csv";  // 300 patients, subject column patient_id

// Single-quotes `s` for the shell.
inline std::string Q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Parses stdout as the one JSON document a --json command prints (a parse failure fails the test).
inline nlohmann::json ParseJson(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    ADD_FAILURE() << "not one JSON document:\n" << text;
    return nlohmann::json::object();
  }
  return doc;
}

inline bool IsLowerHex(const nlohmann::json& v, size_t digits) {
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class VeilCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("veil_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ws_ = dir_ / "ws";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `veil ARGS` with stdout and stderr captured. ARGS is passed to the shell as written. Stdout goes to
  // `stdout_path` instead when one is given.
  Result Veil(const std::string& args, const std::string& stdout_path = "") {
    return Run("", args, stdout_path);
  }

  // Runs `veil ARGS` on the test's own workspace (VEIL_WORKSPACE) as `actor` (VEIL_ACTOR), with
  // VEIL_PASSPHRASE set to `passphrase`, or unset whatever the caller's environment holds.
  Result Ws(const std::string& args, const std::string& actor = "alice",
            const std::optional<std::string>& passphrase = std::nullopt) {
    std::string env = "env -u VEIL_PASSPHRASE VEIL_WORKSPACE=" + Q(ws_.string()) + " VEIL_ACTOR=" + Q(actor);
    if (passphrase.has_value()) env += " VEIL_PASSPHRASE=" + Q(*passphrase);
    return Run(env + " ", args, "");
  }

  // `veil init` and `veil ingest` of patients.csv (subject column patient_id) for `purposes`.
  void InitWithPatients(const std::string& purposes = "--purpose care --purpose research") {
    Result init = Ws("init --quiet");
    ASSERT_EQ(init.exit_code, 0) << init.err;
    Result ingest = Ws("ingest " + std::string(kPatients) +
                       " --dataset patients --subject-column patient_id --quiet " + purposes);
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  }

  // `veil audit log --json` as the owner.
  nlohmann::json AuditLog() {
    Result r = Ws("--json audit log");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson(r.out);
  }
  uint64_t AuditSize() { return AuditLog().value("size", uint64_t{0}); }

  Result Run(const std::string& env, const std::string& args, const std::string& stdout_path) {
    const std::string out = stdout_path.empty() ? (dir_ / "stdout").string() : stdout_path;
    const std::string err = (dir_ / "stderr").string();
    const std::string cmd = env + VEIL_BINARY + " " + args + " >" + out + " 2>" + err + " </dev/null";
    const int status = std::system(cmd.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = stdout_path.empty() ? Slurp(out) : "";
    r.err = Slurp(err);
    return r;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
  std::filesystem::path ws_;  // the workspace of Ws(), dir_/ws (created by `veil init`)
};

}  // namespace veil::cli::testing

#endif  // VEIL_TOOLS_VEIL_CLI_TEST_UTIL_H_
