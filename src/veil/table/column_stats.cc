#include "veil/table/column_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace veil::table {
namespace {

// Fills distinct_count, min, max and top_values from (value, count) pairs of distinct non-null values.
// `less` orders values; `format` gives their display text.
template <typename Key, typename Less, typename Format>
void FillFromCounts(std::vector<std::pair<Key, int64_t>> counts, Less less, Format format, int top_k,
                    ColumnStats* stats) {
  stats->distinct_count = static_cast<int64_t>(counts.size());
  if (counts.empty()) return;
  const auto key_less = [&](const auto& a, const auto& b) { return less(a.first, b.first); };
  const auto [min_it, max_it] = std::minmax_element(counts.begin(), counts.end(), key_less);
  stats->min = format(min_it->first);
  stats->max = format(max_it->first);
  const size_t k = std::min(counts.size(), static_cast<size_t>(std::max(top_k, 0)));
  std::partial_sort(counts.begin(), counts.begin() + static_cast<ptrdiff_t>(k), counts.end(),
                    [&](const auto& a, const auto& b) {
                      if (a.second != b.second) return a.second > b.second;
                      return less(a.first, b.first);
                    });
  for (size_t i = 0; i < k; ++i)
    stats->top_values.push_back(ValueCount{format(counts[i].first), counts[i].second});
}

// Counts the non-null values of an integer-like column (int64, bool, date, timestamp) by value.
template <typename T>
std::vector<std::pair<int64_t, int64_t>> CountIntegers(const Column& column, std::span<const T> values) {
  absl::flat_hash_map<int64_t, int64_t> counts;
  for (int64_t row = 0; row < column.size(); ++row) {
    if (!column.IsNull(row)) ++counts[static_cast<int64_t>(values[row])];
  }
  return {counts.begin(), counts.end()};
}

void StatsOfInt64(const Column& column, const ColumnStatsOptions& options, ColumnStats* stats) {
  __int128 sum = 0;
  for (int64_t row = 0; row < column.size(); ++row) {
    if (!column.IsNull(row)) sum += column.GetInt64(row);
  }
  const int64_t n = column.size() - column.null_count();
  if (n > 0) stats->mean = static_cast<double>(static_cast<long double>(sum) / static_cast<long double>(n));
  FillFromCounts(
      CountIntegers(column, column.int64_values()), std::less<int64_t>(),
      [](int64_t v) { return absl::StrCat(v); }, options.top_k, stats);
}

void StatsOfDouble(const Column& column, const ColumnStatsOptions& options, ColumnStats* stats) {
  // Distinct values by bit pattern, after making -0.0 and 0.0 one value and all NaNs one value.
  absl::flat_hash_map<uint64_t, int64_t> counts;
  long double sum = 0;
  for (int64_t row = 0; row < column.size(); ++row) {
    if (column.IsNull(row)) continue;
    double v = column.GetDouble(row);
    sum += v;
    if (v == 0) v = 0.0;
    if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
    ++counts[std::bit_cast<uint64_t>(v)];
  }
  const int64_t n = column.size() - column.null_count();
  if (n > 0) stats->mean = static_cast<double>(sum / static_cast<long double>(n));
  std::vector<std::pair<double, int64_t>> pairs;
  pairs.reserve(counts.size());
  for (const auto& [bits, count] : counts) pairs.emplace_back(std::bit_cast<double>(bits), count);
  // NaN sorts after every number, so that min and max ignore it unless it is the only value.
  const auto less = [](double a, double b) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return a < b;
  };
  FillFromCounts(
      pairs, less, [](double v) { return FormatDouble(v); }, options.top_k, stats);
  if (stats->max && *stats->max == "nan") {
    double largest = std::numeric_limits<double>::quiet_NaN();
    for (const auto& [v, count] : pairs) {
      if (!std::isnan(v) && (std::isnan(largest) || v > largest)) largest = v;
    }
    stats->max = FormatDouble(largest);
  }
}

void StatsOfString(const Column& column, const ColumnStatsOptions& options, ColumnStats* stats) {
  std::vector<int64_t> counts(static_cast<size_t>(column.dictionary().size()), 0);
  for (int32_t code : column.string_codes()) {
    if (code >= 0) ++counts[code];
  }
  std::vector<std::pair<int32_t, int64_t>> pairs;
  for (int32_t code = 0; code < static_cast<int32_t>(counts.size()); ++code) {
    if (counts[code] > 0) pairs.emplace_back(code, counts[code]);
  }
  const StringDictionary& dict = column.dictionary();
  FillFromCounts(
      pairs, [&](int32_t a, int32_t b) { return dict.value(a) < dict.value(b); },
      [&](int32_t code) { return std::string(dict.value(code)); }, options.top_k, stats);
}

}  // namespace

ColumnStats ComputeColumnStats(const Column& column, const Field& field, const ColumnStatsOptions& options) {
  ColumnStats stats;
  stats.name = field.name;
  stats.type = column.type();
  stats.row_count = column.size();
  stats.null_count = column.null_count();
  switch (column.type()) {
    case DataType::kInt64:
      StatsOfInt64(column, options, &stats);
      break;
    case DataType::kDouble:
      StatsOfDouble(column, options, &stats);
      break;
    case DataType::kString:
      StatsOfString(column, options, &stats);
      break;
    case DataType::kBool:
      FillFromCounts(
          CountIntegers(column, column.bool_values()), std::less<int64_t>(),
          [](int64_t v) { return std::string(v != 0 ? "true" : "false"); }, options.top_k, &stats);
      break;
    case DataType::kDate:
      FillFromCounts(
          CountIntegers(column, column.date_values()), std::less<int64_t>(),
          [](int64_t v) { return FormatDate(Date{static_cast<int32_t>(v)}); }, options.top_k, &stats);
      break;
    case DataType::kTimestamp:
      FillFromCounts(
          CountIntegers(column, column.int64_values()), std::less<int64_t>(),
          [](int64_t v) { return FormatTimestamp(Timestamp{v}); }, options.top_k, &stats);
      break;
  }
  return stats;
}

std::vector<ColumnStats> ComputeTableStats(const Table& table, const ColumnStatsOptions& options) {
  std::vector<ColumnStats> out;
  out.reserve(static_cast<size_t>(table.num_columns()));
  for (int c = 0; c < table.num_columns(); ++c) {
    out.push_back(ComputeColumnStats(table.column(c), table.schema().field(c), options));
  }
  return out;
}

}  // namespace veil::table
