// PostgreSQL push-down of a DP GROUP BY (sql::RunPushdownQuery: WHERE, contribution bounding and the
// per-group sums in PostgreSQL, noise in Veil) against its baseline, reading the table with
// PgConnection::ReadTable and running the in-memory engine (dp::RunQuery), the path `veil query` takes for
// what it cannot push down. Both give the same answer under the same random stream (checked here on every
// run). Measured in the same run; median of 5 runs each.
//
// Needs a server: VEIL_PG_TEST_CONNINFO, e.g.
//   scripts/pg-test-server.sh run /tmp/veil-pg-bench build/release/bench/pg_pushdown_bench [ROWS]
// The table (ROWS rows, default 1,000,000; ROWS / 10 people; 1,000 keys) is created as a TEMP table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/dp_bench_util.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/aggregation.h"
#include "veil/dp/random_bits.h"
#include "veil/sql/pushdown.h"
#include "veil/table/postgres_source.h"

namespace {

using Clock = std::chrono::steady_clock;
using veil::bench::Median;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "pg_pushdown_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace veil;
  const char* conninfo = std::getenv("VEIL_PG_TEST_CONNINFO");
  if (conninfo == nullptr) {
    return Fail(
        "VEIL_PG_TEST_CONNINFO is not set; run under scripts/pg-test-server.sh run /tmp/veil-pg-bench "
        "<this program>");
  }
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  absl::StatusOr<table::PgConnection> pg = table::PgConnection::Connect(conninfo);
  if (!pg.ok()) return Fail(pg.status().ToString());
  // People have 10 visits on average over up to 8 of 1,000 wards (L0 = 4 and Linf = 2 bound for real).
  const std::string create = absl::StrCat(
      "CREATE TEMP TABLE visits AS SELECT (i / 10)::int8 AS patient, 'ward' || (((i / 10) * 7 + (i % 8)) % "
      "1000) AS ward, ((i * 2654435761) % 100000) / 100.0::float8 AS cost FROM generate_series(0, ",
      rows - 1, ") AS i");
  if (absl::Status s = pg->Execute(create).status(); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = pg->Execute("ANALYZE visits").status(); !s.ok()) return Fail(s.ToString());

  const dp::QueryPlan plan = bench::CountSumGroupByPlan("patient", "ward", "cost");
  const table::PgTableName name{"", "visits"};

  std::vector<double> push_s, read_s, engine_s;
  for (int run = 0; run < 5; ++run) {
    crypto::testing::DeterministicRandom a(run + 1), b(run + 1);
    dp::RandomBits bits_a(a), bits_b(b);
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<dp::QueryResult> pushed = sql::RunPushdownQuery(*pg, name, plan, nullptr, bits_a);
    const Clock::time_point t1 = Clock::now();
    if (!pushed.ok()) return Fail(pushed.status().ToString());
    table::PgReadOptions read;
    read.columns = {"patient", "ward", "cost"};
    absl::StatusOr<table::Table> t = pg->ReadTable(name, read);
    const Clock::time_point t2 = Clock::now();
    if (!t.ok()) return Fail(t.status().ToString());
    absl::StatusOr<dp::QueryResult> memory = dp::RunQuery(*t, std::nullopt, plan, bits_b);
    const Clock::time_point t3 = Clock::now();
    if (!memory.ok()) return Fail(memory.status().ToString());
    if (pushed->rows.size() != memory->rows.size()) return Fail("the two paths released different groups");
    for (size_t r = 0; r < pushed->rows.size(); ++r) {
      for (size_t i = 0; i < plan.aggregates.size(); ++i) {
        if (pushed->rows[r].values[i][0].value != memory->rows[r].values[i][0].value)
          return Fail("the two paths gave different answers");
      }
    }
    push_s.push_back(Seconds(t0, t1));
    read_s.push_back(Seconds(t1, t2));
    engine_s.push_back(Seconds(t2, t3));
    std::printf(
        "run %d: push-down %.3f s; ReadTable %.3f s + in-memory engine %.3f s (%zu groups released)\n",
        run + 1, push_s.back(), read_s.back(), engine_s.back(), pushed->rows.size());
  }
  const double push = Median(push_s), baseline = Median(read_s) + Median(engine_s);
  std::printf(
      "\n%lld rows, %lld people, 1,000 keys; COUNT(*) and SUM(cost) in [0, 1000], L0 4, Linf 2, private "
      "partition selection; PostgreSQL %d on the same machine (unix socket)\n",
      static_cast<long long>(rows), static_cast<long long>(rows / 10), pg->server_version());
  std::printf("push-down (median of 5):                      %.3f s\n", push);
  std::printf("ReadTable + in-memory engine (medians):        %.3f s (read %.3f s, engine %.3f s)\n",
              baseline, Median(read_s), Median(engine_s));
  std::printf("push-down / (ReadTable + in-memory):           %.2fx\n", push / baseline);
  return 0;
}
