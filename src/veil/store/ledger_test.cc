#include "veil/store/ledger.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/store/test_util.h"
#include "veil/store/workspace.h"
#include "veil/table/csv_reader.h"

namespace veil::store {
namespace {

using ::veil::store::testing::kDropAfterV4;

using ::testing::HasSubstr;

TEST(LedgerMath, FormatDoubleIsShortestRoundTrip) {
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1), "1");
  EXPECT_EQ(FormatDouble(1e-6), "1e-06");
  EXPECT_EQ(FormatDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatEpsilonDelta({0.5, 1e-5}), "epsilon=0.5 delta=1e-05");
}

TEST(LedgerMath, Validation) {
  EXPECT_TRUE(ValidateBudgetTotal({0, 0}).ok()) << "a budget that allows nothing";
  EXPECT_TRUE(ValidateBudgetTotal({10, 1e-5}).ok());
  for (EpsilonDelta bad : {EpsilonDelta{-1, 0}, EpsilonDelta{NAN, 0}, EpsilonDelta{INFINITY, 0},
                           EpsilonDelta{1, 1}, EpsilonDelta{1, -1e-9}, EpsilonDelta{1, NAN}})
    EXPECT_EQ(ValidateBudgetTotal(bad).code(), absl::StatusCode::kInvalidArgument) << FormatEpsilonDelta(bad);
  EXPECT_TRUE(ValidateCost({0.1, 0}).ok());
  EXPECT_THAT(ValidateCost({0, 0}).message(), HasSubstr("epsilon must be a finite number > 0, not 0"));
  EXPECT_EQ(ValidateCost({0.1, 1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateChargeDescription("COUNT(*) GROUP BY sex").ok());
  for (std::string bad : {std::string(), std::string(257, 'a'), std::string("a\nb"), std::string("\xff")})
    EXPECT_EQ(ValidateChargeDescription(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LedgerMath, BasicCompositionSumsBothParts) {
  const EpsilonDelta costs[] = {{0.5, 1e-6}, {0.25, 0}, {0.125, 2e-6}};
  const EpsilonDelta sum = BasicComposition(costs);
  EXPECT_EQ(sum.epsilon, 0.875);  // exact in binary
  EXPECT_DOUBLE_EQ(sum.delta, 3e-6);
  EXPECT_EQ(BasicComposition({}), (EpsilonDelta{0, 0}));
}

// Ten charges of 0.1 fit a budget of 1.0 and three fit 0.3, although 0.1 + 0.1 + 0.1 = 0.30000000000000004 in
// doubles; an eleventh (or a fourth) does not; and nothing gets past the total by more than the tolerance.
TEST(LedgerMath, ToleranceAbsorbsRoundingButNeverMore) {
  std::vector<EpsilonDelta> spent;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(FitsBudget({1.0, 0}, BasicComposition(spent), {0.1, 0})) << i;
    spent.push_back({0.1, 0});
  }
  EXPECT_FALSE(FitsBudget({1.0, 0}, BasicComposition(spent), {0.1, 0}));
  EXPECT_FALSE(FitsBudget({1.0, 0}, BasicComposition(spent), {1e-8, 0}))
      << "1e-8 is beyond the 1e-9 tolerance";
  EXPECT_TRUE(FitsBudget({0.3, 0}, {0.1 + 0.1, 0}, {0.1, 0}));
  EXPECT_FALSE(FitsBudget({0.3, 0}, {0.3, 0}, {0.1, 0}));
  // The tolerance is relative: 1e-9 of the total, whatever its scale.
  EXPECT_TRUE(FitsBudget({1e-5, 0}, {0, 0}, {1e-5 * (1 + 0.5e-9), 0}));
  EXPECT_FALSE(FitsBudget({1e-5, 0}, {0, 0}, {1e-5 * (1 + 2e-9), 0}));
  // Delta separately; a pure-DP budget (delta 0) refuses any delta.
  EXPECT_FALSE(FitsBudget({1, 0}, {0, 0}, {0.1, 1e-12}));
  EXPECT_TRUE(FitsBudget({1, 1e-5}, {0, 9e-6}, {0.1, 1e-6}));
  EXPECT_FALSE(FitsBudget({1, 1e-5}, {0, 9e-6}, {0.1, 1.1e-6}));
  EXPECT_EQ(Remaining({1, 1e-5}, {1.5, 1e-6}), (EpsilonDelta{0, 9e-6})) << "never below zero";
  EXPECT_EQ(Remaining({1, 0}, BasicComposition(spent)).epsilon, 0) << "rounding is not budget";
  EXPECT_EQ(Remaining({1, 0}, {0.9999999999999999, 0}).epsilon, 0);
  EXPECT_NEAR(Remaining({1, 0}, {0.999999, 0}).epsilon, 1e-6, 1e-15) << "a real remainder stays";
}

constexpr char kPeople[] = "id,age\na,30\nb,40\nc,50\n";

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::Create(*env_, dir_, {}, [](Workspace&) { return absl::OkStatus(); });
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_ = *std::move(ws);
    for (const char* name : {"people", "other"}) {
      IngestRequest r;
      r.dataset = name;
      r.subject_column = "id";
      auto ingested = ws_->Ingest(*table::ReadCsvFromString(kPeople), r,
                                  [](const IngestResult&) { return absl::OkStatus(); });
      ASSERT_TRUE(ingested.ok()) << ingested.status();
    }
  }

  static absl::Status Allow(const DatasetBudget&) { return absl::OkStatus(); }

  absl::Status SetTotal(const std::string& dataset, EpsilonDelta total) {
    return ws_->ledger().SetTotal(dataset, total, "alice", env_->Now(), Allow).status();
  }

  ChargeReservation Charge(const std::string& dataset, EpsilonDelta cost) {
    ChargeReservation r;
    r.dataset = dataset;
    r.actor = "bob";
    r.operation = "query";
    r.cost = cost;
    r.description = "COUNT(*)";
    r.params_hash = crypto::Sha256(absl::StrCat("params ", ++calls_));
    r.audit_from = 7;
    r.time = env_->Now();
    return r;
  }

  base::testing::ScopedTempDir tmp_{"veil_ledger_test"};
  const std::string dir_ = tmp_.File("ws");
  std::unique_ptr<base::Env> env_ = base::NewPosixEnv(crypto::SecureRandom());
  std::unique_ptr<Workspace> ws_;
  std::atomic<int> calls_{0};
};

TEST_F(LedgerTest, NoBudgetRefusesEveryCharge) {
  Ledger& ledger = ws_->ledger();
  auto b = ledger.Get("people");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->total.has_value());
  EXPECT_EQ(b->remaining, (EpsilonDelta{0, 0}));
  absl::Status s = ledger.Reserve(Charge("people", {0.1, 0})).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("dataset \"people\" has no privacy budget"));
  EXPECT_THAT(s.message(), HasSubstr("`veil budget set people --epsilon E --delta D`"));
  EXPECT_EQ(ledger.Reserve(Charge("nope", {0.1, 0})).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger.Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ledger.Get("people")->charges.empty()) << "a refusal records nothing";
}

TEST_F(LedgerTest, SequentialChargesToExactlyTheLimit) {
  ASSERT_TRUE(SetTotal("people", {1.0, 1e-5}).ok());
  Ledger& ledger = ws_->ledger();
  for (int i = 0; i < 10; ++i) {
    auto r = ledger.Reserve(Charge("people", {0.1, 1e-6}));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    ASSERT_TRUE(ledger.Settle(r->charge.id, 100 + i).ok());
    EXPECT_NEAR(r->remaining.epsilon, 1.0 - 0.1 * (i + 1), 1e-12);
  }
  absl::Status s = ledger.Reserve(Charge("people", {0.1, 0})).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("it costs epsilon=0.1 delta=0 but only epsilon=0 delta="));
  EXPECT_THAT(s.message(), HasSubstr("(of epsilon=1 delta=1e-05)"));
  auto b = ledger.Get("people");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->charges.size(), 10u);
  EXPECT_NEAR(b->spent.epsilon, 1.0, 1e-15);
  EXPECT_NEAR(b->spent.delta, 1e-5, 1e-20);
  EXPECT_EQ(b->charges[3].audit_seq, 103u);
  EXPECT_EQ(b->charges[3].actor, "bob");
  EXPECT_EQ(b->charges[3].operation, "query");
  EXPECT_EQ(b->charges[3].description, "COUNT(*)");
  EXPECT_EQ(b->charges[3].audit_from, 7u);
  EXPECT_LT(b->charges[2].id, b->charges[3].id);
  // The other dataset's budget is its own.
  EXPECT_EQ(ledger.Reserve(Charge("other", {0.1, 0})).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(SetTotal("other", {0.1, 0}).ok());
  EXPECT_TRUE(ledger.Reserve(Charge("other", {0.1, 0})).ok());
}

TEST_F(LedgerTest, ReservationsCountUntilReleased) {
  ASSERT_TRUE(SetTotal("people", {1.0, 0}).ok());
  Ledger& ledger = ws_->ledger();
  auto a = ledger.Reserve(Charge("people", {0.6, 0}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ledger.Reserve(Charge("people", {0.6, 0})).status().code(), absl::StatusCode::kResourceExhausted)
      << "an unsettled reservation is spent";
  auto reserved = ledger.Reservations();
  ASSERT_TRUE(reserved.ok());
  ASSERT_EQ(reserved->size(), 1u);
  EXPECT_EQ((*reserved)[0].dataset, "people");
  EXPECT_TRUE((*reserved)[0].reserved());
  EXPECT_EQ(ledger.Get("people")->charges[0].audit_seq, std::nullopt);
  ASSERT_TRUE(ledger.Release(a->charge.id).ok());
  EXPECT_EQ(ledger.Release(a->charge.id).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ledger.Reservations()->empty());
  auto b = ledger.Reserve(Charge("people", {0.6, 0}));
  ASSERT_TRUE(b.ok()) << "released budget is available again";
  ASSERT_TRUE(ledger.Settle(b->charge.id, 3).ok());
  EXPECT_EQ(ledger.Settle(b->charge.id, 4).code(), absl::StatusCode::kNotFound) << "settled once";
  EXPECT_EQ(ledger.Release(b->charge.id).code(), absl::StatusCode::kNotFound) << "a settled charge stays";
  EXPECT_EQ(ledger.Get("people")->charges[0].audit_seq, 3u);
}

TEST_F(LedgerTest, SetTotalRaisesAndLowersButNeverBelowSpent) {
  Ledger& ledger = ws_->ledger();
  EXPECT_EQ(SetTotal("people", {-1, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetTotal("nope", {1, 0}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(SetTotal("people", {1.0, 1e-6}).ok());
  ASSERT_TRUE(ledger.Reserve(Charge("people", {0.4, 1e-7})).ok());
  absl::Status s = SetTotal("people", {0.3, 1e-6});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("epsilon=0.4 delta=1e-07 is already spent"));
  EXPECT_EQ(SetTotal("people", {1, 0}).code(), absl::StatusCode::kInvalidArgument) << "delta below spent";
  ASSERT_TRUE(SetTotal("people", {0.4, 1e-7}).ok()) << "down to exactly what is spent";
  EXPECT_EQ(ledger.Get("people")->remaining, (EpsilonDelta{0, 0}));
  ASSERT_TRUE(ws_->ledger().SetTotal("people", {2, 1e-6}, "carol", env_->Now(), Allow).ok());
  auto b = ledger.Get("people");
  EXPECT_EQ(b->total->amount, (EpsilonDelta{2, 1e-6}));
  EXPECT_EQ(b->total->set_by, "carol");
  EXPECT_DOUBLE_EQ(b->remaining.epsilon, 1.6);
  // A hook error abandons the change.
  s = ledger
          .SetTotal("people", {5, 0.1}, "alice", env_->Now(),
                    [](const DatasetBudget&) { return absl::UnavailableError("no audit"); })
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ledger.Get("people")->total->amount, (EpsilonDelta{2, 1e-6}));
}

TEST_F(LedgerTest, ListAndJson) {
  ASSERT_TRUE(SetTotal("people", {1.0, 1e-5}).ok());
  auto r = ws_->ledger().Reserve(Charge("people", {0.25, 0}));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(ws_->ledger().Settle(r->charge.id, 9).ok());
  auto all = ws_->ledger().List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].dataset, "other");
  EXPECT_FALSE((*all)[0].total.has_value());
  const nlohmann::ordered_json doc = DatasetBudgetToJson((*all)[1]);
  EXPECT_EQ(doc["dataset"], "people");
  EXPECT_EQ(doc["composition"], "basic");
  EXPECT_EQ(doc["total"]["epsilon"], 1.0);
  EXPECT_EQ(doc["total"]["set_by"], "alice");
  EXPECT_EQ(doc["spent"]["epsilon"], 0.25);
  EXPECT_EQ(doc["remaining"]["epsilon"], 0.75);
  ASSERT_EQ(doc["charges"].size(), 1u);
  EXPECT_EQ(doc["charges"][0]["audit_seq"], 9);
  EXPECT_EQ(doc["charges"][0]["state"], "committed");
  EXPECT_EQ(DatasetBudgetToJson((*all)[0])["total"], nullptr);
}

TEST_F(LedgerTest, BadChargesAreRefusedBeforeAnything) {
  ASSERT_TRUE(SetTotal("people", {1.0, 0}).ok());
  ChargeReservation r = Charge("people", {0.1, 0});
  r.description = "two\nlines";
  EXPECT_EQ(ws_->ledger().Reserve(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ws_->ledger().Reserve(Charge("people", {0, 0})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ws_->ledger().Get("people")->charges.empty());
}

// Two connections to workspace.db (as two processes would have) race to reserve 0.1 at a time from a budget
// of 1.0: the check and the debit are one write transaction, so exactly ten reservations succeed.
TEST_F(LedgerTest, ConcurrentConnectionsCannotOverspend) {
  ASSERT_TRUE(SetTotal("people", {1.0, 0}).ok());
  constexpr int kThreads = 4;
  std::vector<Database> dbs;
  for (int t = 0; t < kThreads; ++t) {
    auto db = Database::Open(dir_ + "/workspace.db", {.create = false, .busy_timeout_ms = 30000});
    ASSERT_TRUE(db.ok()) << db.status();
    dbs.push_back(*std::move(db));
  }
  std::atomic<int> granted{0}, refused{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Ledger ledger(dbs[t]);
      for (int i = 0; i < 6; ++i) {
        absl::StatusOr<Reservation> r = ledger.Reserve(Charge("people", {0.1, 0}));
        if (r.ok()) {
          ++granted;
        } else if (absl::IsResourceExhausted(r.status())) {
          ++refused;
        } else {
          ++errors;
          ADD_FAILURE() << r.status();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(granted, 10);
  EXPECT_EQ(refused, kThreads * 6 - 10);
  auto b = ws_->ledger().Get("people");
  EXPECT_EQ(b->charges.size(), 10u);
  EXPECT_LE(b->spent.epsilon, 1.0 * (1 + kBudgetTolerance));
}

// A workspace.db of schema version 1 (before the ledger and attached datasets) gains the ledger's tables and
// the external-source catalog (and the model registry) when opened.
TEST_F(LedgerTest, VersionOneWorkspaceIsMigrated) {
  ws_.reset();
  {
    auto db = Database::Open(dir_ + "/workspace.db", {.create = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        db->Exec(absl::StrCat(
                     kDropAfterV4,
                     "DROP TABLE model; DROP TABLE external_source; ALTER TABLE dataset DROP COLUMN kind; "
                     "DROP TABLE privacy_charge; DROP TABLE privacy_budget; PRAGMA user_version = 1;"))
            .ok());
  }
  auto ws = Workspace::Open(*env_, dir_, std::nullopt);
  ASSERT_TRUE(ws.ok()) << ws.status();
  EXPECT_EQ(*(*ws)->metadata().UserVersion(), Workspace::SchemaVersion());
  EXPECT_TRUE((*ws)->ledger().SetTotal("people", {1, 0}, "alice", env_->Now(), Allow).ok());
  EXPECT_EQ((*ws)->GetDataset("people")->rows, 3) << "the catalog is untouched";
}

}  // namespace
}  // namespace veil::store
