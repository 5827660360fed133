// Table: a schema plus one Column per field, all of the same length. The in-memory form of a dataset that
// every Veil module takes and returns.
//
// Reading:
//   for (int64_t row = 0; row < t.num_rows(); ++row) {
//     const Column& age = t.column(0);
//     if (!age.IsNull(row)) total += age.GetInt64(row);
//   }
//   std::string shown = t.FormatValue(row, col);    // "39", "2024-01-31", "NULL", ...
//
// Building:
//   TableBuilder b(schema);
//   VEIL_RETURN_IF_ERROR(b.AppendRow({int64_t{39}, "State-gov", std::monostate()}));
//   b.column(0).AppendInt64(50);  ...          // or column by column, for speed
//   VEIL_ASSIGN_OR_RETURN(Table t, b.Finish());
//
// A Table is an immutable value: copyable (deep copy), movable, comparable, and safe to read from many
// threads at once.
#ifndef VEIL_TABLE_TABLE_H_
#define VEIL_TABLE_TABLE_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/table/column.h"
#include "veil/table/schema.h"
#include "veil/table/types.h"

namespace veil::table {

class Table {
 public:
  // The empty table: no columns, no rows.
  Table() = default;

  // Validates and builds a table. Errors: InvalidArgument if the number of columns differs from the
  // number of fields, a column's type differs from its field's, the columns differ in length, or a
  // non-nullable field's column holds a null.
  static absl::StatusOr<Table> Make(Schema schema, std::vector<Column> columns);

  const Schema& schema() const { return schema_; }
  int num_columns() const { return schema_.num_fields(); }
  int64_t num_rows() const { return num_rows_; }

  // Precondition: 0 <= i < num_columns().
  const Column& column(int i) const { return columns_[i]; }
  // The column named `name`, or nullptr.
  const Column* FindColumn(std::string_view name) const;

  // Preconditions: 0 <= row < num_rows(), 0 <= col < num_columns().
  bool IsNull(int64_t row, int col) const { return columns_[col].IsNull(row); }
  Value GetValue(int64_t row, int col) const { return columns_[col].GetValue(row); }
  // The display text of a value (types.h); "NULL" for null.
  std::string FormatValue(int64_t row, int col) const { return columns_[col].FormatValue(row); }

  // A new table with the same schema holding rows[0], rows[1], ... of this one, in that order: a row may be
  // taken several times, and an empty `rows` gives an empty table. Built column by column with Column::Take.
  // Errors: OutOfRange (and no table) if an index is outside [0, num_rows()), naming its position in `rows`.
  absl::StatusOr<Table> Take(std::span<const int64_t> rows) const;

  // A plain-text rendering for logs and tests: a header line with names and types, then up to `max_rows`
  // rows, values separated by " | ".
  std::string ToString(int64_t max_rows = 10) const;

  // Same schema (names, types, nullability) and equal columns (see Column's operator==).
  friend bool operator==(const Table& a, const Table& b);

 private:
  Table(Schema schema, std::vector<Column> columns, int64_t num_rows)
      : schema_(std::move(schema)), columns_(std::move(columns)), num_rows_(num_rows) {}

  Schema schema_;
  std::vector<Column> columns_;
  int64_t num_rows_ = 0;
};

// One row per key: the first row holding each value of `column` (compared by display text), in the table's
// order; a row whose key is null is kept (each null is its own key). Used to keep one record per subject
// before a DP computation whose unit is the subject. Returns `t` itself when every key is distinct.
// Errors: InvalidArgument if there is no such column.
absl::StatusOr<Table> FirstRowPerKey(const Table& t, std::string_view column);

// Builds a Table row by row (AppendRow) or column by column (column(i).Append*); the two may be mixed as
// long as every column ends with the same length. Not thread-safe.
class TableBuilder {
 public:
  explicit TableBuilder(Schema schema);

  const Schema& schema() const { return schema_; }
  // The builder of column i. Precondition: 0 <= i < schema().num_fields().
  ColumnBuilder& column(int i) { return builders_[i]; }

  // Appends one row. Errors: InvalidArgument (and nothing is appended) if the row has the wrong number of
  // values, a value's type differs from its field's, or a non-nullable field gets a null.
  absl::Status AppendRow(std::span<const Value> row);
  absl::Status AppendRow(std::initializer_list<Value> row) {
    return AppendRow(std::span<const Value>(row.begin(), row.size()));
  }

  // The table, or the first error (a mistyped Append* on a column, columns of different lengths, a null in a
  // non-nullable field). Leaves the builder empty.
  absl::StatusOr<Table> Finish();

 private:
  Schema schema_;
  std::vector<ColumnBuilder> builders_;
};

}  // namespace veil::table

#endif  // VEIL_TABLE_TABLE_H_
