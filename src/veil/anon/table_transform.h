// Per-column de-identification of a table (`veil pii transform`): a policy names an operator for each
// column.
//
// Policy (JSON):
//
//   {
//     "columns": {
//       "patient_id": "token",                                   // shorthand: just the operator
//       "name":       {"operator": "token", "entity": "PERSON"},
//       "email":      {"operator": "mask", "chars": 10, "char": "*", "from_end": false},
//       "phone":      {"operator": "ff1", "entity": "PHONE_NUMBER"},
//       "birth_date": {"operator": "generalize"},                // date -> "1963-04" (month)
//       "zip":        {"operator": "generalize", "kind": "zip"}, // "62701" -> "627"
//       "charges":    {"operator": "generalize", "width": 1000}, // 7256.33 -> "[7000, 8000)"
//       "address":    "replace",                                 // -> "<VALUE>" (or "<TYPE>" with an entity)
//       "notes":      "drop"
//     },
//     "default": "keep"                                          // columns not listed; omit it to require
//   }                                                            // every column to be listed
//
// Operators:
//   keep        the column as it is (its type too).
//   drop        the column is removed.
//   redact      every value becomes null (an empty field in CSV).
//   replace     "<TYPE>" with "entity", else "<VALUE>".
//   mask        as MaskOperator: "chars" (default all), "char" (default "*"), "from_end" (default false).
//   token       as TokenOperator (keyed: the workspace's "pii token v1" key); "entity" picks the
//               canonicalisation and the label, "format" and "hex_digits" as TokenOptions.
//   ff1         as Ff1Operator (keyed: "pii ff1 v1"); "entity" picks the alphabet (digits for numeric types);
//               untyped columns use "alphabet": "alphanumeric" (default) or "digits". Values too short for
//               FF1 become "<TYPE>".
//   generalize  "kind" (default from the column type):
//                 "interval"  numbers (int64, double): the interval of width "width" (required, > 0) holding
//                             the value, "[lo, hi)" with lo = floor(v / width) * width: 37 -> "[30, 40)".
//                 "month"     dates and timestamps (or text starting YYYY-MM): "YYYY-MM" (default for dates).
//                 "zip"       the first 3 digits of the value's text (US ZIP3, HIPAA Safe Harbor's form).
//                 "truncate"  the first "length" characters (code points; default 3; default for strings).
// Every value operator works on the value's text (FormatValue) and produces a nullable string column; nulls
// stay null. Unknown fields, operators, entity types and columns are errors naming them.
//
// Thread safety: functions are thread-safe; a TransformPolicy is a value.
#ifndef VEIL_ANON_TABLE_TRANSFORM_H_
#define VEIL_ANON_TABLE_TRANSFORM_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/anon/operators.h"
#include "veil/base/secret_bytes.h"
#include "veil/table/table.h"

namespace veil::anon {

enum class ColumnOperator { kKeep, kDrop, kRedact, kReplace, kMask, kToken, kFf1, kGeneralize };
std::string_view ColumnOperatorName(ColumnOperator op);

enum class GeneralizeKind { kAuto, kInterval, kMonth, kZip, kTruncate };

struct ColumnPolicy {
  ColumnOperator op = ColumnOperator::kKeep;
  ValueType entity;  // nullopt: untyped
  MaskOptions mask;
  TokenOptions token;
  Ff1Alphabet ff1_alphabet = Ff1Alphabet::kAlphanumeric;
  GeneralizeKind kind = GeneralizeKind::kAuto;
  double width = 0;   // interval width
  size_t length = 3;  // truncate length
};

struct TransformPolicy {
  std::vector<std::pair<std::string, ColumnPolicy>> columns;  // in the policy's order
  std::optional<ColumnPolicy> default_policy;                 // for columns not listed
};

// Parses a policy (header comment). Errors: InvalidArgument naming the field ("policy: columns.email.chars:
// must be a non-negative integer") or the JSON syntax error's byte offset.
absl::StatusOr<TransformPolicy> ParsePolicy(std::string_view json);

// True if some column uses token or ff1 (the command then needs the workspace's keys).
bool PolicyNeedsKeys(const TransformPolicy& policy);

struct TransformKeys {
  const base::SecretBytes* token_key = nullptr;  // "pii token v1"; needed by token
  const base::SecretBytes* ff1_key = nullptr;    // "pii ff1 v1"; needed by ff1
};

struct TransformResult {
  table::Table table;
  // Per output... per input column: what was done ("email: mask"), for reports and audit parameters.
  std::vector<std::pair<std::string, std::string>> applied;
  size_t ff1_small_domain = 0;  // values ff1 replaced by "<TYPE>": domain too small
  size_t ff1_invalid = 0;  // values ff1 replaced by "<TYPE>": failing their type's check (IBAN, card, SSN)
};

// Applies `policy` to `input`. Errors: InvalidArgument for a policy column the table does not have, a column
// the policy does not cover (and no default), an operator unsuited to the column's type (generalize of a
// bool, interval of a non-number, month of a text that is not a date: naming the column and row, never the
// value), or a missing key (FailedPrecondition).
absl::StatusOr<TransformResult> TransformTable(const table::Table& input, const TransformPolicy& policy,
                                               const TransformKeys& keys);

}  // namespace veil::anon

#endif  // VEIL_ANON_TABLE_TRANSFORM_H_
