#include "veil/table/table.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/status_macros.h"

namespace veil::table {

absl::StatusOr<Table> Table::Make(Schema schema, std::vector<Column> columns) {
  if (static_cast<int>(columns.size()) != schema.num_fields()) {
    return absl::InvalidArgumentError(absl::StrCat("schema has ", schema.num_fields(), " fields but ",
                                                   columns.size(), " columns were given"));
  }
  const int64_t num_rows = columns.empty() ? 0 : columns[0].size();
  for (int i = 0; i < schema.num_fields(); ++i) {
    const Field& field = schema.field(i);
    const Column& column = columns[i];
    if (column.type() != field.type) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column ", i + 1, " (\"", field.name, "\") is ", internal::ToAbsl(DataTypeName(column.type())),
          " but the schema says ", internal::ToAbsl(DataTypeName(field.type))));
    }
    if (column.size() != num_rows) {
      return absl::InvalidArgumentError(absl::StrCat("column ", i + 1, " (\"", field.name, "\") has ",
                                                     column.size(), " rows but column 1 has ", num_rows));
    }
    if (!field.nullable && column.null_count() > 0) {
      return absl::InvalidArgumentError(absl::StrCat("column ", i + 1, " (\"", field.name,
                                                     "\") is not nullable but holds ", column.null_count(),
                                                     " nulls"));
    }
  }
  return Table(std::move(schema), std::move(columns), num_rows);
}

const Column* Table::FindColumn(std::string_view name) const {
  std::optional<int> i = schema_.FindField(name);
  return i ? &columns_[*i] : nullptr;
}

absl::StatusOr<Table> Table::Take(std::span<const int64_t> rows) const {
  for (size_t i = 0; i < rows.size(); ++i) {
    // One unsigned comparison per index covers both bounds.
    if (static_cast<uint64_t>(rows[i]) >= static_cast<uint64_t>(num_rows_)) {
      return absl::OutOfRangeError(absl::StrCat("row index ", rows[i], " at position ", i,
                                                " is outside the table's rows [0, ", num_rows_, ")"));
    }
  }
  std::vector<Column> columns;
  columns.reserve(columns_.size());
  for (const Column& column : columns_) columns.push_back(column.Take(rows));
  return Table(schema_, std::move(columns), static_cast<int64_t>(rows.size()));
}

absl::StatusOr<Table> FirstRowPerKey(const Table& t, std::string_view column) {
  const std::optional<int> col = t.schema().FindField(column);
  if (!col.has_value())
    return absl::InvalidArgumentError(absl::StrCat("no column \"", std::string(column), "\""));
  absl::flat_hash_set<std::string> seen;
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    if (t.IsNull(r, *col) || seen.insert(t.FormatValue(r, *col)).second) keep.push_back(r);
  }
  if (static_cast<int64_t>(keep.size()) == t.num_rows()) return t;
  return t.Take(keep);
}

std::string Table::ToString(int64_t max_rows) const {
  std::string out;
  for (int c = 0; c < num_columns(); ++c) {
    if (c > 0) out += " | ";
    absl::StrAppend(&out, schema_.field(c).name, ":", internal::ToAbsl(DataTypeName(schema_.field(c).type)));
  }
  out += "\n";
  const int64_t shown = std::min(max_rows, num_rows_);
  for (int64_t row = 0; row < shown; ++row) {
    for (int c = 0; c < num_columns(); ++c) {
      if (c > 0) out += " | ";
      out += FormatValue(row, c);
    }
    out += "\n";
  }
  if (shown < num_rows_) absl::StrAppend(&out, "... (", num_rows_, " rows)\n");
  return out;
}

bool operator==(const Table& a, const Table& b) {
  return a.schema_ == b.schema_ && a.num_rows_ == b.num_rows_ && a.columns_ == b.columns_;
}

TableBuilder::TableBuilder(Schema schema) : schema_(std::move(schema)) {
  builders_.reserve(schema_.num_fields());
  for (const Field& f : schema_.fields()) builders_.emplace_back(f.type);
}

absl::Status TableBuilder::AppendRow(std::span<const Value> row) {
  if (static_cast<int>(row.size()) != schema_.num_fields()) {
    return absl::InvalidArgumentError(
        absl::StrCat("row has ", row.size(), " values but the schema has ", schema_.num_fields(), " fields"));
  }
  // Check everything first so that a bad row leaves the columns untouched.
  for (int i = 0; i < schema_.num_fields(); ++i) {
    const Field& field = schema_.field(i);
    const std::optional<DataType> type = ValueType(row[i]);
    if (!type && !field.nullable) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", i + 1, " (\"", field.name, "\") is not nullable but the row has a null"));
    }
    if (type && *type != field.type) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column ", i + 1, " (\"", field.name, "\") is ", internal::ToAbsl(DataTypeName(field.type)),
          " but the row has a ", internal::ToAbsl(DataTypeName(*type))));
    }
  }
  for (int i = 0; i < schema_.num_fields(); ++i) VEIL_RETURN_IF_ERROR(builders_[i].Append(row[i]));
  return absl::OkStatus();
}

absl::StatusOr<Table> TableBuilder::Finish() {
  std::vector<Column> columns;
  columns.reserve(builders_.size());
  for (int i = 0; i < static_cast<int>(builders_.size()); ++i) {
    absl::StatusOr<Column> column = builders_[i].Finish();
    if (!column.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", i + 1, " (\"", schema_.field(i).name, "\"): ", column.status().message()));
    }
    columns.push_back(*std::move(column));
  }
  return Table::Make(schema_, std::move(columns));
}

}  // namespace veil::table
