#include "veil/store/sqlite.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "veil/base/status_macros.h"
#include "veil/base/test_util.h"

namespace veil::store {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  base::testing::ScopedTempDir tmp_{"veil_sqlite_test"};
  const std::string dir_ = tmp_.path();
  const std::string path_ = tmp_.File("meta.db");
};

const Migration kMigrations[] = {
    {"people", "CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, photo BLOB);"},
    {"visits",
     "CREATE TABLE visit(id INTEGER PRIMARY KEY, person INTEGER NOT NULL REFERENCES person(id), at TEXT);"},
};

TEST_F(SqliteTest, CreatesOwnerOnlyFileAndMigrates) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*db->UserVersion(), 0);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  EXPECT_EQ(*db->UserVersion(), 2);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok()) << "applying again is a no-op";
  EXPECT_EQ(*db->UserVersion(), 2);
  EXPECT_TRUE(db->CheckIntegrity().ok());
}

TEST_F(SqliteTest, RefusesASchemaNewerThanItKnows) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  absl::Status s = ApplyMigrations(*db, std::span<const Migration>(kMigrations, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("upgrade Veil"), std::string_view::npos);
}

TEST_F(SqliteTest, AFailedMigrationLeavesTheLastWholeVersion) {
  const Migration broken[] = {kMigrations[0], {"bad", "CREATE TABLE t(x); CREATE TABLE oops syntax error;"}};
  auto db = Database::Open(path_);
  absl::Status s = ApplyMigrations(*db, broken);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("schema migration 2 (bad)"), std::string_view::npos) << s;
  EXPECT_EQ(*db->UserVersion(), 1);
  EXPECT_FALSE(db->Prepare("SELECT * FROM t").ok()) << "the half-applied step was rolled back";
}

TEST_F(SqliteTest, BoundValuesAreDataNotSql) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  const std::string hostile = "Robert'); DROP TABLE person; --";
  auto insert = db->Prepare("INSERT INTO person(name, photo) VALUES (?1, ?2)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, hostile).ok());
  const std::vector<uint8_t> photo = {0, 1, 2, 255};
  ASSERT_TRUE(insert->BindBlob(2, photo).ok());
  ASSERT_TRUE(insert->Run().ok());
  EXPECT_EQ(db->changes(), 1);

  auto select = db->Prepare("SELECT name, photo FROM person WHERE id = ?1");
  ASSERT_TRUE(select->Bind(1, db->last_insert_rowid()).ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnText(0), hostile);
  EXPECT_EQ(select->ColumnBlob(1), photo);
  EXPECT_FALSE(*select->Step());
}

// Batch code prepares a statement once and reruns it: Reset keeps the bindings (so a parameter common to
// the batch is bound once), ClearBindings turns them all to NULL.
TEST_F(SqliteTest, AResetStatementRunsAgainWithItsBindings) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  auto insert = db->Prepare("INSERT INTO person(name, photo) VALUES (?1, ?2)");
  ASSERT_TRUE(insert.ok());
  const std::vector<uint8_t> photo = {7, 7};
  ASSERT_TRUE(insert->BindBlob(2, photo).ok());
  for (const char* name : {"ann", "ben"}) {
    ASSERT_TRUE(insert->Bind(1, name).ok());
    ASSERT_TRUE(insert->Run().ok());
    ASSERT_TRUE(insert->Reset().ok());
  }
  insert->ClearBindings();
  EXPECT_EQ(insert->Run().code(), absl::StatusCode::kFailedPrecondition) << "name is NULL: NOT NULL fails";

  auto select = db->Prepare("SELECT name FROM person WHERE photo = ?1 ORDER BY id");
  ASSERT_TRUE(select->BindBlob(1, photo).ok());
  std::vector<std::string> names;
  for (int pass = 0; pass < 2; ++pass) {
    while (*select->Step()) names.push_back(select->ColumnText(0));
    ASSERT_TRUE(select->Reset().ok());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ann", "ben", "ann", "ben"}));
}

TEST_F(SqliteTest, EmptyTextStaysTextAndNegativeVersionIsDataLoss) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  auto ins = db->Prepare("INSERT INTO person(name) VALUES (?1)");
  ASSERT_TRUE(ins->Bind(1, std::string_view()).ok());
  ASSERT_TRUE(ins->Run().ok()) << "NOT NULL holds: an empty view is the empty string, not NULL";
  auto sel = db->Prepare("SELECT name IS NULL, length(name) FROM person");
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnInt64(0), 0);
  EXPECT_EQ(sel->ColumnInt64(1), 0);

  ASSERT_TRUE(db->Exec("PRAGMA user_version = -5").ok());
  EXPECT_EQ(ApplyMigrations(*db, kMigrations).code(), absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTest, ErrorsMapToCanonicalCodes) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  ASSERT_TRUE(db->Exec("INSERT INTO person(name) VALUES ('a')").ok());
  EXPECT_EQ(db->Exec("INSERT INTO person(name) VALUES ('a')").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(db->Exec("INSERT INTO visit(person) VALUES (999)").code(), absl::StatusCode::kFailedPrecondition)
      << "foreign keys are enforced";
  EXPECT_EQ(db->Prepare("SELEC nonsense").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open(dir_ + "/missing/dir/x.db").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Database::Open(dir_ + "/absent.db", {.create = false}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SqliteTest, NotADatabaseIsDataLoss) {
  std::ofstream(path_) << "this is a CSV file, not a database\n" << std::string(4096, 'x');
  EXPECT_EQ(Database::Open(path_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  auto db = Database::Open(path_);
  ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO person(name) VALUES ('lost')").ok());
  }  // destroyed without Commit
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(db->Exec("INSERT INTO person(name) VALUES ('kept')").ok());
    ASSERT_TRUE(tx->Commit().ok());
    EXPECT_FALSE(tx->Commit().ok()) << "a transaction commits once";
  }
  auto count = db->Prepare("SELECT group_concat(name) FROM person");
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->ColumnText(0), "kept");
}

// The property crypto-shredding relies on: with secure_delete a deleted value's bytes are gone from the file;
// without it they linger in free pages (which is why the key store turns it on).
TEST_F(SqliteTest, SecureDeleteRemovesDeletedBytesFromTheFile) {
  const std::string secret = "KEYMATERIAL-3f9a1c77d2e84b06";
  for (bool secure : {true, false}) {
    const std::string path = dir_ + (secure ? "/secure.db" : "/plain.db");
    {
      auto db = Database::Open(path, {.wal = false, .secure_delete = secure});
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE(ApplyMigrations(*db, kMigrations).ok());
      auto ins = db->Prepare("INSERT INTO person(name) VALUES (?1)");
      ASSERT_TRUE(ins->Bind(1, secret).ok());
      ASSERT_TRUE(ins->Run().ok());
      ASSERT_NE(base::testing::FileContents(path).find(secret), std::string::npos);
      ASSERT_TRUE(db->Exec("DELETE FROM person").ok());
    }
    const bool lingers = base::testing::FileContents(path).find(secret) != std::string::npos;
    EXPECT_EQ(lingers, !secure) << (secure ? "secure_delete" : "plain");
  }
}

}  // namespace
}  // namespace veil::store
