#include "veil/anon/utility.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"

namespace veil::anon {

double NonUniformEntropyAtLevel(const EncodedQi& qi, int level) {
  // sum over leaves a * log2(b / a), a = records with the leaf, b = records under its node at `level`.
  double value = 0;
  const auto& leaf_counts = qi.records_under[0];
  const auto& node_counts = qi.records_under[level];
  const auto& parent = qi.parent[level];
  for (size_t leaf = 0; leaf < leaf_counts.size(); ++leaf) {
    const double a = static_cast<double>(leaf_counts[leaf]);
    if (a == 0) continue;
    const double b = static_cast<double>(node_counts[parent[leaf]]);
    value += a * std::log2(a / b);
  }
  return value == 0 ? 0.0 : -value;
}

double AggregateLoss(absl::Span<const double> loss_per_qi) {
  if (loss_per_qi.empty()) return 0;
  double result = 1;
  const double exponent = 1.0 / static_cast<double>(loss_per_qi.size());
  for (double v : loss_per_qi) result *= std::pow(v + 1.0, exponent);
  return result - 1.0;
}

absl::StatusOr<GeneralizedTable> FullDomainCells(const EncodedTable& table, absl::Span<const int> levels,
                                                 absl::Span<const uint8_t> suppressed) {
  if (levels.size() != table.qis.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d levels given for %d quasi-identifiers", levels.size(), table.qis.size()));
  }
  if (!suppressed.empty() && static_cast<int64_t>(suppressed.size()) != table.num_rows) {
    return absl::InvalidArgumentError(
        absl::StrFormat("suppression flags for %d records, table has %d", suppressed.size(), table.num_rows));
  }
  GeneralizedTable g;
  g.cells.resize(levels.size());
  g.record_cell.resize(levels.size());
  for (size_t q = 0; q < levels.size(); ++q) {
    const EncodedQi& qi = table.qis[q];
    const int l = levels[q];
    if (l < 0 || l >= qi.num_levels()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "level %d of quasi-identifier '%s' out of range 0..%d", l, qi.name, qi.num_levels() - 1));
    }
    g.cells[q].resize(qi.num_nodes(l));
    for (int leaf = 0; leaf < qi.num_leaves(); ++leaf) g.cells[q][qi.parent[l][leaf]].push_back(leaf);
    g.record_cell[q].resize(table.num_rows);
    for (int64_t r = 0; r < table.num_rows; ++r) g.record_cell[q][r] = qi.parent[l][qi.leaf[r]];
  }
  g.suppressed.assign(suppressed.begin(), suppressed.end());
  return g;
}

absl::StatusOr<UtilityMetrics> ScoreGeneralized(const EncodedTable& table, const GeneralizedTable& g) {
  const size_t m = table.qis.size();
  const int64_t n = table.num_rows;
  if (g.cells.size() != m || g.record_cell.size() != m) {
    return absl::InvalidArgumentError(
        absl::StrFormat("generalized table has %d/%d quasi-identifiers, table has %d", g.cells.size(),
                        g.record_cell.size(), m));
  }
  if (!g.suppressed.empty() && static_cast<int64_t>(g.suppressed.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrFormat("suppression flags for %d records, table has %d", g.suppressed.size(), n));
  }
  auto is_suppressed = [&](int64_t r) { return !g.suppressed.empty() && g.suppressed[r] != 0; };
  UtilityMetrics out;
  for (int64_t r = 0; r < n; ++r) out.suppressed += is_suppressed(r) ? 1 : 0;
  out.nue_per_qi.assign(m, 0);
  out.loss_per_qi.assign(m, 0);
  for (size_t q = 0; q < m; ++q) {
    const EncodedQi& qi = table.qis[q];
    const int leaves = qi.num_leaves();
    if (static_cast<int64_t>(g.record_cell[q].size()) != n) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "quasi-identifier '%s': %d record cells, table has %d", qi.name, g.record_cell[q].size(), n));
    }
    // Per cell: leaves covered, records under it; and which cell each leaf is in (for the coverage check).
    const size_t num_cells = g.cells[q].size();
    std::vector<int64_t> cell_records(num_cells, 0);
    std::vector<int32_t> cell_leaves(num_cells, 0);
    // Membership of a record's leaf in its cell is checked by binary search in a sorted copy.
    std::vector<std::vector<int32_t>> sorted(num_cells);
    for (size_t c = 0; c < num_cells; ++c) {
      const auto& cell = g.cells[q][c];
      if (cell.empty()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("quasi-identifier '%s': cell %d is empty", qi.name, c));
      }
      sorted[c] = cell;
      std::sort(sorted[c].begin(), sorted[c].end());
      for (size_t i = 0; i < sorted[c].size(); ++i) {
        const int32_t leaf = sorted[c][i];
        if (leaf < 0 || leaf >= leaves || (i > 0 && sorted[c][i - 1] == leaf)) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "quasi-identifier '%s': cell %d names leaf %d out of range or twice", qi.name, c, leaf));
        }
        cell_records[c] += qi.records_under[0][leaf];
      }
      cell_leaves[c] = static_cast<int32_t>(cell.size());
    }
    double nue = 0;
    double loss_sum = 0;
    for (int64_t r = 0; r < n; ++r) {
      const int32_t c = g.record_cell[q][r];
      if (c < 0 || static_cast<size_t>(c) >= num_cells) {
        return absl::InvalidArgumentError(
            absl::StrFormat("quasi-identifier '%s', record %d: cell index out of range", qi.name, r + 1));
      }
      const int32_t leaf = qi.leaf[r];
      if (!std::binary_search(sorted[c].begin(), sorted[c].end(), leaf)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "quasi-identifier '%s', record %d: the cell does not cover the record's value", qi.name, r + 1));
      }
      nue += std::log2(static_cast<double>(qi.records_under[0][leaf]) / static_cast<double>(cell_records[c]));
      loss_sum += is_suppressed(r) ? 1.0 : static_cast<double>(cell_leaves[c]) / leaves;
    }
    out.nue_per_qi[q] = nue == 0 ? 0.0 : -nue;
    out.non_uniform_entropy += out.nue_per_qi[q];
    const double dn = static_cast<double>(n);
    const double min = dn / leaves;
    if (n > 0 && dn - min > 0) {
      const double l = (loss_sum - min) / (dn - min);
      out.loss_per_qi[q] = l > 0 ? l : 0;
    }
  }
  out.loss = AggregateLoss(out.loss_per_qi);
  // Equivalence classes: hash of the cell tuple of each non-suppressed record.
  absl::flat_hash_map<std::vector<int32_t>, int64_t> classes;
  std::vector<int32_t> key(m);
  for (int64_t r = 0; r < n; ++r) {
    if (is_suppressed(r)) continue;
    for (size_t q = 0; q < m; ++q) key[q] = g.record_cell[q][r];
    ++classes[key];
  }
  out.num_classes = static_cast<int64_t>(classes.size());
  double dm = 0;
  for (const auto& [k, size] : classes) dm += static_cast<double>(size) * static_cast<double>(size);
  dm += static_cast<double>(out.suppressed) * static_cast<double>(n);
  out.discernibility = dm;
  const int64_t groups = out.num_classes + (out.suppressed > 0 ? 1 : 0);
  out.average_class_size = groups > 0 ? static_cast<double>(n) / static_cast<double>(groups) : 0;
  return out;
}

}  // namespace veil::anon
