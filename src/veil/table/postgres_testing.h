// Test-only: a GoogleTest fixture connected to the PostgreSQL server of the `veil_pg` CTest fixture
// (scripts/pg-test-server.sh, wired in src/veil/table/CMakeLists.txt), which CTest passes in the environment
// variable VEIL_PG_TEST_CONNINFO.
//
//   class MyPgTest : public veil::table::testing::PgServerTest {};
//   TEST_F(MyPgTest, Reads) { ASSERT_OK_AND_ASSIGN...(pg().Query("SELECT 1")); }
//
// Without the variable, or when the server cannot be reached, a test skips with the reason, except when the
// environment has CI=true: then it fails, so that CI never passes with the PostgreSQL tests silently skipped.
// To run a test binary by hand: scripts/pg-test-server.sh run /tmp/veil-pg-mine
// ./build/.../veil_table_pg_test
//
// Each test gets its own connection; tables it makes should be TEMPORARY (visible to that connection only and
// dropped with it), since CTest runs tests in parallel against the one server.
#ifndef VEIL_TABLE_POSTGRES_TESTING_H_
#define VEIL_TABLE_POSTGRES_TESTING_H_

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "veil/table/postgres_source.h"

namespace veil::table::testing {

inline constexpr char kPgConninfoVariable[] = "VEIL_PG_TEST_CONNINFO";

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

// The connection string of the test server, or empty.
inline std::string PgTestConninfo() {
  const char* value = std::getenv(kPgConninfoVariable);
  return value == nullptr ? std::string() : std::string(value);
}

class PgServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = PgTestConninfo();
    if (conninfo_.empty()) {
      const std::string reason =
          std::string(kPgConninfoVariable) +
          " is not set: no PostgreSQL test server (run the tests through ctest, which starts "
          "one, or under scripts/pg-test-server.sh run DIR CMD)";
      if (InCi()) {
        FAIL() << reason;
      } else {
        GTEST_SKIP() << reason;
      }
    }
    absl::StatusOr<PgConnection> connection = PgConnection::Connect(conninfo_);
    if (!connection.ok()) {
      const std::string reason =
          "the PostgreSQL test server is not reachable: " + std::string(connection.status().ToString());
      if (InCi()) {
        FAIL() << reason;
      } else {
        GTEST_SKIP() << reason;
      }
    }
    pg_.emplace(*std::move(connection));
  }

  PgConnection& pg() { return *pg_; }
  const std::string& conninfo() const { return conninfo_; }

 private:
  std::string conninfo_;
  std::optional<PgConnection> pg_;
};

}  // namespace veil::table::testing

#endif  // VEIL_TABLE_POSTGRES_TESTING_H_
