// Generalization hierarchies and the integer-encoded table that every table anonymization algorithm of
// veil::anon (the optimal lattice search in kanon.h, Mondrian in mondrian.h, the metrics in utility.h, the
// risk models in risk.h) runs on.
//
// A hierarchy describes, for one quasi-identifier (QI), how each original value ("leaf") is generalized at
// levels 0 (the original) .. num_levels()-1 (usually "*"). The file format is ARX's
// (github.com/arx-deidentifier/arx, "hierarchy" CSV): one row per original value, one column per level,
// ';'-separated by default, no header, e.g. for age
//   39;35-39;30-39;20-39;*
// Validation (as ARX requires of a hierarchy):
//   * every row has the same number of levels (>= 1) and no empty value, except the row of the missing
//     value: a leaf that is the empty string ("" or an empty field) stands for an empty or null cell, and
//     its row may stay empty at higher levels (its own branch) before its top, e.g. "";"";* or "";*;
//   * every value is valid UTF-8 (labels become table cells, see table/column.h);
//   * an original value (column 0) is listed once;
//   * levels are consistent: two leaves that are equal at level i are equal at level i+1 (a generalized value
//     has exactly one parent), so the levels form a tree.
// Errors name the file (source name), the 1-based line and, for the first two rules, the hierarchy value
// (hierarchy values are domain labels, not personal data).
//
// Built-in hierarchies for columns without a file: numeric intervals of growing width (MakeIntervalHierarchy)
// and dates day -> month -> year -> decade -> * (MakeDateHierarchy), built from the values present. An empty
// value among them (a missing cell) gets the missing value's row: "" at every level but the last, "*", so
// a missing value forms its own class until the column is fully generalized.
// Pass the column's values in row order (duplicates are fine): errors name the 1-based position of a bad
// value in `values`, which is then its data row.
//
// EncodeTable turns the QI columns of a table::Table into integer ids with per-level parent maps, so that the
// searches run on ints. Every data value must be a leaf of its column's hierarchy; otherwise InvalidArgument
// naming the column and the 1-based data row (never the value: it is personal data).
//
// Thread safety: all types here are plain values; const methods may be called concurrently.
#ifndef VEIL_ANON_HIERARCHY_H_
#define VEIL_ANON_HIERARCHY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "veil/base/env.h"
#include "veil/table/table.h"

namespace veil::anon {

// A validated generalization hierarchy (see the file comment). Copyable value.
class Hierarchy {
 public:
  Hierarchy() = default;

  // Validates `rows` (rows[i][level]; rows[i][0] is the i-th leaf) and builds the hierarchy. `source_name`
  // (a file name) is used in errors: "<source>:<line>: ...", line = index in `rows` + 1.
  // Errors: InvalidArgument on any rule of the file comment, or if `rows` is empty.
  static absl::StatusOr<Hierarchy> FromRows(std::vector<std::vector<std::string>> rows,
                                            std::string_view source_name);

  // Parses ARX CSV text: lines separated by "\n" or "\r\n", fields by `separator`; a field may be quoted
  // with '"' (a doubled quote inside is one quote). Blank lines are skipped; no header. Errors as FromRows,
  // plus InvalidArgument for an unterminated quote (with the line).
  static absl::StatusOr<Hierarchy> ParseArxCsv(std::string_view text, std::string_view source_name,
                                               char separator = ';');
  // Reads `path` through `env` and parses it (source name = path). Errors: those of Env, and ParseArxCsv's.
  static absl::StatusOr<Hierarchy> ReadArxCsv(base::Env& env, const std::string& path, char separator = ';');

  int num_levels() const { return num_levels_; }  // including level 0 (the original values)
  int num_leaves() const { return static_cast<int>(rows_.size()); }
  // The label of leaf `leaf` at `level` (0 <= leaf < num_leaves(), 0 <= level < num_levels()).
  const std::string& Label(int leaf, int level) const { return rows_[leaf][level]; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  // The index of the leaf whose original value is `value`, or nullopt.
  std::optional<int> FindLeaf(std::string_view value) const;
  // Serializes to ARX CSV (inverse of ParseArxCsv; values containing the separator, '"' or a line break
  // are quoted, and the empty value is written "").
  std::string ToArxCsv(char separator = ';') const;

 private:
  // FromRows with the source line of each row (for ParseArxCsv, which skips blank lines).
  static absl::StatusOr<Hierarchy> Build(std::vector<std::vector<std::string>> rows,
                                         std::string_view source_name, const std::vector<int>& lines);

  std::vector<std::vector<std::string>> rows_;
  int num_levels_ = 0;
  absl::flat_hash_map<std::string, int> leaf_index_;
};

// Numeric interval hierarchy over the distinct numeric `values` (strings as they appear in the data).
// Level 0: the value itself; level i (1 <= i <= widths.size()): the half-open interval [lo, lo + widths[i-1])
// containing it, with lo = origin + floor((v - origin) / width) * width, labelled "lo-hi" with hi =
// lo+width-1 when all values and widths are integers (ARX's style, e.g. "30-39"), otherwise "[lo, hi)"; last
// level "*". Leaves are sorted by numeric value. Requirements: widths finite, > 0 and each a multiple of the
// previous one (so that intervals nest and the hierarchy is consistent). Errors: InvalidArgument naming
// `column` if a value does not parse as a finite number ("column 'age', row 2: ...", the 1-based position
// in `values`, never the value) or the widths are invalid.
absl::StatusOr<Hierarchy> MakeIntervalHierarchy(absl::Span<const std::string> values,
                                                absl::Span<const double> widths, std::string_view column,
                                                double origin = 0);

// Numeric hierarchy with user-given cut points: level i (1 <= i <= levels.size()) maps v to the interval
// [b_j, b_{j+1}) of the sorted bounds levels[i-1] containing it, labelled "[b_j, b_{j+1})" (values below the
// first bound: "<b_0"; at or above the last: ">=b_last"); last level "*". Requirements: each level's bounds
// strictly increasing and a subset of the previous level's bounds (coarser levels drop cut points).
// Errors: InvalidArgument naming `column` as MakeIntervalHierarchy.
absl::StatusOr<Hierarchy> MakeBoundsHierarchy(absl::Span<const std::string> values,
                                              const std::vector<std::vector<double>>& levels,
                                              std::string_view column);

// Date hierarchy over distinct ISO dates "YYYY-MM-DD" (a "YYYY-MM-DDThh:mm:ss..." timestamp uses its date
// part): day -> "YYYY-MM" -> "YYYY" -> decade "1990-1999" -> "*" (5 levels). Leaves sorted chronologically.
// Errors: InvalidArgument naming `column` and the 1-based position of a value that is not a valid date.
absl::StatusOr<Hierarchy> MakeDateHierarchy(absl::Span<const std::string> values, std::string_view column);

// One quasi-identifier encoded against its hierarchy. Ids:
//   leaf id     = index of the original value in hierarchy.rows() (0 .. num_leaves-1); all hierarchy rows
//                 count, also values absent from the data (ARX's domain, used by the Loss metric);
//   node id     = dense id of a generalized value at one level (0 .. num_nodes(level)-1), in order of first
//                 appearance along the leaves; at level 0 node id == leaf id.
struct EncodedQi {
  std::string name;       // column name
  int table_column = -1;  // index of the column in the source table
  Hierarchy hierarchy;
  // Per record (0 .. num_rows-1): the leaf id of its value.
  std::vector<int32_t> leaf;
  // parent[level][leaf] = node id of the leaf's generalization at `level` (parent[0][leaf] == leaf).
  std::vector<std::vector<int32_t>> parent;
  // leaves_under[level][node] = number of hierarchy leaves generalized to `node` (ARX domain share
  // numerator; domain size = hierarchy.num_leaves()).
  std::vector<std::vector<int32_t>> leaves_under;
  // records_under[level][node] = number of records whose value is generalized to `node` (ARX cardinalities,
  // used by non-uniform entropy). records_under[0][leaf] = frequency of the leaf in the data.
  std::vector<std::vector<int64_t>> records_under;
  // labels[level][node] = the hierarchy label of `node`.
  std::vector<std::vector<std::string>> labels;
  // leaf_value[leaf] = the leaf parsed as a finite number, when EVERY leaf parses (then numeric == true);
  // empty otherwise. Mondrian may order numeric leaves by it; otherwise leaf id order is the order.
  bool numeric = false;
  std::vector<double> leaf_value;

  int num_levels() const { return static_cast<int>(parent.size()); }
  int num_nodes(int level) const { return static_cast<int>(leaves_under[level].size()); }
  int num_leaves() const { return hierarchy.num_leaves(); }
};

// The optional sensitive attribute (for l-diversity): values as dense ids.
struct EncodedSensitive {
  std::string name;
  int table_column = -1;
  std::vector<int32_t> value;       // per record: id (0 .. values.size()-1)
  std::vector<std::string> values;  // id -> value as in the data (null cells: "")
};

struct EncodedTable {
  int64_t num_rows = 0;
  std::vector<EncodedQi> qis;                 // in the order requested
  std::optional<EncodedSensitive> sensitive;  // present iff requested
};

// Encodes `table`: for each name in `qi_columns`, the column is looked up by name and each cell (formatted
// with Table::FormatValue) is looked up among the leaves of `hierarchies[i]` (same order as `qi_columns`).
// `sensitive_column`, when non-empty, is encoded as dense ids.
// Errors: InvalidArgument if the sizes differ, a column does not exist or is listed twice (as QI and
// sensitive, too), no QI is given, or a value is not in the hierarchy ("column 'age', row 17: value not
// found in its hierarchy" - the row is 1-based among data rows). A null cell is the missing value: it is
// looked up as the empty leaf "", and if the hierarchy has none the error says "column 'q', row 2: empty
// value; ...".
absl::StatusOr<EncodedTable> EncodeTable(const table::Table& table, absl::Span<const std::string> qi_columns,
                                         std::vector<Hierarchy> hierarchies,
                                         std::string_view sensitive_column = "");

}  // namespace veil::anon

#endif  // VEIL_ANON_HIERARCHY_H_
