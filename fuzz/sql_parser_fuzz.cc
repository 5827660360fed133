// Fuzz target for the DP SQL lexer and parser (DESIGN.md 5.11).
//
// The input is query text. For every input:
//   - Tokenize, ParseQuery and ParseExpression must each succeed or return InvalidArgument whose message is
//     valid UTF-8 (it quotes the query line), never crash, hang or overflow the stack;
//   - a query that parses must print (ToSql) to text that parses again to the same tree (SameExpr on every
//     expression, equal options, table, order and limit), and printing that tree must give the same text;
//   - the same for an expression.
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "veil/base/utf8.h"
#include "veil/sql/ast.h"
#include "veil/sql/lexer.h"
#include "veil/sql/parser.h"

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
