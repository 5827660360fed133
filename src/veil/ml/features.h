// Features from a table (issue 9, item 1): a preprocessing pipeline that turns the columns of a
// table::Table into the dense matrix the models of this module train on, built from the schema and saved with
// the model (JSON) so that scoring reproduces it exactly.
//
//   numeric column      x -> optional clip to [lower, upper] -> optional log1p -> (x - mean) / scale
//   categorical column  one-hot over a declared category list; a value outside the list encodes as all zeros
//   missing values      a null is imputed (numeric: the mean, i.e. 0 after standardization; categorical: all
//                       zeros) and, under MissingPolicy::kIndicator, flagged in an extra 0/1 feature
//
// Encoded feature names: "age", "age:missing", "workclass=Private", "workclass:missing".
//
// Where the pipeline's numbers come from (the DP question, issue 9 item 1):
//   FitFeaturePipeline      NON-PRIVATE: categories (sorted distinct values), means and standard deviations
//                           are read from the data. For non-private models only.
//   PublicFeaturePipeline   PUBLIC METADATA: everything is declared by the caller (category lists, numeric
//                           bounds, and optionally means/scales; without them a bounded column is centred on
//                           the middle of its bounds and scaled by half their width, so it maps onto [-1,
//                           1]). Nothing is derived from the data; costs no privacy budget.
//   FitFeaturePipelineDp    DP: category lists and numeric bounds are declared (public); each numeric
//   column's
//                           mean and standard deviation are estimated with the Gaussian mechanism (dp module)
//                           and the returned PrivacyCost must be charged by the caller before the result is
//                           used.
// A column whose type is not numeric (int64, double, bool) must be declared categorical.
//
// Thread safety: a FeaturePipeline is an immutable value once built; Transform may run on many threads.
#ifndef VEIL_ML_FEATURES_H_
#define VEIL_ML_FEATURES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/accountant.h"
#include "veil/dp/random_bits.h"
#include "veil/table/table.h"

namespace veil::ml {

// Row-major so that a mini-batch (a set of rows) is contiguous per record.
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;

enum class ColumnKind { kNumeric, kCategorical };
enum class MissingPolicy {
  kIndicator,  // impute and add a 0/1 "<column>:missing" feature
  kImpute,     // impute only
  kError,      // a null is an InvalidArgument error at Transform
};
enum class NumericTransform { kNone, kLog1p };  // log1p(x) requires x > -1 after clipping

// "numeric" / "categorical", "indicator" / "impute" / "error", "none" / "log1p".
std::string_view ColumnKindName(ColumnKind kind);
std::string_view MissingPolicyName(MissingPolicy policy);
std::string_view NumericTransformName(NumericTransform transform);

// One input column of the pipeline.
struct ColumnSpec {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  MissingPolicy missing = MissingPolicy::kIndicator;

  // Categorical: the category list (unique; values are compared as text: a non-string column's value is its
  // table::FormatValue text, e.g. "3" or "true").
  std::vector<std::string> categories;

  // Numeric: clip bounds (both or neither; lower < upper), applied before the transform.
  std::optional<double> lower;
  std::optional<double> upper;
  NumericTransform transform = NumericTransform::kNone;
  // Standardization after the transform: (t(x) - mean) / scale, scale > 0. Unset in a spec given to
  // PublicFeaturePipeline: derived from the bounds as described in the file comment.
  std::optional<double> mean;
  std::optional<double> scale;
};

class FeaturePipeline {
 public:
  FeaturePipeline() = default;

  // Validates a fully specified pipeline (every numeric column has mean and scale). Errors: InvalidArgument
  // naming the column: empty or duplicate name, duplicate or empty category list, lower >= upper or only one
  // bound, non-finite numbers, scale <= 0, log1p with lower <= -1.
  static absl::StatusOr<FeaturePipeline> Create(std::vector<ColumnSpec> columns);

  const std::vector<ColumnSpec>& columns() const { return columns_; }
  // Number of encoded features (the models' input dimension).
  int num_features() const { return static_cast<int>(feature_names_.size()); }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  // For each encoded feature, the index into columns() it comes from (to group explanations).
  const std::vector<int>& feature_column() const { return feature_column_; }

  // Encodes every row of `table` (num_rows x num_features, row-major). Columns are found by name; extra
  // columns of the table are ignored. Errors: InvalidArgument if a column is missing, has a type the spec
  // cannot read (numeric needs int64/double/bool), or holds a null under MissingPolicy::kError (the message
  // names the column and the row index, never the value).
  absl::StatusOr<Matrix> Transform(const table::Table& table) const;
  // As above; also fills `unknown` (one entry per row) with the indexes into columns() of the categorical
  // columns whose value in that row is not null and not among the column's categories. Such a value encodes
  // as all zeros, exactly like a record of no listed category: scoring (`veil decide`) tells the caller which
  // columns of a decision were outside what the model knows, without repeating the value.
  absl::StatusOr<Matrix> Transform(const table::Table& table, std::vector<std::vector<int>>* unknown) const;
  // Every standardized numeric value is clamped to [-kMaxStandardized, kMaxStandardized], so a tiny declared
  // scale cannot make an input overflow; in a column with bounds a NaN is treated as missing (its policy).
  static constexpr double kMaxStandardized = 1e6;

  // The pipeline as JSON ({"format": "veil-feature-pipeline", "version": 1, "columns": [...]}) and back.
  // FromJson errors: InvalidArgument naming the field, or the JSON syntax error.
  std::string ToJson() const;
  static absl::StatusOr<FeaturePipeline> FromJson(std::string_view json);

 private:
  explicit FeaturePipeline(std::vector<ColumnSpec> columns);

  std::vector<ColumnSpec> columns_;
  std::vector<std::string> feature_names_;
  std::vector<int> feature_column_;
  std::vector<int> first_feature_;  // per column, the index of its first encoded feature
};

// NON-PRIVATE fit (see the file comment). `columns` names the input columns (the target must not be among
// them); an empty list takes every column of the table. String columns become categorical (categories: the
// sorted distinct non-null values, at most `max_categories`, else InvalidArgument); int64, double and bool
// columns become numeric with the sample mean and standard deviation (1 if it is 0). The missing policy is
// kIndicator for columns that hold a null in `table`, else kImpute. Date and timestamp columns are refused.
struct FitOptions {
  std::vector<std::string> columns;
  int max_categories = 1000;
};
absl::StatusOr<FeaturePipeline> FitFeaturePipeline(const table::Table& table, const FitOptions& options = {});

// PUBLIC METADATA only (see the file comment). Numeric columns need either mean and scale, or bounds (then
// mean and scale default to the bounds' centre and half-width after the transform). Categorical columns need
// their category list. Errors: those of FeaturePipeline::Create, and InvalidArgument naming a numeric
// column that has neither bounds nor mean/scale.
absl::StatusOr<FeaturePipeline> PublicFeaturePipeline(std::vector<ColumnSpec> columns);

// The public metadata file of DP training (`veil train --metadata`) and of a federation's model (FL.json's
// model.metadata): declared facts, nothing read from the data.
//   {"columns": {"age": {"lower": 17, "upper": 90, "transform": "log1p", "missing": "impute"},
//                "sex": {"categories": ["Female", "Male"]}, ...},
//    "target": {"classes": ["<=50K", ">50K"]}}
// Columns come in the file's order. A numeric column needs "lower" and "upper" or "mean" and "scale" (any
// of the four may be given; FeaturePipeline::Create checks them together); "missing" is "indicator" or
// "impute"; "transform" "none" or "log1p". "target" is optional; its classes are at least two, distinct.
struct PublicMetadata {
  std::vector<ColumnSpec> columns;
  std::vector<std::string> classes;  // the target's declared classes; empty if "target" is absent
};
// Errors: InvalidArgument "WHERE: ..." naming the column (its name cut to 64 characters) and the field.
absl::StatusOr<PublicMetadata> ParsePublicMetadata(std::string_view json_text, std::string_view where);

// DP fit. Every numeric column must have public bounds (lower, upper); its mean and scale in the spec are
// ignored and replaced by DP estimates: over the clipped, transformed values t in [a, b] (a, b = t(lower),
// t(upper)), with m = (a + b) / 2 and h = (b - a) / 2, three Gaussian-mechanism sums are released per column:
// the count (sensitivity 1), sum (t - m) (sensitivity h) and sum (t - m)^2 (sensitivity h^2), under
// add/remove-one-record neighbours, each with rho = total_rho / (3 * numeric columns) (the budget split
// evenly). mean = m + S1 / n, variance = S2 / n - (S1 / n)^2, clamped to [ (h / 1000)^2, h^2 ], scale = its
// square root. Missing values are skipped (a record contributes to one column's sums at most once).
// Guarantee: the pipeline is (cost.total.epsilon, cost.total.delta)-DP; cost.total is the zCDP composition
// converted at `budget.delta` (dp::QueryAccountant), at most budget.epsilon.
// Errors: InvalidArgument for a bad budget (epsilon > 0, 0 < delta < 1), a numeric column without bounds,
// and those of PublicFeaturePipeline; RandomBits errors.
struct DpFitResult {
  FeaturePipeline pipeline;
  dp::PrivacyCost cost;
};
absl::StatusOr<DpFitResult> FitFeaturePipelineDp(const table::Table& table, std::vector<ColumnSpec> columns,
                                                 const dp::ApproxDp& budget, dp::RandomBits& bits);

// ---------------------------------------------------------------------------------------------------------
// Labels.

// The sorted distinct non-null values (as text) of `column`. Errors: InvalidArgument if it does not exist.
absl::StatusOr<std::vector<std::string>> DistinctValues(const table::Table& table, std::string_view column);

// Class indices (0 .. classes.size()-1) of `column`'s values, compared as text. Errors: InvalidArgument if
// the column does not exist, a row is null, or a value is not among `classes` (naming the row index only).
absl::StatusOr<std::vector<int>> EncodeClassLabels(const table::Table& table, std::string_view column,
                                                   const std::vector<std::string>& classes);

// A numeric (int64/double/bool) target. Errors: InvalidArgument for a missing column, wrong type or a null.
absl::StatusOr<Vector> EncodeRegressionTarget(const table::Table& table, std::string_view column);

}  // namespace veil::ml

#endif  // VEIL_ML_FEATURES_H_
