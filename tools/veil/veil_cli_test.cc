// End-to-end tests of the `veil` command as a user runs it: output, JSON, exit codes and error messages.
// The binary under test is VEIL_BINARY (set by CMake); tests run from the repository root.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class VeilCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("veil_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `veil ARGS` with stdout and stderr captured. ARGS is passed to the shell as written. Stdout goes to
  // `stdout_path` instead when one is given.
  Result Veil(const std::string& args, const std::string& stdout_path = "") {
    const std::string out = stdout_path.empty() ? (dir_ / "stdout").string() : stdout_path;
    const std::string err = (dir_ / "stderr").string();
    const std::string cmd = std::string(VEIL_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
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

  std::filesystem::path dir_;
};

TEST_F(VeilCliTest, VersionAndHelp) {
  Result v = Veil("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("veil 0."));

  Result h = Veil("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.out, HasSubstr("inspect"));
  EXPECT_THAT(h.out, HasSubstr("--workspace"));
  EXPECT_THAT(h.out, HasSubstr("Exit codes"));
}

TEST_F(VeilCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Veil("").exit_code, 2) << "a command is required";
  EXPECT_EQ(Veil("no-such-command").exit_code, 2);
  EXPECT_EQ(Veil("inspect").exit_code, 2) << "inspect needs a file";
  EXPECT_EQ(Veil("inspect examples/data/patients.csv --top nope").exit_code, 2);
}

TEST_F(VeilCliTest, InspectPrintsSchemaAndStatistics) {
  Result r = Veil("inspect examples/data/patients.csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("300 rows"));
  EXPECT_THAT(r.out, HasSubstr("15 columns"));
  EXPECT_THAT(r.out, HasSubstr("birth_date"));
  EXPECT_THAT(r.out, HasSubstr("date"));
  EXPECT_THAT(r.out, HasSubstr("admitted_at"));
  EXPECT_THAT(r.out, HasSubstr("timestamp"));
  EXPECT_THAT(r.out, HasSubstr("length_of_stay"));
  EXPECT_THAT(r.out, HasSubstr("int64"));
}

TEST_F(VeilCliTest, InspectJsonOnAdult) {
  Result r = Veil("inspect ../shared/data/adult/adult.csv --json --top 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);  // exactly one JSON document on stdout
  EXPECT_EQ(doc["rows"], 48842);
  ASSERT_EQ(doc["columns"].size(), 15u);
  const nlohmann::json& age = doc["columns"][0];
  EXPECT_EQ(age["name"], "age");
  EXPECT_EQ(age["type"], "int64");
  EXPECT_EQ(age["nulls"], 0);
  EXPECT_EQ(age["min"], "17");
  EXPECT_EQ(age["max"], "90");
  EXPECT_EQ(age["top"].size(), 3u);
  // "?" marks a missing value in Adult: workclass has 2,799 of them (UCI's documentation).
  const nlohmann::json& workclass = doc["columns"][1];
  EXPECT_EQ(workclass["name"], "workclass");
  EXPECT_EQ(workclass["type"], "string");
  EXPECT_EQ(workclass["nulls"], 2799);
}

TEST_F(VeilCliTest, GlobalOptionsAfterTheCommand) {
  Result r = Veil("inspect examples/data/patients.csv --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"], 300);
}

TEST_F(VeilCliTest, TypeOverrideAndOptions) {
  const std::string path = WriteFile("semi.csv", "zip;score\n02134;NA\n10001;2.5\n");
  Result r = Veil("inspect " + path + " --delimiter ';' --null NA --type zip=int64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["columns"][0]["type"], "int64");
  EXPECT_EQ(doc["columns"][1]["type"], "double");
  EXPECT_EQ(doc["columns"][1]["nulls"], 1);

  EXPECT_EQ(Veil("inspect " + path + " --type zip=integer").exit_code, 2) << "unknown type name";
  EXPECT_EQ(Veil("inspect " + path + " --type nosuchcolumn=int64").exit_code, 2);
}

TEST_F(VeilCliTest, BadInputNamesFileLineAndColumn) {
  const std::string path = WriteFile("bad.csv", "id,age\n1,34\n2,forty-one\n");
  Result r = Veil("inspect " + path + " --type age=int64");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3:"));
  EXPECT_THAT(r.err, HasSubstr("column 2 (\"age\")"));
  EXPECT_THAT(r.out, Not(HasSubstr("rows")));

  const std::string unterminated = WriteFile("open.csv", "id,city\n1,\"Lyon\n2,Paris\n");
  Result u = Veil("inspect " + unterminated);
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_THAT(u.err, HasSubstr("open.csv:2:"));

  Result missing = Veil("inspect " + (dir_ / "nope.csv").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.csv"));
}

TEST_F(VeilCliTest, UsageErrorsAsJsonWithJsonFlag) {
  Result r = Veil("--json inspect");
  EXPECT_EQ(r.exit_code, 2);
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["error"]["exit_code"], 2);
  EXPECT_THAT(r.err, HasSubstr("veil: error:"));
}

TEST_F(VeilCliTest, FailedOutputIsNotSuccess) {
  Result r = Veil("inspect examples/data/patients.csv --json", "/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("writing the output failed"));
}

TEST_F(VeilCliTest, ErrorsAsJsonWithJsonFlag) {
  const std::string path = WriteFile("ragged.csv", "a,b\n1,2\n3\n");
  Result r = Veil("--json inspect " + path);
  EXPECT_EQ(r.exit_code, 2);
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(doc["error"]["exit_code"], 2);
  EXPECT_THAT(doc["error"]["message"].get<std::string>(), HasSubstr("ragged.csv:3:"));
}

}  // namespace
