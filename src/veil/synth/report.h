// The quality report of synthetic data (`veil synth report`, issue 8): how well a synthetic table reproduces
// a real one, and whether it copies real rows. Not a privacy mechanism: it reads the real data exactly and is
// meant for whoever holds it (its output describes the real data).
//
// Common coding: both tables are coded the same way before any marginal is computed (TVD over raw values
// with many distinct values would measure nothing). In order of precedence:
//   * a domain (AIM-style file): both tables are codes already and are read as is;
//   * the synthesizer's own coding, from the sidecar (ReportInputs::coding, read from OUT.csv.synth.json):
//     its bins (bounds, quantile or equal-width cuts) and its categorical values, so that real values the
//     synthesizer merged ("(other)": rare values dropped by partition selection) or clamped are counted the
//     way the synthesizer saw them; columns the sidecar does not code fall back to the next rule;
//   * otherwise, public rules fitted on the REAL table (discretize.h): strings and bools by their real values
//     (the first 1000 in sorted order; others and values only the synthetic table has go to "other");
//     numbers, dates and timestamps in bins cut at the exact quantiles j / 20 (j = 1..19) of the real values
//     over [min, max], a value hit by two or more of those quantiles (holding >= 5% of the rows) being a bin
//     of its own, and columns with at most 20 distinct values one bin per value; a null code per column.
//     This reads the real data exactly: the report is a post-hoc utility measurement by the data owner, not
//     a DP release (nor is the report itself DP).
// The bins used are listed in the report (QualityReport::bins).
//
// Metrics (definitions in docs/synth-parts/cli.md):
//   * TVD: for k = 1, 2, 3, the average and worst total variation distance over all k-way marginals of the
//     coded tables (metrics.h: TVD = 1/2 sum |p - q|, each marginal normalized by its own row count); the
//     worst marginal of each k is plotted (bar chart of its 30 largest cells).
//   * Association differences: for each pair of columns, Pearson's r when both are numeric (int64, double,
//     date, timestamp; on raw values, rows with a null in either skipped), else Cramer's V of the coded pair
//     (V = sqrt(chi^2 / (n min(r - 1, c - 1))) over the non-empty rows r and columns c); the report gives
//     |assoc(real) - assoc(synthetic)| per pair, its mean and its maximum.
//   * Machine learning (train on synthetic, test on real): the target column (default: the last) becomes a
//     binary label: positive = any code other than the most frequent code in the real training rows (for a
//     two-valued column, the minority class). Features: one-hot codes of every other column. A logistic
//     regression (L2 penalty 1, Newton's method) is trained on the real training rows and on the synthetic
//     rows, and both are scored on the real test rows: accuracy at threshold 0.5 and ROC AUC (Mann-Whitney,
//     ties counted 1/2). Real training rows: the real table, tested on --test; without --test, every third
//     real row (rows 3, 6, 9, ...) is the test set and the others train (the synthesizer saw the test rows
//     then, which flatters train-on-synthetic).
//   * Membership check: the share of synthetic rows identical (all compared columns) to a row of the real
//     training rows, against the share of real held-out rows identical to a real training row: held-out rows
//     come from the same population without being copied, so their rate is the rate expected by chance for
//     honest samples. Computed on the raw values and on the coded rows.
//   * Privacy: from the sidecar `veil synth` writes (OUT.csv.synth.json): epsilon, delta, the coding of each
//     column and every measurement with its zCDP cost.
//
// Thread safety: pure functions.
#ifndef VEIL_SYNTH_REPORT_H_
#define VEIL_SYNTH_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/synth/discretize.h"
#include "veil/synth/domain.h"
#include "veil/synth/measurement.h"
#include "veil/synth/metrics.h"
#include "veil/table/table.h"

namespace veil::synth {

// What the synthesizer's sidecar says.
struct PrivacyInfo {
  std::string source;  // the sidecar's path
  std::string method;
  std::string dataset;  // empty in plain-CSV mode
  bool ledger = false;
  double epsilon = 0, delta = 0, guaranteed_epsilon = 0;
  std::vector<std::string> columns;
  std::vector<ZcdpBudget::Entry> measurements;
};

struct ReportInputs {
  table::Table real;
  table::Table synthetic;  // its columns must be columns of `real`, of the same types
  std::optional<table::Table> test;
  std::optional<Domain> domain;
  // The synthesizer's coding (the sidecar's "coding"), used for the columns it codes.
  std::optional<std::vector<ColumnCoding>> coding;
  std::string real_name, synthetic_name;
  std::string target;  // empty: the synthetic table's last column
  std::optional<PrivacyInfo> privacy;
};

struct MarginalPlot {
  std::vector<std::string> attrs;
  double tvd = 0;
  std::vector<std::string> labels;      // cell labels, at most 30 cells (the largest in either table)
  std::vector<double> real, synthetic;  // shares
};

struct AssociationSummary {
  std::vector<std::string> columns;
  // diff[i][j] = |assoc_real - assoc_synthetic| (i != j), and which measure was used ("pearson", "cramer").
  std::vector<std::vector<double>> real, synthetic, diff;
  std::vector<std::vector<std::string>> measure;
  double mean_diff = 0, max_diff = 0;
  std::string worst_pair;
};

struct MlSummary {
  bool ran = false;
  std::string note;  // why it did not run, or how it was split
  std::string target, positive;
  int64_t train_real_rows = 0, train_synthetic_rows = 0, test_rows = 0, features = 0;
  double real_accuracy = 0, real_auc = 0, synthetic_accuracy = 0, synthetic_auc = 0;
  double majority_accuracy = 0;  // always predicting the most frequent class
};

struct MembershipSummary {
  int64_t reference_rows = 0, synthetic_rows = 0, holdout_rows = 0;
  double synthetic_raw = 0, holdout_raw = 0;      // exact matches on the raw values
  double synthetic_coded = 0, holdout_coded = 0;  // exact matches on the coded rows
};

struct QualityReport {
  std::string real_name, synthetic_name;
  int64_t real_rows = 0, synthetic_rows = 0;
  std::vector<std::string> coding;  // one line per column (Codec::Describe)
  std::string coding_source;        // where the common coding comes from (see the file comment)
  // The bins of each binned column: (column, one label per bin).
  std::vector<std::pair<std::string, std::vector<std::string>>> bins;
  std::vector<std::string> ignored;       // real columns absent from the synthetic table
  std::vector<MarginalErrorSummary> tvd;  // k = 1, 2, 3 (as many as there are columns)
  std::vector<double> column_tvd;         // 1-way TVD per column
  std::vector<MarginalPlot> plots;        // the worst marginal of each k
  AssociationSummary associations;
  MlSummary ml;
  MembershipSummary membership;
  std::optional<PrivacyInfo> privacy;
};

// The machine-learning section alone (also used by bench/synth_bench.cc): a logistic regression on one-hot
// codes trained on `train_real` and on `synthetic`, both scored on `test` (all three coded over one domain),
// label positive = any code of attribute `target` but the most frequent one in `train_real`; see the file
// comment. `target_labels` (the target's code labels) only name the positive class. ml.ran is false, with a
// note, when there is no feature, no test row or too many features. Errors: InvalidArgument for different
// domains or a target out of range.
absl::StatusOr<MlSummary> TrainOnSyntheticTestOnReal(const DiscreteTable& train_real,
                                                     const DiscreteTable& synthetic,
                                                     const DiscreteTable& test, int target,
                                                     const std::vector<std::string>& target_labels);

// Errors: InvalidArgument naming the column for a synthetic column the real table lacks or has with another
// type, a missing target, an empty real or synthetic table; the coding's errors.
absl::StatusOr<QualityReport> BuildReport(const ReportInputs& in);

// One self-contained HTML page (inline CSS and SVG, no script, no external resource); every string taken
// from the inputs is HTML-escaped.
std::string RenderHtml(const QualityReport& report);
// The metrics as one JSON document (pretty-printed).
absl::StatusOr<std::string> ReportJson(const QualityReport& report);
// A few lines for the terminal.
std::string ReportSummary(const QualityReport& report);

namespace internal {
// ROC AUC of scores against 0/1 labels (Mann-Whitney U / (n_pos n_neg), ties 1/2); 0.5 if a class is empty.
double RocAuc(const std::vector<double>& scores, const std::vector<int>& labels);
// Cramer's V of a dense r x c contingency table (row-major); 0 when it has fewer than 2 non-empty rows or
// columns.
double CramersV(const std::vector<double>& table, int64_t rows, int64_t cols);
}  // namespace internal

}  // namespace veil::synth

#endif  // VEIL_SYNTH_REPORT_H_
