#include "veil/sql/pushdown.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/aggregation.h"
#include "veil/dp/random_bits.h"
#include "veil/sql/parser.h"
#include "veil/table/postgres_testing.h"

namespace veil::sql {
namespace {

using table::Column;
using table::DataType;
using table::Date;
using table::PgTableName;
using table::Schema;
using table::Table;
using table::TableBuilder;
using table::Timestamp;
using table::Value;
using ::testing::HasSubstr;

dp::Aggregate Agg(dp::AggregateFunction f, std::string column = "", std::optional<dp::Bounds> bounds = {}) {
  dp::Aggregate a;
  a.function = f;
  a.column = std::move(column);
  a.bounds = bounds;
  return a;
}

dp::GroupBy Key(std::string column, std::vector<double> boundaries = {}) {
  dp::GroupBy g;
  g.column = std::move(column);
  g.bucket_boundaries = std::move(boundaries);
  return g;
}

class PushdownTest : public table::testing::PgServerTest {
 protected:
  void MustExecute(std::string_view sql) {
    absl::StatusOr<int64_t> r = pg().Execute(sql);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // Creates TEMP table `name` with the columns of `data` (PostgreSQL types given in order) and copies the
  // rows in; returns the table as Veil reads it back (what the in-memory engine would be given).
  Table Load(const std::string& name, const Table& data, const std::vector<std::string>& pg_types) {
    std::vector<std::string> cols;
    for (int i = 0; i < data.num_columns(); ++i) {
      cols.push_back(absl::StrCat(*pg().QuoteIdentifier(data.schema().field(i).name), " ", pg_types[i]));
    }
    const std::string quoted = *pg().QuoteIdentifier(name);
    EXPECT_TRUE(
        pg().Execute(absl::StrCat("CREATE TEMP TABLE ", quoted, " (", absl::StrJoin(cols, ", "), ")")).ok());
    absl::Status copied = pg().CopyIntoTable(PgTableName{"", name}, data);
    EXPECT_TRUE(copied.ok()) << copied;
    absl::StatusOr<Table> back = pg().ReadTable(PgTableName{"", name});
    EXPECT_TRUE(back.ok()) << back.status();
    return back.ok() ? *std::move(back) : Table();
  }
};

// --- The bounding hash's building blocks against the real server.

TEST_F(PushdownTest, HashTextExtendedMatchesTheEngineBitForBit) {
  // 3,000 strings: every length 0..40 (lookup3 handles the tail per length mod 12), ASCII and multi-byte
  // UTF-8, and seeds of every shape: 0 (no seed mixing), small, near 2^62, and ones whose high bit is set
  // (negative as PostgreSQL bigints, the chained hashes of query.h).
  std::mt19937_64 rng(20240601);
  const std::vector<std::string> alphabet = {"a", "Z", "0", " ", "\\", "'", "é", "ü", "✓", "日本", "😀"};
  Schema schema =
      *Schema::Make({{"id", DataType::kInt64}, {"t", DataType::kString}, {"s", DataType::kInt64}});
  TableBuilder b(schema);
  for (int64_t i = 0; i < 3000; ++i) {
    std::string text;
    const size_t len = static_cast<size_t>(i % 41);
    while (text.size() < len) text += alphabet[rng() % alphabet.size()];
    int64_t seed;
    switch (i % 5) {
      case 0:
        seed = 0;
        break;
      case 1:
        seed = static_cast<int64_t>(rng() % 1000);
        break;
      case 2:
        seed = static_cast<int64_t>((uint64_t{1} << 62) - 1 - rng() % 3);
        break;
      default:
        seed = static_cast<int64_t>(rng());  // any 64-bit pattern
        break;
    }
    ASSERT_TRUE(b.AppendRow({i, text, seed}).ok());
  }
  Table data = *b.Finish();
  Table back = Load("hash_inputs", data, {"int8", "text", "int8"});
  ASSERT_EQ(back.num_rows(), 3000);
  absl::StatusOr<Table> hashed = pg().Query("SELECT t, s, hashtextextended(t, s) AS h FROM hash_inputs");
  ASSERT_TRUE(hashed.ok()) << hashed.status();
  ASSERT_EQ(hashed->num_rows(), 3000);
  int mismatches = 0;
  for (int64_t i = 0; i < 3000; ++i) {
    const std::string_view text = hashed->column(0).GetString(i);
    const uint64_t seed = static_cast<uint64_t>(hashed->column(1).GetInt64(i));
    const uint64_t ours = dp::internal::PgHashBytesExtended(text, seed);
    const uint64_t theirs = static_cast<uint64_t>(hashed->column(2).GetInt64(i));
    if (ours != theirs && ++mismatches <= 5) {
      ADD_FAILURE() << "hash of \"" << text << "\" (" << text.size() << " bytes) with seed " << seed
                    << ": engine " << ours << ", PostgreSQL " << theirs;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(PushdownTest, BinaryValueHashesMatchTheEngineBitForBit) {
  // The row hash's hashfloat8extended and hashint8extended (query.h) on doubles of every shape (random bit
  // patterns, 0 and -0, which PostgreSQL hashes as the seed, infinities, subnormals) and int64 extremes.
  std::mt19937_64 rng(99);
  Schema schema = *Schema::Make({{"d", DataType::kDouble}, {"i", DataType::kInt64}, {"s", DataType::kInt64}});
  TableBuilder b(schema);
  const std::vector<double> special = {0.0,
                                       -0.0,
                                       1.0,
                                       -1.0,
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       5e-324,
                                       1e308};
  const std::vector<int64_t> ints = {
      0,         1,           -1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
      1LL << 32, -(1LL << 31)};
  for (int i = 0; i < 2000; ++i) {
    double d;
    if (i < static_cast<int>(special.size())) {
      d = special[i];
    } else {
      uint64_t bits = rng();
      std::memcpy(&d, &bits, sizeof(d));
      if (std::isnan(d)) d = 0.5;
    }
    const int64_t v = i < static_cast<int>(ints.size()) ? ints[i] : static_cast<int64_t>(rng()) >> (i % 64);
    ASSERT_TRUE(b.AppendRow({d, v, static_cast<int64_t>(i % 3 == 0 ? 0 : rng())}).ok());
  }
  Load("binary_inputs", *b.Finish(), {"float8", "int8", "int8"});
  absl::StatusOr<Table> hashed = pg().Query(
      "SELECT d, i, s, hashfloat8extended(d, s) AS hd, hashint8extended(i, s) AS hi FROM binary_inputs");
  ASSERT_TRUE(hashed.ok()) << hashed.status();
  ASSERT_EQ(hashed->num_rows(), 2000);
  int mismatches = 0;
  for (int64_t r = 0; r < hashed->num_rows(); ++r) {
    const uint64_t seed = static_cast<uint64_t>(hashed->column(2).GetInt64(r));
    const double d = hashed->column(0).GetDouble(r);
    const int64_t v = hashed->column(1).GetInt64(r);
    if (dp::internal::PgHashFloat8Extended(d, seed) != static_cast<uint64_t>(hashed->column(3).GetInt64(r)) &&
        ++mismatches <= 5) {
      ADD_FAILURE() << "hashfloat8extended(" << d << ", " << seed << ")";
    }
    if (dp::internal::PgHashInt8Extended(v, seed) != static_cast<uint64_t>(hashed->column(4).GetInt64(r)) &&
        ++mismatches <= 5) {
      ADD_FAILURE() << "hashint8extended(" << v << ", " << seed << ")";
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(PushdownTest, ValueTextsMatchTheEngine) {
  // T(v) of query.h computed by PostgreSQL (internal::SqlValueText) against table::FormatValue of the same
  // values as Veil reads them, for every type; doubles from every corner: random bit patterns (subnormals
  // included), integers around 2^53, powers of ten around the switch between fixed and scientific notation,
  // and the special values.
  std::mt19937_64 rng(7);
  std::vector<double> doubles = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 0.1,
                                 0.5,
                                 1.5,
                                 100.0,
                                 1e15,
                                 1e16,
                                 1e17,
                                 1e21,
                                 1e22,
                                 1e23,
                                 123456789012345680.0,
                                 1e-4,
                                 1e-5,
                                 0.001,
                                 0.0001234,
                                 5e-324,
                                 2.2250738585072014e-308,
                                 1.7976931348623157e308,
                                 9007199254740993.0,
                                 4503599627370496.5,
                                 1234.5,
                                 -0.000123,
                                 std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN()};
  for (int e = -30; e <= 30; ++e) {
    doubles.push_back(std::pow(10.0, e));
    doubles.push_back(1.25 * std::pow(10.0, e));
    doubles.push_back(-123456.0 * std::pow(10.0, e));
  }
  for (int i = 0; i < 4000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isnan(d)) continue;
    doubles.push_back(d);
    doubles.push_back(static_cast<double>(static_cast<int64_t>(rng() >> (i % 64))));
    doubles.push_back(static_cast<double>(rng() % 100000) / 100.0);
  }
  Schema schema = *Schema::Make({{"d", DataType::kDouble},
                                 {"i", DataType::kInt64},
                                 {"b", DataType::kBool},
                                 {"s", DataType::kString},
                                 {"dt", DataType::kDate},
                                 {"ts", DataType::kTimestamp},
                                 {"tz", DataType::kTimestamp}});
  TableBuilder b(schema);
  for (size_t i = 0; i < doubles.size(); ++i) {
    b.column(0).AppendDouble(doubles[i]);
    if (i % 17 == 0) {
      for (int c = 1; c < 7; ++c) b.column(c).AppendNull();
      continue;
    }
    b.column(1).AppendInt64(static_cast<int64_t>(rng()));
    b.column(2).AppendBool(i % 2 == 0);
    b.column(3).AppendString(absl::StrCat("s", i, i % 3 == 0 ? " ✓\\N" : ""));
    b.column(4).AppendDate(Date{static_cast<int32_t>(rng() % 2900000) - 700000});  // years ~100 .. 9800
    const int64_t micros =
        static_cast<int64_t>(rng() % (250'000LL * table::kMicrosPerDay)) - 60'000LL * table::kMicrosPerDay;
    b.column(5).AppendTimestamp(Timestamp{i % 4 == 0 ? micros - micros % table::kMicrosPerSecond : micros});
    b.column(6).AppendTimestamp(Timestamp{micros + 1});
  }
  b.column(0).AppendNull();
  for (int c = 1; c < 7; ++c) b.column(c).AppendNull();
  Table data = *b.Finish();
  Table back = Load("texts", data, {"float8", "int8", "bool", "text", "date", "timestamp", "timestamptz"});
  ASSERT_EQ(back.num_rows(), data.num_rows());

  std::vector<std::string> select;
  const std::vector<std::string> names = {"d", "i", "b", "s", "dt", "ts", "tz"};
  select.push_back(absl::StrCat(internal::SqlValueText("dt_d.t", DataType::kDouble, false), " AS t_d"));
  for (int c = 1; c < 7; ++c) {
    select.push_back(absl::StrCat(
        internal::SqlValueText(names[c], back.schema().field(c).type, names[c] == "tz"), " AS t_", names[c]));
  }
  // Row order: PostgreSQL returns the rows of a fresh table in insertion order, but say so explicitly.
  MustExecute("ALTER TABLE texts ADD COLUMN n bigserial");
  absl::StatusOr<Table> texts = pg().Query(absl::StrCat(
      "WITH dt_d AS (", internal::DoubleTextsQuery("texts", "d"), ") SELECT ", absl::StrJoin(select, ", "),
      " FROM texts LEFT JOIN dt_d ON float8send(texts.d) = dt_d.bits ORDER BY n"));
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_EQ(texts->num_rows(), back.num_rows());
  int mismatches = 0;
  for (int64_t row = 0; row < back.num_rows(); ++row) {
    for (int c = 0; c < 7; ++c) {
      const std::string expected = back.IsNull(row, c) ? "\\N" : back.FormatValue(row, c);
      const std::string_view got = texts->column(c).GetString(row);
      if (got != expected && ++mismatches <= 10) {
        ADD_FAILURE() << "column " << names[c] << " row " << row << ": engine \"" << expected
                      << "\", PostgreSQL \"" << got << "\"";
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// --- The push-down against an in-memory reference of query.h's rule.

// query.h's bounding, written out plainly over a Table (the test's oracle): the rows kept and the
// BoundedSum totals per group.
struct Reference {
  std::map<std::string, size_t> index;  // key text -> position
  BoundedAggregates agg;
};

std::string HashText(const Value& v) {
  return std::holds_alternative<std::monostate>(v) ? "\\N" : table::FormatValue(v);
}

bool ValueLess(const Value& a, const Value& b) {  // SQL order, NULL first (strings by bytes)
  if (a.index() != b.index()) return a.index() < b.index();
  if (const auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    if (std::isnan(*x) || std::isnan(y)) return !std::isnan(*x) && std::isnan(y);
    return *x < y;
  }
  if (const auto* x = std::get_if<Date>(&a)) return x->days < std::get<Date>(b).days;
  if (const auto* x = std::get_if<Timestamp>(&a)) return x->micros < std::get<Timestamp>(b).micros;
  if (const auto* x = std::get_if<int64_t>(&a)) return *x < std::get<int64_t>(b);
  if (const auto* x = std::get_if<bool>(&a)) return *x < std::get<bool>(b);
  if (const auto* x = std::get_if<std::string>(&a)) return *x < std::get<std::string>(b);
  return false;  // both NULL
}
bool KeyLess(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (ValueLess(a[i], b[i])) return true;
    if (ValueLess(b[i], a[i])) return false;
  }
  return false;
}

BoundedAggregates ReferenceBounding(const Table& t, const std::vector<int64_t>& rows,
                                    const dp::QueryPlan& plan, const std::vector<BoundedSum>& sums,
                                    uint64_t seed) {
  using dp::internal::Fold32;
  using dp::internal::Mix32;
  using dp::internal::PgHashBytesExtended;
  const Column& unit = *t.FindColumn(plan.privacy_unit_column);
  std::vector<const Column*> hash_cols;
  for (const dp::Aggregate& a : plan.aggregates) {
    if (a.column.empty()) continue;
    const Column* c = t.FindColumn(a.column);
    if (std::find(hash_cols.begin(), hash_cols.end(), c) == hash_cols.end()) hash_cols.push_back(c);
  }
  auto key_of = [&](int64_t row) {
    std::vector<Value> key;
    for (const dp::GroupBy& g : plan.group_by) {
      const Column& c = *t.FindColumn(g.column);
      if (g.bucket_boundaries.empty()) {
        key.push_back(c.GetValue(row));
        continue;
      }
      if (c.IsNull(row) || (c.type() == DataType::kDouble && std::isnan(c.GetDouble(row)))) {
        key.emplace_back(std::in_place_type<std::monostate>);
        continue;
      }
      const double v = c.type() == DataType::kInt64 ? static_cast<double>(c.GetInt64(row)) : c.GetDouble(row);
      key.emplace_back(std::in_place_type<int64_t>,
                       std::upper_bound(g.bucket_boundaries.begin(), g.bucket_boundaries.end(), v) -
                           g.bucket_boundaries.begin());
    }
    return key;
  };
  // unit text -> (key text -> rows)
  std::map<std::string, std::map<std::string, std::vector<int64_t>>> cells;
  std::map<std::string, std::vector<Value>> keys;
  for (int64_t row : rows) {
    if (unit.IsNull(row)) continue;
    std::vector<Value> key = key_of(row);
    if (plan.public_groups.has_value() &&
        std::find(plan.public_groups->begin(), plan.public_groups->end(), key) == plan.public_groups->end()) {
      continue;
    }
    std::string key_text;
    for (const Value& v : key) absl::StrAppend(&key_text, HashText(v), "\x1f");
    keys.emplace(key_text, key);
    cells[unit.FormatValue(row)][key_text].push_back(row);
  }
  std::map<std::string, BoundedGroup> groups;
  for (auto& [unit_text, by_key] : cells) {
    const uint32_t a_u = Fold32(PgHashBytesExtended(unit_text, seed));
    struct Cell {
      uint32_t r, a_k;
      const std::vector<Value>* key;
      std::string key_text;
    };
    std::vector<Cell> ranked;
    for (const auto& [key_text, unused] : by_key) {
      uint64_t h = seed + 1;
      for (const Value& v : keys[key_text]) h = PgHashBytesExtended(HashText(v), h);
      const uint32_t a_k = Fold32(h);
      ranked.push_back({Mix32(a_u ^ a_k), a_k, &keys[key_text], key_text});
    }
    std::sort(ranked.begin(), ranked.end(), [](const Cell& a, const Cell& b) {
      if (a.r != b.r) return a.r < b.r;
      if (a.a_k != b.a_k) return a.a_k < b.a_k;
      return KeyLess(*a.key, *b.key);
    });
    if (static_cast<int64_t>(ranked.size()) > plan.max_groups_contributed)
      ranked.resize(plan.max_groups_contributed);
    for (const Cell& cell : ranked) {
      // Row rank: the values' binary hashes chained from s + 2, then the occurrence number d among the
      // cell's rows with the same hash.
      std::vector<std::pair<uint32_t, int64_t>> cell_rows;
      std::map<uint64_t, int64_t> seen;
      for (int64_t row : by_key[cell.key_text]) {
        uint64_t h = seed + 2;
        for (const Column* c : hash_cols) {
          if (c->IsNull(row) || (c->type() == DataType::kDouble && std::isnan(c->GetDouble(row)))) {
            h = PgHashBytesExtended("\\N", h);
            continue;
          }
          switch (c->type()) {
            case DataType::kDouble:
              h = dp::internal::PgHashFloat8Extended(c->GetDouble(row), h);
              break;
            case DataType::kInt64:
            case DataType::kTimestamp:
              h = dp::internal::PgHashInt8Extended(c->GetInt64(row), h);
              break;
            case DataType::kDate:
              h = dp::internal::PgHashInt8Extended(c->GetDate(row).days, h);
              break;
            case DataType::kBool:
              h = dp::internal::PgHashInt8Extended(c->GetBool(row) ? 1 : 0, h);
              break;
            case DataType::kString:
              h = PgHashBytesExtended(c->GetString(row), h);
              break;
          }
        }
        const int64_t d = seen[h]++;
        const uint32_t a_row = Fold32(d == 0 ? h : dp::internal::PgHashInt8Extended(d, h));
        cell_rows.emplace_back(Mix32(cell.r ^ a_row), row);
      }
      std::sort(cell_rows.begin(), cell_rows.end());
      if (static_cast<int64_t>(cell_rows.size()) > plan.max_rows_per_group)
        cell_rows.resize(plan.max_rows_per_group);
      BoundedGroup& g = groups[cell.key_text];
      g.key = *cell.key;
      g.units += 1;
      g.totals.resize(sums.size(), 0);
      for (const auto& [unused, row] : cell_rows) {
        for (size_t i = 0; i < sums.size(); ++i) {
          const BoundedSum& s = sums[i];
          if (s.kind == BoundedSumKind::kRows) {
            g.totals[i] += 1;
            continue;
          }
          if (s.kind == BoundedSumKind::kUnits) continue;
          const Column& c = *t.FindColumn(s.column);
          if (c.IsNull(row) || (c.type() == DataType::kDouble && std::isnan(c.GetDouble(row)))) continue;
          if (s.kind == BoundedSumKind::kNonNull) {
            g.totals[i] += 1;
            continue;
          }
          const double x = c.type() == DataType::kInt64  ? static_cast<double>(c.GetInt64(row))
                           : c.type() == DataType::kBool ? (c.GetBool(row) ? 1.0 : 0.0)
                                                         : c.GetDouble(row);
          const double lo = s.bounds.lo, hi = s.bounds.hi, v = std::clamp(x, lo, hi);
          if (s.kind == BoundedSumKind::kSum) {
            const double m = std::max(std::fabs(lo), std::fabs(hi));
            const double gran =
                m > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(m))) - s.bits) : 1.0;
            g.totals[i] += static_cast<int64_t>(std::nearbyint(v / gran));
            continue;
          }
          const double mid = lo + (hi - lo) / 2, half = (hi - lo) / 2, scale = std::ldexp(1.0, s.bits);
          const double u = half > 0 ? std::clamp((v - mid) / half, -1.0, 1.0) : 0.0;
          g.totals[i] += static_cast<int64_t>(
              std::nearbyint(s.kind == BoundedSumKind::kNormSum ? u * scale : (2 * u * u - 1) * scale));
        }
      }
      if (std::find_if(sums.begin(), sums.end(),
                       [](const BoundedSum& s) { return s.kind == BoundedSumKind::kUnits; }) != sums.end()) {
        for (size_t i = 0; i < sums.size(); ++i) {
          if (sums[i].kind == BoundedSumKind::kUnits) g.totals[i] += 1;
        }
      }
    }
  }
  BoundedAggregates out;
  out.seed = seed;
  for (auto& [unused, g] : groups) out.groups.push_back(std::move(g));
  std::sort(out.groups.begin(), out.groups.end(),
            [](const BoundedGroup& a, const BoundedGroup& b) { return KeyLess(a.key, b.key); });
  if (plan.group_by.empty() && out.groups.empty())
    out.groups.push_back({{}, 0, std::vector<int64_t>(sums.size(), 0)});
  return out;
}

std::string Describe(const BoundedGroup& g) {
  std::string s = "key (";
  for (const Value& v : g.key) absl::StrAppend(&s, table::FormatValue(v), ", ");
  absl::StrAppend(&s, ") units ", g.units, " totals");
  for (int64_t t : g.totals) absl::StrAppend(&s, " ", t);
  return s;
}

void ExpectSameGroups(const BoundedAggregates& got, const BoundedAggregates& want) {
  EXPECT_EQ(got.groups.size(), want.groups.size());
  int shown = 0;
  for (size_t i = 0; i < std::min(got.groups.size(), want.groups.size()); ++i) {
    if (!(got.groups[i] == want.groups[i]) && ++shown <= 5) {
      ADD_FAILURE() << "group " << i << ": PostgreSQL " << Describe(got.groups[i]) << "\n  reference "
                    << Describe(want.groups[i]);
    }
  }
}

// 50,000 visits by 3,000 patients with a skewed number of visits (a few with hundreds, over many groups),
// so that both L0 (groups per patient) and Linf (rows per patient and group) bound for real.
Table Visits() {
  std::mt19937_64 rng(42);
  Schema schema = *Schema::Make({{"patient", DataType::kInt64},
                                 {"ward", DataType::kString},
                                 {"age", DataType::kInt64},
                                 {"cost", DataType::kDouble},
                                 {"urgent", DataType::kBool},
                                 {"day", DataType::kDate}});
  TableBuilder b(schema);
  const std::vector<std::string> wards = {"cardiology", "oncology",   "A&E",
                                          "pædiatrics", "ward \"7\"", "x'; DROP TABLE visits; --",
                                          "geriatrics", "icu"};
  std::exponential_distribution<double> heavy(1.0 / 16.0);
  int64_t rows = 0;
  for (int64_t patient = 0; rows < 50'000; ++patient) {
    const int64_t visits = patient % 100 == 0 ? 300 : 1 + static_cast<int64_t>(heavy(rng));
    for (int64_t v = 0; v < visits && rows < 50'000; ++v, ++rows) {
      b.column(0).AppendInt64(patient % 3001 == 3000 ? -patient : patient);
      if (rows % 997 == 0) {
        b.column(1).AppendNull();
      } else {
        b.column(1).AppendString(wards[(patient + v * (patient % 3 == 0 ? 1 : 0)) % wards.size()]);
      }
      b.column(2).AppendInt64(static_cast<int64_t>(rng() % 110));
      if (rows % 101 == 0) {
        b.column(3).AppendNull();
      } else if (rows % 211 == 0) {
        b.column(3).AppendDouble(std::numeric_limits<double>::quiet_NaN());
      } else {
        b.column(3).AppendDouble(std::round(std::exp(static_cast<double>(rng() % 1000) / 100.0)) / 4.0);
      }
      b.column(4).AppendBool(rng() % 5 == 0);
      b.column(5).AppendDate(Date{19'000 + static_cast<int32_t>(rng() % 400)});
    }
  }
  return *b.Finish();
}

dp::QueryPlan VisitsPlan() {
  dp::QueryPlan plan;
  plan.privacy_unit_column = "patient";
  plan.group_by = {Key("ward")};
  plan.aggregates = {Agg(dp::AggregateFunction::kCountStar),
                     Agg(dp::AggregateFunction::kCountDistinctUnits),
                     Agg(dp::AggregateFunction::kCount, "cost"),
                     Agg(dp::AggregateFunction::kSum, "cost", dp::Bounds{0, 5000}),
                     Agg(dp::AggregateFunction::kAvg, "age", dp::Bounds{18, 90}),
                     Agg(dp::AggregateFunction::kVariance, "cost", dp::Bounds{-10, 1000}),
                     Agg(dp::AggregateFunction::kSum, "urgent", dp::Bounds{0, 1})};
  plan.epsilon = 1;
  plan.delta = 1e-6;
  plan.max_groups_contributed = 3;
  plan.max_rows_per_group = 2;
  return plan;
}

std::vector<int64_t> AllRows(const Table& t) {
  std::vector<int64_t> rows(static_cast<size_t>(t.num_rows()));
  for (int64_t i = 0; i < t.num_rows(); ++i) rows[i] = i;
  return rows;
}

TEST_F(PushdownTest, BoundedAggregatesEqualTheReferenceOn50000Rows) {
  Table visits = Load("visits", Visits(), {"int4", "varchar(40)", "int2", "numeric", "bool", "date"});
  ASSERT_EQ(visits.num_rows(), 50'000);
  dp::QueryPlan plan = VisitsPlan();
  absl::StatusOr<std::vector<BoundedSum>> sums = BoundedSumsFor(plan);
  ASSERT_TRUE(sums.ok()) << sums.status();
  ASSERT_EQ(sums->size(), 10u);  // 1 + 1 + 1 + 1 + 2 + 3 + 1

  for (uint64_t seed : {uint64_t{0}, uint64_t{12345}, (uint64_t{1} << 62) - 1}) {
    absl::StatusOr<BoundedAggregates> got =
        RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, nullptr, seed);
    ASSERT_TRUE(got.ok()) << got.status();
    const BoundedAggregates want = ReferenceBounding(visits, AllRows(visits), plan, *sums, seed);
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ExpectSameGroups(*got, want);
    // Bounding really bound: fewer rows than the table, no group's units above the number of patients, and
    // every patient's contribution within L0 * Linf rows.
    int64_t kept = 0;
    for (const BoundedGroup& g : got->groups) kept += g.totals[0];
    EXPECT_LT(kept, 50'000 * 3 / 4);
    EXPECT_GT(kept, 1'000);
  }
  // Another seed keeps other rows (the choice depends on the seed).
  absl::StatusOr<BoundedAggregates> a = RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, nullptr, 1);
  absl::StatusOr<BoundedAggregates> b = RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, nullptr, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->groups, b->groups);
}

TEST_F(PushdownTest, BoundedAggregatesEqualTheInMemoryEngines) {
  // The engine does not expose its bounded (pre-noise) sums, so they are read from RunQuery with noise that
  // is zero with overwhelming probability: epsilon = 1e10 over 7 aggregates of at most 3 components gives
  // each component epsilon >= 4.7e8, so a discrete Laplace scale t <= L0 Linf 2^20 / 4.7e8 = 0.0134 for the
  // sums (and far less for counts), and P(noise != 0) = 2q / (1 + q) < 2 exp(-1/t) < 1e-32 per draw, over
  // about 100 draws. Public groups (every ward and NULL): no partition selection, whose epsilon is capped.
  // Both paths take the bounding seed from the same DeterministicRandom stream (RunQuery: Next64() >> 2).
  Table visits = Load("visits", Visits(), {"int4", "varchar(40)", "int2", "numeric", "bool", "date"});
  dp::QueryPlan plan = VisitsPlan();
  plan.epsilon = 1e10;
  plan.aggregates.erase(plan.aggregates.begin() + 5);  // VARIANCE: its output is a ratio of noisy sums
  std::vector<std::vector<Value>> wards = {{std::monostate()}};
  for (const char* w : {"cardiology", "oncology", "A&E", "pædiatrics", "ward \"7\"",
                        "x'; DROP TABLE visits; --", "geriatrics", "icu"}) {
    wards.push_back({std::string(w)});
  }
  plan.public_groups = wards;
  absl::StatusOr<std::vector<BoundedSum>> sums = BoundedSumsFor(plan);
  ASSERT_TRUE(sums.ok());
  for (uint64_t stream : {1, 2, 3}) {
    crypto::testing::DeterministicRandom engine_source(stream), pushdown_source(stream);
    dp::RandomBits engine_bits(engine_source), pushdown_bits(pushdown_source);
    absl::StatusOr<dp::QueryResult> engine = dp::RunQuery(visits, std::nullopt, plan, engine_bits);
    ASSERT_TRUE(engine.ok()) << engine.status();
    absl::StatusOr<uint64_t> word = pushdown_bits.Next64();
    ASSERT_TRUE(word.ok());
    absl::StatusOr<BoundedAggregates> got =
        RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, nullptr, *word >> 2);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(engine->rows.size(), wards.size());
    size_t next = 0;
    for (const dp::ResultRow& row : engine->rows) {
      BoundedGroup g{row.key, 0, std::vector<int64_t>(sums->size(), 0)};  // a listed ward without rows
      if (next < got->groups.size() && got->groups[next].key == row.key) g = got->groups[next++];
      SCOPED_TRACE(Describe(g));
      // COUNT(*), COUNT(DISTINCT patient), COUNT(cost): the counts themselves.
      EXPECT_EQ(row.values[0][0].value, static_cast<double>(g.totals[0]));
      EXPECT_EQ(row.values[1][0].value, static_cast<double>(g.totals[1]));
      EXPECT_EQ(row.values[1][0].value, static_cast<double>(g.units));
      EXPECT_EQ(row.values[2][0].value, static_cast<double>(g.totals[2]));
      // SUM(cost) in [0, 5000]: the fixed-point total times g = 2^(ceil(log2 5000) - 20) = 2^-7, exactly.
      EXPECT_EQ(row.values[3][0].value, std::ldexp(static_cast<double>(g.totals[3]), -7));
      // AVG(age) in [18, 90]: mid + half * clamp(normalised sum / 2^20 / max(1, count), -1, 1).
      const double eu = std::clamp(
          std::ldexp(static_cast<double>(g.totals[5]), -20) / std::max(1.0, static_cast<double>(g.totals[4])),
          -1.0, 1.0);
      EXPECT_DOUBLE_EQ(row.values[4][0].value, 54 + 36 * eu);
      // SUM(urgent) in [0, 1]: g = 2^-20.
      EXPECT_EQ(row.values[5][0].value, std::ldexp(static_cast<double>(g.totals[6]), -20));
    }
    EXPECT_EQ(next, got->groups.size());
  }
}

TEST_F(PushdownTest, WhereBinningPublicGroupsAndGlobalAggregates) {
  Table visits = Load("visits", Visits(), {"int8", "text", "int8", "float8", "bool", "date"});
  // WHERE with most of the subset: comparisons, arithmetic (/ divides doubles), BETWEEN, IN, LIKE, IS NULL.
  absl::StatusOr<ExprPtr> where = ParseExpression(
      "(age / 2 >= 10.5 AND age BETWEEN 18 AND 99) AND (ward IN ('cardiology', 'oncology', 'A&E') OR ward "
      "LIKE "
      "'%\\\"7\\\"' OR ward IS NULL) AND NOT urgent AND day >= DATE '2022-01-01' AND cost * 2 - 1 != 7");
  ASSERT_TRUE(where.ok()) << where.status();
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < visits.num_rows(); ++r) {
    const int64_t age = visits.column(2).GetInt64(r);
    const bool ward_null = visits.column(1).IsNull(r);
    const std::string_view ward = visits.column(1).GetString(r);
    const bool ward_ok = ward_null || ward == "cardiology" || ward == "oncology" || ward == "A&E" ||
                         (ward.size() >= 3 && ward.substr(ward.size() - 3) == "\"7\"");
    const bool cost_ok = !visits.column(3).IsNull(r) && visits.column(3).GetDouble(r) * 2 - 1 != 7;
    const bool day_ok = visits.column(5).GetDate(r).days >= 18993;  // 2022-01-01
    if (age / 2.0 >= 10.5 && age >= 18 && age <= 99 && ward_ok && !visits.column(4).GetBool(r) && day_ok &&
        cost_ok) {
      rows.push_back(r);
    }
  }
  ASSERT_GT(rows.size(), 5'000u);

  // Binned GROUP BY age with public buckets (one bucket listed that no row reaches), and a second key.
  dp::QueryPlan plan = VisitsPlan();
  plan.group_by = {Key("age", {18, 30, 45, 65}), Key("urgent")};
  plan.public_groups = std::vector<std::vector<Value>>{
      {int64_t{1}, false}, {int64_t{2}, false}, {int64_t{4}, false}, {int64_t{0}, true}};
  plan.max_groups_contributed = 2;
  plan.max_rows_per_group = 3;
  absl::StatusOr<std::vector<BoundedSum>> sums = BoundedSumsFor(plan);
  ASSERT_TRUE(sums.ok());
  absl::StatusOr<BoundedAggregates> got =
      RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, where->get(), 99);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameGroups(*got, ReferenceBounding(visits, rows, plan, *sums, 99));
  EXPECT_EQ(got->groups.size(), 3u);  // buckets 1, 2 and 4 (not urgent); no urgent row passes WHERE

  // No GROUP BY: one group, also when no row passes.
  plan.group_by.clear();
  plan.public_groups.reset();
  sums = BoundedSumsFor(plan);
  got = RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, where->get(), 5);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameGroups(*got, ReferenceBounding(visits, rows, plan, *sums, 5));
  absl::StatusOr<ExprPtr> nothing = ParseExpression("age > 1000");
  got = RunPushdown(pg(), PgTableName{"", "visits"}, plan, *sums, nothing->get(), 5);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->groups.size(), 1u);
  EXPECT_EQ(got->groups[0].units, 0);
  EXPECT_EQ(got->groups[0].totals, std::vector<int64_t>(sums->size(), 0));
}

TEST_F(PushdownTest, HostileNamesAndValuesStayData) {
  MustExecute("CREATE TEMP TABLE sentinel (x int)");
  const std::string table_name = "t\"; DROP TABLE sentinel; --";
  Schema schema = *Schema::Make({{"u\"; DROP TABLE sentinel; --", DataType::kString},
                                 {"g'); DROP TABLE sentinel; --", DataType::kString},
                                 {"v \"x\"", DataType::kDouble}});
  TableBuilder b(schema);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(
        b.AppendRow({absl::StrCat("unit'", i % 40), absl::StrCat("g\"", i % 3, "'; --"), i * 0.5}).ok());
  }
  Table t = Load(table_name, *b.Finish(), {"text", "text", "float8"});
  dp::QueryPlan plan;
  plan.privacy_unit_column = schema.field(0).name;
  plan.group_by = {Key(schema.field(1).name)};
  plan.aggregates = {Agg(dp::AggregateFunction::kCountStar),
                     Agg(dp::AggregateFunction::kSum, schema.field(2).name, dp::Bounds{0, 100})};
  plan.epsilon = 1;
  plan.delta = 1e-5;
  plan.max_rows_per_group = 5;
  absl::StatusOr<ExprPtr> where =
      ParseExpression("`g'); DROP TABLE sentinel; --` != 'x\\'; DROP TABLE sentinel; --'");
  ASSERT_TRUE(where.ok()) << where.status();
  absl::StatusOr<std::vector<BoundedSum>> sums = BoundedSumsFor(plan);
  absl::StatusOr<BoundedAggregates> got =
      RunPushdown(pg(), PgTableName{"", table_name}, plan, *sums, where->get(), 3);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameGroups(*got, ReferenceBounding(t, AllRows(t), plan, *sums, 3));
  EXPECT_EQ(got->groups.size(), 3u);
  EXPECT_TRUE(pg().Query("SELECT count(*) AS n FROM sentinel").ok());
}

TEST_F(PushdownTest, RejectsWhatItCannotPushDown) {
  dp::QueryPlan plan = VisitsPlan();
  plan.aggregates = {Agg(dp::AggregateFunction::kPercentileCont, "age", dp::Bounds{0, 100})};
  EXPECT_EQ(BoundedSumsFor(plan).status().code(), absl::StatusCode::kUnimplemented);
  plan.aggregates = {Agg(dp::AggregateFunction::kSum, "age")};  // automatic bounds
  EXPECT_EQ(BoundedSumsFor(plan).status().code(), absl::StatusCode::kUnimplemented);

  MustExecute(
      "CREATE TEMP TABLE small (patient int8, ward text, age int8, cost float8, urgent bool, day date, u "
      "uuid)");
  plan = VisitsPlan();
  absl::StatusOr<std::vector<BoundedSum>> sums = BoundedSumsFor(plan);
  ASSERT_TRUE(sums.ok());
  const PgTableName small{"", "small"};
  EXPECT_EQ(RunPushdown(pg(), small, plan, *sums, nullptr, uint64_t{1} << 62).status().code(),
            absl::StatusCode::kInvalidArgument);
  plan.privacy_unit_column = "nope";
  absl::Status s = RunPushdown(pg(), small, plan, *sums, nullptr, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("no column \"nope\""));
  plan.privacy_unit_column = "u";
  s = RunPushdown(pg(), small, plan, *sums, nullptr, 1).status();
  EXPECT_THAT(s.message(), HasSubstr("has type uuid"));
  plan.privacy_unit_column = "patient";
  absl::StatusOr<ExprPtr> where = ParseExpression("ward = [1, 2]");
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(RunPushdown(pg(), small, plan, *sums, where->get(), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunPushdown(pg(), PgTableName{"", "nosuchtable"}, plan, *sums, nullptr, 1).status().code(),
            absl::StatusCode::kNotFound);
}

// --- The whole path (RunPushdownQuery: seed, statement, dp::FinishQuery) against dp::RunQuery.

std::string ValueText(const Value& v) { return absl::StrCat(v.index(), ":", table::FormatValue(v)); }

void ExpectSameResult(const dp::QueryResult& got, const dp::QueryResult& want) {
  ASSERT_EQ(got.rows.size(), want.rows.size());
  EXPECT_EQ(got.cost.privacy.total.epsilon, want.cost.privacy.total.epsilon);
  for (size_t r = 0; r < want.rows.size(); ++r) {
    const dp::ResultRow& a = got.rows[r];
    const dp::ResultRow& b = want.rows[r];
    ASSERT_EQ(a.key.size(), b.key.size());
    for (size_t k = 0; k < a.key.size(); ++k)
      EXPECT_EQ(ValueText(a.key[k]), ValueText(b.key[k])) << "row " << r;
    ASSERT_EQ(a.values.size(), b.values.size());
    for (size_t i = 0; i < a.values.size(); ++i) {
      ASSERT_EQ(a.values[i].size(), b.values[i].size());
      for (size_t j = 0; j < a.values[i].size(); ++j) {
        EXPECT_EQ(a.values[i][j].value, b.values[i][j].value) << "row " << r << " aggregate " << i;
        EXPECT_EQ(a.values[i][j].ci_lo, b.values[i][j].ci_lo) << "row " << r << " aggregate " << i;
        EXPECT_EQ(a.values[i][j].ci_hi, b.values[i][j].ci_hi) << "row " << r << " aggregate " << i;
      }
    }
  }
}

// RunPushdownQuery and dp::RunQuery on the table as ReadTable reads it, from two copies of one stream.
void ExpectPushdownEqualsEngine(table::PgConnection& pg, const PgTableName& name, const Table& t,
                                const dp::QueryPlan& plan, uint64_t stream) {
  crypto::testing::DeterministicRandom engine_source(stream), pushdown_source(stream);
  dp::RandomBits engine_bits(engine_source), pushdown_bits(pushdown_source);
  absl::StatusOr<dp::QueryResult> want = dp::RunQuery(t, std::nullopt, plan, engine_bits);
  ASSERT_TRUE(want.ok()) << want.status();
  absl::StatusOr<dp::QueryResult> got = RunPushdownQuery(pg, name, plan, nullptr, pushdown_bits);
  ASSERT_TRUE(got.ok()) << got.status();
  SCOPED_TRACE(absl::StrCat("stream ", stream));
  ExpectSameResult(*got, *want);
}

TEST_F(PushdownTest, PushdownQueryEqualsRunQueryWithPrivateSelection) {
  // Realistic epsilon, private partition selection and VARIANCE: the released groups, every noisy value and
  // every interval equal RunQuery's bit for bit, because both draw the same stream in the same order.
  Table visits = Load("visits", Visits(), {"int4", "varchar(40)", "int2", "numeric", "bool", "date"});
  dp::QueryPlan plan = VisitsPlan();
  int released = 0;
  for (uint64_t stream : {7, 8, 9}) {
    ExpectPushdownEqualsEngine(pg(), PgTableName{"", "visits"}, visits, plan, stream);
    crypto::testing::DeterministicRandom source(stream);
    dp::RandomBits bits(source);
    released += static_cast<int>(dp::RunQuery(visits, std::nullopt, plan, bits)->rows.size());
  }
  EXPECT_GT(released, 6);  // most wards pass selection: the comparison is not vacuous
}

TEST_F(PushdownTest, EdgeCasesEqualTheInMemoryEngine) {
  // Double units and keys holding 0.0, -0.0, NaN and NULL (the engine makes -0 and 0 one unit / group with
  // the canonical text "0.0", every NaN one with "nan"); a value column with NULL and NaN in the same
  // groups (both missing: same row hash, not counted); dates and timestamps before year 1 (astronomical
  // years in the engine's texts); timestamps as keys and as hashed values (exact from PostgreSQL 14).
  MustExecute("CREATE TEMP TABLE edge (u float8, k float8, x float8, d date, ts timestamp, tz timestamptz)");
  MustExecute(
      "INSERT INTO edge SELECT "
      "CASE i % 7 WHEN 0 THEN -(0.0::float8) WHEN 1 THEN 0.0::float8 WHEN 2 THEN 'NaN'::float8 "
      "  ELSE (i % 40)::float8 / 4 END, "
      "CASE i % 5 WHEN 0 THEN -(0.0::float8) WHEN 1 THEN 0.0::float8 WHEN 2 THEN 'NaN'::float8 "
      "  WHEN 3 THEN NULL ELSE 1.5::float8 END, "
      "CASE i % 6 WHEN 0 THEN NULL WHEN 1 THEN 'NaN'::float8 WHEN 2 THEN -(0.0::float8) ELSE (i % "
      "13)::float8 END, "
      "DATE '0002-03-01' - (i % 5) * 250, "
      "TIMESTAMP '0001-06-01 12:00:00.5' - (i % 4) * INTERVAL '200 days 1 hour', "
      "TIMESTAMPTZ '1969-12-31 23:59:59.25+00' + (i % 3) * INTERVAL '1 day 7 minutes' "
      "FROM generate_series(0, 2999) AS i");
  absl::StatusOr<Table> t = pg().ReadTable(PgTableName{"", "edge"});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_rows(), 3000);
  if (pg().server_version() < 140000) GTEST_SKIP() << "timestamps are exact from PostgreSQL 14";
  const PgTableName edge{"", "edge"};

  dp::QueryPlan plan;
  plan.privacy_unit_column = "u";
  plan.aggregates = {Agg(dp::AggregateFunction::kCountStar), Agg(dp::AggregateFunction::kCount, "x"),
                     Agg(dp::AggregateFunction::kSum, "x", dp::Bounds{-1, 12}),
                     Agg(dp::AggregateFunction::kAvg, "x", dp::Bounds{0, 12}),
                     Agg(dp::AggregateFunction::kCountDistinctUnits)};
  plan.epsilon = 2;
  plan.delta = 1e-3;
  plan.max_groups_contributed = 2;
  plan.max_rows_per_group = 3;
  for (const char* key : {"k", "d", "ts", "tz"}) {
    SCOPED_TRACE(key);
    plan.group_by = {Key(key)};
    for (uint64_t stream : {1, 2}) ExpectPushdownEqualsEngine(pg(), edge, *t, plan, stream);
  }
  // Public keys: -0.0 rows match the listed 0.0, NaN rows the listed NaN, NULL the listed NULL.
  plan.group_by = {Key("k")};
  plan.public_groups = std::vector<std::vector<Value>>{
      {0.0}, {std::numeric_limits<double>::quiet_NaN()}, {std::monostate()}, {7.0}};
  for (uint64_t stream : {3, 4}) ExpectPushdownEqualsEngine(pg(), edge, *t, plan, stream);
  // Dates, timestamps and doubles as the privacy unit, and timestamps as hashed values (the row hash).
  plan.public_groups.reset();
  plan.aggregates.push_back(Agg(dp::AggregateFunction::kCount, "ts"));
  for (const char* unit : {"d", "ts", "tz", "x"}) {
    SCOPED_TRACE(unit);
    plan.privacy_unit_column = unit;
    for (uint64_t stream : {5, 6}) ExpectPushdownEqualsEngine(pg(), edge, *t, plan, stream);
  }
}

}  // namespace
}  // namespace veil::sql
