// Fairness audit (issue 9, item 5): group metrics of a binary classifier's decisions over one or more
// protected attributes.
//
// Per group g of an attribute (its distinct values; nulls form the group "(missing)"), with decisions
// d = [score >= threshold] and labels y:
//   selection rate   P(d = 1 | g)
//   TPR              P(d = 1 | y = 1, g)    (NaN when the group has no positives)
//   FPR              P(d = 1 | y = 0, g)    (NaN when the group has no negatives)
// Over the groups with at least `min_group_size` records (smaller groups are reported but not compared: their
// rates are too noisy to judge):
//   demographic parity difference   max selection rate - min selection rate
//   disparate impact ratio          min selection rate / max selection rate (1 if all are 0); the US EEOC
//                                   "four-fifths rule" (29 CFR 1607.4(D)) flags a ratio below 0.8
//   equal opportunity difference    max TPR - min TPR (Hardt, Price, Srebro 2016), over groups with positives
//   (FPR difference, max - min FPR, is reported as well: with it, equalized odds.)
// Verdict per attribute (documented thresholds, FairnessOptions):
//   "FAIL"  if disparate impact < four_fifths (0.8)  OR  equal opportunity difference > max_eo_difference
//   (0.1) "WARN"  if demographic parity difference > max_dp_difference (0.1) (and not FAIL) "PASS" otherwise;
//   "INCONCLUSIVE" if fewer than two groups reach min_group_size.
// The verdict line names the attribute, the verdict and the figures that decided it, e.g.
//   sex: FAIL (disparate impact 0.35 < 0.80: selection 0.07 Female vs 0.21 Male; EO difference 0.08)
//
// The figures describe the evaluation data they are computed on; they are not differentially private (group
// counts of a test set). Thread safety: pure functions.
#ifndef VEIL_ML_FAIRNESS_H_
#define VEIL_ML_FAIRNESS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/table/table.h"

namespace veil::ml {

struct FairnessOptions {
  double threshold = 0.5;
  double four_fifths = 0.8;
  double max_dp_difference = 0.1;
  double max_eo_difference = 0.1;
  int64_t min_group_size = 30;
};

struct GroupRates {
  std::string group;
  int64_t count = 0, positives = 0, selected = 0;
  double selection_rate = 0, tpr = 0, fpr = 0;
  bool compared = false;  // count >= min_group_size
};

struct AttributeAudit {
  std::string attribute;
  std::vector<GroupRates> groups;  // sorted by group name
  double demographic_parity_difference = 0;
  double disparate_impact_ratio = 1;
  double equal_opportunity_difference = 0;
  double fpr_difference = 0;
  std::string verdict;       // PASS, WARN, FAIL, INCONCLUSIVE
  std::string verdict_line;  // see the file comment
};

// Audits `attributes` (column names of `table`, whose rows align with scores and labels: P(class 1) in [0, 1]
// and 0/1). Errors: InvalidArgument for a missing column, mismatched lengths, a bad label or score, or bad
// options.
absl::StatusOr<std::vector<AttributeAudit>> AuditFairness(const table::Table& table,
                                                          const std::vector<std::string>& attributes,
                                                          std::span<const double> scores,
                                                          std::span<const int> labels,
                                                          const FairnessOptions& options = {});

}  // namespace veil::ml

#endif  // VEIL_ML_FAIRNESS_H_
