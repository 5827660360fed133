// The privacy-budget ledger (DESIGN.md section 4, step 3; issue 4, item 6): per dataset, the total
// (epsilon, delta) budget its owner allows, and the charges of every differentially private operation run on
// it. Both live in workspace.db (tables privacy_budget and privacy_charge, schema version 2;
// docs/workspace.md).
//
// Composition. Charges compose by basic (sequential) composition: operations that are (epsilon_i, delta_i)-DP
// on the same dataset are together (sum epsilon_i, sum delta_i)-DP (Dwork and Roth 2014, "The Algorithmic
// Foundations of Differential Privacy", Theorem 3.16). It holds for any mix of mechanisms, adaptively chosen,
// with no further assumption; tighter accounting (advanced composition, zCDP, Rényi DP) belongs to one
// operation's own cost (veil::dp's accountant), which the operation reports to the ledger as one
// (epsilon, delta) pair.
//
// Floating point. Sums are taken in charge order with Neumaier's compensated summation, and a charge fits if
// spent + cost <= total * (1 + kBudgetTolerance), for epsilon and for delta separately. The tolerance absorbs
// rounding (ten charges of 0.1 fit a budget of 1.0; three fit a budget of 0.3 although 0.1 + 0.1 + 0.1 >
// 0.3 in binary floating point) and bounds the overspend at one part in 10^9 of the total: for epsilon = 1
// that is a privacy-loss factor of exp(1e-9) - 1 ~ 1e-9 beyond the budget.
//
// Reservations. A charge is recorded in two steps (gov::Session::RunCharged is the only caller):
// Reserve checks the remaining budget and inserts the charge, atomically in one write transaction (BEGIN
// IMMEDIATE, so two connections, threads or processes cannot both pass the check on the same remainder);
// the operation then runs and is audited; Settle links the charge to its audit entry, or Release removes it
// if the operation failed before its audit entry was written. A reservation counts as spent from the moment
// it commits, so nothing can overspend while an operation is in flight or after a crash left one unsettled.
//
// Refunds. There are none: an erasure, a replace or a lower total never gives budget back, because the
// answers already released stay in the world. A total can be lowered, but never below what is spent.
//
// Thread safety: a Ledger uses one Database connection and belongs to one thread at a time, like the
// connection. Separate connections (threads or processes) are safe together: the write transactions
// serialize them.
#ifndef VEIL_STORE_LEDGER_H_
#define VEIL_STORE_LEDGER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/crypto/sha256.h"
#include "veil/store/sqlite.h"

namespace veil::store {

// An (epsilon, delta) pair: a dataset's total budget, what has been spent of it, or one operation's cost.
// gov and the ledger use this, not veil::dp's cost types: the workspace does not depend on the DP module.
struct EpsilonDelta {
  double epsilon = 0;
  double delta = 0;
  friend bool operator==(const EpsilonDelta&, const EpsilonDelta&) = default;
};

// Relative tolerance of the budget check (see "Floating point" above).
inline constexpr double kBudgetTolerance = 1e-9;
// Longest charge description, in bytes.
inline constexpr size_t kMaxChargeDescriptionBytes = 256;

// The shortest decimal form that reads back as the same double ("0.1", "1e-06", "0.30000000000000004").
std::string FormatDouble(double v);
// "epsilon=0.5 delta=1e-06": the audit entry's cost field of a charge.
std::string FormatEpsilonDelta(const EpsilonDelta& v);
// {"epsilon": e, "delta": d}: the JSON form of a pair in `veil budget --json` and `veil query --json`.
nlohmann::ordered_json EpsilonDeltaToJson(const EpsilonDelta& v);

// A total budget: epsilon finite and >= 0, delta finite in [0, 1). (0, 0) is a valid total that allows
// nothing. Errors: InvalidArgument naming the bad value.
absl::Status ValidateBudgetTotal(const EpsilonDelta& total);
// One operation's cost: epsilon finite and > 0 (every DP mechanism has one), delta finite in [0, 1).
// Errors: InvalidArgument naming the bad value.
absl::Status ValidateCost(const EpsilonDelta& cost);
// A charge's description: 1 to kMaxChargeDescriptionBytes bytes of UTF-8 without control characters. It must
// hold no personal data (say what was computed, e.g. "COUNT(*), AVG(age) GROUP BY sex", or the parameters'
// hash), which the ledger cannot check. Errors: InvalidArgument.
absl::Status ValidateChargeDescription(std::string_view description);

// Basic composition of `costs`: the sum of the epsilons and the sum of the deltas, each accumulated in the
// given order with Neumaier's compensated summation (Dwork and Roth 2014, Theorem 3.16).
EpsilonDelta BasicComposition(std::span<const EpsilonDelta> costs);

// Whether `cost` fits in `total` once `spent` is spent: spent + cost <= total * (1 + kBudgetTolerance), for
// epsilon and for delta.
bool FitsBudget(const EpsilonDelta& total, const EpsilonDelta& spent, const EpsilonDelta& cost);

// What remains of `total` after `spent`: total - spent per component, never below 0; a remainder within the
// tolerance (total * kBudgetTolerance, i.e. rounding) is 0.
EpsilonDelta Remaining(const EpsilonDelta& total, const EpsilonDelta& spent);

struct BudgetTotal {
  EpsilonDelta amount;
  std::string set_by;  // the actor who set it last
  absl::Time set_at;
};

// One charge of the ledger.
struct LedgerCharge {
  int64_t id = 0;  // unique in the workspace, increasing in charge order
  std::string dataset;
  absl::Time time;        // when it was reserved, before the operation ran
  std::string actor;      // who ran the operation
  std::string operation;  // the audit entry's action, e.g. "query"
  EpsilonDelta cost;
  std::string description;            // what was computed, without personal data
  crypto::Sha256Digest params_hash;   // the params hash of the operation's audit entry
  uint64_t audit_from = 0;            // the audit log's size at reservation: the entry's seq is at least this
  std::optional<uint64_t> audit_seq;  // the audit entry's seq; nullopt while reserved (not settled)

  bool reserved() const { return !audit_seq.has_value(); }
};

// A dataset's budget as the ledger holds it.
struct DatasetBudget {
  std::string dataset;
  std::optional<BudgetTotal> total;   // nullopt: no budget was set, and DP operations are refused
  EpsilonDelta spent;                 // basic composition of every charge, reservations included
  EpsilonDelta remaining;             // Remaining(total, spent); (0, 0) without a total
  std::vector<LedgerCharge> charges;  // oldest first
};

// The `veil budget NAME --json` document:
//   {"dataset": "...", "composition": "basic", "total": {"epsilon": 1, "delta": 1e-05, "set_by": "...",
//    "set_at": "..."} | null, "spent": {"epsilon", "delta"}, "remaining": {"epsilon", "delta"},
//    "charges": [{"id", "time", "actor", "operation", "epsilon", "delta", "description", "audit_seq" (null
//    while reserved), "state": "committed"|"reserved"}]}
// Times are RFC 3339 UTC.
nlohmann::ordered_json DatasetBudgetToJson(const DatasetBudget& budget);

// What Reserve records: everything of the charge but its id and its audit seq.
struct ChargeReservation {
  std::string dataset;
  std::string actor;
  std::string operation;
  EpsilonDelta cost;
  std::string description;
  crypto::Sha256Digest params_hash{};
  uint64_t audit_from = 0;
  absl::Time time;
};

// A committed reservation, and the budget after it.
struct Reservation {
  LedgerCharge charge;
  EpsilonDelta total;
  EpsilonDelta spent;      // including this charge
  EpsilonDelta remaining;  // after this charge
};

// The ledger of one workspace.db connection. It does not open transactions of its own except where a method
// says so; each mutating method runs in one.
class Ledger {
 public:
  explicit Ledger(Database& db) : db_(&db) {}

  // The dataset's total, spent, remaining and charges. Errors: NotFound naming the dataset.
  absl::StatusOr<DatasetBudget> Get(std::string_view dataset);
  // Every dataset's, in name order (datasets without a budget included, with total = nullopt).
  absl::StatusOr<std::vector<DatasetBudget>> List();

  // Sets the dataset's total budget (raising or lowering it), in one write transaction that also runs
  // `before_commit` with the budget as it will be (gov appends the audit entry there; its error abandons the
  // change). Errors: InvalidArgument for a bad total (ValidateBudgetTotal) or one below what is already
  // spent (beyond the tolerance); NotFound for an unknown dataset; the hook's error; SQLite's.
  absl::StatusOr<DatasetBudget> SetTotal(std::string_view dataset, const EpsilonDelta& total,
                                         std::string_view actor, absl::Time now,
                                         absl::FunctionRef<absl::Status(const DatasetBudget&)> before_commit);

  // Checks that the charge fits in the dataset's remaining budget and records it as a reservation, in one
  // write transaction (BEGIN IMMEDIATE: the check and the debit are atomic against every other connection).
  // Errors: InvalidArgument for a bad cost or description; NotFound for an unknown dataset;
  // ResourceExhausted if the dataset has no budget, or if the cost does not fit in what remains (the message
  // names the dataset, the cost and the remainder, and how the owner sets or raises the budget); SQLite's
  // (Unavailable when another connection holds the write lock past the busy timeout).
  absl::StatusOr<Reservation> Reserve(const ChargeReservation& request);

  // Settles a reservation: links it to its audit entry, making it a committed charge. One transaction.
  // Errors: NotFound if `id` is not a reservation (unknown, or already settled); SQLite's.
  absl::Status Settle(int64_t id, uint64_t audit_seq);
  // Removes a reservation whose operation did not happen. One transaction.
  // Errors: NotFound if `id` is not a reservation; SQLite's.
  absl::Status Release(int64_t id);
  // Every unsettled reservation, oldest first.
  absl::StatusOr<std::vector<LedgerCharge>> Reservations();

 private:
  absl::StatusOr<int64_t> DatasetId(std::string_view dataset);
  absl::StatusOr<std::optional<BudgetTotal>> LoadTotal(int64_t dataset_id);
  absl::StatusOr<std::vector<LedgerCharge>> LoadCharges(std::string_view where, int64_t value);
  absl::StatusOr<EpsilonDelta> Spent(int64_t dataset_id);

  Database* db_;
};

}  // namespace veil::store

#endif  // VEIL_STORE_LEDGER_H_
