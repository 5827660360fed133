// Session::RunCharged and the budget methods: the gate, the ledger and the audit trail of every DP operation,
// with its failure and crash points (see RunCharged in session.h).
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/session.h"
#include "veil/gov/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::DamageVault;

using ::veil::gov::testing::kPatients;

class BudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    store::IngestRequest req;
    req.dataset = "patients";
    req.subject_column = "mrn";
    req.purposes = {"care", "research"};
    ASSERT_TRUE(owner_->Ingest(*table::ReadCsvFromString(kPatients), req).ok());
    ASSERT_TRUE(owner_->Grant("bob", Role::kAnalyst).ok());
    ASSERT_TRUE(owner_->Grant("carol", Role::kAuditor).ok());
  }

  std::unique_ptr<Session> Open(const std::string& actor, const std::string& dir) {
    auto s = Session::Open(env_, dir, actor, std::nullopt);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  // Another actor's session (the current one is closed first: one process at a time).
  std::unique_ptr<Session> As(const std::string& actor) {
    owner_.reset();
    return Open(actor, dir_);
  }

  // A DP "query" of `epsilon` on patients whose run counts its calls and releases the row count.
  absl::StatusOr<Charged<std::string>> Query(Session& s, double epsilon, double delta = 0,
                                             const std::string& purpose = "research") {
    return s.RunCharged<std::string>(
        Operation::kQuery, "patients", purpose, {epsilon, delta, "mrn", "COUNT(*)"},
        {{"sql", "SELECT COUNT(*)"}},
        [&](const store::DatasetContents& d) -> absl::StatusOr<ChargedResult<std::string>> {
          ++runs_;
          if (!run_error_.ok()) return run_error_;
          const std::string value = absl::StrCat(d.table.num_rows(), " rows");
          return ChargedResult<std::string>{value, crypto::Sha256(value)};
        });
  }

  std::vector<audit::AuditEntry> Entries(Session& s) { return testing::AuditEntries(s); }
  uint64_t AuditSize(Session& s) { return (*s.AuditLogFor(Operation::kAuditRead))->size(); }

  base::testing::ScopedTempDir tmp_{"veil_budget_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
  std::atomic<int> runs_{0};
  absl::Status run_error_;
};

TEST_F(BudgetTest, OnlyOwnersSetBudgetsEveryoneWithARoleReadsThem) {
  auto set = owner_->SetBudget("patients", {1.0, 1e-5});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->total->amount, (store::EpsilonDelta{1.0, 1e-5}));
  EXPECT_EQ(set->total->set_by, "alice");
  const audit::AuditEntry last = Entries(*owner_).back();
  EXPECT_EQ(last.action, "budget.set");
  EXPECT_EQ(last.dataset, "patients");
  EXPECT_EQ(last.params_hash, ParamsHash({{"dataset", "patients"}, {"epsilon", 1.0}, {"delta", 1e-5}}));
  EXPECT_EQ(owner_->SetBudget("nope", {1, 0}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(owner_->SetBudget("patients", {-1, 0}).status().code(), absl::StatusCode::kInvalidArgument);

  auto bob = As("bob");
  absl::Status s = bob->SetBudget("patients", {100, 0}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("budget.set needs the role owner"));
  EXPECT_TRUE(bob->GetBudget("patients").ok());
  bob.reset();
  auto carol = As("carol");
  auto all = carol->ListBudgets();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].total->amount.epsilon, 1.0);
  EXPECT_EQ(Entries(*carol).back().actor, "bob") << "bob's refusal is audited; reads are not";
  carol.reset();
  auto mallory = As("mallory");
  EXPECT_EQ(mallory->GetBudget("patients").status().code(), absl::StatusCode::kPermissionDenied);
}

// An attached dataset (rows in an external database): RunChargedExternal takes the same path (gate, budget
// reserved first, audit entry, settlement) without reading the vault; each kind refuses the other.
TEST_F(BudgetTest, AttachedDatasetsAreChargedWithoutTheVault) {
  store::AttachRequest req;
  req.dataset = "pgpatients";
  req.subject_column = "mrn";
  req.purposes = {"research"};
  req.schema = *table::Schema::Make({{"mrn", table::DataType::kString, false}});
  req.source.conninfo = "host=/run/pg dbname=clinic";
  req.source.location = "PostgreSQL host=/run/pg port=5432 dbname=clinic";
  req.source.schema_name = "public";
  req.source.table_name = "patients";
  req.source.columns = {{"mrn", "text", 25}};
  ASSERT_TRUE(
      owner_->workspace().Attach(req, [](const store::DatasetInfo&) { return absl::OkStatus(); }).ok());
  const auto external = [&](Session& s, double epsilon) {
    return s.RunChargedExternal<std::string>(
        Operation::kQuery, "pgpatients", "research", {epsilon, 0, "mrn", "COUNT(*)"}, {{"sql", "x"}},
        [&](const store::DatasetInfo& info) -> absl::StatusOr<ChargedResult<std::string>> {
          ++runs_;
          if (!run_error_.ok()) return run_error_;
          const std::string value = info.external->table_name;
          return ChargedResult<std::string>{value, crypto::Sha256(value)};
        });
  };
  // No budget yet: refused (and audited) before `run`.
  EXPECT_EQ(external(*owner_, 0.5).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(runs_, 0);
  ASSERT_TRUE(owner_->SetBudget("pgpatients", {1.0, 0}).ok());
  absl::StatusOr<Charged<std::string>> r = external(*owner_, 0.5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "patients");
  EXPECT_EQ(r->receipt.remaining.epsilon, 0.5);
  const audit::AuditEntry last = Entries(*owner_).back();
  EXPECT_EQ(last.action, "query");
  EXPECT_EQ(last.dataset, "pgpatients");
  EXPECT_EQ(last.result_hash, crypto::Sha256(std::string("patients")));
  // A failing run charges nothing (the session cannot tell whether an external run read rows: see
  // RunChargedExternal); over budget is refused before the run.
  run_error_ = absl::UnavailableError("server gone");
  EXPECT_EQ(external(*owner_, 0.25).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(owner_->GetBudget("pgpatients")->remaining.epsilon, 0.5);
  run_error_ = absl::OkStatus();
  const int before = runs_;
  EXPECT_EQ(external(*owner_, 0.75).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(runs_, before);
  // Each path refuses the other kind, before anything is reserved.
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  EXPECT_EQ(owner_
                ->RunChargedExternal<std::string>(
                    Operation::kQuery, "patients", "research", {0.1, 0, "mrn", "x"}, {},
                    [](const store::DatasetInfo&) -> absl::StatusOr<ChargedResult<std::string>> {
                      return absl::InternalError("not reached");
                    })
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(owner_
                ->RunCharged<std::string>(
                    Operation::kQuery, "pgpatients", "research", {0.1, 0, "mrn", "x"}, {},
                    [](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<std::string>> {
                      return absl::InternalError("not reached");
                    })
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(owner_->GetBudget("patients")->spent.epsilon, 0);
  EXPECT_EQ(owner_->GetBudget("pgpatients")->remaining.epsilon, 0.5);
  // An analyst needs a declared purpose, as for vault datasets.
  ASSERT_TRUE(owner_->Grant("dave", Role::kAnalyst).ok());
  auto dave = As("dave");
  EXPECT_EQ(dave->RunChargedExternal<std::string>(
                    Operation::kQuery, "pgpatients", "care", {0.1, 0, "mrn", "x"}, {},
                    [](const store::DatasetInfo&) -> absl::StatusOr<ChargedResult<std::string>> {
                      return absl::InternalError("not reached");
                    })
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(BudgetTest, QueriesNeedTheRoleAndADeclaredPurpose) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  EXPECT_TRUE(Query(*owner_, 0.1).ok()) << "owners may query";
  auto carol = As("carol");
  absl::Status s = Query(*carol, 0.1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("query needs the role owner or analyst"));
  carol.reset();
  auto bob = As("bob");
  s = Query(*bob, 0.1, 0, "marketing").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("purpose \"marketing\" is not declared"));
  EXPECT_EQ(Query(*bob, 0.1, 0, "").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Query(*bob, 0.1, 0, "research.cohort").ok());
  EXPECT_EQ(runs_, 2) << "refused queries never ran";
  auto budget = bob->GetBudget("patients");
  EXPECT_EQ(budget->charges.size(), 2u) << "and were not charged";
  EXPECT_EQ(bob->RunCharged<int>(Operation::kExport, "patients", "care", {0.1, 0, "mrn", "x"}, {},
                                 [](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<int>> {
                                   return ChargedResult<int>{1, {}};
                                 })
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument)
      << "only DP operations are charged";
  EXPECT_EQ(Query(*bob, 0).status().code(), absl::StatusCode::kInvalidArgument) << "epsilon 0";
  absl::Status unit =
      bob->RunCharged<int>(Operation::kQuery, "patients", "care", {0.1, 0, "diagnosis", "x"}, {},
                           [](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<int>> {
                             return ChargedResult<int>{1, {}};
                           })
          .status();
  EXPECT_EQ(unit.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unit.message(),
              HasSubstr("the privacy unit must be dataset \"patients\"'s subject column \"mrn\""));
  EXPECT_EQ(Query(*bob, 0.1, 1).status().code(), absl::StatusCode::kInvalidArgument) << "delta 1";
}

TEST_F(BudgetTest, NoBudgetNoQueryAndTheRefusalIsAudited) {
  const uint64_t before = AuditSize(*owner_);
  auto bob = As("bob");
  absl::Status s = Query(*bob, 0.1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("refused: dataset \"patients\" has no privacy budget"));
  EXPECT_THAT(s.message(), HasSubstr("veil budget set patients --epsilon E --delta D"));
  EXPECT_EQ(runs_, 0);
  bob.reset();
  auto carol = As("carol");
  const auto entries = Entries(*carol);
  ASSERT_EQ(entries.size(), before + 1);
  EXPECT_EQ(entries.back().action, "query");
  EXPECT_EQ(entries.back().decision, audit::Decision::kDenied);
  EXPECT_THAT(entries.back().reason, HasSubstr("has no privacy budget"));
  EXPECT_EQ(entries.back().cost, "") << "nothing was debited";
}

// Ten queries of 0.1 use a budget of 1.0 exactly; the eleventh is refused with what it costs and what
// remains; each allowed query's entry carries its cost and result hash, and its charge points at that entry.
TEST_F(BudgetTest, ChargesUpToExactlyTheLimit) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 1e-5}).ok());
  auto bob = As("bob");
  std::vector<ChargeReceipt> receipts;
  for (int i = 0; i < 10; ++i) {
    auto r = Query(*bob, 0.1, 1e-6);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->value, "4 rows");
    receipts.push_back(r->receipt);
  }
  EXPECT_NEAR(receipts.back().remaining.epsilon, 0, 1e-12);
  EXPECT_NEAR(receipts[2].spent.epsilon, 0.3, 1e-12);
  EXPECT_EQ(receipts[2].total, (store::EpsilonDelta{1.0, 1e-5}));
  absl::Status s = Query(*bob, 0.1, 0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("it costs epsilon=0.1 delta=0 but only epsilon=0 delta="));
  EXPECT_EQ(runs_, 10);
  bob.reset();

  auto carol = As("carol");
  const auto entries = Entries(*carol);
  auto budget = carol->GetBudget("patients");
  ASSERT_TRUE(budget.ok());
  ASSERT_EQ(budget->charges.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    const store::LedgerCharge& c = budget->charges[i];
    EXPECT_EQ(c.audit_seq, receipts[i].audit_seq);
    EXPECT_EQ(c.id, receipts[i].charge_id);
    EXPECT_EQ(c.actor, "bob");
    EXPECT_EQ(c.operation, "query");
    EXPECT_EQ(c.description, "COUNT(*)");
    const audit::AuditEntry& e = entries[*c.audit_seq];
    EXPECT_EQ(e.action, "query");
    EXPECT_EQ(e.decision, audit::Decision::kAllowed);
    EXPECT_EQ(e.purpose, "research");
    EXPECT_EQ(e.cost, "epsilon=0.1 delta=1e-06");
    EXPECT_EQ(e.result_hash, crypto::Sha256("4 rows"));
    EXPECT_EQ(e.params_hash, c.params_hash);
    EXPECT_THAT(e.reason,
                HasSubstr("role analyst; purpose \"research\" declared; within the privacy budget"));
  }
  EXPECT_NE(budget->charges[0].params_hash, budget->charges[1].params_hash)
      << "each charge's params hash is its own (random charge id)";
  EXPECT_EQ(entries.back().decision, audit::Decision::kDenied);
  EXPECT_THAT(entries.back().reason, HasSubstr("does not cover this query"));
  carol.reset();
  // The owner raises the budget; lowering it below what is spent is refused.
  owner_ = Open("alice", dir_);
  EXPECT_EQ(owner_->SetBudget("patients", {0.5, 1e-5}).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(owner_->SetBudget("patients", {1.5, 1e-5}).ok());
  EXPECT_TRUE(Query(*owner_, 0.5, 0).ok());
}

// The budget is checked before the data is read: with the budget spent, a query on a damaged vault is refused
// for the budget, not failed for the damage (which a query with budget left does hit).
TEST_F(BudgetTest, RefusedBeforeTouchingTheData) {
  ASSERT_TRUE(owner_->SetBudget("patients", {0.1, 0}).ok());
  DamageVault(env_, dir_, "patients");
  EXPECT_EQ(Query(*owner_, 0.2).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Query(*owner_, 0.1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(runs_, 0);
  auto budget = owner_->GetBudget("patients");
  EXPECT_TRUE(budget->charges.empty()) << "a failed read leaves no charge";
}

// A run that fails once it has the rows could fail because of a value: it is charged and audited, never a
// free oracle on the data. (A failure before the rows are read is free: RefusedBeforeTouchingTheData.)
TEST_F(BudgetTest, AFailedRunKeepsItsChargeAndIsAudited) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  const uint64_t before = AuditSize(*owner_);
  run_error_ = absl::InvalidArgumentError("no column \"x\"");
  absl::Status failed = Query(*owner_, 0.5).status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(failed.message(), HasSubstr("no column \"x\""));
  EXPECT_THAT(failed.message(), HasSubstr(absl::StrCat("audit entry #", before)));
  ASSERT_EQ(AuditSize(*owner_), before + 1);
  const audit::AuditEntry e = Entries(*owner_).back();
  EXPECT_EQ(e.decision, audit::Decision::kAllowed);
  EXPECT_EQ(e.cost, "epsilon=0.5 delta=0");
  EXPECT_FALSE(e.result_hash.has_value()) << "nothing was released";
  auto budget = owner_->GetBudget("patients");
  ASSERT_EQ(budget->charges.size(), 1u);
  EXPECT_EQ(budget->charges[0].audit_seq, e.seq);
  EXPECT_EQ(budget->spent, (store::EpsilonDelta{0.5, 0}));
}

TEST_F(BudgetTest, NoAuditEntryNoChargeNoResult) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  env_.fail_audit_writes = true;
  absl::StatusOr<Charged<std::string>> r = Query(*owner_, 0.5);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("audit log could not record"));
  EXPECT_EQ(runs_, 1);
  env_.fail_audit_writes = false;
  auto budget = owner_->GetBudget("patients");
  EXPECT_TRUE(budget->charges.empty());
  EXPECT_EQ(budget->spent, (store::EpsilonDelta{0, 0}));
}

// The audit entry is durable but the charge cannot commit: the result is withheld, the charge stays reserved
// (and counts), and the next call settles it with the entry's seq.
TEST_F(BudgetTest, AChargeThatCannotCommitWithholdsTheResult) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  store::Database& db = owner_->workspace().metadata();
  env_.AfterNextAuditSync([&] { ASSERT_TRUE(db.Exec("PRAGMA query_only = 1").ok()); });
  absl::StatusOr<Charged<std::string>> r = Query(*owner_, 0.75);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(r.status().message(), HasSubstr("result is withheld"));
  ASSERT_TRUE(db.Exec("PRAGMA query_only = 0").ok());
  auto reserved = owner_->workspace().ledger().Reservations();
  ASSERT_EQ(reserved->size(), 1u);
  EXPECT_EQ(Query(*owner_, 0.5).status().code(), absl::StatusCode::kResourceExhausted)
      << "the unsettled charge counts";
  auto budget = owner_->GetBudget("patients");
  ASSERT_EQ(budget->charges.size(), 1u);
  ASSERT_TRUE(budget->charges[0].audit_seq.has_value()) << "settled";
  const audit::AuditEntry e = Entries(*owner_)[*budget->charges[0].audit_seq];
  EXPECT_EQ(e.decision, audit::Decision::kAllowed);
  EXPECT_EQ(e.cost, "epsilon=0.75 delta=0");
}

// A crash after the charge was reserved and before the audit entry: the next session releases it.
TEST_F(BudgetTest, CrashBeforeTheAuditEntryLeavesNoCharge) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  const std::string crashed = tmp_.File("crashed");
  ASSERT_TRUE(owner_
                  ->RunCharged<int>(Operation::kQuery, "patients", "care", {0.5, 0, "mrn", "COUNT(*)"}, {},
                                    [&](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<int>> {
                                      fs::copy(dir_, crashed, fs::copy_options::recursive);
                                      return ChargedResult<int>{4, crypto::Sha256("4")};
                                    })
                  .ok());
  EXPECT_EQ(owner_->GetBudget("patients")->charges.size(), 1u);
  auto after = Open("alice", crashed);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->workspace().ledger().Reservations()->size(), 1u) << "as the crash left it";
  auto budget = after->GetBudget("patients");
  ASSERT_TRUE(budget.ok()) << budget.status();
  EXPECT_TRUE(budget->charges.empty()) << "released: no audit entry, nothing was released";
  EXPECT_EQ(budget->remaining.epsilon, 1.0);
  EXPECT_NE(Entries(*after).back().action, "query");
}

// A crash after the audit entry became durable and before the charge was settled: the next session finds the
// entry and commits the charge, so the ledger matches the audit trail.
TEST_F(BudgetTest, CrashAfterTheAuditEntryKeepsTheCharge) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  const std::string crashed = tmp_.File("crashed");
  env_.AfterNextAuditSync([&] { fs::copy(dir_, crashed, fs::copy_options::recursive); });
  auto r = Query(*owner_, 0.5);
  ASSERT_TRUE(r.ok()) << r.status();
  owner_.reset();
  auto after = Open("alice", crashed);
  ASSERT_NE(after, nullptr);
  auto reserved = after->workspace().ledger().Reservations();
  ASSERT_EQ(reserved->size(), 1u) << "as the crash left it";
  auto budget = after->GetBudget("patients");
  ASSERT_TRUE(budget.ok()) << budget.status();
  ASSERT_EQ(budget->charges.size(), 1u);
  EXPECT_EQ(budget->charges[0].audit_seq, r->receipt.audit_seq) << "settled with its own entry";
  EXPECT_EQ(budget->remaining.epsilon, 0.5);
  EXPECT_TRUE(after->workspace().ledger().Reservations()->empty());
}

// Sessions in several threads (each opening the workspace, as separate `veil query` processes do) race for a
// budget of 1.0 at 0.1 a query: exactly ten are allowed.
TEST_F(BudgetTest, ConcurrentSessionsCannotOverspend) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  owner_.reset();
  std::atomic<int> allowed{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto s = Session::Open(env_, dir_, "bob", std::nullopt);
        if (!s.ok()) {
          ++failed;
          ADD_FAILURE() << s.status();
          continue;
        }
        auto r = (*s)->RunCharged<int>(
            Operation::kQuery, "patients", "research", {0.1, 0, "mrn", "COUNT(*)"}, {},
            [](const store::DatasetContents& d) -> absl::StatusOr<ChargedResult<int>> {
              return ChargedResult<int>{static_cast<int>(d.table.num_rows()), crypto::Sha256("n")};
            });
        if (r.ok()) {
          ++allowed;
        } else if (absl::IsResourceExhausted(r.status())) {
          ++refused;
        } else {
          ++failed;
          ADD_FAILURE() << r.status();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(allowed, 10);
  EXPECT_EQ(refused, 6);
  owner_ = Open("alice", dir_);
  auto budget = owner_->GetBudget("patients");
  EXPECT_EQ(budget->charges.size(), 10u);
  EXPECT_LE(budget->spent.epsilon, 1.0 * (1 + store::kBudgetTolerance));
}

TEST_F(BudgetTest, RunChargedIsNotReentrant) {
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 0}).ok());
  absl::Status inner;
  auto r = owner_->RunCharged<int>(Operation::kQuery, "patients", "care", {0.1, 0, "mrn", "outer"}, {},
                                   [&](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<int>> {
                                     inner = Query(*owner_, 0.1).status();
                                     return ChargedResult<int>{1, {}};
                                   });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(owner_->GetBudget("patients")->charges.size(), 1u);
}

}  // namespace
}  // namespace veil::gov
