// Privacy models for tables (k-anonymity, distinct and entropy l-diversity, with a suppression limit) and the
// optimal full-domain generalization search over the generalization lattice, ARX-compatible.
//
// Models (on an EncodedTable; an equivalence class = the records with equal generalized QI values):
//   k-anonymity (Samarati & Sweeney 1998): every class has >= k records.
//   distinct l-diversity (Machanavajjhala et al. 2007): every class has >= l distinct sensitive values.
//   entropy l-diversity (ibid.): every class E has -sum_s p(s|E) ln p(s|E) >= ln l.
// With a suppression limit s in [0, 1] (ARX's "suppression limit"): the records of the classes that violate
// the model are suppressed (their QIs become '*'), and a transformation is acceptable ("anonymous") iff the
// number of such records is <= floor(s * n). The suppressed records are not required to form a valid class
// themselves (as ARX).
//
// Search (kanon.cc): every node of the lattice (one generalization level per QI) is a candidate; the result
// is an anonymous node of minimal information loss under the chosen metric (utility.h). Nodes are visited in
// ascending order of a lower bound of their loss (for NUE the exact, node-only loss as in ARX's precomputed
// metric; for Loss the loss without suppression, which ARX also uses as bound); the search stops when the
// next bound is >= the best loss found. Pruning by monotonicity (k-anonymity and distinct l-diversity, with
// or without suppression, and entropy l-diversity without suppression, are monotone: if a node is anonymous,
// so are all its generalizations) uses predictive tagging as in ARX's Flash/OLA (Kohlmayer et al. 2012; El
// Emam et al. 2009): before checking a node, the search climbs to a generalization whose bound is still below
// the best (taking the step of largest bound), checks it, and tags all its specializations non-anonymous (or
// its generalizations anonymous) at once; it does not climb when every node is anonymous anyway (a 100%
// suppression limit with a bound that is not exact). Checking a node groups records by packed integer keys
// (all QI ids packed into 64 bits) and "rolls up" the equivalence classes of an already grouped
// specialization (a class table of the lower node is mapped through the level maps and merged), instead of
// re-scanning the records.
//
// Ties in loss are broken by the smaller sum of levels, then the lexicographically smaller level vector.
//
// Thread safety: pure functions; the search is single-threaded.
#ifndef VEIL_ANON_KANON_H_
#define VEIL_ANON_KANON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "veil/anon/hierarchy.h"
#include "veil/anon/utility.h"
#include "veil/table/table.h"

namespace veil::anon {

enum class LDiversity { kNone, kDistinct, kEntropy };

struct PrivacyModel {
  int64_t k = 2;  // >= 1 (k = 1: no k-anonymity requirement)
  LDiversity l_diversity = LDiversity::kNone;
  double l = 2;                  // >= 1; used iff l_diversity != kNone (needs a sensitive column)
  double suppression_limit = 0;  // in [0, 1]
};

// Validates the model against `table`. Errors: InvalidArgument if k < 1, l < 1 or not finite, the
// suppression limit is outside [0, 1], or l-diversity is asked without a sensitive column.
absl::Status ValidatePrivacyModel(const PrivacyModel& model, const EncodedTable& table);

enum class Metric {
  kNonUniformEntropy,  // ARX createPrecomputedEntropyMetric(0.1, true) (utility.h)
  kLoss,               // ARX Loss (MetricMDNMLoss, geometric mean)
  kDiscernibility,     // ARX discernibility
  kAverageClassSize,   // ARX AECS
};
// "nue" | "loss" | "discernibility" | "aecs" (and back). Parse errors: InvalidArgument listing the names.
std::string_view MetricName(Metric metric);
absl::StatusOr<Metric> ParseMetric(std::string_view name);

// The outcome of checking one node.
struct NodeCheck {
  bool anonymous = false;                   // suppressed <= floor(limit * n)
  int64_t suppressed = 0;                   // records in violating classes
  int64_t num_classes = 0;                  // classes of non-suppressed records
  std::vector<uint8_t> suppressed_records;  // per record, only filled by CheckNode (not during the search)
};

// Checks the full-domain generalization at `levels` directly (by scanning the records).
// Errors: those of ValidatePrivacyModel; InvalidArgument if `levels` does not fit the table.
absl::StatusOr<NodeCheck> CheckNode(const EncodedTable& table, absl::Span<const int> levels,
                                    const PrivacyModel& model);

struct SearchOptions {
  PrivacyModel model;
  Metric metric = Metric::kNonUniformEntropy;
  // Upper bound of lattice nodes (product of the numbers of levels); larger lattices are refused. The search
  // keeps about 25 bytes per node (bound, order, state).
  int64_t max_nodes = int64_t{4'000'000};
  // Bytes of class tables kept for roll-up (the bottom node's table is always kept).
  int64_t cache_bytes = int64_t{256} << 20;
};

struct SearchStats {
  int64_t lattice_nodes = 0;     // size of the lattice
  int64_t nodes_checked = 0;     // nodes whose classes were computed
  int64_t rollups = 0;           // of those, computed from a lower node's class table
  int64_t tagged_anonymous = 0;  // nodes decided by predictive tagging (no check)
  int64_t tagged_non_anonymous = 0;
  int64_t pruned_by_bound = 0;  // nodes never visited because their bound was >= the best loss
  double seconds = 0;
};

struct SearchResult {
  bool found = false;               // false: no node is anonymous (not even the top)
  std::vector<int> levels;          // per QI (table.qis order)
  double information_loss = 0;      // under SearchOptions::metric
  UtilityMetrics utility;           // all metrics of the chosen node (with its suppression)
  std::vector<uint8_t> suppressed;  // per record
  SearchStats stats;
};

// Optimal full-domain search (see the file comment). Returns found == false (not an error) when even the
// most general node violates the model within the suppression limit.
// Errors: those of ValidatePrivacyModel; InvalidArgument if the lattice has more than max_nodes nodes or the
// packed key needs more than 64 bits (sum over QIs of ceil(log2(leaves)), plus the sensitive ids).
absl::StatusOr<SearchResult> OptimalSearch(const EncodedTable& table, const SearchOptions& options);

// The information loss of one node under `metric` with the given suppressed records (utility.h).
absl::StatusOr<double> NodeLoss(const EncodedTable& table, absl::Span<const int> levels,
                                absl::Span<const uint8_t> suppressed, Metric metric);

// Writes the generalized table: a copy of `input` (all columns as strings, names kept) in which QI q of
// record r is table.qis[q].labels[levels[q]][node] and, for a suppressed record, `suppression_token` in every
// QI column (ARX writes '*'). Non-QI columns are copied as Table::FormatValue (null -> null).
// Errors: InvalidArgument if `input` is not the table `table` was encoded from (rows), or `levels` /
// `suppressed` do not fit.
absl::StatusOr<table::Table> ApplyFullDomain(const table::Table& input, const EncodedTable& table,
                                             absl::Span<const int> levels,
                                             absl::Span<const uint8_t> suppressed,
                                             std::string_view suppression_token = "*");

}  // namespace veil::anon

#endif  // VEIL_ANON_KANON_H_
