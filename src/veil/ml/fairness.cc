#include "veil/ml/fairness.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace veil::ml {

absl::StatusOr<std::vector<AttributeAudit>> AuditFairness(const table::Table& table,
                                                          const std::vector<std::string>& attributes,
                                                          std::span<const double> scores,
                                                          std::span<const int> labels,
                                                          const FairnessOptions& options) {
  const int64_t n = table.num_rows();
  if (static_cast<int64_t>(scores.size()) != n || static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat("fairness audit: ", n, " rows but ", scores.size(),
                                                   " scores and ", labels.size(), " labels"));
  }
  if (!(options.threshold >= 0 && options.threshold <= 1) ||
      !(options.four_fifths > 0 && options.four_fifths <= 1) || !(options.max_dp_difference >= 0) ||
      !(options.max_eo_difference >= 0) || options.min_group_size < 1) {
    return absl::InvalidArgumentError("fairness audit: bad options");
  }
  for (int64_t i = 0; i < n; ++i) {
    if ((labels[i] != 0 && labels[i] != 1) || !(scores[i] >= 0 && scores[i] <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("fairness audit: row ", i, " has a bad label or score"));
    }
  }
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  std::vector<AttributeAudit> audits;
  for (const std::string& attribute : attributes) {
    const table::Column* column = table.FindColumn(attribute);
    if (column == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("fairness audit: no column \"", attribute, "\""));
    }
    struct Counts {
      int64_t count = 0, positives = 0, selected = 0, true_positives = 0, false_positives = 0;
    };
    std::map<std::string, Counts> counts;
    for (int64_t i = 0; i < n; ++i) {
      const std::string group = column->IsNull(i) ? "(missing)" : column->FormatValue(i);
      Counts& c = counts[group];
      const bool selected = scores[i] >= options.threshold;
      ++c.count;
      c.positives += labels[i];
      c.selected += selected;
      c.true_positives += selected && labels[i] == 1;
      c.false_positives += selected && labels[i] == 0;
    }
    AttributeAudit audit;
    audit.attribute = attribute;
    const GroupRates* min_sel = nullptr;
    const GroupRates* max_sel = nullptr;
    double min_tpr = kNan, max_tpr = kNan, min_fpr = kNan, max_fpr = kNan;
    int compared = 0;
    for (const auto& [group, c] : counts) {
      GroupRates g;
      g.group = group;
      g.count = c.count;
      g.positives = c.positives;
      g.selected = c.selected;
      g.selection_rate = static_cast<double>(c.selected) / static_cast<double>(c.count);
      g.tpr =
          c.positives > 0 ? static_cast<double>(c.true_positives) / static_cast<double>(c.positives) : kNan;
      g.fpr = c.count > c.positives
                  ? static_cast<double>(c.false_positives) / static_cast<double>(c.count - c.positives)
                  : kNan;
      g.compared = c.count >= options.min_group_size;
      audit.groups.push_back(g);
    }
    for (const GroupRates& g : audit.groups) {
      if (!g.compared) continue;
      ++compared;
      if (min_sel == nullptr || g.selection_rate < min_sel->selection_rate) min_sel = &g;
      if (max_sel == nullptr || g.selection_rate > max_sel->selection_rate) max_sel = &g;
      if (!std::isnan(g.tpr)) {
        min_tpr = std::isnan(min_tpr) ? g.tpr : std::min(min_tpr, g.tpr);
        max_tpr = std::isnan(max_tpr) ? g.tpr : std::max(max_tpr, g.tpr);
      }
      if (!std::isnan(g.fpr)) {
        min_fpr = std::isnan(min_fpr) ? g.fpr : std::min(min_fpr, g.fpr);
        max_fpr = std::isnan(max_fpr) ? g.fpr : std::max(max_fpr, g.fpr);
      }
    }
    if (compared < 2) {
      audit.verdict = "INCONCLUSIVE";
      audit.verdict_line =
          absl::StrFormat("%s: INCONCLUSIVE (fewer than two groups with at least %d records)", attribute,
                          options.min_group_size);
      audits.push_back(std::move(audit));
      continue;
    }
    audit.demographic_parity_difference = max_sel->selection_rate - min_sel->selection_rate;
    audit.disparate_impact_ratio =
        max_sel->selection_rate > 0 ? min_sel->selection_rate / max_sel->selection_rate : 1.0;
    audit.equal_opportunity_difference = std::isnan(max_tpr) ? 0 : max_tpr - min_tpr;
    audit.fpr_difference = std::isnan(max_fpr) ? 0 : max_fpr - min_fpr;
    const bool di_fail = audit.disparate_impact_ratio < options.four_fifths;
    const bool eo_fail = audit.equal_opportunity_difference > options.max_eo_difference;
    const bool dp_warn = audit.demographic_parity_difference > options.max_dp_difference;
    audit.verdict = di_fail || eo_fail ? "FAIL" : (dp_warn ? "WARN" : "PASS");
    audit.verdict_line = absl::StrFormat(
        "%s: %s (disparate impact %.2f %s %.2f: selection %.3f %s vs %.3f %s; DP difference %.3f %s %.2f; "
        "EO difference %.3f %s %.2f)",
        attribute, audit.verdict, audit.disparate_impact_ratio, di_fail ? "<" : ">=", options.four_fifths,
        min_sel->selection_rate, min_sel->group, max_sel->selection_rate, max_sel->group,
        audit.demographic_parity_difference, dp_warn ? ">" : "<=", options.max_dp_difference,
        audit.equal_opportunity_difference, eo_fail ? ">" : "<=", options.max_eo_difference);
    audits.push_back(std::move(audit));
  }
  return audits;
}

}  // namespace veil::ml
