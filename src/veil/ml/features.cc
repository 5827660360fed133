#include "veil/ml/features.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "veil/base/status_macros.h"
#include "veil/dp/mechanisms.h"

namespace veil::ml {
namespace {

using ::nlohmann::json;

bool IsNumericType(table::DataType type) {
  return type == table::DataType::kInt64 || type == table::DataType::kDouble ||
         type == table::DataType::kBool;
}

double NumericValue(const table::Column& column, int64_t row) {
  switch (column.type()) {
    case table::DataType::kInt64:
      return static_cast<double>(column.GetInt64(row));
    case table::DataType::kDouble:
      return column.GetDouble(row);
    case table::DataType::kBool:
      return column.GetBool(row) ? 1.0 : 0.0;
    default:
      return 0;
  }
}

double ApplyTransform(NumericTransform transform, double x) {
  return transform == NumericTransform::kLog1p ? std::log1p(x) : x;
}

// Clip then transform: the value the standardization sees.
double Prepare(const ColumnSpec& spec, double x) {
  if (spec.lower.has_value()) x = std::clamp(x, *spec.lower, *spec.upper);
  return ApplyTransform(spec.transform, x);
}

absl::Status ValidateSpec(const ColumnSpec& spec, bool need_standardization) {
  const std::string where = absl::StrCat("column \"", spec.name, "\"");
  if (spec.name.empty()) return absl::InvalidArgumentError("feature column with an empty name");
  if (spec.kind == ColumnKind::kCategorical) {
    if (spec.categories.empty())
      return absl::InvalidArgumentError(absl::StrCat(where, ": empty category list"));
    std::set<std::string_view> seen;
    for (const std::string& c : spec.categories) {
      if (!seen.insert(c).second) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate category \"", c, "\""));
      }
    }
    return absl::OkStatus();
  }
  if (spec.lower.has_value() != spec.upper.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": give both bounds or neither"));
  }
  if (spec.lower.has_value() &&
      (!std::isfinite(*spec.lower) || !std::isfinite(*spec.upper) || !(*spec.lower < *spec.upper))) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bounds must be finite with lower < upper, got [%g, %g]", where, *spec.lower, *spec.upper));
  }
  if (spec.transform == NumericTransform::kLog1p && spec.lower.has_value() && !(*spec.lower > -1)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": log1p needs lower > -1"));
  }
  if (need_standardization && (!spec.mean.has_value() || !spec.scale.has_value())) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": numeric column needs mean and scale"));
  }
  if (spec.mean.has_value() && !std::isfinite(*spec.mean)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": mean must be finite"));
  }
  if (spec.scale.has_value() && !(std::isfinite(*spec.scale) && *spec.scale > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": scale must be finite and > 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const table::Column*> FindColumn(const table::Table& table, std::string_view name) {
  const table::Column* column = table.FindColumn(name);
  if (column == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("table has no column \"", std::string(name), "\""));
  return column;
}

// The text of a categorical value (strings as they are; other types as their display text).
std::string CategoryText(const table::Column& column, int64_t row) {
  if (column.type() == table::DataType::kString) return std::string(column.GetString(row));
  return column.FormatValue(row);
}

}  // namespace

std::string_view ColumnKindName(ColumnKind kind) {
  return kind == ColumnKind::kNumeric ? "numeric" : "categorical";
}
std::string_view MissingPolicyName(MissingPolicy policy) {
  switch (policy) {
    case MissingPolicy::kIndicator:
      return "indicator";
    case MissingPolicy::kImpute:
      return "impute";
    case MissingPolicy::kError:
      return "error";
  }
  return "indicator";
}
std::string_view NumericTransformName(NumericTransform transform) {
  return transform == NumericTransform::kLog1p ? "log1p" : "none";
}

FeaturePipeline::FeaturePipeline(std::vector<ColumnSpec> columns) : columns_(std::move(columns)) {
  for (int c = 0; c < static_cast<int>(columns_.size()); ++c) {
    const ColumnSpec& spec = columns_[c];
    first_feature_.push_back(static_cast<int>(feature_names_.size()));
    if (spec.kind == ColumnKind::kNumeric) {
      feature_names_.push_back(spec.name);
      feature_column_.push_back(c);
    } else {
      for (const std::string& category : spec.categories) {
        feature_names_.push_back(absl::StrCat(spec.name, "=", category));
        feature_column_.push_back(c);
      }
    }
    if (spec.missing == MissingPolicy::kIndicator) {
      feature_names_.push_back(absl::StrCat(spec.name, ":missing"));
      feature_column_.push_back(c);
    }
  }
}

absl::StatusOr<FeaturePipeline> FeaturePipeline::Create(std::vector<ColumnSpec> columns) {
  if (columns.empty()) return absl::InvalidArgumentError("feature pipeline has no columns");
  std::set<std::string_view> names;
  for (const ColumnSpec& spec : columns) {
    VEIL_RETURN_IF_ERROR(ValidateSpec(spec, /*need_standardization=*/true));
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate feature column \"", spec.name, "\""));
    }
  }
  return FeaturePipeline(std::move(columns));
}

absl::StatusOr<Matrix> FeaturePipeline::Transform(const table::Table& table) const {
  return Transform(table, nullptr);
}

absl::StatusOr<Matrix> FeaturePipeline::Transform(const table::Table& table,
                                                  std::vector<std::vector<int>>* unknown) const {
  const int64_t n = table.num_rows();
  Matrix x = Matrix::Zero(n, num_features());
  if (unknown != nullptr) unknown->assign(n, {});
  const auto note_unknown = [&](int64_t row, int column) {
    if (unknown != nullptr) (*unknown)[row].push_back(column);
  };
  for (int c = 0; c < static_cast<int>(columns_.size()); ++c) {
    const ColumnSpec& spec = columns_[c];
    VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, spec.name));
    const int first = first_feature_[c];
    const int width = spec.kind == ColumnKind::kNumeric ? 1 : static_cast<int>(spec.categories.size());
    const int indicator = spec.missing == MissingPolicy::kIndicator ? first + width : -1;
    auto handle_null = [&](int64_t row) -> absl::Status {
      if (spec.missing == MissingPolicy::kError) {
        return absl::InvalidArgumentError(
            absl::StrCat("column \"", spec.name, "\", row ", row, ": missing value (policy \"error\")"));
      }
      if (indicator >= 0) x(row, indicator) = 1;
      return absl::OkStatus();
    };
    if (spec.kind == ColumnKind::kNumeric) {
      if (!IsNumericType(column->type())) {
        return absl::InvalidArgumentError(absl::StrCat("column \"", spec.name, "\" is ",
                                                       std::string(table::DataTypeName(column->type())),
                                                       "; a numeric feature needs int64, double or bool"));
      }
      const double mean = *spec.mean, inv_scale = 1.0 / *spec.scale;
      for (int64_t row = 0; row < n; ++row) {
        if (column->IsNull(row)) {
          VEIL_RETURN_IF_ERROR(handle_null(row));  // imputed at the mean: 0
          continue;
        }
        const double v = Prepare(spec, NumericValue(*column, row));
        if (!std::isfinite(v) && spec.lower.has_value()) {
          VEIL_RETURN_IF_ERROR(handle_null(row));  // a NaN in a bounded column: treated as missing
          continue;
        }
        if (!std::isfinite(v)) {
          return absl::InvalidArgumentError(
              absl::StrCat("column \"", spec.name, "\", row ", row, ": value is not finite after transform"));
        }
        x(row, first) = std::clamp((v - mean) * inv_scale, -kMaxStandardized, kMaxStandardized);
      }
      continue;
    }
    absl::flat_hash_map<std::string, int> index;
    for (int k = 0; k < static_cast<int>(spec.categories.size()); ++k) index[spec.categories[k]] = k;
    if (column->type() == table::DataType::kString) {
      // Map each dictionary code once.
      const table::StringDictionary& dict = column->dictionary();
      std::vector<int> code_to_category(dict.size(), -1);
      for (int32_t code = 0; code < dict.size(); ++code) {
        auto it = index.find(std::string(dict.value(code)));
        if (it != index.end()) code_to_category[code] = it->second;
      }
      const auto codes = column->string_codes();
      for (int64_t row = 0; row < n; ++row) {
        if (codes[row] < 0) {
          VEIL_RETURN_IF_ERROR(handle_null(row));
          continue;
        }
        const int k = code_to_category[codes[row]];
        if (k >= 0) {
          x(row, first + k) = 1;
        } else {
          note_unknown(row, c);
        }
      }
    } else {
      for (int64_t row = 0; row < n; ++row) {
        if (column->IsNull(row)) {
          VEIL_RETURN_IF_ERROR(handle_null(row));
          continue;
        }
        auto it = index.find(CategoryText(*column, row));
        if (it != index.end()) {
          x(row, first + it->second) = 1;
        } else {
          note_unknown(row, c);
        }
      }
    }
  }
  return x;
}

std::string FeaturePipeline::ToJson() const {
  json cols = json::array();
  for (const ColumnSpec& spec : columns_) {
    json c = {{"name", spec.name},
              {"kind", std::string(ColumnKindName(spec.kind))},
              {"missing", std::string(MissingPolicyName(spec.missing))}};
    if (spec.kind == ColumnKind::kCategorical) {
      c["categories"] = spec.categories;
    } else {
      if (spec.lower.has_value()) {
        c["lower"] = *spec.lower;
        c["upper"] = *spec.upper;
      }
      c["transform"] = std::string(NumericTransformName(spec.transform));
      c["mean"] = *spec.mean;
      c["scale"] = *spec.scale;
    }
    cols.push_back(std::move(c));
  }
  json j = {{"format", "veil-feature-pipeline"}, {"version", 1}, {"columns", std::move(cols)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<FeaturePipeline> FeaturePipeline::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("feature pipeline: not valid JSON");
  if (!j.is_object() || j.value("format", json()) != "veil-feature-pipeline") {
    return absl::InvalidArgumentError("feature pipeline: \"format\" must be \"veil-feature-pipeline\"");
  }
  if (j.value("version", json()) != 1)
    return absl::InvalidArgumentError("feature pipeline: \"version\" must be 1");
  if (!j.contains("columns") || !j["columns"].is_array()) {
    return absl::InvalidArgumentError("feature pipeline: \"columns\" must be an array");
  }
  std::vector<ColumnSpec> specs;
  int i = 0;
  for (const json& c : j["columns"]) {
    const std::string where = absl::StrCat("feature pipeline: columns[", i++, "]");
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("kind") ||
        !c["kind"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": needs string \"name\" and \"kind\""));
    }
    ColumnSpec spec;
    spec.name = c["name"].get<std::string>();
    const std::string kind = c["kind"].get<std::string>();
    // value() would throw on a non-string; check the types first (no exception leaves the module).
    for (const char* key : {"missing", "transform"}) {
      if (c.contains(key) && !c[key].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" must be a string"));
      }
    }
    const std::string missing = c.value("missing", std::string("indicator"));
    if (missing == "indicator") {
      spec.missing = MissingPolicy::kIndicator;
    } else if (missing == "impute") {
      spec.missing = MissingPolicy::kImpute;
    } else if (missing == "error") {
      spec.missing = MissingPolicy::kError;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown \"missing\" policy"));
    }
    auto number = [&](const char* key) -> absl::StatusOr<std::optional<double>> {
      if (!c.contains(key)) return std::optional<double>();
      if (!c[key].is_number())
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" not a number"));
      return std::optional<double>(c[key].get<double>());
    };
    if (kind == "categorical") {
      spec.kind = ColumnKind::kCategorical;
      if (!c.contains("categories") || !c["categories"].is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"categories\" must be an array"));
      }
      for (const json& v : c["categories"]) {
        if (!v.is_string())
          return absl::InvalidArgumentError(absl::StrCat(where, ": categories must be strings"));
        spec.categories.push_back(v.get<std::string>());
      }
    } else if (kind == "numeric") {
      spec.kind = ColumnKind::kNumeric;
      VEIL_ASSIGN_OR_RETURN(spec.lower, number("lower"));
      VEIL_ASSIGN_OR_RETURN(spec.upper, number("upper"));
      VEIL_ASSIGN_OR_RETURN(spec.mean, number("mean"));
      VEIL_ASSIGN_OR_RETURN(spec.scale, number("scale"));
      const std::string transform = c.value("transform", std::string("none"));
      if (transform == "log1p") {
        spec.transform = NumericTransform::kLog1p;
      } else if (transform != "none") {
        return absl::InvalidArgumentError(absl::StrCat(where, ": unknown \"transform\""));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"kind\" must be numeric or categorical"));
    }
    specs.push_back(std::move(spec));
  }
  return Create(std::move(specs));
}

absl::StatusOr<FeaturePipeline> FitFeaturePipeline(const table::Table& table, const FitOptions& options) {
  std::vector<std::string> names = options.columns;
  if (names.empty()) {
    for (const table::Field& f : table.schema().fields()) names.push_back(f.name);
  }
  std::vector<ColumnSpec> specs;
  for (const std::string& name : names) {
    VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, name));
    ColumnSpec spec;
    spec.name = name;
    spec.missing = column->null_count() > 0 ? MissingPolicy::kIndicator : MissingPolicy::kImpute;
    if (column->type() == table::DataType::kString) {
      spec.kind = ColumnKind::kCategorical;
      VEIL_ASSIGN_OR_RETURN(spec.categories, DistinctValues(table, name));
      if (static_cast<int>(spec.categories.size()) > options.max_categories) {
        return absl::InvalidArgumentError(
            absl::StrCat("column \"", name, "\" has more than ", options.max_categories, " categories"));
      }
      if (spec.categories.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("column \"", name, "\" has no non-null value"));
      }
    } else if (IsNumericType(column->type())) {
      spec.kind = ColumnKind::kNumeric;
      double sum = 0, sum2 = 0;
      int64_t count = 0;
      for (int64_t row = 0; row < column->size(); ++row) {
        if (column->IsNull(row)) continue;
        const double v = NumericValue(*column, row);
        sum += v;
        ++count;
      }
      const double mean = count > 0 ? sum / count : 0;
      for (int64_t row = 0; row < column->size(); ++row) {
        if (column->IsNull(row)) continue;
        const double d = NumericValue(*column, row) - mean;
        sum2 += d * d;
      }
      const double sd = count > 1 ? std::sqrt(sum2 / count) : 0;
      spec.mean = mean;
      spec.scale = sd > 0 && std::isfinite(sd) ? sd : 1.0;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("column \"", name, "\" has type ",
                                                     std::string(table::DataTypeName(column->type())),
                                                     ", which a feature cannot use"));
    }
    specs.push_back(std::move(spec));
  }
  return FeaturePipeline::Create(std::move(specs));
}

absl::StatusOr<FeaturePipeline> PublicFeaturePipeline(std::vector<ColumnSpec> columns) {
  for (ColumnSpec& spec : columns) {
    VEIL_RETURN_IF_ERROR(ValidateSpec(spec, /*need_standardization=*/false));
    if (spec.kind != ColumnKind::kNumeric) continue;
    if (!spec.mean.has_value() || !spec.scale.has_value()) {
      if (!spec.lower.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "column \"", spec.name, "\": public metadata needs bounds or a declared mean and scale"));
      }
      const double a = ApplyTransform(spec.transform, *spec.lower);
      const double b = ApplyTransform(spec.transform, *spec.upper);
      if (!spec.mean.has_value()) spec.mean = (a + b) / 2;
      if (!spec.scale.has_value()) spec.scale = (b - a) / 2;
    }
  }
  return FeaturePipeline::Create(std::move(columns));
}

absl::StatusOr<DpFitResult> FitFeaturePipelineDp(const table::Table& table, std::vector<ColumnSpec> columns,
                                                 const dp::ApproxDp& budget, dp::RandomBits& bits) {
  VEIL_RETURN_IF_ERROR(dp::ValidateEpsilon(budget.epsilon, "budget.epsilon"));
  VEIL_RETURN_IF_ERROR(dp::ValidatePositiveDelta(budget.delta, "budget.delta"));
  int numeric = 0;
  for (ColumnSpec& spec : columns) {
    VEIL_RETURN_IF_ERROR(ValidateSpec(spec, /*need_standardization=*/false));
    if (spec.kind != ColumnKind::kNumeric) continue;
    if (!spec.lower.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column \"", spec.name, "\": a DP fit needs public bounds (lower, upper)"));
    }
    ++numeric;
  }
  dp::QueryAccountant accountant;
  if (numeric > 0) {
    VEIL_ASSIGN_OR_RETURN(const double total_rho, dp::ApproxDpToZcdp(budget));
    const int releases = 3 * numeric;
    // Rounded down a little so that the floating-point sum of the parts never exceeds total_rho.
    const double rho = total_rho / releases * (1 - 1e-12);
    const double delta_share = budget.delta / releases;
    for (ColumnSpec& spec : columns) {
      if (spec.kind != ColumnKind::kNumeric) continue;
      VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, spec.name));
      if (!IsNumericType(column->type())) {
        return absl::InvalidArgumentError(absl::StrCat("column \"", spec.name, "\" is not numeric"));
      }
      const double a = ApplyTransform(spec.transform, *spec.lower);
      const double b = ApplyTransform(spec.transform, *spec.upper);
      const double m = (a + b) / 2, h = (b - a) / 2;
      double count = 0, s1 = 0, s2 = 0;
      for (int64_t row = 0; row < column->size(); ++row) {
        if (column->IsNull(row)) continue;
        const double t = std::clamp(Prepare(spec, NumericValue(*column, row)), a, b) - m;
        count += 1;
        s1 += t;
        s2 += t * t;
      }
      VEIL_ASSIGN_OR_RETURN(auto count_mech, dp::GaussianMechanism::CreateFromRho(rho, 1.0));
      VEIL_ASSIGN_OR_RETURN(auto s1_mech, dp::GaussianMechanism::CreateFromRho(rho, h));
      VEIL_ASSIGN_OR_RETURN(auto s2_mech, dp::GaussianMechanism::CreateFromRho(rho, h * h));
      VEIL_ASSIGN_OR_RETURN(const double noisy_count, count_mech.AddRealNoise(bits, count));
      VEIL_ASSIGN_OR_RETURN(const double noisy_s1, s1_mech.AddRealNoise(bits, s1));
      VEIL_ASSIGN_OR_RETURN(const double noisy_s2, s2_mech.AddRealNoise(bits, s2));
      for (const char* what : {"count", "sum", "sum of squares"}) {
        VEIL_RETURN_IF_ERROR(
            accountant.AddGaussian(absl::StrCat("feature ", spec.name, " ", what), rho, delta_share));
      }
      // Post-processing of the three noisy sums.
      const double n = std::max(noisy_count, 1.0);
      const double mean_offset = std::clamp(noisy_s1 / n, -h, h);
      const double variance =
          std::clamp(noisy_s2 / n - mean_offset * mean_offset, (h / 1000) * (h / 1000), h * h);
      spec.mean = m + mean_offset;
      spec.scale = std::sqrt(variance);
    }
  }
  VEIL_ASSIGN_OR_RETURN(FeaturePipeline pipeline, PublicFeaturePipeline(std::move(columns)));
  VEIL_ASSIGN_OR_RETURN(dp::PrivacyCost cost, accountant.Total());
  return DpFitResult{std::move(pipeline), std::move(cost)};
}

absl::StatusOr<std::vector<std::string>> DistinctValues(const table::Table& table, std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, name));
  std::set<std::string> values;
  if (column->type() == table::DataType::kString) {
    std::vector<bool> used(column->dictionary().size(), false);
    for (int32_t code : column->string_codes()) {
      if (code >= 0) used[code] = true;
    }
    for (int32_t code = 0; code < column->dictionary().size(); ++code) {
      if (used[code]) values.insert(std::string(column->dictionary().value(code)));
    }
  } else {
    for (int64_t row = 0; row < column->size(); ++row) {
      if (!column->IsNull(row)) values.insert(CategoryText(*column, row));
    }
  }
  return std::vector<std::string>(values.begin(), values.end());
}

absl::StatusOr<std::vector<int>> EncodeClassLabels(const table::Table& table, std::string_view name,
                                                   const std::vector<std::string>& classes) {
  VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, name));
  absl::flat_hash_map<std::string, int> index;
  for (int k = 0; k < static_cast<int>(classes.size()); ++k) index[classes[k]] = k;
  std::vector<int> labels(column->size());
  for (int64_t row = 0; row < column->size(); ++row) {
    if (column->IsNull(row)) {
      return absl::InvalidArgumentError(
          absl::StrCat("target \"", std::string(name), "\", row ", row, ": missing label"));
    }
    auto it = index.find(CategoryText(*column, row));
    if (it == index.end()) {
      return absl::InvalidArgumentError(absl::StrCat("target \"", std::string(name), "\", row ", row,
                                                     ": label is not one of the model's classes"));
    }
    labels[row] = it->second;
  }
  return labels;
}

absl::StatusOr<PublicMetadata> ParsePublicMetadata(std::string_view json_text, std::string_view where) {
  using Ordered = nlohmann::ordered_json;
  const auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": ", what));
  };
  const Ordered doc = Ordered::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("columns") || !doc["columns"].is_object() || doc["columns"].empty())
    return bad("\"columns\" must be an object naming the input columns");
  PublicMetadata meta;
  for (const auto& [name, c] : doc["columns"].items()) {
    const std::string at = absl::StrCat("column \"", name.substr(0, 64), "\": ");
    if (!c.is_object()) return bad(at + "must be an object");
    ColumnSpec s;
    s.name = name;
    if (c.contains("missing")) {
      const std::string m = c["missing"].is_string() ? c["missing"].get<std::string>() : "";
      if (m == "indicator") {
        s.missing = MissingPolicy::kIndicator;
      } else if (m == "impute") {
        s.missing = MissingPolicy::kImpute;
      } else {
        return bad(at + "\"missing\" must be \"indicator\" or \"impute\"");
      }
    }
    if (c.contains("categories")) {
      if (!c["categories"].is_array() || c["categories"].empty())
        return bad(at + "\"categories\" must be a non-empty array of strings");
      s.kind = ColumnKind::kCategorical;
      for (const auto& v : c["categories"]) {
        if (!v.is_string()) return bad(at + "\"categories\" must be a non-empty array of strings");
        s.categories.push_back(v.get<std::string>());
      }
    } else {
      for (const char* key : {"lower", "upper", "mean", "scale"}) {
        if (c.contains(key) && !c[key].is_number())
          return bad(absl::StrCat(at, "\"", key, "\" must be a number"));
      }
      if (c.contains("lower")) s.lower = c["lower"].get<double>();
      if (c.contains("upper")) s.upper = c["upper"].get<double>();
      if (c.contains("mean")) s.mean = c["mean"].get<double>();
      if (c.contains("scale")) s.scale = c["scale"].get<double>();
      if (c.contains("transform")) {
        const std::string t = c["transform"].is_string() ? c["transform"].get<std::string>() : "";
        if (t == "log1p") {
          s.transform = NumericTransform::kLog1p;
        } else if (t != "none") {
          return bad(at + "\"transform\" must be \"none\" or \"log1p\"");
        }
      }
      if (!s.lower.has_value() && !s.mean.has_value())
        return bad(at +
                   "a numeric column needs \"lower\" and \"upper\" (or \"mean\" and \"scale\"), or "
                   "\"categories\" for a categorical one");
    }
    meta.columns.push_back(std::move(s));
  }
  if (doc.contains("target")) {
    const Ordered& t = doc["target"];
    if (!t.is_object() || !t.contains("classes") || !t["classes"].is_array())
      return bad("\"target\" must be {\"classes\": [...]}");
    for (const auto& v : t["classes"]) {
      if (!v.is_string()) return bad("\"target\".\"classes\" must be strings");
      meta.classes.push_back(v.get<std::string>());
    }
    const std::set<std::string> distinct(meta.classes.begin(), meta.classes.end());
    if (meta.classes.size() < 2 || distinct.size() != meta.classes.size())
      return bad("\"target\".\"classes\" must list at least two distinct classes");
  }
  return meta;
}

absl::StatusOr<Vector> EncodeRegressionTarget(const table::Table& table, std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(const table::Column* column, FindColumn(table, name));
  if (!IsNumericType(column->type())) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", std::string(name), "\" is not numeric"));
  }
  Vector y(column->size());
  for (int64_t row = 0; row < column->size(); ++row) {
    if (column->IsNull(row)) {
      return absl::InvalidArgumentError(
          absl::StrCat("target \"", std::string(name), "\", row ", row, ": missing value"));
    }
    y[row] = NumericValue(*column, row);
  }
  return y;
}

}  // namespace veil::ml
