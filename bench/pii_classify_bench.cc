// Table classification (pii::ClassifyTable) throughput on one core, against the issue-5 target of 1,000,000
// cells/s, over a generated table of realistic columns (ids, names, e-mails, phones, dates, sex, ZIP codes,
// cities, IP addresses, card-like numbers, free-text notes, amounts).
//
// What the figures measure, honestly:
//   - "sampled" (the default, sample_size 100): what `veil pii classify` does. The classifier examines at
//   most
//     100 values per column, so its cost barely depends on the row count; cells/s is the table's cell count
//     divided by the classification time, and the output says how many cells were actually examined.
//   - "every cell" (sample_size = rows, on the first 10,000 rows): every cell goes through the classifier,
//     each distinct string through the analyzer once (string columns are dictionary-encoded). This is the
//     per-cell analysis rate.
//   - baseline: one trivial pass over the same cells (string lengths and integer values summed): the floor of
//     touching every cell, measured in the same run.
// Each figure is the median of several runs; the individual runs are printed too.
//
//   build/<dir>/bench/pii_classify_bench [ROWS]   (default 100,000 rows x 12 columns = 1.2M cells)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/classifier.h"
#include "veil/table/csv_reader.h"

namespace veil::bench {
namespace {

// Names and places typed for this benchmark (not from any generator's list).
constexpr const char* kFirst[] = {"Maria", "John",  "Ilona", "Jurgen", "Aiko",
                                  "Pekka", "Sofia", "Omar",  "Nora",   "Liam"};
constexpr const char* kLast[] = {"Kovacs", "Smith",  "Virtanen", "Schneider", "Tanaka",
                                 "Rossi",  "Haddad", "Costa",    "Mensah",    "Jensen"};
constexpr const char* kCity[] = {"Helsinki", "Berlin", "Paris", "Springfield",
                                 "Budapest", "Osaka",  "Leeds", "Austin"};
constexpr const char* kNotes[] = {
    "no remarks", "follow-up in 3 weeks",  "called back, all fine", "prefers e-mail contact",
    "",           "allergic to penicillin"};

std::string MakeCsv(int64_t rows) {
  DataRandom rng(20261206);
  auto pick = [&rng](const auto& a) { return a[rng.Next() % (sizeof(a) / sizeof(a[0]))]; };
  std::string csv = "customer_id,first_name,last_name,email,phone,birth_date,sex,zip,city,ip,notes,amount\n";
  csv.reserve(static_cast<size_t>(rows) * 160);
  for (int64_t r = 0; r < rows; ++r) {
    const char* first = pick(kFirst);
    const char* last = pick(kLast);
    std::string card;
    absl::StrAppend(
        &csv, "C", r, ",", first, ",", last, ",", first, ".", last, r % 1000, "@example.org,",
        absl::StrFormat("+44 20 7%03d %04d", rng.Next() % 1000, rng.Next() % 10000), ",",
        absl::StrFormat("%d-%02d-%02d", 1940 + rng.Next() % 65, 1 + rng.Next() % 12, 1 + rng.Next() % 28),
        ",", rng.Next() % 2 ? "F" : "M", ",", absl::StrFormat("%05d", rng.Next() % 100000), ",", pick(kCity),
        ",",
        absl::StrFormat("%d.%d.%d.%d", 11 + rng.Next() % 200, rng.Next() % 256, rng.Next() % 256,
                        1 + rng.Next() % 254),
        ",");
    // One note in ten names the physician.
    if (rng.Next() % 10 == 0) {
      absl::StrAppend(&csv, "\"Seen by Dr. ", pick(kLast), ", ", pick(kNotes), "\"");
    } else {
      absl::StrAppend(&csv, "\"", pick(kNotes), "\"");
    }
    absl::StrAppend(&csv, ",", rng.Next() % 100000, ".", rng.Next() % 100, "\n");
  }
  return csv;
}

// The baseline: touch every cell once (string length, integer or double value).
double TouchEveryCell(const table::Table& t) {
  double acc = 0;
  for (int c = 0; c < t.num_columns(); ++c) {
    const table::Column& col = t.column(c);
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (col.IsNull(r)) continue;
      switch (col.type()) {
        case table::DataType::kString:
          acc += static_cast<double>(col.GetString(r).size());
          break;
        case table::DataType::kDouble:
          acc += col.GetDouble(r);
          break;
        case table::DataType::kBool:
          acc += col.GetBool(r) ? 1 : 0;
          break;
        case table::DataType::kDate:
          acc += col.GetDate(r).days;
          break;
        case table::DataType::kTimestamp:
          acc += static_cast<double>(col.GetTimestamp(r).micros);
          break;
        case table::DataType::kInt64:
          acc += static_cast<double>(col.GetInt64(r));
      }
    }
  }
  return acc;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) {
  using namespace veil;
  using namespace veil::bench;
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 100000;
  PrintMachine();
  const std::string csv = MakeCsv(rows);
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  if (!t.ok()) {
    std::fprintf(stderr, "reading the generated table: %s\n", std::string(t.status().message()).c_str());
    return 1;
  }
  const int64_t cells = t->num_rows() * t->num_columns();
  absl::StatusOr<std::unique_ptr<pii::Analyzer>> analyzer = pii::Analyzer::Create({});
  if (!analyzer.ok()) {
    std::fprintf(stderr, "pii::Analyzer::Create: %s\n", std::string(analyzer.status().message()).c_str());
    return 1;
  }
  std::printf("table: %s rows x %d columns = %s cells (%.1f MB of CSV), one thread\n\n",
              absl::StrCat(t->num_rows()).c_str(), t->num_columns(), absl::StrCat(cells).c_str(),
              static_cast<double>(csv.size()) / 1e6);

  // Baseline.
  std::vector<double> base_s;
  double sink = 0;
  for (int i = 0; i < 7; ++i) {
    const Clock::time_point start = Clock::now();
    sink += TouchEveryCell(*t);
    base_s.push_back(SecondsSince(start));
  }
  const double base = Median(base_s);

  auto run = [&](const table::Table& table, int64_t sample, int repeats, int64_t* examined) {
    std::vector<double> s;
    pii::ClassifyOptions options;
    options.sample_size = sample;
    for (int i = 0; i < repeats; ++i) {
      const Clock::time_point start = Clock::now();
      absl::StatusOr<std::vector<pii::ColumnClassification>> cs =
          pii::ClassifyTable(table, **analyzer, options);
      s.push_back(SecondsSince(start));
      if (!cs.ok()) {
        std::fprintf(stderr, "ClassifyTable: %s\n", std::string(cs.status().message()).c_str());
        std::exit(1);
      }
      *examined = 0;
      for (const pii::ColumnClassification& c : *cs) *examined += c.sampled;
      sink += static_cast<double>(cs->size());
    }
    return s;
  };
  // Every cell through the analyzer takes long: it runs on the first kFullRows rows only.
  constexpr int64_t kFullRows = 10000;
  std::vector<int64_t> first;
  for (int64_t r = 0; r < std::min(rows, kFullRows); ++r) first.push_back(r);
  absl::StatusOr<table::Table> slice = t->Take(first);
  if (!slice.ok()) return 1;
  const int64_t slice_cells = slice->num_rows() * slice->num_columns();

  int64_t sampled_examined = 0, full_examined = 0;
  const std::vector<double> sampled_s = run(*t, 100, 9, &sampled_examined);
  const std::vector<double> full_s = run(*slice, slice->num_rows(), 3, &full_examined);
  const double sampled = Median(sampled_s), full = Median(full_s);
  const double base_rate = cells / base;

  std::printf("%-38s %10s %14s %14s %12s\n", "pass", "median s", "table cells/s", "examined/s",
              "rate / base");
  std::printf("%-38s %10.6f %14.0f %14.0f %12s\n", "baseline: touch every cell (1.2M)", base, base_rate,
              base_rate, "1");
  std::printf("%-38s %10.6f %14.0f %14.0f %12.4f\n", "classify, sample 100 (default; 1.2M)", sampled,
              cells / sampled, sampled_examined / sampled, cells / sampled / base_rate);
  std::printf("%-38s %10.6f %14.0f %14.0f %12.4f\n",
              absl::StrCat("classify, every cell (first ", slice->num_rows(), " rows)").c_str(), full,
              slice_cells / full, full_examined / full, slice_cells / full / base_rate);
  std::printf("\ncells examined: %s of %s (sample 100); %s of %s (every cell, nulls not counted)\n",
              absl::StrCat(sampled_examined).c_str(), absl::StrCat(cells).c_str(),
              absl::StrCat(full_examined).c_str(), absl::StrCat(slice_cells).c_str());
  std::printf("runs (s): baseline %s | sample 100 %s | every cell %s\n", Join(base_s, 6).c_str(),
              Join(sampled_s, 6).c_str(), Join(full_s, 3).c_str());
  std::printf("target >= 1,000,000 table cells/s with the default sampling: %s (%.2fx the target)\n",
              cells / sampled >= 1e6 ? "met" : "NOT met", cells / sampled / 1e6);
  std::printf("every cell analyzed: %.0f cells/s (%.3fx the target); each distinct string analyzed once\n",
              slice_cells / full, slice_cells / full / 1e6);
  std::printf("(checksum %g)\n", sink);
  return 0;
}
