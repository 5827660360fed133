// Schema: the names, types and nullability of a table's columns.
//
//   VEIL_ASSIGN_OR_RETURN(Schema schema, Schema::Make({{"age", DataType::kInt64},
//                                                     {"name", DataType::kString, /*nullable=*/false}}));
//   std::optional<int> i = schema.FindField("age");   // 0
//
// A Schema is an immutable value: copyable, comparable, and safe to share between threads.
#ifndef VEIL_TABLE_SCHEMA_H_
#define VEIL_TABLE_SCHEMA_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "veil/table/types.h"

namespace veil::table {

// One column's description.
struct Field {
  std::string name;
  DataType type = DataType::kString;
  // Whether the column may hold nulls. Tables refuse a null in a non-nullable column.
  bool nullable = true;

  friend bool operator==(const Field&, const Field&) = default;
};

class Schema {
 public:
  // The empty schema (no fields).
  Schema() = default;

  // Validates and builds a schema. Errors: InvalidArgument if a name is empty, is not valid UTF-8, or
  // appears twice.
  static absl::StatusOr<Schema> Make(std::vector<Field> fields);

  int num_fields() const { return static_cast<int>(fields_.size()); }
  const Field& field(int i) const { return fields_[i]; }
  const std::vector<Field>& fields() const { return fields_; }

  // The index of the field named `name` (exact, case-sensitive match), or nullopt.
  std::optional<int> FindField(std::string_view name) const;

  // "age: int64, name: string not null".
  std::string ToString() const;

  friend bool operator==(const Schema& a, const Schema& b) { return a.fields_ == b.fields_; }

 private:
  explicit Schema(std::vector<Field> fields);

  std::vector<Field> fields_;
  absl::flat_hash_map<std::string, int> index_;  // name -> position in fields_
};

}  // namespace veil::table

#endif  // VEIL_TABLE_SCHEMA_H_
