// Per-column statistics of a table, for `veil inspect` and for data profiling.
//
//   std::vector<ColumnStats> stats = ComputeTableStats(table);
//   for (const ColumnStats& s : stats) std::cout << s.name << ": " << s.distinct_count << " distinct\n";
//
// The statistics are exact and computed on the raw data: they are for the data owner looking at their own
// file, not for release (they are not differentially private).
//
// Thread safety: pure functions of an immutable table.
#ifndef VEIL_TABLE_COLUMN_STATS_H_
#define VEIL_TABLE_COLUMN_STATS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "veil/table/column.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"
#include "veil/table/types.h"

namespace veil::table {

// A value (display text, see types.h) and how many rows hold it.
struct ValueCount {
  std::string value;
  int64_t count = 0;

  friend bool operator==(const ValueCount&, const ValueCount&) = default;
};

// Plain data, ready to print or to serialize as JSON.
struct ColumnStats {
  std::string name;
  DataType type = DataType::kString;
  int64_t row_count = 0;
  int64_t null_count = 0;
  // Distinct non-null values. Doubles count -0.0 and 0.0 as one value, and all NaNs as one.
  int64_t distinct_count = 0;
  // Smallest and largest non-null value in display form; nullopt when the column has no non-null value.
  // Order: numeric for int64 and double (NaN is ignored unless every value is NaN), false < true,
  // chronological for dates and timestamps, byte-wise (UTF-8 code point order) for strings.
  std::optional<std::string> min;
  std::optional<std::string> max;
  // Arithmetic mean of the non-null values, for int64 and double columns only (nullopt otherwise, and when
  // there is no non-null value). NaN if a value is NaN; inf or -inf if the values include infinities. Int64
  // values are summed exactly in 128 bits.
  std::optional<double> mean;
  // The most frequent non-null values, most frequent first; ties in order of the values (as for min).
  std::vector<ValueCount> top_values;
};

struct ColumnStatsOptions {
  // How many top values to report (0 for none).
  int top_k = 5;
};

// The statistics of one column described by `field`. Cost: O(rows) time, O(distinct values) memory.
ColumnStats ComputeColumnStats(const Column& column, const Field& field,
                               const ColumnStatsOptions& options = {});

// The statistics of every column of `table`, in schema order.
std::vector<ColumnStats> ComputeTableStats(const Table& table, const ColumnStatsOptions& options = {});

}  // namespace veil::table

#endif  // VEIL_TABLE_COLUMN_STATS_H_
