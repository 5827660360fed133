// Fuzz target for the DP SQL lexer, parser, planner and filter evaluation (DESIGN.md 5.11).
//
// The input is query text. For every input:
//   - Tokenize, ParseQuery, ParseExpression and PrepareQuery (against a fixed schema: id, g, x, y, d, b, ts)
//     must each succeed or return InvalidArgument whose message is valid UTF-8 (it quotes the query line),
//     never crash, hang or overflow the stack;
//   - a query that parses must print (ToSql) to text that parses again to the same tree (SameExpr on every
//     expression, equal options, table, order and limit), and printing that tree must give the same text;
//   - the same for an expression;
//   - a query that prepares must explain (text and JSON), and run without noise (ExecutePlainQuery, which
//     evaluates WHERE and derived columns) on a small fixed table without error.
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "veil/base/utf8.h"
#include "veil/sql/ast.h"
#include "veil/sql/executor.h"
#include "veil/sql/lexer.h"
#include "veil/sql/parser.h"
#include "veil/sql/planner.h"
#include "veil/table/table.h"

namespace {

using veil::sql::Expr;
using veil::sql::ExprPtr;
using veil::sql::Query;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckError(const absl::Status& status) {
  Check(status.code() == absl::StatusCode::kInvalidArgument);
  Check(veil::base::IsValidUtf8(std::string_view(status.message().data(), status.message().size())));
}

// Seven rows over every column type, with NULLs and extreme values.
const veil::table::Table& FuzzTable() {
  using veil::table::DataType;
  using veil::table::Value;
  static const veil::table::Table* const kTable = [] {
    const auto schema = veil::table::Schema::Make({{"id", DataType::kInt64},
                                                   {"g", DataType::kString},
                                                   {"x", DataType::kInt64},
                                                   {"y", DataType::kDouble},
                                                   {"d", DataType::kDate},
                                                   {"b", DataType::kBool},
                                                   {"ts", DataType::kTimestamp}});
    veil::table::TableBuilder builder(*schema);
    const int64_t big = int64_t{1} << 62;
    const std::vector<std::vector<Value>> rows = {
        {int64_t{1}, std::string("a"), int64_t{5}, 1.5, veil::table::Date{0}, true,
         veil::table::Timestamp{0}},
        {int64_t{1}, std::string("b"), int64_t{-3}, -0.0, veil::table::Date{19000}, false,
         veil::table::Timestamp{1}},
        {int64_t{2}, Value(), Value(), Value(), Value(), Value(), Value()},
        {int64_t{3}, std::string("a%_\\"), big, 1e300, veil::table::Date{-1}, true,
         veil::table::Timestamp{-5}},
        {int64_t{4}, std::string("caf\xc3\xa9"), -big, -1e-300, veil::table::Date{2932896}, false,
         veil::table::Timestamp{big}},
        {Value(), std::string(""), int64_t{0}, 0.0, veil::table::Date{1}, true, veil::table::Timestamp{2}},
        {int64_t{5}, std::string("b"), int64_t{7}, 2.5, veil::table::Date{2}, false,
         veil::table::Timestamp{3}},
    };
    for (const auto& row : rows) Check(builder.AppendRow(row).ok());
    return new veil::table::Table(*builder.Finish());
  }();
  return *kTable;
}

bool Same(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) return !a && !b;
  return veil::sql::SameExpr(*a, *b);
}

void CheckSameQuery(const Query& a, const Query& b) {
  Check(a.options.size() == b.options.size());
  for (size_t i = 0; i < a.options.size(); ++i) {
    Check(a.options[i].name == b.options[i].name);
    Check(Same(a.options[i].value, b.options[i].value));
  }
  Check(a.select.size() == b.select.size());
  for (size_t i = 0; i < a.select.size(); ++i) {
    Check(a.select[i].alias == b.select[i].alias);
    Check(Same(a.select[i].expr, b.select[i].expr));
  }
  Check(a.from.path == b.from.path);
  Check(a.from.alias == b.from.alias);
  Check(Same(a.where, b.where));
  Check(a.group_by.size() == b.group_by.size());
  for (size_t i = 0; i < a.group_by.size(); ++i) Check(Same(a.group_by[i], b.group_by[i]));
  Check(a.order_by.size() == b.order_by.size());
  for (size_t i = 0; i < a.order_by.size(); ++i) {
    Check(a.order_by[i].descending == b.order_by[i].descending);
    Check(Same(a.order_by[i].expr, b.order_by[i].expr));
  }
  Check(a.limit == b.limit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);

  const auto tokens = veil::sql::Tokenize(sql);
  if (!tokens.ok()) CheckError(tokens.status());

  const absl::StatusOr<Query> query = veil::sql::ParseQuery(sql);
  if (!query.ok()) {
    CheckError(query.status());
  } else {
    Check(tokens.ok());
    const std::string printed = veil::sql::ToSql(*query);
    const absl::StatusOr<Query> again = veil::sql::ParseQuery(printed);
    Check(again.ok());
    CheckSameQuery(*query, *again);
    Check(veil::sql::ToSql(*again) == printed);
  }

  const absl::StatusOr<veil::sql::PreparedQuery> prepared =
      veil::sql::PrepareQuery(sql, FuzzTable().schema());
  if (!prepared.ok()) {
    CheckError(prepared.status());
  } else {
    Check(query.ok());
    Check(!veil::sql::Explain(*prepared).empty());
    Check(!veil::sql::ExplainJson(*prepared).dump().empty());
    const auto rows = veil::sql::SelectRows(*prepared, FuzzTable());
    Check(rows.ok());
    const auto plain = veil::sql::ExecutePlainQuery(*prepared, FuzzTable());
    Check(plain.ok());
  }

  const absl::StatusOr<ExprPtr> expr = veil::sql::ParseExpression(sql);
  if (!expr.ok()) {
    CheckError(expr.status());
  } else {
    const std::string printed = veil::sql::ToSql(**expr);
    const absl::StatusOr<ExprPtr> again = veil::sql::ParseExpression(printed);
    Check(again.ok());
    Check(veil::sql::SameExpr(**expr, **again));
    Check(veil::sql::ToSql(**again) == printed);
  }
  return 0;
}
