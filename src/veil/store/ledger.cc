#include "veil/store/ledger.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/hex.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"

namespace veil::store {
namespace {

using base::Rfc3339;

// Neumaier's variant of Kahan summation: the compensation also covers terms larger than the running sum.
class CompensatedSum {
 public:
  void Add(double x) {
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      compensation_ += (sum_ - t) + x;
    } else {
      compensation_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  double Value() const { return sum_ + compensation_; }

 private:
  double sum_ = 0;
  double compensation_ = 0;
};

constexpr char kChargeColumns[] =
    "SELECT c.id, d.name, c.charged_ns, c.actor, c.operation, c.epsilon, c.delta, c.description, "
    "c.params_hash, c.audit_from, c.audit_seq FROM privacy_charge c JOIN dataset d ON d.id = c.dataset_id ";

}  // namespace

nlohmann::ordered_json EpsilonDeltaToJson(const EpsilonDelta& v) {
  return {{"epsilon", v.epsilon}, {"delta", v.delta}};
}

std::string FormatDouble(double v) {
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string FormatEpsilonDelta(const EpsilonDelta& v) {
  return absl::StrCat("epsilon=", FormatDouble(v.epsilon), " delta=", FormatDouble(v.delta));
}

absl::Status ValidateBudgetTotal(const EpsilonDelta& total) {
  if (!std::isfinite(total.epsilon) || total.epsilon < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a budget's epsilon must be a finite number >= 0, not ", FormatDouble(total.epsilon)));
  }
  if (!std::isfinite(total.delta) || total.delta < 0 || total.delta >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a budget's delta must be in [0, 1), not ", FormatDouble(total.delta)));
  }
  return absl::OkStatus();
}

absl::Status ValidateCost(const EpsilonDelta& cost) {
  if (!std::isfinite(cost.epsilon) || cost.epsilon <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a privacy cost's epsilon must be a finite number > 0, not ", FormatDouble(cost.epsilon)));
  }
  if (!std::isfinite(cost.delta) || cost.delta < 0 || cost.delta >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a privacy cost's delta must be in [0, 1), not ", FormatDouble(cost.delta)));
  }
  return absl::OkStatus();
}

absl::Status ValidateChargeDescription(std::string_view description) {
  if (description.empty() || description.size() > kMaxChargeDescriptionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a charge's description must have 1 to ", kMaxChargeDescriptionBytes, " bytes"));
  }
  if (base::FindInvalidUtf8(description) != description.size())
    return absl::InvalidArgumentError("a charge's description must be valid UTF-8");
  for (char c : description) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return absl::InvalidArgumentError("a charge's description must not hold control characters");
  }
  return absl::OkStatus();
}

EpsilonDelta BasicComposition(std::span<const EpsilonDelta> costs) {
  CompensatedSum epsilon, delta;
  for (const EpsilonDelta& c : costs) {
    epsilon.Add(c.epsilon);
    delta.Add(c.delta);
  }
  return {epsilon.Value(), delta.Value()};
}

bool FitsBudget(const EpsilonDelta& total, const EpsilonDelta& spent, const EpsilonDelta& cost) {
  const EpsilonDelta parts[] = {spent, cost};
  const EpsilonDelta after = BasicComposition(parts);
  return after.epsilon <= total.epsilon * (1 + kBudgetTolerance) &&
         after.delta <= total.delta * (1 + kBudgetTolerance);
}

EpsilonDelta Remaining(const EpsilonDelta& total, const EpsilonDelta& spent) {
  // A remainder within the tolerance is rounding (1.0 - 10 x 0.1 = 1.1e-16): it shows as 0.
  const auto part = [](double t, double s) { return t - s <= t * kBudgetTolerance ? 0.0 : t - s; };
  return {part(total.epsilon, spent.epsilon), part(total.delta, spent.delta)};
}

nlohmann::ordered_json DatasetBudgetToJson(const DatasetBudget& budget) {
  nlohmann::ordered_json total = nullptr;
  if (budget.total.has_value()) {
    total = EpsilonDeltaToJson(budget.total->amount);
    total["set_by"] = budget.total->set_by;
    total["set_at"] = Rfc3339(budget.total->set_at);
  }
  nlohmann::ordered_json charges = nlohmann::ordered_json::array();
  for (const LedgerCharge& c : budget.charges) {
    charges.push_back({{"id", c.id},
                       {"time", Rfc3339(c.time)},
                       {"actor", c.actor},
                       {"operation", c.operation},
                       {"epsilon", c.cost.epsilon},
                       {"delta", c.cost.delta},
                       {"description", c.description},
                       {"audit_seq", c.audit_seq.has_value() ? nlohmann::ordered_json(*c.audit_seq)
                                                             : nlohmann::ordered_json(nullptr)},
                       {"state", c.reserved() ? "reserved" : "committed"}});
  }
  return {{"dataset", budget.dataset},
          {"composition", "basic"},
          {"total", total},
          {"spent", EpsilonDeltaToJson(budget.spent)},
          {"remaining", EpsilonDeltaToJson(budget.remaining)},
          {"charges", charges}};
}

absl::StatusOr<int64_t> Ledger::DatasetId(std::string_view dataset) {
  VEIL_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id FROM dataset WHERE name = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no dataset named \"", std::string(dataset), "\""));
  return st.ColumnInt64(0);
}

absl::StatusOr<std::optional<BudgetTotal>> Ledger::LoadTotal(int64_t dataset_id) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("SELECT epsilon, delta, set_by, set_ns FROM privacy_budget "
                                     "WHERE dataset_id = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<BudgetTotal>();
  BudgetTotal total;
  total.amount = {st.ColumnDouble(0), st.ColumnDouble(1)};
  total.set_by = st.ColumnText(2);
  total.set_at = absl::FromUnixNanos(st.ColumnInt64(3));
  if (!ValidateBudgetTotal(total.amount).ok())
    return absl::DataLossError("workspace.db: a privacy budget is damaged (not a valid total)");
  return std::optional<BudgetTotal>(std::move(total));
}

absl::StatusOr<std::vector<LedgerCharge>> Ledger::LoadCharges(std::string_view where, int64_t value) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare(absl::StrCat(kChargeColumns, std::string(where), " ORDER BY c.id")));
  if (where.find("?1") != std::string_view::npos) VEIL_RETURN_IF_ERROR(st.Bind(1, value));
  std::vector<LedgerCharge> charges;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    LedgerCharge c;
    c.id = st.ColumnInt64(0);
    c.dataset = st.ColumnText(1);
    c.time = absl::FromUnixNanos(st.ColumnInt64(2));
    c.actor = st.ColumnText(3);
    c.operation = st.ColumnText(4);
    c.cost = {st.ColumnDouble(5), st.ColumnDouble(6)};
    c.description = st.ColumnText(7);
    const std::vector<uint8_t> hash = st.ColumnBlob(8);
    if (hash.size() != c.params_hash.size() || !ValidateCost(c.cost).ok() || st.ColumnInt64(9) < 0)
      return absl::DataLossError(absl::StrCat("workspace.db: privacy charge ", c.id, " is damaged"));
    std::copy(hash.begin(), hash.end(), c.params_hash.begin());
    c.audit_from = static_cast<uint64_t>(st.ColumnInt64(9));
    if (!st.IsNull(10)) c.audit_seq = static_cast<uint64_t>(st.ColumnInt64(10));
    charges.push_back(std::move(c));
  }
  return charges;
}

absl::StatusOr<EpsilonDelta> Ledger::Spent(int64_t dataset_id) {
  // Only the two costs: this runs before every DP operation.
  VEIL_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT epsilon, delta FROM privacy_charge WHERE "
                                                   "dataset_id = ?1 ORDER BY id"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
  std::vector<EpsilonDelta> costs;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    costs.push_back({st.ColumnDouble(0), st.ColumnDouble(1)});
  }
  return BasicComposition(costs);
}

absl::StatusOr<DatasetBudget> Ledger::Get(std::string_view dataset) {
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(dataset));
  DatasetBudget budget;
  budget.dataset = dataset;
  VEIL_ASSIGN_OR_RETURN(budget.total, LoadTotal(id));
  VEIL_ASSIGN_OR_RETURN(budget.charges, LoadCharges("WHERE c.dataset_id = ?1", id));
  std::vector<EpsilonDelta> costs;
  for (const LedgerCharge& c : budget.charges) costs.push_back(c.cost);
  budget.spent = BasicComposition(costs);
  if (budget.total.has_value()) budget.remaining = Remaining(budget.total->amount, budget.spent);
  return budget;
}

absl::StatusOr<std::vector<DatasetBudget>> Ledger::List() {
  std::vector<std::string> names;
  {
    VEIL_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT name FROM dataset ORDER BY name"));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      names.push_back(st.ColumnText(0));
    }
  }
  std::vector<DatasetBudget> out;
  for (const std::string& name : names) {
    VEIL_ASSIGN_OR_RETURN(DatasetBudget b, Get(name));
    out.push_back(std::move(b));
  }
  return out;
}

absl::StatusOr<DatasetBudget> Ledger::SetTotal(
    std::string_view dataset, const EpsilonDelta& total, std::string_view actor, absl::Time now,
    absl::FunctionRef<absl::Status(const DatasetBudget&)> before_commit) {
  VEIL_RETURN_IF_ERROR(ValidateBudgetTotal(total));
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  VEIL_ASSIGN_OR_RETURN(DatasetBudget budget, Get(dataset));
  // Lowering is allowed down to what is spent: the answers released so far cannot be taken back.
  if (!FitsBudget(total, budget.spent, EpsilonDelta{})) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot set the budget of dataset \"", std::string(dataset), "\" to ", FormatEpsilonDelta(total),
        ": ", FormatEpsilonDelta(budget.spent), " is already spent, and spent budget is never refunded"));
  }
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(dataset));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO privacy_budget(dataset_id, epsilon, delta, set_by, set_ns) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(dataset_id) DO UPDATE SET "
                                     "epsilon = excluded.epsilon, delta = excluded.delta, "
                                     "set_by = excluded.set_by, set_ns = excluded.set_ns"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, total.epsilon));
  VEIL_RETURN_IF_ERROR(st.Bind(3, total.delta));
  VEIL_RETURN_IF_ERROR(st.Bind(4, actor));
  VEIL_RETURN_IF_ERROR(st.Bind(5, absl::ToUnixNanos(now)));
  VEIL_RETURN_IF_ERROR(st.Run());
  budget.total = BudgetTotal{total, std::string(actor), now};
  budget.remaining = Remaining(total, budget.spent);
  VEIL_RETURN_IF_ERROR(before_commit(budget));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return budget;
}

absl::StatusOr<Reservation> Ledger::Reserve(const ChargeReservation& request) {
  VEIL_RETURN_IF_ERROR(ValidateCost(request.cost));
  VEIL_RETURN_IF_ERROR(ValidateChargeDescription(request.description));
  // The write lock is taken first, so no other connection can debit between the check and the insert.
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(request.dataset));
  VEIL_ASSIGN_OR_RETURN(std::optional<BudgetTotal> total, LoadTotal(id));
  if (!total.has_value()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "dataset \"", request.dataset,
        "\" has no privacy budget, so differentially private operations on it are refused; its owner sets "
        "one with `veil budget set ",
        request.dataset, " --epsilon E --delta D`"));
  }
  VEIL_ASSIGN_OR_RETURN(const EpsilonDelta spent, Spent(id));
  if (!FitsBudget(total->amount, spent, request.cost)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the privacy budget of dataset \"", request.dataset, "\" does not cover this ",
                     request.operation, ": it costs ", FormatEpsilonDelta(request.cost), " but only ",
                     FormatEpsilonDelta(Remaining(total->amount, spent)), " remain (of ",
                     FormatEpsilonDelta(total->amount),
                     "); its owner can raise the budget with `veil budget set ", request.dataset, "`"));
  }
  VEIL_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("INSERT INTO privacy_charge(dataset_id, charged_ns, actor, operation, epsilon, delta, "
                   "description, params_hash, audit_from, audit_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                   "?9, NULL)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, absl::ToUnixNanos(request.time)));
  VEIL_RETURN_IF_ERROR(st.Bind(3, request.actor));
  VEIL_RETURN_IF_ERROR(st.Bind(4, request.operation));
  VEIL_RETURN_IF_ERROR(st.Bind(5, request.cost.epsilon));
  VEIL_RETURN_IF_ERROR(st.Bind(6, request.cost.delta));
  VEIL_RETURN_IF_ERROR(st.Bind(7, request.description));
  VEIL_RETURN_IF_ERROR(st.BindBlob(8, request.params_hash));
  VEIL_RETURN_IF_ERROR(st.Bind(9, static_cast<int64_t>(request.audit_from)));
  VEIL_RETURN_IF_ERROR(st.Run());
  Reservation r;
  r.charge.id = db_->last_insert_rowid();
  r.charge.dataset = request.dataset;
  r.charge.time = request.time;
  r.charge.actor = request.actor;
  r.charge.operation = request.operation;
  r.charge.cost = request.cost;
  r.charge.description = request.description;
  r.charge.params_hash = request.params_hash;
  r.charge.audit_from = request.audit_from;
  VEIL_RETURN_IF_ERROR(txn.Commit());
  r.total = total->amount;
  const EpsilonDelta parts[] = {spent, request.cost};
  r.spent = BasicComposition(parts);
  r.remaining = Remaining(r.total, r.spent);
  return r;
}

absl::Status Ledger::Settle(int64_t id, uint64_t audit_seq) {
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  VEIL_ASSIGN_OR_RETURN(Statement st, db_->Prepare("UPDATE privacy_charge SET audit_seq = ?2 WHERE id = ?1 "
                                                   "AND audit_seq IS NULL"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, static_cast<int64_t>(audit_seq)));
  VEIL_RETURN_IF_ERROR(st.Run());
  if (db_->changes() != 1)
    return absl::NotFoundError(absl::StrCat("privacy charge ", id, " is not reserved"));
  return txn.Commit();
}

absl::Status Ledger::Release(int64_t id) {
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("DELETE FROM privacy_charge WHERE id = ?1 AND audit_seq IS NULL"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  VEIL_RETURN_IF_ERROR(st.Run());
  if (db_->changes() != 1)
    return absl::NotFoundError(absl::StrCat("privacy charge ", id, " is not reserved"));
  return txn.Commit();
}

absl::StatusOr<std::vector<LedgerCharge>> Ledger::Reservations() {
  return LoadCharges("WHERE c.audit_seq IS NULL", 0);
}

}  // namespace veil::store
