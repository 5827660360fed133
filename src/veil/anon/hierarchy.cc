#include "veil/anon/hierarchy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/table/types.h"

namespace veil::anon {
namespace {

// Parses one ARX CSV file into rows of fields; line numbers (1-based) of each row go to `lines`.
absl::Status SplitCsv(std::string_view text, std::string_view source, char sep,
                      std::vector<std::vector<std::string>>* rows, std::vector<int>* lines) {
  size_t i = 0;
  int line = 1;
  while (i < text.size()) {
    std::vector<std::string> fields;
    std::string field;
    const int start_line = line;
    bool in_quotes = false;
    bool line_done = false;
    bool any = false;
    while (i < text.size() && !line_done) {
      const char c = text[i];
      if (in_quotes) {
        if (c == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          in_quotes = false;
          ++i;
          continue;
        }
        if (c == '\n') ++line;
        field.push_back(c);
        ++i;
        continue;
      }
      if (c == '"' && field.empty()) {
        in_quotes = true;
        any = true;
        ++i;
      } else if (c == sep) {
        fields.push_back(std::move(field));
        field.clear();
        any = true;
        ++i;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        ++i;
        ++line;
        line_done = true;
      } else {
        field.push_back(c);
        any = true;
        ++i;
      }
    }
    if (in_quotes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: unterminated quoted field", source, start_line));
    }
    if (!any) continue;  // blank line
    fields.push_back(std::move(field));
    rows->push_back(std::move(fields));
    lines->push_back(start_line);
  }
  return absl::OkStatus();
}

bool IsIntegral(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15; }

std::string FormatNumber(double v) {
  if (IsIntegral(v)) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.10g", v);
}

// The row of the missing value in a built-in hierarchy with `levels` levels: empty up to the last level,
// then "*" (its own branch: a missing value is never merged with a real one before the top).
std::vector<std::string> MissingRow(size_t levels) {
  std::vector<std::string> row(levels > 0 ? levels - 1 : 0);
  row.emplace_back(1, '*');
  return row;
}

// Distinct values of `values` parsed as finite numbers, sorted by number (ties by text). Empty values (the
// missing value) are skipped and reported in `has_missing`.
absl::StatusOr<std::vector<std::pair<double, std::string>>> ParseNumbers(absl::Span<const std::string> values,
                                                                         std::string_view column,
                                                                         bool* has_missing) {
  std::vector<std::pair<double, std::string>> out;
  absl::flat_hash_set<std::string_view> seen;
  *has_missing = false;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) {
      *has_missing = true;
      continue;
    }
    if (!seen.insert(values[i]).second) continue;
    double v;
    if (!absl::SimpleAtod(values[i], &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s', row %d: not a finite number (numeric hierarchy)", column, i + 1));
    }
    out.emplace_back(v, values[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<Hierarchy> Hierarchy::FromRows(std::vector<std::vector<std::string>> rows,
                                              std::string_view source_name) {
  std::vector<int> lines(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) lines[i] = static_cast<int>(i) + 1;
  return Build(std::move(rows), source_name, lines);
}

absl::StatusOr<Hierarchy> Hierarchy::Build(std::vector<std::vector<std::string>> rows,
                                           std::string_view source, const std::vector<int>& lines) {
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s: hierarchy is empty", source));
  const size_t levels = rows[0].size();
  absl::flat_hash_map<std::string, int> leaf_index;
  leaf_index.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != levels) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s:%d: row has %d levels, but the first row has %d (every row needs the same number)", source,
          lines[r], rows[r].size(), levels));
    }
    // Labels end up in tables (generalized cells) and in messages, which hold UTF-8 only.
    for (size_t l = 0; l < levels; ++l) {
      if (const size_t bad = base::FindInvalidUtf8(rows[r][l]); bad != rows[r][l].size()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: level %d is not valid UTF-8 (at byte %d of the value)", source, lines[r], l, bad + 1));
      }
    }
    // The empty leaf is the missing value; its row may keep it empty at higher levels (its own branch).
    // Any other row needs a label at every level.
    if (!rows[r][0].empty()) {
      for (size_t l = 1; l < levels; ++l) {
        if (rows[r][l].empty()) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s:%d: level %d is empty (only the missing value's row, whose level 0 is empty, may have "
              "empty levels)",
              source, lines[r], l));
        }
      }
    }
    auto [it, inserted] = leaf_index.emplace(rows[r][0], static_cast<int>(r));
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: value '%s' is listed twice (first at line %d)", source, lines[r],
                          rows[r][0], lines[it->second]));
    }
  }
  // Consistency: a label at level l has exactly one parent at level l+1.
  for (size_t l = 0; l + 1 < levels; ++l) {
    absl::flat_hash_map<std::string_view, size_t> first_row;  // label at l -> first row holding it
    for (size_t r = 0; r < rows.size(); ++r) {
      auto [it, inserted] = first_row.emplace(rows[r][l], r);
      if (!inserted && rows[it->second][l + 1] != rows[r][l + 1]) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: inconsistent levels: '%s' at level %d generalizes to '%s' at level %d here but to '%s' "
            "at line %d",
            source, lines[r], rows[r][l], l, rows[r][l + 1], l + 1, rows[it->second][l + 1],
            lines[it->second]));
      }
    }
  }
  Hierarchy h;
  h.rows_ = std::move(rows);
  h.num_levels_ = static_cast<int>(levels);
  h.leaf_index_ = std::move(leaf_index);
  return h;
}

absl::StatusOr<Hierarchy> Hierarchy::ParseArxCsv(std::string_view text, std::string_view source_name,
                                                 char separator) {
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;
  VEIL_RETURN_IF_ERROR(SplitCsv(text, source_name, separator, &rows, &lines));
  return Build(std::move(rows), source_name, lines);
}

absl::StatusOr<Hierarchy> Hierarchy::ReadArxCsv(base::Env& env, const std::string& path, char separator) {
  VEIL_ASSIGN_OR_RETURN(std::string text, env.ReadFileToString(path));
  return ParseArxCsv(text, path, separator);
}

std::optional<int> Hierarchy::FindLeaf(std::string_view value) const {
  auto it = leaf_index_.find(std::string(value));
  if (it == leaf_index_.end()) return std::nullopt;
  return it->second;
}

std::string Hierarchy::ToArxCsv(char separator) const {
  std::string out;
  for (const auto& row : rows_) {
    for (size_t l = 0; l < row.size(); ++l) {
      if (l > 0) out.push_back(separator);
      const std::string& v = row[l];
      // The empty value is written "" (unquoted, the missing value's row of a one-level hierarchy would be a
      // blank line, which the parser skips).
      const bool quote = v.empty() ||
                         v.find_first_of(std::string{separator, '"', '\n', '\r'}) != std::string::npos ||
                         v.front() == '"';
      if (!quote) {
        out += v;
        continue;
      }
      out.push_back('"');
      for (char c : v) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
      }
      out.push_back('"');
    }
    out.push_back('\n');
  }
  return out;
}

absl::StatusOr<Hierarchy> MakeIntervalHierarchy(absl::Span<const std::string> values,
                                                absl::Span<const double> widths, std::string_view column,
                                                double origin) {
  if (!std::isfinite(origin)) {
    return absl::InvalidArgumentError(absl::StrFormat("column '%s': interval origin must be finite", column));
  }
  for (size_t i = 0; i < widths.size(); ++i) {
    if (!std::isfinite(widths[i]) || widths[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s': interval width %d must be finite and > 0", column, i + 1));
    }
    if (i > 0) {
      const double ratio = widths[i] / widths[i - 1];
      if (std::fabs(ratio - std::round(ratio)) > 1e-9 || std::round(ratio) < 1) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column '%s': interval width %s is not a multiple of the previous width %s (intervals must nest)",
            column, FormatNumber(widths[i]), FormatNumber(widths[i - 1])));
      }
    }
  }
  bool has_missing = false;
  VEIL_ASSIGN_OR_RETURN(auto numbers, ParseNumbers(values, column, &has_missing));
  bool integral = IsIntegral(origin);
  for (double w : widths) integral = integral && IsIntegral(w);
  for (const auto& p : numbers) integral = integral && IsIntegral(p.first);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(numbers.size());
  // Bins of the coarser levels are computed from the finest bin's index with integer ratios, so that they
  // nest exactly whatever the rounding of (v - origin) / width.
  std::vector<int64_t> ratio(widths.size(), 1);
  for (size_t i = 1; i < widths.size(); ++i) ratio[i] = std::llround(widths[i] / widths[0]);
  for (const auto& [v, text] : numbers) {
    std::vector<std::string> row;
    row.push_back(text);
    const double finest = widths.empty() ? 0 : std::floor((v - origin) / widths[0]);
    if (std::fabs(finest) > 9.0e15) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s': a value is too far from the origin for interval width %s", column,
                          FormatNumber(widths[0])));
    }
    for (size_t i = 0; i < widths.size(); ++i) {
      const double w = widths[i];
      const int64_t f = static_cast<int64_t>(finest);
      const int64_t idx = f >= 0 ? f / ratio[i] : -((-f + ratio[i] - 1) / ratio[i]);  // floor division
      const double lo = origin + static_cast<double>(idx) * w;
      if (integral) {
        row.push_back(absl::StrCat(FormatNumber(lo), "-", FormatNumber(lo + w - 1)));
      } else {
        row.push_back(absl::StrCat("[", FormatNumber(lo), ", ", FormatNumber(lo + w), ")"));
      }
    }
    row.push_back("*");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("column '%s': no values for the hierarchy", column));
  }
  if (has_missing) rows.push_back(MissingRow(widths.size() + 2));
  return Hierarchy::FromRows(std::move(rows),
                             absl::StrCat("interval hierarchy of '", std::string(column), "'"));
}

absl::StatusOr<Hierarchy> MakeBoundsHierarchy(absl::Span<const std::string> values,
                                              const std::vector<std::vector<double>>& levels,
                                              std::string_view column) {
  for (size_t l = 0; l < levels.size(); ++l) {
    const auto& b = levels[l];
    if (b.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s': level %d has no bounds", column, l + 1));
    }
    for (size_t i = 0; i < b.size(); ++i) {
      if (!std::isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1])) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column '%s': bounds of level %d must be finite and strictly increasing", column, l + 1));
      }
    }
    if (l > 0) {
      for (double x : b) {
        if (!std::binary_search(levels[l - 1].begin(), levels[l - 1].end(), x)) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "column '%s': bound %s of level %d is not a bound of level %d (coarser levels may only drop "
              "bounds)",
              column, FormatNumber(x), l + 1, l));
        }
      }
    }
  }
  bool has_missing = false;
  VEIL_ASSIGN_OR_RETURN(auto numbers, ParseNumbers(values, column, &has_missing));
  std::vector<std::vector<std::string>> rows;
  for (const auto& [v, text] : numbers) {
    std::vector<std::string> row;
    row.push_back(text);
    for (const auto& b : levels) {
      auto it = std::upper_bound(b.begin(), b.end(), v);
      if (it == b.begin()) {
        row.push_back(absl::StrCat("<", FormatNumber(b.front())));
      } else if (it == b.end()) {
        row.push_back(absl::StrCat(">=", FormatNumber(b.back())));
      } else {
        row.push_back(absl::StrCat("[", FormatNumber(*(it - 1)), ", ", FormatNumber(*it), ")"));
      }
    }
    row.push_back("*");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("column '%s': no values for the hierarchy", column));
  }
  if (has_missing) rows.push_back(MissingRow(levels.size() + 2));
  return Hierarchy::FromRows(std::move(rows),
                             absl::StrCat("bounds hierarchy of '", std::string(column), "'"));
}

absl::StatusOr<Hierarchy> MakeDateHierarchy(absl::Span<const std::string> values, std::string_view column) {
  std::vector<std::pair<int32_t, std::string_view>> leaves;  // (days since 1970-01-01, text)
  absl::flat_hash_set<std::string_view> seen;
  bool has_missing = false;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& v = values[i];
    if (v.empty()) {
      has_missing = true;
      continue;
    }
    if (!seen.insert(v).second) continue;
    const std::optional<table::Date> date = table::ParseDate(std::string_view(v).substr(0, 10));
    if (!date || (v.size() > 10 && v[10] != 'T' && v[10] != ' ')) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s', row %d: not an ISO date YYYY-MM-DD (date hierarchy)", column, i + 1));
    }
    leaves.emplace_back(date->days, v);
  }
  if (leaves.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("column '%s': no values for the hierarchy", column));
  }
  std::sort(leaves.begin(), leaves.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [days, text] : leaves) {
    // text starts with YYYY-MM-DD (checked by ParseDate): month, year and decade are its prefixes.
    const std::string decade(text.substr(0, 3));
    rows.push_back({std::string(text), std::string(text.substr(0, 7)), std::string(text.substr(0, 4)),
                    absl::StrCat(decade, "0-", decade, "9"), "*"});
  }
  if (has_missing) rows.push_back(MissingRow(5));
  return Hierarchy::FromRows(std::move(rows), absl::StrCat("date hierarchy of '", std::string(column), "'"));
}

absl::StatusOr<EncodedTable> EncodeTable(const table::Table& table, absl::Span<const std::string> qi_columns,
                                         std::vector<Hierarchy> hierarchies,
                                         std::string_view sensitive_column) {
  if (qi_columns.empty()) return absl::InvalidArgumentError("no quasi-identifier column given");
  if (qi_columns.size() != hierarchies.size()) {
    return absl::InvalidArgumentError(absl::StrFormat("%d quasi-identifier columns but %d hierarchies",
                                                      qi_columns.size(), hierarchies.size()));
  }
  EncodedTable out;
  out.num_rows = table.num_rows();
  const int64_t n = table.num_rows();
  absl::flat_hash_map<std::string, int> used;
  for (size_t q = 0; q < qi_columns.size(); ++q) {
    const std::string& name = qi_columns[q];
    std::optional<int> col = table.schema().FindField(name);
    if (!col)
      return absl::InvalidArgumentError(absl::StrFormat("quasi-identifier column '%s' not found", name));
    if (!used.emplace(name, 1).second) {
      return absl::InvalidArgumentError(absl::StrFormat("column '%s' is listed twice", name));
    }
    EncodedQi qi;
    qi.name = name;
    qi.table_column = *col;
    qi.hierarchy = std::move(hierarchies[q]);
    const Hierarchy& h = qi.hierarchy;
    const int leaves = h.num_leaves();
    const int levels = h.num_levels();
    // Leaves of every record.
    qi.leaf.resize(n);
    {
      // Cache the lookup per distinct dictionary string (the formatted value).
      absl::flat_hash_map<std::string, int32_t> cache;
      for (int64_t r = 0; r < n; ++r) {
        // A null cell is the missing value, the empty leaf.
        std::string v = table.IsNull(r, *col) ? std::string() : table.FormatValue(r, *col);
        auto it = cache.find(v);
        if (it == cache.end()) {
          std::optional<int> leaf = h.FindLeaf(v);
          if (!leaf && v.empty()) {
            return absl::InvalidArgumentError(absl::StrFormat(
                "column '%s', row %d: empty value; its hierarchy has no row for the missing value (add a "
                "row whose first field is empty, e.g. \"\";*)",
                name, r + 1));
          }
          if (!leaf) {
            return absl::InvalidArgumentError(
                absl::StrFormat("column '%s', row %d: value not found in its hierarchy", name, r + 1));
          }
          it = cache.emplace(std::move(v), *leaf).first;
        }
        qi.leaf[r] = it->second;
      }
    }
    // Per-level dense node ids.
    qi.parent.assign(levels, std::vector<int32_t>(leaves));
    qi.leaves_under.resize(levels);
    qi.records_under.resize(levels);
    qi.labels.resize(levels);
    for (int l = 0; l < levels; ++l) {
      absl::flat_hash_map<std::string_view, int32_t> ids;
      for (int leaf = 0; leaf < leaves; ++leaf) {
        const std::string& label = h.Label(leaf, l);
        auto [it, inserted] = ids.emplace(label, static_cast<int32_t>(qi.labels[l].size()));
        if (inserted) {
          qi.labels[l].push_back(label);
          qi.leaves_under[l].push_back(0);
        }
        qi.parent[l][leaf] = it->second;
        ++qi.leaves_under[l][it->second];
      }
      qi.records_under[l].assign(qi.labels[l].size(), 0);
    }
    for (int64_t r = 0; r < n; ++r) ++qi.records_under[0][qi.leaf[r]];
    for (int l = 1; l < levels; ++l) {
      for (int leaf = 0; leaf < leaves; ++leaf)
        qi.records_under[l][qi.parent[l][leaf]] += qi.records_under[0][leaf];
    }
    // Numeric leaves.
    qi.leaf_value.resize(leaves);
    qi.numeric = true;
    for (int leaf = 0; leaf < leaves && qi.numeric; ++leaf) {
      double v;
      qi.numeric = absl::SimpleAtod(h.Label(leaf, 0), &v) && std::isfinite(v);
      qi.leaf_value[leaf] = v;
    }
    if (!qi.numeric) qi.leaf_value.clear();
    out.qis.push_back(std::move(qi));
  }
  if (!sensitive_column.empty()) {
    std::optional<int> col = table.schema().FindField(sensitive_column);
    if (!col) {
      return absl::InvalidArgumentError(absl::StrFormat("sensitive column '%s' not found", sensitive_column));
    }
    if (used.contains(std::string(sensitive_column))) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column '%s' is both quasi-identifier and sensitive", sensitive_column));
    }
    EncodedSensitive s;
    s.name = std::string(sensitive_column);
    s.table_column = *col;
    s.value.resize(n);
    absl::flat_hash_map<std::string, int32_t> ids;
    for (int64_t r = 0; r < n; ++r) {
      std::string v = table.IsNull(r, *col) ? std::string() : table.FormatValue(r, *col);
      auto [it, inserted] = ids.emplace(v, static_cast<int32_t>(s.values.size()));
      if (inserted) s.values.push_back(std::move(v));
      s.value[r] = it->second;
    }
    out.sensitive = std::move(s);
  }
  return out;
}

}  // namespace veil::anon
