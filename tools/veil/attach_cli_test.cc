// End-to-end tests of `veil attach` and of `veil query` on an attached PostgreSQL table, against the server
// of the `veil_pg` CTest fixture (scripts/pg-test-server.sh; VEIL_PG_TEST_CONNINFO). Each test makes its own
// schema (the veil processes connect on their own, so TEMP tables would not do) and drops it at the end.
#include <unistd.h>

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"
#include "veil/table/postgres_source.h"
#include "veil/table/postgres_testing.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A role that must give a password (scram-sha-256), for the wrong-password test. The test server trusts
// every local connection; one pg_hba.conf line before the others makes this role the exception (written by
// the server itself with lo_export, so it works whoever runs the tests; harmless to other tests).
constexpr char kPasswordRole[] = "veil_attach_pw";
constexpr char kRightPassword[] = "Right-Pass-81";

class AttachCliTest : public VeilCliTest {
 protected:
  void SetUp() override {
    VeilCliTest::SetUp();
    conninfo_ = table::testing::PgTestConninfo();
    if (conninfo_.empty()) {
      if (table::testing::InCi()) FAIL() << "VEIL_PG_TEST_CONNINFO is not set";
      GTEST_SKIP() << "VEIL_PG_TEST_CONNINFO is not set: run through ctest (fixture veil_pg)";
    }
    absl::StatusOr<table::PgConnection> pg = table::PgConnection::Connect(conninfo_);
    if (!pg.ok()) {
      if (table::testing::InCi()) FAIL() << pg.status();
      GTEST_SKIP() << pg.status();
    }
    pg_.emplace(*std::move(pg));
    schema_ = absl::StrCat(
        "attach_", ::getpid(), "_",
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()).substr(0, 24));
    for (char& c : schema_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Exec(absl::StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE"));
    Exec(absl::StrCat("CREATE SCHEMA ", schema_));
    // 400 visits by 200 patients, each with 2 visits in one ward (within L0 = 1, Linf = 2: bounding keeps
    // everything, so the answer does not depend on the bounding seed), a uuid column Veil does not read.
    Exec(absl::StrCat("CREATE TABLE ", schema_,
                      ".visits (patient int4 NOT NULL, ward text, age int2, cost numeric(8,2), tag uuid)"));
    Exec(absl::StrCat("INSERT INTO ", schema_,
                      ".visits SELECT i / 2, (ARRAY['cardio','onco','icu'])[1 + (i / 2) % 3], 20 + i % 60, "
                      "(i % 97) + 0.25, NULL FROM generate_series(0, 399) AS i"));
  }
  void TearDown() override {
    if (pg_.has_value()) (void)pg_->Execute(absl::StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE"));
    VeilCliTest::TearDown();
  }

  void Exec(const std::string& sql) {
    absl::StatusOr<int64_t> r = pg_->Execute(sql);
    ASSERT_TRUE(r.ok()) << r.status() << "\n" << sql;
  }

  // `veil attach` of schema_.visits as dataset `name`.
  Result Attach(const std::string& name, const std::string& actor = "alice", const std::string& extra = "",
                std::optional<std::string> conninfo = std::nullopt) {
    return Ws(
        absl::StrCat("attach ", Q(conninfo.value_or(conninfo_)), " --table ", schema_,
                     ".visits --subject-column patient --dataset ", name, " --purpose research ", extra),
        actor);
  }

  // The same rows as a CSV file, ingested into the vault as dataset `name` (the in-memory engine's input).
  void IngestSameRows(const std::string& name) {
    std::string csv = "patient,ward,age,cost\n";
    for (int i = 0; i < 400; ++i) {
      const char* wards[] = {"cardio", "onco", "icu"};
      absl::StrAppend(&csv, i / 2, ",", wards[(i / 2) % 3], ",", 20 + i % 60, ",", (i % 97) + 0.25, "\n");
    }
    const std::string path = WriteFile("visits.csv", csv);
    Result r = Ws(absl::StrCat("ingest ", Q(path), " --dataset ", name,
                               " --subject-column patient --purpose research --quiet"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string conninfo_;
  std::optional<table::PgConnection> pg_;
  std::string schema_;
};

TEST_F(AttachCliTest, AttachListQueryAndMatchTheInMemoryEngine) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  Result attach = Attach("pgvisits", "alice", "--json");
  ASSERT_EQ(attach.exit_code, 0) << attach.err;
  const nlohmann::json a = ParseJson(attach.out);
  EXPECT_EQ(a["dataset"]["kind"], "postgresql");
  EXPECT_EQ(a["dataset"]["external"]["schema"], schema_);
  EXPECT_EQ(a["dataset"]["external"]["table"], "visits");
  EXPECT_EQ(a["dataset"]["columns"].size(), 4u) << "the uuid column is left out";
  EXPECT_EQ(a["skipped_columns"][0], "tag (uuid)");
  EXPECT_EQ(a["dataset"]["columns"][3]["type"], "double") << "numeric is read as double";
  // A name in use, by any kind of dataset, is refused.
  EXPECT_EQ(Attach("pgvisits").exit_code, 2);
  IngestSameRows("visits");
  EXPECT_EQ(Attach("visits").exit_code, 2);
  // An unknown subject column, an unknown table.
  EXPECT_EQ(Ws(absl::StrCat("attach ", Q(conninfo_), " --table ", schema_,
                            ".visits --subject-column nope --dataset x --purpose research"))
                .exit_code,
            2);
  EXPECT_EQ(Ws(absl::StrCat("attach ", Q(conninfo_), " --table ", schema_,
                            ".nosuch --subject-column patient --dataset x --purpose research"))
                .exit_code,
            2);

  // `veil datasets` lists both kinds.
  Result list = Ws("datasets");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("pgvisits"));
  EXPECT_THAT(list.out, HasSubstr("postgresql"));
  EXPECT_THAT(list.out, HasSubstr("vault"));
  const nlohmann::json all = ParseJson(Ws("--json datasets").out);
  ASSERT_EQ(all["datasets"].size(), 2u);
  EXPECT_EQ(all["datasets"][0]["name"], "pgvisits");
  EXPECT_EQ(all["datasets"][0]["kind"], "postgresql");
  EXPECT_EQ(all["datasets"][1]["kind"], "vault");
  Result one = Ws("datasets pgvisits");
  EXPECT_THAT(one.out, HasSubstr("no password stored"));

  // A query that is pushed down, and one that is not (a quantile), on both datasets. epsilon 1e10 makes
  // every noise draw 0 with overwhelming probability (scale <= L0 Linf 2^20 / 1e9 per component, so
  // P(noise != 0) < 2 exp(-1e9 / 2^21) per draw), and public groups need no selection: the attached
  // dataset's answer equals the in-memory engine's on the vault copy, and the exact values.
  for (const char* d : {"pgvisits", "visits"}) {
    ASSERT_EQ(Ws(absl::StrCat("budget set ", d, " --epsilon 1e11 --delta 1e-5")).exit_code, 0);
  }
  const std::string pushed =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1e10, privacy_unit_column=patient, "
      "max_rows_contributed=2, public_groups=['cardio','icu','onco','none']) ward, COUNT(*) AS n, "
      "SUM(cost, contribution_bounds_per_row => (0, 100)) AS total, AVG(age, contribution_bounds_per_row => "
      "(0, 100)) AS mean_age FROM DATASET WHERE age >= 30 GROUP BY ward";
  const std::string read =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1e10, privacy_unit_column=patient, "
      "max_rows_contributed=2) PERCENTILE_CONT(age, 0.5, contribution_bounds_per_row => (0, 100)) AS med "
      "FROM DATASET";
  for (const std::string& sql : {pushed, read}) {
    SCOPED_TRACE(sql);
    Result explain = Ws(absl::StrCat("query --explain --dataset pgvisits ",
                                     Q(absl::StrReplaceAll(sql, {{"DATASET", "pgvisits"}}))));
    ASSERT_EQ(explain.exit_code, 0) << explain.err;
    if (sql == pushed) {
      EXPECT_THAT(explain.out, HasSubstr("Pushed down"));
      EXPECT_THAT(explain.out, HasSubstr("DENSE_RANK() OVER (PARTITION BY u"));
      EXPECT_THAT(explain.out, HasSubstr(absl::StrCat("\"", schema_, "\".\"visits\"")));
    } else {
      EXPECT_THAT(explain.out, HasSubstr("Not pushed down"));
      EXPECT_THAT(explain.out, HasSubstr("quantiles"));
    }
    Result pg = Ws(absl::StrCat("--json query --purpose research ",
                                Q(absl::StrReplaceAll(sql, {{"DATASET", "pgvisits"}}))));
    ASSERT_EQ(pg.exit_code, 0) << pg.err;
    Result vault = Ws(absl::StrCat("--json query --purpose research ",
                                   Q(absl::StrReplaceAll(sql, {{"DATASET", "visits"}}))));
    ASSERT_EQ(vault.exit_code, 0) << vault.err;
    const nlohmann::json got = ParseJson(pg.out)["result"], want = ParseJson(vault.out)["result"];
    EXPECT_EQ(got["columns"], want["columns"]);
    EXPECT_EQ(got["rows"], want["rows"]);
    if (sql == pushed) {
      // Exact: ages 30..79 (of 20 + i % 60) per ward; `none` is listed without rows.
      ASSERT_EQ(got["rows"].size(), 4u);
      EXPECT_EQ(got["rows"][2][0], "none");
      EXPECT_EQ(got["rows"][2][1], 0);
      int64_t n = 0;
      for (const auto& row : got["rows"]) n += row[1].get<int64_t>();
      int64_t want_n = 0;
      for (int i = 0; i < 400; ++i) want_n += (20 + i % 60) >= 30;
      EXPECT_EQ(n, want_n);
    }
  }
  // The attached dataset was charged like any other, and each query audited.
  const nlohmann::json budget = ParseJson(Ws("--json budget pgvisits").out);
  EXPECT_EQ(budget["charges"].size(), 2u) << budget.dump();
  const nlohmann::json log = AuditLog();
  EXPECT_EQ(log["entries"].back()["action"], "query");
}

TEST_F(AttachCliTest, OverBudgetIsRefusedBeforeAnythingRuns) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  ASSERT_EQ(Attach("pgvisits", "alice", "--quiet").exit_code, 0);
  const std::string sql =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1, delta=1e-6, privacy_unit_column=patient) ward, "
      "COUNT(*) FROM pgvisits GROUP BY ward";
  // No budget set yet, then too small a budget: exit 3, nothing charged.
  EXPECT_EQ(Ws(absl::StrCat("query --purpose research ", Q(sql))).exit_code, 3);
  ASSERT_EQ(Ws("budget set pgvisits --epsilon 0.5 --delta 1e-5").exit_code, 0);
  Result r = Ws(absl::StrCat("query --purpose research ", Q(sql)));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("budget"));
  const nlohmann::json budget = ParseJson(Ws("--json budget pgvisits").out);
  EXPECT_EQ(budget["charges"].size(), 0u);
  // Within budget it runs (private GROUP BY: partition selection in Veil).
  ASSERT_EQ(Ws("budget set pgvisits --epsilon 5 --delta 1e-5").exit_code, 0);
  Result ok = Ws(absl::StrCat("query --purpose research ", Q(sql)));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("Charged epsilon 1"));
}

TEST_F(AttachCliTest, NonOwnerIsRefusedAndAudited) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  const uint64_t before = AuditSize();
  Result r = Attach("pgvisits", "bob");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("attach"));
  const nlohmann::json log = AuditLog();
  EXPECT_EQ(log["size"].get<uint64_t>(), before + 1);
  const nlohmann::json& last = log["entries"].back();
  EXPECT_EQ(last["actor"], "bob");
  EXPECT_EQ(last["action"], "attach");
  EXPECT_EQ(last["decision"], "denied");
  EXPECT_EQ(ParseJson(Ws("--json datasets").out)["datasets"].size(), 0u);
}

TEST_F(AttachCliTest, WrongPasswordFailsWithoutShowingItAndNoPasswordIsStored) {
  // The role that needs a password: the hba line (once per server), the role (once), its grants.
  absl::StatusOr<table::Table> hba =
      pg_->Query("SELECT setting AS f FROM pg_settings WHERE name = 'hba_file'");
  ASSERT_TRUE(hba.ok()) << hba.status();
  const std::string hba_file(hba->column(0).GetString(0));
  const std::vector<table::Value> file = {table::Value(hba_file)};
  absl::StatusOr<table::Table> content = pg_->Query("SELECT pg_read_file($1) AS c", file);
  ASSERT_TRUE(content.ok()) << content.status();
  const std::string line = absl::StrCat("local all ", kPasswordRole, " scram-sha-256\n");
  if (std::string(content->column(0).GetString(0)).find(line) == std::string::npos) {
    const std::vector<table::Value> text = {
        table::Value(line + std::string(content->column(0).GetString(0)))};
    const std::vector<table::Value> path = {table::Value(hba_file)};
    constexpr char kOid[] = "424242";
    (void)pg_->Execute(absl::StrCat("SELECT lo_unlink(", kOid, ")"));
    ASSERT_TRUE(
        pg_->Execute(absl::StrCat("SELECT lo_from_bytea(", kOid, ", convert_to($1, 'UTF8'))"), text).ok());
    absl::StatusOr<int64_t> exported = pg_->Execute(absl::StrCat("SELECT lo_export(", kOid, ", $1)"), path);
    ASSERT_TRUE(exported.ok()) << exported.status();
    Exec(absl::StrCat("SELECT lo_unlink(", kOid, ")"));
    Exec("SELECT pg_reload_conf()");
  }
  Exec(absl::StrCat("DO $$ BEGIN CREATE ROLE ", kPasswordRole, " LOGIN PASSWORD '", kRightPassword,
                    "'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"));
  Exec(absl::StrCat("GRANT USAGE ON SCHEMA ", schema_, " TO ", kPasswordRole));
  Exec(absl::StrCat("GRANT SELECT ON ", schema_, ".visits TO ", kPasswordRole));
  ::sleep(1);  // pg_reload_conf signals the postmaster; give it a moment

  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  const std::string base =
      absl::StrCat(conninfo_.substr(0, conninfo_.find("&user=")), "&user=", kPasswordRole);
  const std::string wrong = "Wr0ng-Secret-77";
  Result bad = Attach("pgvisits", "alice", "", absl::StrCat(base, "&password=", wrong));
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("password authentication failed"));
  EXPECT_THAT(bad.err + bad.out, Not(HasSubstr(wrong)));
  EXPECT_EQ(ParseJson(Ws("--json datasets").out)["datasets"].size(), 0u);

  // The right password attaches; the catalog keeps no password; queries then need one from elsewhere.
  Result good = Attach("pgvisits", "alice", "--json", absl::StrCat(base, "&password=", kRightPassword));
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_THAT(good.out, Not(HasSubstr(kRightPassword)));
  EXPECT_THAT(Slurp((ws_ / "workspace.db").string()), Not(HasSubstr(kRightPassword)));
  ASSERT_EQ(Ws("budget set pgvisits --epsilon 10 --delta 1e-5").exit_code, 0);
  const std::string sql =
      Q("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1, privacy_unit_column=patient) COUNT(*) FROM "
        "pgvisits");
  Result no_password =
      Run(absl::StrCat("env -u PGPASSWORD -u VEIL_PG_CONNINFO -u VEIL_PASSPHRASE VEIL_WORKSPACE=",
                       Q(ws_.string()), " VEIL_ACTOR=alice "),
          absl::StrCat("query --purpose research ", sql), "");
  EXPECT_EQ(no_password.exit_code, 1) << no_password.err;
  EXPECT_THAT(no_password.err, HasSubstr("password"));
  Result with_env = Ws(absl::StrCat("query --purpose research --conninfo ",
                                    Q(absl::StrCat(base, "&password=", kRightPassword)), " ", sql));
  EXPECT_EQ(with_env.exit_code, 0) << with_env.err;
  Result with_wrong = Ws(absl::StrCat("query --purpose research --conninfo ",
                                      Q(absl::StrCat(base, "&password=", wrong)), " ", sql));
  EXPECT_EQ(with_wrong.exit_code, 1);
  EXPECT_THAT(with_wrong.err, Not(HasSubstr(wrong)));
  const nlohmann::json budget = ParseJson(Ws("--json budget pgvisits").out);
  EXPECT_EQ(budget["charges"].size(), 1u) << "failed connections charge nothing";
}

}  // namespace
}  // namespace veil::cli::testing
