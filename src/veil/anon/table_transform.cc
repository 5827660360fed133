#include "veil/anon/table_transform.h"

#include <cmath>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "veil/base/status_macros.h"
#include "veil/table/types.h"

namespace veil::anon {
namespace {

using Json = nlohmann::ordered_json;
using table::Column;
using table::ColumnBuilder;
using table::DataType;

constexpr std::pair<ColumnOperator, const char*> kOperators[] = {
    {ColumnOperator::kKeep, "keep"},     {ColumnOperator::kDrop, "drop"},
    {ColumnOperator::kRedact, "redact"}, {ColumnOperator::kReplace, "replace"},
    {ColumnOperator::kMask, "mask"},     {ColumnOperator::kToken, "token"},
    {ColumnOperator::kFf1, "ff1"},       {ColumnOperator::kGeneralize, "generalize"},
};

absl::Status Bad(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("policy: ", std::string(where), ": ", std::string(what)));
}

absl::StatusOr<size_t> NonNegative(const Json& v, std::string_view where) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0) return Bad(where, "must be a non-negative integer");
  return static_cast<size_t>(v.get<int64_t>());
}

absl::StatusOr<ColumnPolicy> ParseColumn(const Json& spec, const std::string& where) {
  ColumnPolicy p;
  const Json* op_json = &spec;
  if (spec.is_object()) {
    if (!spec.contains("operator")) return Bad(where, "missing \"operator\"");
    op_json = &spec["operator"];
  }
  const std::string op_where = spec.is_object() ? where + ".operator" : where;
  if (!op_json->is_string()) return Bad(op_where, "must be an operator name (a string)");
  const std::string name = op_json->get<std::string>();
  bool found = false;
  for (const auto& [op, op_name] : kOperators) {
    if (name == op_name) {
      p.op = op;
      found = true;
    }
  }
  if (!found) {
    return Bad(op_where,
               absl::StrCat("unknown operator \"", name,
                            "\" (one of keep, drop, redact, replace, mask, token, ff1, generalize)"));
  }
  if (!spec.is_object()) return p;
  for (const auto& [key, v] : spec.items()) {
    const std::string at = absl::StrCat(where, ".", key);
    if (key == "operator") continue;
    if (key == "entity") {
      if (!v.is_string()) return Bad(at, "must be an entity type name");
      p.entity = pii::EntityFromName(v.get<std::string>());
      if (!p.entity.has_value())
        return Bad(at, absl::StrCat("unknown entity type \"", v.get<std::string>(), "\""));
    } else if (key == "chars" && p.op == ColumnOperator::kMask) {
      VEIL_ASSIGN_OR_RETURN(p.mask.chars_to_mask, NonNegative(v, at));
    } else if (key == "char" && p.op == ColumnOperator::kMask) {
      if (!v.is_string()) return Bad(at, "must be a string of one character");
      p.mask.mask_char = v.get<std::string>();
    } else if (key == "from_end" && p.op == ColumnOperator::kMask) {
      if (!v.is_boolean()) return Bad(at, "must be true or false");
      p.mask.from_end = v.get<bool>();
    } else if (key == "format" && p.op == ColumnOperator::kToken) {
      if (!v.is_string()) return Bad(at, "must be a string");
      p.token.format = v.get<std::string>();
    } else if (key == "hex_digits" && p.op == ColumnOperator::kToken) {
      VEIL_ASSIGN_OR_RETURN(p.token.hex_digits, NonNegative(v, at));
    } else if (key == "alphabet" && p.op == ColumnOperator::kFf1) {
      const std::string a = v.is_string() ? v.get<std::string>() : "";
      if (a == "digits") {
        p.ff1_alphabet = Ff1Alphabet::kDigits;
      } else if (a == "alphanumeric") {
        p.ff1_alphabet = Ff1Alphabet::kAlphanumeric;
      } else {
        return Bad(at, "must be \"digits\" or \"alphanumeric\"");
      }
    } else if (key == "kind" && p.op == ColumnOperator::kGeneralize) {
      const std::string k = v.is_string() ? v.get<std::string>() : "";
      if (k == "interval") {
        p.kind = GeneralizeKind::kInterval;
      } else if (k == "month") {
        p.kind = GeneralizeKind::kMonth;
      } else if (k == "zip") {
        p.kind = GeneralizeKind::kZip;
      } else if (k == "truncate") {
        p.kind = GeneralizeKind::kTruncate;
      } else {
        return Bad(at, "must be \"interval\", \"month\", \"zip\" or \"truncate\"");
      }
    } else if (key == "width" && p.op == ColumnOperator::kGeneralize) {
      if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>())) {
        return Bad(at, "must be a positive number");
      }
      p.width = v.get<double>();
    } else if (key == "length" && p.op == ColumnOperator::kGeneralize) {
      VEIL_ASSIGN_OR_RETURN(p.length, NonNegative(v, at));
    } else {
      return Bad(at, absl::StrCat("unknown field for operator ", name));
    }
  }
  if (p.op == ColumnOperator::kMask) VEIL_RETURN_IF_ERROR(MaskOperator::Create(p.mask).status());
  return p;
}

std::string NumberText(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return table::FormatDouble(v);
}

// The text an operator sees for a cell (the CSV form).
std::string CellText(const Column& c, int64_t row) {
  if (c.type() == DataType::kString) return std::string(c.GetString(row));
  return c.FormatValue(row);
}

absl::Status RowError(const std::string& column, int64_t row, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("column \"", column, "\", row ", row + 1, ": ", std::string(what)));
}

absl::StatusOr<std::string> Generalize(const Column& c, int64_t row, const std::string& name,
                                       const ColumnPolicy& p, GeneralizeKind kind) {
  switch (kind) {
    case GeneralizeKind::kInterval: {
      const double v = c.type() == DataType::kInt64 ? static_cast<double>(c.GetInt64(row)) : c.GetDouble(row);
      if (!std::isfinite(v)) return std::string("[NaN]");
      const double lo = std::floor(v / p.width) * p.width;
      return absl::StrCat("[", NumberText(lo), ", ", NumberText(lo + p.width), ")");
    }
    case GeneralizeKind::kMonth: {
      const std::string text = CellText(c, row);
      if (text.size() < 7 || !absl::ascii_isdigit(text[0]) || !absl::ascii_isdigit(text[1]) ||
          !absl::ascii_isdigit(text[2]) || !absl::ascii_isdigit(text[3]) || text[4] != '-' ||
          !absl::ascii_isdigit(text[5]) || !absl::ascii_isdigit(text[6])) {
        return RowError(name, row, "generalize month: not a date (YYYY-MM-DD)");
      }
      return text.substr(0, 7);
    }
    case GeneralizeKind::kZip: {
      std::string digits;
      for (char ch : CellText(c, row))
        if (absl::ascii_isdigit(ch) && digits.size() < 3) digits.push_back(ch);
      return digits;
    }
    case GeneralizeKind::kTruncate:
    case GeneralizeKind::kAuto: {
      const std::string text = CellText(c, row);
      size_t cps = 0, i = 0;
      for (; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
          if (cps == p.length) break;
          ++cps;
        }
      }
      return text.substr(0, i);
    }
  }
  return std::string();
}

absl::StatusOr<GeneralizeKind> ResolveKind(const ColumnPolicy& p, DataType type, const std::string& name) {
  GeneralizeKind kind = p.kind;
  if (kind == GeneralizeKind::kAuto) {
    switch (type) {
      case DataType::kInt64:
      case DataType::kDouble:
        kind = GeneralizeKind::kInterval;
        break;
      case DataType::kDate:
      case DataType::kTimestamp:
        kind = GeneralizeKind::kMonth;
        break;
      case DataType::kString:
        kind = GeneralizeKind::kTruncate;
        break;
      case DataType::kBool:
        return absl::InvalidArgumentError(
            absl::StrCat("column \"", name, "\": generalize does not apply to bool"));
    }
  }
  if (kind == GeneralizeKind::kInterval) {
    if (!table::IsNumeric(type)) {
      return absl::InvalidArgumentError(absl::StrCat("column \"", name,
                                                     "\": generalize interval needs a number column, not ",
                                                     std::string(table::DataTypeName(type))));
    }
    if (!(p.width > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: columns.", name, ".width: required for generalize of a number column"));
    }
  }
  return kind;
}

}  // namespace

std::string_view ColumnOperatorName(ColumnOperator op) {
  for (const auto& [o, name] : kOperators)
    if (o == op) return name;
  return "?";
}

absl::StatusOr<TransformPolicy> ParsePolicy(std::string_view text) {
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat("policy: not valid JSON at byte ", e.byte));
  }
  if (!doc.is_object()) return Bad("(top level)", "must be an object");
  TransformPolicy policy;
  for (const auto& [key, v] : doc.items()) {
    if (key == "columns") {
      if (!v.is_object()) return Bad("columns", "must be an object of column name -> operator");
      for (const auto& [column, spec] : v.items()) {
        VEIL_ASSIGN_OR_RETURN(ColumnPolicy p, ParseColumn(spec, "columns." + column));
        policy.columns.emplace_back(column, std::move(p));
      }
    } else if (key == "default") {
      VEIL_ASSIGN_OR_RETURN(ColumnPolicy p, ParseColumn(v, "default"));
      policy.default_policy = std::move(p);
    } else if (key == "version") {
      if (!v.is_number_integer() || v.get<int64_t>() != 1) return Bad("version", "must be 1");
    } else {
      return Bad(key, "unknown field (expected columns, default, version)");
    }
  }
  if (!doc.contains("columns")) return Bad("columns", "missing");
  return policy;
}

bool PolicyNeedsKeys(const TransformPolicy& policy) {
  const auto keyed = [](const ColumnPolicy& p) {
    return p.op == ColumnOperator::kToken || p.op == ColumnOperator::kFf1;
  };
  for (const auto& [name, p] : policy.columns)
    if (keyed(p)) return true;
  return policy.default_policy.has_value() && keyed(*policy.default_policy);
}

absl::StatusOr<TransformResult> TransformTable(const table::Table& input, const TransformPolicy& policy,
                                               const TransformKeys& keys) {
  absl::flat_hash_set<std::string> listed;
  for (const auto& [name, p] : policy.columns) {
    if (input.FindColumn(name) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: columns.", name, ": the table has no column \"", name, "\""));
    }
    listed.insert(name);
  }
  TransformResult result;
  std::vector<table::Field> fields;
  std::vector<Column> columns;
  for (int ci = 0; ci < input.num_columns(); ++ci) {
    const table::Field& field = input.schema().field(ci);
    const Column& col = input.column(ci);
    const ColumnPolicy* p = nullptr;
    for (const auto& [name, cp] : policy.columns)
      if (name == field.name) p = &cp;
    if (p == nullptr) {
      if (!policy.default_policy.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("policy: column \"", field.name,
                                                       "\" has no operator (list it under \"columns\" or set "
                                                       "\"default\")"));
      }
      p = &*policy.default_policy;
    }
    result.applied.emplace_back(field.name, std::string(ColumnOperatorName(p->op)));
    if (p->op == ColumnOperator::kDrop) continue;
    if (p->op == ColumnOperator::kKeep) {
      fields.push_back(field);
      columns.push_back(col);
      continue;
    }
    std::unique_ptr<ValueOperator> op;
    GeneralizeKind kind = GeneralizeKind::kAuto;
    Ff1Operator* ff1 = nullptr;
    switch (p->op) {
      case ColumnOperator::kReplace:
        op = std::make_unique<ReplaceOperator>();
        break;
      case ColumnOperator::kMask: {
        VEIL_ASSIGN_OR_RETURN(op, MaskOperator::Create(p->mask));
        break;
      }
      case ColumnOperator::kToken: {
        if (keys.token_key == nullptr)
          return absl::FailedPreconditionError("token needs the workspace's token key");
        VEIL_ASSIGN_OR_RETURN(op, TokenOperator::Create(keys.token_key->Clone(), p->token));
        break;
      }
      case ColumnOperator::kFf1: {
        if (keys.ff1_key == nullptr)
          return absl::FailedPreconditionError("ff1 needs the workspace's FF1 key");
        VEIL_ASSIGN_OR_RETURN(std::unique_ptr<Ff1Operator> f,
                              Ff1Operator::Create(*keys.ff1_key, {.untyped_alphabet = p->ff1_alphabet}));
        ff1 = f.get();
        op = std::move(f);
        break;
      }
      case ColumnOperator::kGeneralize: {
        VEIL_ASSIGN_OR_RETURN(kind, ResolveKind(*p, col.type(), field.name));
        break;
      }
      default:
        break;
    }
    ColumnBuilder builder(DataType::kString);
    for (int64_t row = 0; row < input.num_rows(); ++row) {
      if (col.IsNull(row) || p->op == ColumnOperator::kRedact) {
        builder.AppendNull();
        continue;
      }
      std::string out;
      if (p->op == ColumnOperator::kGeneralize) {
        VEIL_ASSIGN_OR_RETURN(out, Generalize(col, row, field.name, *p, kind));
      } else {
        absl::StatusOr<std::string> r = op->Apply(p->entity, CellText(col, row));
        if (!r.ok()) return RowError(field.name, row, std::string(r.status().message()));
        out = *std::move(r);
      }
      builder.AppendString(out);
    }
    if (ff1 != nullptr) {
      result.ff1_small_domain += ff1->small_domain_count();
      result.ff1_invalid += ff1->invalid_count();
    }
    VEIL_ASSIGN_OR_RETURN(Column out_col, std::move(builder).Finish());
    fields.push_back(table::Field{field.name, DataType::kString, true});
    columns.push_back(std::move(out_col));
  }
  VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
  VEIL_ASSIGN_OR_RETURN(result.table, table::Table::Make(std::move(schema), std::move(columns)));
  return result;
}

}  // namespace veil::anon
