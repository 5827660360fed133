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
//                    kDpValues        (default for strings) private partition selection by Gaussian
//                                     thresholding, one unit = one row = one value per column: each value
//                                     present gets its count plus discrete Gaussian noise of sigma =
//                                     1 / sqrt(2 rho_c) (dp::SampleDiscreteGaussianWithSigma) and is kept
//                                     when that reaches tau = 1 + ceil(sigma sqrt(2 ln(1 / delta_c))). Values
//                                     in both neighbours: a Gaussian mechanism of sensitivity 1, rho_c-zCDP;
//                                     the value only one neighbour has (count 1) is kept with probability P(Z
//                                     >= tau - 1) <= exp(-(tau - 1)^2 / (2 sigma^2)) <= delta_c (the discrete
//                                     Gaussian is sigma^2-sub-Gaussian, CKS20): delta_c-approximate
//                                     rho_c-zCDP (Bun & Steinke 2016, Def. 8.1), which composes with the rest
//                                     of the run by adding rho and delta. At the same rho_c and delta_c this
//                                     keeps a value from about tau rows, 2 to 3 times fewer than the
//                                     pure-epsilon rule of dp::PartitionSelector at epsilon = sqrt(2 rho_c)
//                                     (its ln(1 / delta) / epsilon grows faster than sqrt(ln(1 / delta))): at
//                                     epsilon 1 on Adult about 280 rows instead of 640. At most
//                                     max_categories kept values (the first in sorted order:
//                                     post-processing).
//   int64, double, date, timestamp
//                  binned, plus a null code if nullable. Bounds [lower, upper] (values outside are clamped
//                  into the end bins):
//                    kPublicBounds    given by the user (public);
//                    kDpBounds        (default) dp::ChooseBoundsFromLogHistogram (Google's ApproxBounds:
//                                     noisy log-histogram, discrete Laplace; pure epsilon_b-DP, L1
//                                     sensitivity 1), charged as rho_b = epsilon_b^2 / 2. The bounds are
//                                     powers of two (e.g. age in [16, 128]).
//                  Bins (Binning):
//                    kQuantiles       (default) bins from `bins` - 1 DP quantiles (ranks j / bins) of the
//                                     column, estimated with a quantile tree (dp::GroupQuantileTree,
//                                     branching 16) over the bounds, discrete Gaussian node noise, L2
//                                     sensitivity sqrt(height), charged rho_q = height / (2 sigma^2)
//                                     ("quantiles (COL)"). Integer types get unit-width leaves when the range
//                                     allows (at most 16^6 leaves, else leaves of an integer width). Each
//                                     estimated quantile is snapped to its leaf; a leaf hit by two or more
//                                     quantiles (it holds at least about 1/bins of the rows, e.g.
//                                     capital-loss = 0) becomes a bin of its own - a point bin when the leaf
//                                     is one value - and every other quantile cuts at its leaf's end. So the
//                                     bins follow the distribution (equal-mass where it is continuous, exact
//                                     values where mass concentrates) and there are at most 2 bins - 1 of
//                                     them.
//                    kEqualWidth      `bins` equal-width bins over [lower, upper]; integer-valued types
//                                     (int64, date in days, timestamp in microseconds) use integer bins:
//                                     [ceil(lower), floor(upper)] split into min(bins, width) runs of
//                                     consecutive integers whose lengths differ by at most one.
//                    kEdges           public bins given by the user: edges e_0 < e_1 < ... < e_k, bins
//                                     [e_i, e_{i+1}) and the last [e_{k-1}, e_k]; the bounds are e_0, e_k
//                                     (nothing is charged). For integers [0, 1, 100] is the bins {0} and
//                                     1..100.
//                  Quantile and edge bins are held as bin starts (ColumnCoding::starts).
// The ZcdpBudget handed to FitCodec is split in shares (EqualShare): each DP bounds step and each DP value
// selection gets two shares (their noisy counts must clear a threshold, so they need the larger epsilon),
// each quantile step one share; the partition selections share `selection_delta` equally.
//
// Decoding (Codec::Decode): categorical codes give back the exact value (the other code gives
// DiscretizeOptions::other_value for strings); the null code gives null; a point bin gives exactly its value.
// Any other bin gives a value drawn WITHIN THE BIN from the column's distribution as the DP quantile tree
// estimated it (ColumnCoding::quantiles, kQuantiles only): the tree's quantile function Q at ranks j / M is
// linear between those ranks, its inverse G (G(x) = the rank below x) gives the bin [s, e) the ranks
// [G(s), G(e)), and a uniform rank u there decodes to Q(u) (integers: floor, kept within the bin). So the top
// bin of ages [75, 128] (DP bounds are powers of two) decodes like the ages the tree saw there (mostly 75 to
// 90), not uniformly up to 128, and a tail clamped at a bound keeps its mass AT the bound. The tree's noise
// on cells above the upper bound (empty by construction: values are clamped to the bounds first) is outside
// every bin and never used. When the tree gives a bin no mass (noise), and for equal-width and public-edge
// bins (no tree; nothing is spent to learn their inside), the value is uniform within the bin (integers: a
// uniform integer of the bin's run; doubles: lower edge + U * width). Never a midpoint: that would make every
// synthetic value one of `bins` numbers. The output schema is the input's (names, types, nullability) minus
// the dropped columns, so integers stay integers and dates stay dates. Values outside the bounds cannot be
// produced: a tail the bounds clamp (DP bounds are chosen where the noisy log-histogram clears a threshold,
// e.g. capital-gain above 16384 in Adult at epsilon 1) comes back at the bound; public bounds keep it.
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
#include <string_view>
#include <utility>
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

// How a binned column is cut (see the file comment).
enum class Binning {
  kAuto,        // kEdges when edges are given, else kQuantiles
  kQuantiles,   // DP quantiles (charged)
  kEqualWidth,  // equal-width bins over the bounds
  kEdges,       // public edges
};

// "auto", "quantiles", "equal-width", "edges".
const char* BinningName(Binning binning);
// The inverse of BinningName (except "auto"); nullopt for an unknown name.
std::optional<Binning> ParseBinning(std::string_view name);

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
  // Binned columns: the number of bins (kQuantiles: bins - 1 quantiles); 0 = DiscretizeOptions::default_bins.
  int64_t bins = 0;
  Binning binning = Binning::kAuto;
  // kEdges: strictly increasing finite edges, at least two (in the column's units, integers for integer
  // types). Excludes lower, upper and bins.
  std::vector<double> edges = {};
};

struct DiscretizeOptions {
  // Specs by column name; columns without one get ColumnRule::kAuto.
  std::vector<ColumnSpec> columns;
  // Columns left out of the coded domain (e.g. the dataset's subject column).
  std::vector<std::string> drop;
  // Bins of numeric, date and timestamp columns without a spec (or with bins = 0).
  int64_t default_bins = 16;
  // Binning of numeric, date and timestamp columns whose spec names none (and gives no edges).
  Binning default_binning = Binning::kQuantiles;
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
  // kDpValues (after fitting): the threshold tau of the Gaussian thresholding, the number of rows at which a
  // value is kept with probability 1/2: a property of the budget share, not of the data. Values with far
  // fewer rows are merged into the other code.
  int64_t keep_rows = 0;
  // Binned: the bounds used (after DP estimation), the number of bins asked for, and how they are cut.
  double lower = 0, upper = 0;
  int64_t bins = 0;
  Binning binning = Binning::kEqualWidth;
  // kQuantiles (after fitting) and kEdges: the start of each bin, strictly increasing, starts[0] == lower,
  // all <= upper (integers for integer types); bin i holds [starts[i], starts[i + 1]) and the last bin
  // [starts.back(), upper]. Empty for kEqualWidth.
  std::vector<double> starts = {};
  // kQuantiles (after fitting): the column's quantile function as the noisy quantile tree estimates it, at
  // the ranks j / M, j = 0 .. M (M = quantiles.size() - 1), read from the same tree as `starts`
  // (post-processing: nothing more is charged), in the tree's units (an integer v is the cell [v, v + 1)),
  // within [lower, upper (+ 1 for integer types)]. Decode draws a value within its bin from this distribution
  // restricted to the bin (see the file comment). Empty: uniform within each bin (equal-width and edge bins
  // have no tree).
  std::vector<double> quantiles = {};
  // The number of codes, including other and null codes.
  int64_t size = 0;
  // The null code (size - 1) if nullable, else -1.
  int32_t null_code() const { return nullable ? static_cast<int32_t>(size - 1) : -1; }
};

// The resolved rules and the number of charged steps, from the schema and the options alone (no data).
struct DiscretizePlan {
  std::vector<ColumnCoding> columns;  // rule, type, nullability set; nothing data-dependent
  int dp_bounds_steps = 0;
  int dp_quantile_steps = 0;
  int dp_values_steps = 0;
  int dp_steps() const { return dp_bounds_steps + dp_quantile_steps + dp_values_steps; }
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

  // What a user should know about the coding (DP outputs and parameters only): a string column whose DP
  // value selection kept no value (every synthetic value is the other value), with the rows a value needs at
  // this budget and the remedy (public values in a spec). Empty if nothing.
  std::vector<std::string> Warnings() const;

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

// Resolves the plan for `data`'s schema and runs its data-dependent steps: DP bounds, DP quantiles and DP
// value selection charged to `budget` (each step an equal share of budget->remaining_rho() at the call,
// named "bounds (COL)" / "quantiles (COL)" / "values (COL)"), the partition selections sharing
// `selection_delta` (0 < selection_delta < 1 when there is such a step), and the exact public min-count rule.
// `budget` may be null when the plan has no DP step. Guarantee: the DP steps together are
// selection_delta-approximate rho-zCDP with rho = what was charged. Errors: PlanDiscretization's;
// InvalidArgument for a missing budget or delta when the plan needs them; ResourceExhausted from the budget;
// the samplers' errors. No error depends on the data's values.
absl::StatusOr<Codec> FitCodec(const table::Table& data, const DiscretizeOptions& options, ZcdpBudget* budget,
                               double selection_delta, dp::RandomBits& bits);

// A codec for an already discretized table (AIM-style domain file): every attribute an int64 categorical
// column whose codes are the values 0 .. size-1 (no other code, no null code). Encode then reads the
// integer codes (DiscreteTable::FromTable) and Decode writes them back.
absl::StatusOr<Codec> IdentityCodec(const Domain& domain);

// The codings as JSON text (an array of objects: name, type, nullable, rule, categorical, values, has_other,
// lower, upper, bins, binning, starts), for the sidecar of `veil synth`; and back. The codings are DP
// outputs (or public), so writing them out is post-processing. Errors (parsing): InvalidArgument naming the
// entry for malformed JSON, an unknown type, rule or binning, or an inconsistent coding.
std::string CodingsToJson(const std::vector<ColumnCoding>& columns);
absl::StatusOr<std::vector<ColumnCoding>> CodingsFromJson(std::string_view json);

namespace internal {
// Bin starts from quantile estimates snapped to cells of the column's grid: `cells` holds, for each
// estimate, the cell [start, end) it fell in. A cell hit by two or more estimates becomes a bin of its own
// (a point bin when the cell holds one value); every other hit cuts at its cell's end. The result is
// `lower` followed by the cuts in (lower, upper], strictly increasing.
std::vector<double> BinStartsFromCells(std::vector<std::pair<double, double>> cells, double lower,
                                       double upper);
// Gaussian thresholding for kDpValues (see the file comment): the noise sigma for zCDP cost `rho` (at most
// rho) and the threshold tau at which a value present in one neighbour only is kept with probability at most
// `delta`.
struct GaussianThreshold {
  double sigma = 0;
  int64_t tau = 0;
};
GaussianThreshold GaussianThresholdFor(double rho, double delta);
// Within-bin decoding from a quantile function known at the ranks j / M (knots x_0 <= ... <= x_M, M >= 1):
// QuantileRankBelow(knots, x) is G(x), the rank at which the piecewise-linear function reaches x (0 at or
// below x_0, 1 above x_M); QuantileAt(knots, u) is Q(u), the linear interpolation at rank u in [0, 1].
double QuantileRankBelow(const std::vector<double>& knots, double x);
double QuantileAt(const std::vector<double>& knots, double u);
// The cell of one exact value (for quantiles of exact data): [v, v + 1) for integer types, [v, next double)
// for doubles.
std::pair<double, double> ExactCell(double v, bool integer);
// True for the types that are binned (int64, double, date, timestamp).
bool IsBinnedType(table::DataType t);
// A binned column's value at `row` as a number in the column's units (days, microseconds); 0 for other types.
double NumericValue(const table::Column& c, int64_t row);
}  // namespace internal

}  // namespace veil::synth

#endif  // VEIL_SYNTH_DISCRETIZE_H_
