// Discretization of mixed tables for the marginal-based synthesizers (issue 8): a typed table::Table
// (numbers, dates, timestamps, strings, booleans) -> the coded domain MST and AIM work on (Domain +
// DiscreteTable), and decoding of synthetic codes back to values of the original columns' types.
//
// Per column (the rule is resolved from the column's type and its ColumnSpec, before any data is read, so
// that the privacy cost follows from the parameters alone):
//   string, bool   categorical. Codes are the kept values (sorted; bool: false, true), then one "other" code
//                  for every value not kept (strings only), then one null code if the field is nullable.
//                  Which values are kept:
//                    kPublicValues    the values the user lists (public; nothing is charged);
//                    kPublicMinCount  the values with at least min_count rows, counted exactly: the user
//                                     declares the column's value set public (not protected; recorded as
//                                     such in the codec's description);
//                    kDpValues        (default for strings) private partition selection
//                    (dp::PartitionSelector,
//                                     Desfontaines et al. 2022), one unit = one row = one value per column:
//                                     (epsilon_c, delta_c)-DP per column with epsilon_c = sqrt(2 rho_c),
//                                     charged as rho_c = epsilon_c^2 / 2 zCDP (pure epsilon-DP implies
//                                     epsilon^2/2-zCDP, Bun & Steinke 2016 Prop. 1.4) plus delta_c, i.e.
//                                     delta_c-approximate rho_c-zCDP (BS16 Def. 8.1), which composes with the
//                                     rest of the run by adding rho and delta. At most max_categories kept
//                                     values (the first in sorted order: post-processing).
//   int64, double, date, timestamp
//                  binned into `bins` equal-width bins over [lower, upper] (values outside are clamped into
//                  the end bins), plus a null code if nullable. Integer-valued types (int64, date in days,
//                  timestamp in microseconds) use integer bins: [lo, hi] = [ceil(lower), floor(upper)] split
//                  into min(bins, hi - lo + 1) runs of consecutive integers whose lengths differ by at most
//                  one. Bounds:
//                    kPublicBounds    given by the user (public);
//                    kDpBounds        (default) dp::ChooseBoundsFromLogHistogram (Google's ApproxBounds:
//                    noisy
//                                     log-histogram, discrete Laplace; pure epsilon_b-DP, L1 sensitivity 1),
//                                     charged as rho_b = epsilon_b^2 / 2. The bounds are powers of two (e.g.
//                                     age in [16, 128]): give public bounds for a tighter domain.
// Every DP step gets an equal share of the ZcdpBudget handed to FitCodec (EqualShare), and the
// partition selections share `selection_delta` equally.
//
// Decoding (Codec::Decode): categorical codes give back the exact value (the other code gives
// DiscretizeOptions::other_value for strings); a bin gives a value drawn uniformly within the bin (integers:
// a uniform integer of the bin's run; doubles: lower edge + U * width), so that the synthetic column has a
// spread within each bin rather than spikes at midpoints (a choice: midpoints would make every synthetic
// value one of `bins` numbers); the null code gives null. The output schema is the input's (names, types,
// nullability) minus the dropped columns, so integers stay integers and dates stay dates.
//
// Privacy: the rows handled must be one per person (the caller bounds contributions first). Decoding uses
// fresh randomness and no data: it is post-processing.
//
// Thread safety: a Codec is immutable after FitCodec; Encode and Decode may run concurrently (Decode with
// one RandomSource per thread).
#ifndef VEIL_SYNTH_DISCRETIZE_H_
#define VEIL_SYNTH_DISCRETIZE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/dp/random_bits.h"
#include "veil/synth/domain.h"
#include "veil/synth/measurement.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace veil::synth {

enum class ColumnRule {
  kAuto,            // resolved from the type: strings kDpValues, bool kPublicValues (false, true), others
                    // kDpBounds, or kPublicBounds when lower and upper are given
  kPublicValues,    // categorical: the listed values
  kPublicMinCount,  // categorical: values with at least min_count rows (declared public; not DP)
  kDpValues,        // categorical: private partition selection (charged)
  kPublicBounds,    // binned: the given bounds
  kDpBounds,        // binned: DP bounds (charged)
};

// "auto", "public values", "public min count", "dp values", "public bounds", "dp bounds".
const char* ColumnRuleName(ColumnRule rule);

// What the user says about one column (all optional).
struct ColumnSpec {
  std::string name;
  ColumnRule rule = ColumnRule::kAuto;
  // kPublicValues: the values, as text in the column's type's text form ("true"/"false" for bools).
  std::vector<std::string> values = {};
  // kPublicMinCount: the threshold (>= 1).
  int64_t min_count = 0;
  // kPublicBounds: in the column's units (numbers; dates in days since 1970-01-01; timestamps in
  // microseconds since the epoch). lower <= upper, both finite.
  std::optional<double> lower = std::nullopt;
  std::optional<double> upper = std::nullopt;
  // Binned columns: the number of bins; 0 = DiscretizeOptions::default_bins.
  int64_t bins = 0;
};

struct DiscretizeOptions {
  // Specs by column name; columns without one get ColumnRule::kAuto.
  std::vector<ColumnSpec> columns;
  // Columns left out of the coded domain (e.g. the dataset's subject column).
  std::vector<std::string> drop;
  // Bins of numeric, date and timestamp columns without a spec (or with bins = 0).
  int64_t default_bins = 16;
  // At most this many values kept per categorical column by kDpValues / kPublicMinCount.
  int64_t max_categories = 1000;
  // The decoded value of a string column's "other" code.
  std::string other_value = "(other)";
};

// How one column is coded.
struct ColumnCoding {
  std::string name;
  table::DataType type = table::DataType::kString;
  bool nullable = false;
  ColumnRule rule = ColumnRule::kAuto;  // resolved (never kAuto)
  bool categorical = false;
  // Categorical: code i < values.size() is values[i] (text form); then the other code if has_other.
  std::vector<std::string> values = {};
  bool has_other = false;
  // Binned: the bounds used (after DP estimation) and the number of bins.
  double lower = 0, upper = 0;
  int64_t bins = 0;
  // The number of codes, including other and null codes.
  int64_t size = 0;
  // The null code (size - 1) if nullable, else -1.
  int32_t null_code() const { return nullable ? static_cast<int32_t>(size - 1) : -1; }
};

// The resolved rules and the number of charged steps, from the schema and the options alone (no data).
struct DiscretizePlan {
  std::vector<ColumnCoding> columns;  // rule, type, nullability set; nothing data-dependent
  int dp_bounds_steps = 0;
  int dp_values_steps = 0;
  int dp_steps() const { return dp_bounds_steps + dp_values_steps; }
};

// Errors: InvalidArgument naming the column for a spec of an unknown or dropped column, a rule that does not
// fit the type (values for a number, bounds for a string), bad bounds (not finite, lower > upper), bins
// outside [1, kMaxAttributeSize], a min_count < 1, a duplicate spec; or if no column is left.
absl::StatusOr<DiscretizePlan> PlanDiscretization(const table::Schema& schema,
                                                  const DiscretizeOptions& options);

class Codec {
 public:
  const Domain& domain() const { return domain_; }
  const std::vector<ColumnCoding>& columns() const { return columns_; }
  // The output schema (the coded columns' fields).
  const table::Schema& schema() const { return schema_; }

  // The codes of `t`'s rows (t must have every coded column, of the same type; other columns are ignored).
  // Errors: InvalidArgument naming a missing or retyped column.
  absl::StatusOr<DiscreteTable> Encode(const table::Table& t) const;

  // Typed rows from codes over domain() (see the file comment). Errors: InvalidArgument if the domain
  // differs; the source's error.
  absl::StatusOr<table::Table> Decode(const DiscreteTable& codes, base::RandomSource& random) const;

  // A label per code of attribute `attr` (for plots): the value, "(other)", "null", or the bin's range
  // ("20..29", "2020-03-01..2020-03-07", "[0, 1250)").
  std::vector<std::string> Labels(int attr) const;

  // A one-line description per column for the privacy report, e.g. "age: int64, 16 bins over [16, 128]
  // (dp bounds)". Never lists the kept values of a DP rule (they are DP outputs but may be numerous).
  std::vector<std::string> Describe() const;

  // Builds a codec from fully resolved codings (for tests and for a codec read back from a description).
  // Errors: InvalidArgument for an inconsistent coding.
  static absl::StatusOr<Codec> FromCodings(std::vector<ColumnCoding> columns);

 private:
  friend absl::StatusOr<Codec> FitCodec(const table::Table&, const DiscretizeOptions&, ZcdpBudget*, double,
                                        dp::RandomBits&);
  Domain domain_;
  std::vector<ColumnCoding> columns_;
  table::Schema schema_;
  std::string other_value_ = "(other)";
};

// Resolves the plan for `data`'s schema and runs its data-dependent steps: DP bounds and DP value selection
// charged to `budget` (each step an equal share of budget->remaining_rho() at the call, named "bounds (COL)"
// / "values (COL)"), the partition selections sharing `selection_delta` (0 < selection_delta < 1 when there
// is such a step), and the exact public min-count rule. `budget` may be null when the plan has no DP step.
// Guarantee: the DP steps together are selection_delta-approximate rho-zCDP with rho = what was charged.
// Errors: PlanDiscretization's; InvalidArgument for a missing budget or delta when the plan needs them;
// ResourceExhausted from the budget; the samplers' errors. No error depends on the data's values.
absl::StatusOr<Codec> FitCodec(const table::Table& data, const DiscretizeOptions& options, ZcdpBudget* budget,
                               double selection_delta, dp::RandomBits& bits);

// A codec for an already discretized table (AIM-style domain file): every attribute an int64 categorical
// column whose codes are the values 0 .. size-1 (no other code, no null code). Encode then reads the
// integer codes (DiscreteTable::FromTable) and Decode writes them back.
absl::StatusOr<Codec> IdentityCodec(const Domain& domain);

}  // namespace veil::synth

#endif  // VEIL_SYNTH_DISCRETIZE_H_
