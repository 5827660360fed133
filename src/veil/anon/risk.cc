// Re-identification risk (risk.h).
#include "veil/anon/risk.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"

namespace veil::anon {
namespace {

absl::Status CheckThreshold(double threshold) {
  if (!(threshold >= 0 && threshold <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("risk threshold must be in [0, 1], got ", threshold));
  }
  return absl::OkStatus();
}

// Gives every record a class id: records with equal QI values (by text; null apart) get equal ids, across all
// the datasets added, so the sample's and the population's classes can be matched. The id is built one QI at
// a time from the pair (id so far, value code), which keeps every map small and the keys integers.
class ClassKeys {
 public:
  static constexpr int32_t kSuppressedKey = -1;

  // `star_is_class`: rows with "*" in every QI keep their ordinary key (one class) instead of
  // kSuppressedKey; they are still counted in last_star_rows().
  explicit ClassKeys(size_t num_qis, bool star_is_class = false)
      : values_(num_qis), pairs_(num_qis), star_is_class_(star_is_class) {}

  // get(row, qi) returns the value's text, or nullopt for null. Returns one key per row; kSuppressedKey for
  // rows with "*" in every QI.
  template <typename Get>
  std::vector<int32_t> Add(int64_t rows, Get get) {
    std::vector<int32_t> key(static_cast<size_t>(rows), 0);
    std::vector<uint8_t> all_star(static_cast<size_t>(rows), 1);
    for (size_t q = 0; q < values_.size(); ++q) {
      auto& values = values_[q];
      auto& pairs = pairs_[q];
      for (int64_t r = 0; r < rows; ++r) {
        const std::optional<std::string_view> v = get(r, q);
        int32_t code = 0;  // null
        if (v.has_value()) {
          if (*v != kSuppressed) all_star[r] = 0;
          code = values.try_emplace(std::string(*v), static_cast<int32_t>(values.size()) + 1).first->second;
        } else {
          all_star[r] = 0;
        }
        const uint64_t pair =
            (static_cast<uint64_t>(static_cast<uint32_t>(key[r])) << 32) | static_cast<uint32_t>(code);
        key[r] = pairs.try_emplace(pair, static_cast<int32_t>(pairs.size())).first->second;
      }
    }
    int32_t num_keys = 0;
    last_star_rows_ = 0;
    for (size_t r = 0; r < key.size(); ++r) {
      if (all_star[r]) {
        ++last_star_rows_;
        if (!star_is_class_) key[r] = kSuppressedKey;
      }
      num_keys = std::max(num_keys, key[r] + 1);
    }
    num_keys_ = std::max(num_keys_, num_keys);
    return key;
  }

  int32_t num_keys() const { return num_keys_; }
  // Rows with "*" in every QI in the last Add().
  int64_t last_star_rows() const { return last_star_rows_; }

 private:
  std::vector<absl::flat_hash_map<std::string, int32_t>> values_;
  std::vector<absl::flat_hash_map<uint64_t, int32_t>> pairs_;
  int32_t num_keys_ = 0;
  bool star_is_class_ = false;
  int64_t last_star_rows_ = 0;
};

absl::StatusOr<RiskReport> ComputeRisk(std::span<const int64_t> sample_class_sizes,
                                       std::span<const int64_t> population_class_sizes, bool with_population,
                                       int64_t suppressed, const RiskOptions& options);

// The report from per-record class keys of the sample and, if `population` is set, of the population.
absl::StatusOr<RiskReport> RiskFromKeys(const std::vector<int32_t>& sample,
                                        const std::vector<int32_t>* population, int32_t num_keys,
                                        const RiskOptions& options) {
  std::vector<int64_t> sample_count(static_cast<size_t>(num_keys), 0);
  int64_t suppressed = 0;
  for (int32_t k : sample) {
    if (k == ClassKeys::kSuppressedKey) {
      ++suppressed;
    } else {
      ++sample_count[k];
    }
  }
  std::vector<int64_t> f;
  std::vector<int64_t> big_f;
  if (population == nullptr) {
    for (int64_t c : sample_count) {
      if (c > 0) f.push_back(c);
    }
    return ComputeRisk(f, {}, /*with_population=*/false, suppressed, options);
  }
  std::vector<int64_t> population_count(static_cast<size_t>(num_keys), 0);
  for (int32_t k : *population) {
    if (k != ClassKeys::kSuppressedKey) ++population_count[k];
  }
  for (size_t k = 0; k < sample_count.size(); ++k) {
    if (sample_count[k] == 0) continue;
    if (population_count[k] < sample_count[k]) {
      const size_t row = static_cast<size_t>(std::find(sample.begin(), sample.end(), k) - sample.begin());
      return absl::InvalidArgumentError(absl::StrFormat(
          "sample row %d: its quasi-identifier combination occurs %d times in the sample but %d times in the "
          "population; the population must contain the sample (same people, same generalization)",
          row + 1, sample_count[k], population_count[k]));
    }
    f.push_back(sample_count[k]);
    big_f.push_back(population_count[k]);
  }
  VEIL_ASSIGN_OR_RETURN(RiskReport report,
                        ComputeRisk(f, big_f, /*with_population=*/true, suppressed, options));
  int64_t population_records = 0;
  for (int64_t c : population_count) population_records += c;
  report.journalist->population_records = population_records;
  return report;
}

absl::Status CheckQuasiIdentifiers(std::span<const std::string> quasi_identifiers) {
  if (quasi_identifiers.empty()) return absl::InvalidArgumentError("no quasi-identifiers given");
  absl::flat_hash_set<std::string_view> seen;
  for (const std::string& name : quasi_identifiers) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("quasi-identifier \"", name, "\" is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<const table::Column*>> FindColumns(const table::Table& t,
                                                              std::span<const std::string> names,
                                                              std::string_view what) {
  std::vector<const table::Column*> columns;
  for (const std::string& name : names) {
    const table::Column* c = t.FindColumn(name);
    if (c == nullptr)
      return absl::InvalidArgumentError(absl::StrFormat("no column \"%s\" in the %s", name, what));
    columns.push_back(c);
  }
  return columns;
}

// The text of a table cell for class matching; nullopt for null. `scratch` holds non-string values' text.
std::optional<std::string_view> CellText(const table::Column& c, int64_t row, std::string& scratch) {
  if (c.IsNull(row)) return std::nullopt;
  if (c.type() == table::DataType::kString) return c.GetString(row);
  scratch = c.FormatValue(row);
  return std::string_view(scratch);
}

absl::StatusOr<RiskReport> ComputeRisk(std::span<const int64_t> sample_class_sizes,
                                       std::span<const int64_t> population_class_sizes, bool with_population,
                                       int64_t suppressed, const RiskOptions& options) {
  VEIL_RETURN_IF_ERROR(CheckThreshold(options.threshold));
  if (with_population && population_class_sizes.size() != sample_class_sizes.size()) {
    return absl::InvalidArgumentError(absl::StrFormat("%d sample class sizes but %d population class sizes",
                                                      sample_class_sizes.size(),
                                                      population_class_sizes.size()));
  }
  RiskReport r;
  r.suppressed = suppressed;
  r.threshold = options.threshold;
  r.classes = static_cast<int64_t>(sample_class_sizes.size());
  int64_t smallest = 0;
  int64_t at_risk = 0;
  int64_t uniques = 0;
  int64_t smallest_population = 0;
  int64_t journalist_at_risk = 0;
  double journalist_sum = 0;  // sum_j f_j / F_j
  for (size_t j = 0; j < sample_class_sizes.size(); ++j) {
    const int64_t f = sample_class_sizes[j];
    if (f < 1) return absl::InvalidArgumentError(absl::StrFormat("sample class %d has size %d (< 1)", j, f));
    r.records += f;
    smallest = smallest == 0 ? f : std::min(smallest, f);
    if (1.0 / static_cast<double>(f) > options.threshold) at_risk += f;
    if (f == 1) ++uniques;
    if (!with_population) continue;
    const int64_t big_f = population_class_sizes[j];
    if (big_f < f) {
      return absl::InvalidArgumentError(
          absl::StrFormat("class %d: population size %d is smaller than the sample size %d", j, big_f, f));
    }
    smallest_population = smallest_population == 0 ? big_f : std::min(smallest_population, big_f);
    if (1.0 / static_cast<double>(big_f) > options.threshold) journalist_at_risk += f;
    journalist_sum += static_cast<double>(f) / static_cast<double>(big_f);
  }
  const double n = static_cast<double>(r.records);
  if (r.records > 0) {
    r.prosecutor.highest = 1.0 / static_cast<double>(smallest);
    r.prosecutor.average = static_cast<double>(r.classes) / n;
    r.prosecutor.records_at_risk = static_cast<double>(at_risk) / n;
    r.prosecutor.sample_uniques = static_cast<double>(uniques) / n;
    r.prosecutor.smallest_class = smallest;
  }
  r.marketer = r.prosecutor.average;
  if (with_population) {
    JournalistRisk j;
    if (r.records > 0) {
      j.highest = 1.0 / static_cast<double>(smallest_population);
      j.average = journalist_sum / n;
      j.records_at_risk = static_cast<double>(journalist_at_risk) / n;
      j.smallest_population_class = smallest_population;
    }
    for (int64_t big_f : population_class_sizes) j.population_records += big_f;
    r.marketer = j.average;
    r.journalist = j;
  }
  return r;
}

}  // namespace

absl::StatusOr<RiskReport> RiskFromClassSizes(std::span<const int64_t> sample_class_sizes,
                                              std::span<const int64_t> population_class_sizes,
                                              int64_t suppressed, const RiskOptions& options) {
  return ComputeRisk(sample_class_sizes, population_class_sizes, !population_class_sizes.empty(), suppressed,
                     options);
}

// Keys the sample's rows (and the population's, when `population_rows` >= 0) and computes the report.
// `sample_cell` and `population_cell` give a row's quasi-identifier values as ClassKeys::Add wants them.
template <typename SampleCell, typename PopulationCell>
absl::StatusOr<RiskReport> RiskOfCells(ClassKeys& keys, int64_t sample_rows, SampleCell sample_cell,
                                       int64_t population_rows, PopulationCell population_cell,
                                       const RiskOptions& options) {
  const std::vector<int32_t> sample_keys = keys.Add(sample_rows, sample_cell);
  const int64_t star_rows = keys.last_star_rows();
  std::optional<std::vector<int32_t>> population_keys;
  if (population_rows >= 0) population_keys = keys.Add(population_rows, population_cell);
  VEIL_ASSIGN_OR_RETURN(
      RiskReport report,
      RiskFromKeys(sample_keys, population_keys ? &*population_keys : nullptr, keys.num_keys(), options));
  report.suppressed = star_rows;
  return report;
}

absl::StatusOr<RiskReport> AssessRisk(const table::Table& sample,
                                      std::span<const std::string> quasi_identifiers,
                                      const RiskOptions& options, const table::Table* population) {
  VEIL_RETURN_IF_ERROR(CheckQuasiIdentifiers(quasi_identifiers));
  VEIL_RETURN_IF_ERROR(CheckThreshold(options.threshold));
  VEIL_ASSIGN_OR_RETURN(std::vector<const table::Column*> sample_columns,
                        FindColumns(sample, quasi_identifiers, "sample"));
  std::vector<const table::Column*> population_columns;
  if (population != nullptr) {
    VEIL_ASSIGN_OR_RETURN(population_columns, FindColumns(*population, quasi_identifiers, "population"));
  }
  ClassKeys keys(quasi_identifiers.size(), options.suppressed_form_a_class);
  std::string scratch;
  return RiskOfCells(
      keys, sample.num_rows(), [&](int64_t r, size_t q) { return CellText(*sample_columns[q], r, scratch); },
      population == nullptr ? -1 : population->num_rows(),
      [&](int64_t r, size_t q) { return CellText(*population_columns[q], r, scratch); }, options);
}

absl::StatusOr<RiskReport> AssessRiskOfRows(std::span<const std::vector<std::string>> sample,
                                            const RiskOptions& options,
                                            const std::vector<std::vector<std::string>>* population) {
  VEIL_RETURN_IF_ERROR(CheckThreshold(options.threshold));
  size_t width = 0;
  if (!sample.empty()) {
    width = sample[0].size();
  } else if (population != nullptr && !population->empty()) {
    width = (*population)[0].size();
  }
  auto check = [&](std::span<const std::vector<std::string>> rows, std::string_view what) -> absl::Status {
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].size() != width || width == 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s row %d has %d quasi-identifier values, expected %d", what, r + 1,
                            rows[r].size(), std::max<size_t>(width, 1)));
      }
    }
    return absl::OkStatus();
  };
  VEIL_RETURN_IF_ERROR(check(sample, "sample"));
  if (population != nullptr) VEIL_RETURN_IF_ERROR(check(*population, "population"));
  ClassKeys keys(std::max<size_t>(width, 1), options.suppressed_form_a_class);
  auto getter = [](std::span<const std::vector<std::string>> rows) {
    return [rows](int64_t r, size_t q) -> std::optional<std::string_view> {
      if (q >= rows[r].size()) return std::nullopt;
      return std::string_view(rows[r][q]);
    };
  };
  return RiskOfCells(
      keys, static_cast<int64_t>(sample.size()), getter(sample),
      population == nullptr ? -1 : static_cast<int64_t>(population->size()),
      getter(population == nullptr ? std::span<const std::vector<std::string>>() : *population), options);
}

}  // namespace veil::anon
