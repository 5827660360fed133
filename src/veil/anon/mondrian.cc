// Mondrian (mondrian.h). Every QI is encoded once as an int32 per record (numeric: the rank of its value
// among the column's distinct values; categorical: the hierarchy leaf), and the partitions are ranges of
// one array of record indices, reordered in place (nth_element, partition, a counting sort by child node).
// No value text is touched between encoding and writing the result.
#include "veil/anon/mondrian.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "veil/base/status_macros.h"

namespace veil::anon {
namespace {

using table::DataType;

bool IsNumericType(DataType t) {
  return t == DataType::kInt64 || t == DataType::kDouble || t == DataType::kDate || t == DataType::kTimestamp;
}

// One QI, encoded.
struct Encoded {
  std::string name;
  bool numeric = false;
  std::vector<int32_t> code;  // per record: numeric rank, or hierarchy leaf
  // Numeric: rank -> value and its text.
  std::vector<double> value;
  std::vector<std::string> text;
  std::string interval_separator = "-";
  // Categorical: levels 0..top; ancestor[level][leaf] = node id at that level (ancestor[0][leaf] = leaf);
  // leaves[level][node] and label[level][node].
  int top = 0;
  std::vector<std::vector<int32_t>> ancestor;
  std::vector<std::vector<int64_t>> leaves;
  std::vector<std::vector<std::string>> label;
};

std::string_view CellView(const table::Column& c, int64_t row, std::string& scratch) {
  if (c.type() == DataType::kString) return c.GetString(row);
  scratch = c.FormatValue(row);
  return scratch;
}

absl::Status EncodeNumeric(const table::Column& c, Encoded& e) {
  const int64_t n = c.size();
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    if (c.IsNull(r)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "column '%s', row %d: empty value; Mondrian cuts a numeric column at medians and cannot place a "
          "missing value: read the column as text (it is then categorical, the missing value a category of "
          "its own) or fill the value",
          e.name, r + 1));
    }
    switch (c.type()) {
      case DataType::kInt64:
        v[r] = static_cast<double>(c.GetInt64(r));
        break;
      case DataType::kDouble:
        v[r] = c.GetDouble(r);
        if (std::isnan(v[r])) {
          return absl::InvalidArgumentError(
              absl::StrFormat("quasi-identifier \"%s\" is not a number at row %d", e.name, r + 1));
        }
        break;
      case DataType::kDate:
        v[r] = static_cast<double>(c.GetDate(r).days);
        break;
      default:  // kTimestamp
        v[r] = static_cast<double>(c.GetTimestamp(r).micros);
        break;
    }
  }
  // Ranks by sorting (value, row) once; equal values get one rank. int64 values beyond 2^53 that round to
  // the same double share a rank, which only makes the cuts coarser.
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return v[a] < v[b]; });
  e.code.assign(static_cast<size_t>(n), 0);
  for (int32_t r : order) {
    if (e.value.empty() || e.value.back() != v[r]) {
      e.value.push_back(v[r]);
      e.text.push_back(c.FormatValue(r));
    }
    e.code[r] = static_cast<int32_t>(e.value.size()) - 1;
  }
  if (c.type() == DataType::kDate || c.type() == DataType::kTimestamp) e.interval_separator = ", ";
  return absl::OkStatus();
}

// Builds the hierarchy's levels from ARX's rows (or the flat one when `rows` is null) and the leaf of each
// record.
absl::Status EncodeCategorical(const table::Column& c, const std::vector<std::vector<std::string>>* rows,
                               Encoded& e) {
  const int64_t n = c.size();
  std::vector<std::vector<std::string>> flat;
  std::string scratch;
  if (rows == nullptr) {
    absl::flat_hash_set<std::string> seen;
    for (int64_t r = 0; r < n; ++r) {
      std::string v(c.IsNull(r) ? std::string_view() : CellView(c, r, scratch));  // null: the missing value
      if (seen.insert(v).second) flat.push_back({v});
    }
    rows = &flat;
  }
  if (rows->empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("the hierarchy of \"%s\" has no rows", e.name));
  }
  const size_t width = (*rows)[0].size();
  if (width == 0)
    return absl::InvalidArgumentError(absl::StrFormat("the hierarchy of \"%s\" is empty", e.name));
  absl::flat_hash_map<std::string, int32_t> leaf_of;
  for (size_t i = 0; i < rows->size(); ++i) {
    const std::vector<std::string>& row = (*rows)[i];
    if (row.size() != width) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the hierarchy of \"%s\": row %d has %d levels, row 1 has %d", e.name, i + 1, row.size(), width));
    }
    if (!leaf_of.try_emplace(row[0], static_cast<int32_t>(i)).second) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the hierarchy of \"%s\": row %d lists a value an earlier row lists", e.name, i + 1));
    }
  }
  // Levels of the given rows, plus a root "*" when the top level is not one node already.
  absl::flat_hash_set<std::string_view> top_labels;
  for (const auto& row : *rows) top_labels.insert(row[width - 1]);
  const bool add_root = width == 1 || top_labels.size() > 1;
  const int levels = static_cast<int>(width) + (add_root ? 1 : 0);
  e.top = levels - 1;
  const size_t num_leaves = rows->size();
  e.ancestor.assign(static_cast<size_t>(levels), std::vector<int32_t>(num_leaves, 0));
  e.leaves.assign(static_cast<size_t>(levels), {});
  e.label.assign(static_cast<size_t>(levels), {});
  for (int level = 0; level < levels; ++level) {
    absl::flat_hash_map<std::string_view, int32_t> node_of;
    absl::flat_hash_map<std::string_view, std::string_view> parent_of;
    for (size_t i = 0; i < num_leaves; ++i) {
      const std::string_view label =
          level < static_cast<int>(width) ? std::string_view((*rows)[i][level]) : std::string_view("*");
      if (level > 0 && level + 1 < static_cast<int>(width)) {
        const std::string_view parent = (*rows)[i][level + 1];
        auto [it, added] = parent_of.try_emplace(label, parent);
        if (!added && it->second != parent) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "the hierarchy of \"%s\": row %d gives a level-%d node a different parent than an earlier row",
              e.name, i + 1, level));
        }
      }
      auto [it, added] = node_of.try_emplace(label, static_cast<int32_t>(e.label[level].size()));
      if (added) {
        e.label[level].emplace_back(label);
        e.leaves[level].push_back(0);
      }
      e.ancestor[level][i] = it->second;
      ++e.leaves[level][it->second];
    }
  }
  e.code.assign(static_cast<size_t>(n), 0);
  for (int64_t r = 0; r < n; ++r) {
    // A null cell is the missing value: the leaf "" (a category of its own).
    const std::string_view text = c.IsNull(r) ? std::string_view() : CellView(c, r, scratch);
    auto it = leaf_of.find(absl::string_view(text.data(), text.size()));
    if (it == leaf_of.end() && text.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "column '%s', row %d: empty value; its hierarchy has no row for the missing value (add a row whose "
          "first field is empty, e.g. \"\";*)",
          e.name, r + 1));
    }
    if (it == leaf_of.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "quasi-identifier \"%s\" at row %d: the value is not in its hierarchy", e.name, r + 1));
    }
    e.code[r] = it->second;
  }
  return absl::OkStatus();
}

// A partition's generalization of one QI: numeric [lo, hi] ranks, or the categorical node (level, node).
struct Span2 {
  int32_t a = 0;
  int32_t b = 0;
};

struct Partition {
  int32_t begin = 0;
  int32_t end = 0;
  std::vector<Span2> state;
};

class Partitioner {
 public:
  Partitioner(std::vector<Encoded>& qis, int64_t k, int64_t l, std::vector<int32_t> sensitive,
              int32_t num_sensitive)
      : qis_(qis), k_(k), l_(l), sensitive_(std::move(sensitive)) {
    stamp_.assign(static_cast<size_t>(std::max(num_sensitive, 1)), 0);
    for (const Encoded& e : qis_) {
      range_.push_back(e.numeric ? e.value.back() - e.value.front()
                                 : static_cast<double>(e.leaves[e.top][0]));
    }
  }

  MondrianResult Run(int64_t n) {
    idx_.resize(static_cast<size_t>(n));
    std::iota(idx_.begin(), idx_.end(), 0);
    scratch_.resize(static_cast<size_t>(n));
    Partition all{0, static_cast<int32_t>(n), {}};
    for (const Encoded& e : qis_) all.state.push_back(e.numeric ? Span2{0, 0} : Span2{e.top, 0});
    Narrow(all);
    std::vector<Partition> stack;
    stack.push_back(std::move(all));
    MondrianResult result;
    result.class_of.assign(static_cast<size_t>(n), 0);
    std::vector<int> dims(qis_.size());
    std::vector<double> width(qis_.size());
    std::vector<Partition> parts;
    while (!stack.empty()) {
      Partition p = std::move(stack.back());
      stack.pop_back();
      for (size_t q = 0; q < qis_.size(); ++q) width[q] = Width(q, p.state[q]);
      std::iota(dims.begin(), dims.end(), 0);
      std::stable_sort(dims.begin(), dims.end(), [&](int a, int b) { return width[a] > width[b]; });
      bool cut = false;
      for (int q : dims) {
        if (width[q] <= 0) break;
        parts.clear();
        if (qis_[q].numeric ? CutNumeric(p, q, parts) : CutCategorical(p, q, parts)) {
          for (Partition& part : parts) {
            Narrow(part);
            stack.push_back(std::move(part));
          }
          cut = true;
          break;
        }
      }
      if (!cut) Emit(p, result);
    }
    return result;
  }

 private:
  // Normalized range of QI q in a partition; 0 when it cannot be cut.
  double Width(size_t q, const Span2& s) const {
    const Encoded& e = qis_[q];
    if (e.numeric) {
      if (s.a == s.b || range_[q] <= 0) return 0;
      return (e.value[s.b] - e.value[s.a]) / range_[q];
    }
    if (s.a == 0) return 0;
    return static_cast<double>(e.leaves[s.a][s.b]) / range_[q];
  }

  // Tightens a partition's state to its records: numeric min and max ranks; the categorical node lowered to
  // the lowest common ancestor. The node a partition inherits is an ancestor of all its records' leaves.
  void Narrow(Partition& p) const {
    for (size_t q = 0; q < qis_.size(); ++q) {
      const Encoded& e = qis_[q];
      const std::vector<int32_t>& code = e.code;
      if (e.numeric) {
        int32_t lo = code[idx_[p.begin]];
        int32_t hi = lo;
        for (int32_t i = p.begin + 1; i < p.end; ++i) {
          const int32_t c = code[idx_[i]];
          lo = std::min(lo, c);
          hi = std::max(hi, c);
        }
        p.state[q] = {lo, hi};
        continue;
      }
      Span2& s = p.state[q];
      while (s.a > 0) {
        const std::vector<int32_t>& below = e.ancestor[s.a - 1];
        const int32_t first = below[code[idx_[p.begin]]];
        bool same = true;
        for (int32_t i = p.begin + 1; i < p.end && same; ++i) same = below[code[idx_[i]]] == first;
        if (!same) break;
        s = {s.a - 1, first};
      }
    }
  }

  // At least l distinct sensitive values in idx_[begin, end) (always true without l-diversity).
  bool Diverse(int32_t begin, int32_t end) {
    if (l_ <= 1) return true;
    ++epoch_;
    int64_t distinct = 0;
    for (int32_t i = begin; i < end; ++i) {
      uint32_t& s = stamp_[sensitive_[idx_[i]]];
      if (s != epoch_) {
        s = epoch_;
        if (++distinct >= l_) return true;
      }
    }
    return false;
  }

  bool Allowable(int32_t begin, int32_t end) { return end - begin >= k_ && Diverse(begin, end); }

  // The median cut (<= m | > m), or the cut below the run of m (< m | >= m), whichever is allowable and more
  // balanced.
  bool CutNumeric(const Partition& p, int q, std::vector<Partition>& parts) {
    const std::vector<int32_t>& code = qis_[q].code;
    const int32_t n = p.end - p.begin;
    if (n < 2 * k_) return false;
    auto by_code = [&](int32_t x, int32_t y) { return code[x] < code[y]; };
    const auto mid = idx_.begin() + p.begin + (n - 1) / 2;
    std::nth_element(idx_.begin() + p.begin, mid, idx_.begin() + p.end, by_code);
    const int32_t m = code[*mid];
    int32_t at_most = 0;
    int32_t below = 0;
    for (int32_t i = p.begin; i < p.end; ++i) {
      const int32_t c = code[idx_[i]];
      at_most += c <= m;
      below += c < m;
    }
    // Candidates in order of balance; each is tried by reordering the range.
    struct Candidate {
      int32_t left;
      bool inclusive;
    };
    Candidate candidates[2] = {{at_most, true}, {below, false}};
    if (std::abs(n - 2 * below) < std::abs(n - 2 * at_most)) std::swap(candidates[0], candidates[1]);
    for (const Candidate& c : candidates) {
      if (c.left < k_ || n - c.left < k_) continue;
      std::partition(idx_.begin() + p.begin, idx_.begin() + p.end,
                     [&](int32_t r) { return c.inclusive ? code[r] <= m : code[r] < m; });
      const int32_t split = p.begin + c.left;
      if (!Diverse(p.begin, split) || !Diverse(split, p.end)) continue;
      parts.push_back(Partition{p.begin, split, p.state});
      parts.push_back(Partition{split, p.end, p.state});
      return true;
    }
    return false;
  }

  // One part per child of the partition's node that its records reach; allowable only if every part is.
  bool CutCategorical(const Partition& p, int q, std::vector<Partition>& parts) {
    const Encoded& e = qis_[q];
    const int32_t level = p.state[q].a - 1;
    const std::vector<int32_t>& child_of = e.ancestor[level];
    const std::vector<int32_t>& code = e.code;
    count_.assign(e.label[level].size() + 1, 0);
    for (int32_t i = p.begin; i < p.end; ++i) ++count_[child_of[code[idx_[i]]] + 1];
    for (int32_t c : count_) {
      if (c != 0 && c < k_) return false;
    }
    for (size_t c = 1; c < count_.size(); ++c) count_[c] += count_[c - 1];  // start of each child's run
    std::vector<int32_t> start(count_.begin(), count_.end() - 1);
    for (int32_t i = p.begin; i < p.end; ++i) {
      const int32_t r = idx_[i];
      scratch_[p.begin + start[child_of[code[r]]]++] = r;
    }
    std::copy(scratch_.begin() + p.begin, scratch_.begin() + p.end, idx_.begin() + p.begin);
    for (size_t c = 0; c + 1 < count_.size(); ++c) {
      const int32_t b = p.begin + count_[c];
      const int32_t en = p.begin + count_[c + 1];
      if (b == en) continue;
      if (!Diverse(b, en)) {
        parts.clear();
        return false;
      }
      Partition part{b, en, p.state};
      part.state[q] = {level, static_cast<int32_t>(c)};
      parts.push_back(std::move(part));
    }
    return parts.size() >= 2;
  }

  void Emit(const Partition& p, MondrianResult& result) const {
    const int32_t id = static_cast<int32_t>(result.classes.size());
    MondrianClass cls;
    cls.size = p.end - p.begin;
    for (size_t q = 0; q < qis_.size(); ++q) {
      const Encoded& e = qis_[q];
      const Span2& s = p.state[q];
      MondrianValue v;
      if (e.numeric) {
        v.low = e.value[s.a];
        v.high = e.value[s.b];
        v.text =
            s.a == s.b ? e.text[s.a] : absl::StrCat("[", e.text[s.a], e.interval_separator, e.text[s.b], "]");
      } else {
        v.level = s.a;
        v.leaves = e.leaves[s.a][s.b];
        v.text = e.label[s.a][s.b];
      }
      cls.values.push_back(std::move(v));
    }
    result.classes.push_back(std::move(cls));
    for (int32_t i = p.begin; i < p.end; ++i) result.class_of[idx_[i]] = id;
  }

  std::vector<Encoded>& qis_;
  const int64_t k_;
  const int64_t l_;
  const std::vector<int32_t> sensitive_;
  std::vector<double> range_;  // per QI: max - min, or the hierarchy's leaves
  std::vector<int32_t> idx_;
  std::vector<int32_t> scratch_;
  std::vector<int32_t> count_;
  std::vector<uint32_t> stamp_;
  uint32_t epoch_ = 0;
};

}  // namespace

absl::StatusOr<MondrianResult> Mondrian(const table::Table& table,
                                        std::span<const std::string> quasi_identifiers,
                                        const MondrianOptions& options) {
  if (quasi_identifiers.empty()) return absl::InvalidArgumentError("no quasi-identifiers given");
  if (options.k < 1) return absl::InvalidArgumentError(absl::StrCat("k must be at least 1, got ", options.k));
  const int64_t n = table.num_rows();
  if (n < options.k) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the table has %d records, fewer than k = %d", n, options.k));
  }
  if (n > INT32_MAX) return absl::InvalidArgumentError("Mondrian: more than 2^31 - 1 records");
  std::vector<Encoded> qis;
  absl::flat_hash_set<std::string_view> seen;
  for (const std::string& name : quasi_identifiers) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrFormat("quasi-identifier \"%s\" is listed twice", name));
    }
    const table::Column* c = table.FindColumn(name);
    if (c == nullptr)
      return absl::InvalidArgumentError(absl::StrFormat("no column \"%s\" in the table", name));
    Encoded e;
    e.name = name;
    e.numeric = IsNumericType(c->type());
    if (e.numeric) {
      VEIL_RETURN_IF_ERROR(EncodeNumeric(*c, e));
    } else {
      auto h = options.hierarchies.find(name);
      VEIL_RETURN_IF_ERROR(EncodeCategorical(*c, h == options.hierarchies.end() ? nullptr : &h->second, e));
    }
    qis.push_back(std::move(e));
  }
  std::vector<int32_t> sensitive;
  int32_t num_sensitive = 0;
  if (options.l > 1) {
    if (seen.contains(options.sensitive)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the sensitive column \"%s\" is also a quasi-identifier", options.sensitive));
    }
    const table::Column* c = table.FindColumn(options.sensitive);
    if (c == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "no sensitive column \"%s\" in the table (l-diversity needs one)", options.sensitive));
    }
    absl::flat_hash_map<std::string, int32_t> code_of;
    std::string scratch;
    sensitive.resize(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      // Null is one value of its own: code 0.
      sensitive[r] = c->IsNull(r) ? 0
                                  : code_of
                                        .try_emplace(std::string(CellView(*c, r, scratch)),
                                                     static_cast<int32_t>(code_of.size()) + 1)
                                        .first->second;
    }
    num_sensitive = static_cast<int32_t>(code_of.size()) + 1;
    const int64_t distinct =
        static_cast<int64_t>(absl::flat_hash_set<int32_t>(sensitive.begin(), sensitive.end()).size());
    if (distinct < options.l) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the sensitive column \"%s\" has %d distinct values, fewer than l = %d",
                          options.sensitive, distinct, options.l));
    }
  }
  Partitioner partitioner(qis, options.k, options.l, std::move(sensitive), num_sensitive);
  MondrianResult result = partitioner.Run(n);
  for (const Encoded& e : qis) {
    MondrianAttribute a;
    a.name = e.name;
    a.numeric = e.numeric;
    if (e.numeric) {
      a.min = e.value.front();
      a.max = e.value.back();
    } else {
      a.leaves = e.leaves[e.top][0];
      a.height = e.top;
    }
    result.attributes.push_back(std::move(a));
  }
  return result;
}

absl::StatusOr<table::Table> ApplyMondrian(const table::Table& table, const MondrianResult& result) {
  if (static_cast<int64_t>(result.class_of.size()) != table.num_rows()) {
    return absl::InvalidArgumentError(absl::StrFormat("the Mondrian result has %d records, the table %d",
                                                      result.class_of.size(), table.num_rows()));
  }
  absl::flat_hash_map<std::string_view, size_t> qi_of;
  for (size_t q = 0; q < result.attributes.size(); ++q) {
    if (table.schema().FindField(result.attributes[q].name) == std::nullopt) {
      return absl::InvalidArgumentError(
          absl::StrFormat("no column \"%s\" in the table", result.attributes[q].name));
    }
    qi_of[result.attributes[q].name] = q;
  }
  std::vector<table::Field> fields;
  std::vector<table::Column> columns;
  for (int c = 0; c < table.num_columns(); ++c) {
    const table::Field& f = table.schema().field(c);
    auto it = qi_of.find(f.name);
    if (it == qi_of.end()) {
      fields.push_back(f);
      columns.push_back(table.column(c));
      continue;
    }
    const size_t q = it->second;
    table::StringDictionary dictionary;
    std::vector<int32_t> code_of_class(result.classes.size());
    for (size_t k = 0; k < result.classes.size(); ++k) {
      if (result.classes[k].values.size() != result.attributes.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("Mondrian class %d has %d values for %d QIs", k,
                                                          result.classes[k].values.size(),
                                                          result.attributes.size()));
      }
      code_of_class[k] = dictionary.Insert(result.classes[k].values[q].text);
    }
    std::vector<int32_t> codes(result.class_of.size());
    for (size_t r = 0; r < codes.size(); ++r) {
      const int32_t k = result.class_of[r];
      if (k < 0 || static_cast<size_t>(k) >= result.classes.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("row %d: class %d out of range", r + 1, k));
      }
      codes[r] = code_of_class[k];
    }
    VEIL_ASSIGN_OR_RETURN(table::Column column,
                          table::Column::FromStrings(std::move(codes), std::move(dictionary)));
    fields.push_back(table::Field{f.name, DataType::kString, /*nullable=*/false});
    columns.push_back(std::move(column));
  }
  VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
  return table::Table::Make(std::move(schema), std::move(columns));
}

namespace {

// The number Mondrian compared for a cell of a numeric QI (units of MondrianAttribute::min/max: dates as
// days, timestamps as microseconds), or nullopt for null and non-numeric cells.
std::optional<double> NumericValue(const table::Table& t, int64_t row, int col) {
  if (t.IsNull(row, col)) return std::nullopt;
  const table::Value v = t.GetValue(row, col);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* date = std::get_if<table::Date>(&v)) return static_cast<double>(date->days);
  if (const auto* ts = std::get_if<table::Timestamp>(&v)) return static_cast<double>(ts->micros);
  return std::nullopt;
}

}  // namespace

absl::StatusOr<GeneralizedTable> MondrianGeneralizedTable(const EncodedTable& e, const MondrianResult& m,
                                                          const table::Table& typed) {
  const size_t nq = e.qis.size();
  if (m.attributes.size() != nq) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Mondrian result has %d quasi-identifiers, the table %d", m.attributes.size(), nq));
  }
  if (static_cast<int64_t>(m.class_of.size()) != e.num_rows || typed.num_rows() != e.num_rows) {
    return absl::InvalidArgumentError("Mondrian result, encoded table and table differ in rows");
  }
  GeneralizedTable g;
  g.cells.resize(nq);
  g.record_cell.resize(nq);
  for (size_t q = 0; q < nq; ++q) {
    const EncodedQi& qi = e.qis[q];
    const MondrianAttribute& attr = m.attributes[q];
    const int num_leaves = qi.num_leaves();
    g.cells[q].reserve(m.classes.size());
    if (attr.numeric) {
      // Leaves with a value, sorted by it: a class's cell is a contiguous run, found by binary search.
      std::vector<std::optional<double>> leaf_num(static_cast<size_t>(num_leaves));
      for (int64_t r = 0; r < e.num_rows; ++r) {
        auto& slot = leaf_num[static_cast<size_t>(qi.leaf[r])];
        if (!slot) slot = NumericValue(typed, r, qi.table_column);
      }
      std::vector<std::pair<double, int32_t>> sorted;
      sorted.reserve(static_cast<size_t>(num_leaves));
      for (int leaf = 0; leaf < num_leaves; ++leaf) {
        double x;
        if (!leaf_num[leaf] && absl::SimpleAtod(qi.hierarchy.Label(leaf, 0), &x) && std::isfinite(x)) {
          leaf_num[leaf] = x;
        }
        if (leaf_num[leaf]) sorted.emplace_back(*leaf_num[leaf], leaf);
      }
      std::sort(sorted.begin(), sorted.end());
      for (const MondrianClass& c : m.classes) {
        const MondrianValue& v = c.values[q];
        auto lo = std::lower_bound(sorted.begin(), sorted.end(), std::make_pair(v.low, INT32_MIN));
        auto hi = std::upper_bound(sorted.begin(), sorted.end(), std::make_pair(v.high, INT32_MAX));
        std::vector<int32_t> cell;
        cell.reserve(static_cast<size_t>(hi - lo));
        for (auto it = lo; it != hi; ++it) cell.push_back(it->second);
        g.cells[q].push_back(std::move(cell));
      }
    } else {
      // The leaves under each node, per level, built once; labels -> node by hash.
      std::vector<int32_t> all(static_cast<size_t>(num_leaves));
      std::iota(all.begin(), all.end(), 0);
      std::vector<std::vector<std::vector<int32_t>>> under(static_cast<size_t>(qi.num_levels()));
      std::vector<absl::flat_hash_map<std::string_view, int32_t>> node_of(
          static_cast<size_t>(qi.num_levels()));
      for (const MondrianClass& c : m.classes) {
        const MondrianValue& v = c.values[q];
        if (v.level >= qi.num_levels()) {
          g.cells[q].push_back(all);
          continue;
        }
        const size_t level = static_cast<size_t>(v.level);
        if (under[level].empty()) {
          under[level].resize(static_cast<size_t>(qi.num_nodes(v.level)));
          for (int leaf = 0; leaf < num_leaves; ++leaf) under[level][qi.parent[level][leaf]].push_back(leaf);
          for (size_t node = 0; node < qi.labels[level].size(); ++node) {
            node_of[level].emplace(qi.labels[level][node], static_cast<int32_t>(node));
          }
        }
        auto it = node_of[level].find(v.text);
        if (it == node_of[level].end()) {
          return absl::InternalError(
              absl::StrCat("Mondrian node of '", qi.name, "' not found in its hierarchy"));
        }
        g.cells[q].push_back(under[level][it->second]);
      }
    }
    g.record_cell[q].assign(m.class_of.begin(), m.class_of.end());
  }
  return g;
}

}  // namespace veil::anon
