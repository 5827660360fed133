// csv_bench: how fast veil::table reads CSV, against sqlite3's `.import` of the same file.
//
// Generates a 1,000,000-row, 12-column CSV of mixed types (about 100 MB) in a temporary directory, then
// measures in the same run:
//   (a) ReadCsv on one thread, in MB/s (MB = 10^6 bytes of file);
//   (b) ReadCsv on two threads;
//   (c) the sqlite3 command-line shell importing the file into an in-memory table:
//         sqlite3 :memory: -cmd '.mode csv' '.import FILE t'
// and prints the medians (5 runs of Veil, 3 of sqlite3), the targets of issue 2 (>= 150 MB/s on one core,
// >= 10x faster than sqlite3's import), the ratios, and PASS or FAIL for each.
//
// Usage: csv_bench [--rows N] [--veil-runs N] [--sqlite-runs N] [--keep] [--file CSV]
//   --keep leaves the generated file in place (its path is printed), e.g. for profiling;
//   --file measures an existing file instead (--rows must then be its number of records).
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "veil/crypto/random.h"
#include "veil/table/csv_reader.h"

namespace {

using veil::bench::AppendPadded;
using veil::bench::Clock;
using veil::bench::DataRandom;
using veil::bench::Join;
using veil::bench::Median;
using veil::bench::Run;

struct Flags {
  int64_t rows = 1'000'000;
  int veil_runs = 5;
  int sqlite_runs = 3;
  bool keep = false;
  std::string file;  // an existing CSV to read instead of generating one
};

// One row of the 12 columns: id, age, income, score, first_name, last_name, city, email, birth_date,
// created_at, active, notes. Nulls ("" and "?"), quoted fields with commas and doubled quotes included.
void AppendRow(int64_t id, DataRandom& rng, std::string* out) {
  static const char* kFirst[] = {"Alice", "Bob",   "Chloé", "David", "Emma",  "Farid", "Grace", "Hiro",
                                 "Ines",  "Jonas", "Kofi",  "Lena",  "Mateo", "Nora",  "Omar",  "Priya"};
  static const char* kLast[] = {"Smith",  "Nguyen", "García", "Müller",    "Rossi",   "Kowalski",
                                "Okafor", "Tanaka", "Dubois", "Johansson", "O'Brien", "Silva"};
  static const char* kCity[] = {
      "Paris",          "\"Portland, OR\"", "Berlin", "\"Lagos, Nigeria\"", "Osaka", "Lima", "Toronto",
      "\"Austin, TX\"", "Nairobi",          "Madrid"};
  static const char* kNotes[] = {
      "", "?", "ok", "\"said \"\"call me later\"\"\"", "follow-up", "VIP", "\"late, twice\"", "none"};
  absl::StrAppend(out, id, ",");
  if (rng.Below(50) == 0) {
    out->append("?,");
  } else {
    absl::StrAppend(out, 18 + rng.Below(73), ",");
  }
  absl::StrAppend(out, rng.Below(200000), ".", rng.Below(90) + 10, ",");
  absl::StrAppend(out, "0.", rng.Below(9000) + 1000, ",");
  absl::StrAppend(out, kFirst[rng.Below(16)], ",", kLast[rng.Below(12)], ",", kCity[rng.Below(10)], ",");
  absl::StrAppend(out, "u", rng.Below(1'000'000), "@ex.org,");
  out->append("19");
  AppendPadded(out, 40 + rng.Below(60), 2);
  out->push_back('-');
  AppendPadded(out, 1 + rng.Below(12), 2);
  out->push_back('-');
  AppendPadded(out, 1 + rng.Below(28), 2);
  out->append(",2023-");
  AppendPadded(out, 1 + rng.Below(12), 2);
  out->push_back('-');
  AppendPadded(out, 1 + rng.Below(28), 2);
  out->push_back('T');
  AppendPadded(out, rng.Below(24), 2);
  out->push_back(':');
  AppendPadded(out, rng.Below(60), 2);
  out->push_back(':');
  AppendPadded(out, rng.Below(60), 2);
  out->append("Z,");
  out->append(rng.Below(2) ? "true," : "false,");
  out->append(kNotes[rng.Below(8)]);
  out->push_back('\n');
}

std::string GenerateFile(const std::string& path, int64_t rows) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::StrCat("cannot create ", path, ": ", std::strerror(errno));
  DataRandom rng(2024);
  std::string buf =
      "id,age,income,score,first_name,last_name,city,email,birth_date,created_at,active,notes\n";
  for (int64_t id = 1; id <= rows; ++id) {
    AppendRow(id, rng, &buf);
    if (buf.size() > (1 << 20) || id == rows) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        std::fclose(f);
        return absl::StrCat("write to ", path, " failed");
      }
      buf.clear();
    }
  }
  if (std::fclose(f) != 0) return absl::StrCat("closing ", path, " failed");
  return "";
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> int64_t { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (a == "--rows") {
      flags->rows = value();
    } else if (a == "--veil-runs") {
      flags->veil_runs = static_cast<int>(value());
    } else if (a == "--sqlite-runs") {
      flags->sqlite_runs = static_cast<int>(value());
    } else if (a == "--keep") {
      flags->keep = true;
    } else if (a == "--file" && i + 1 < argc) {
      flags->file = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: csv_bench [--rows N] [--veil-runs N] [--sqlite-runs N] [--keep] [--file CSV]\n");
      return false;
    }
  }
  return flags->rows > 0 && flags->veil_runs > 0 && flags->sqlite_runs >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  const std::string dir = veil::bench::MakeTempDir("veil_csv_bench");
  if (dir.empty()) return 1;
  const std::string path = flags.file.empty() ? dir + "/mixed.csv" : flags.file;
  if (flags.file.empty()) {
    std::printf("csv_bench: generating %lld rows x 12 columns in %s ...\n",
                static_cast<long long>(flags.rows), path.c_str());
    if (std::string error = GenerateFile(path, flags.rows); !error.empty()) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
  }
  const double megabytes = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  std::printf("file: %.1f MB (1 MB = 10^6 bytes)\n", megabytes);
  veil::bench::PrintMachine();
  std::printf("\n");

  veil::base::Env& env = veil::crypto::DefaultEnv();
  int failures = 0;
  const auto time_veil = [&](int threads) -> std::vector<double> {
    std::vector<double> seconds;
    for (int run = 0; run < flags.veil_runs; ++run) {
      veil::table::CsvReadOptions options;
      options.num_threads = threads;
      const Clock::time_point start = Clock::now();
      absl::StatusOr<veil::table::Table> table = veil::table::ReadCsv(env, path, options);
      const double s = std::chrono::duration<double>(Clock::now() - start).count();
      if (!table.ok() || table->num_rows() != flags.rows ||
          (flags.file.empty() && table->num_columns() != 12)) {
        std::fprintf(stderr, "ReadCsv failed: %s\n",
                     table.ok() ? absl::StrCat("got ", table->num_rows(), " rows").c_str()
                                : table.status().ToString().c_str());
        ++failures;
        return {};
      }
      if (run == 0 && threads == 1) {
        std::printf("schema: %s\n\n", table->schema().ToString().c_str());
      }
      seconds.push_back(s);
    }
    return seconds;
  };

  const std::vector<double> one = time_veil(1);
  const std::vector<double> two = time_veil(2);
  if (one.empty() || two.empty()) return 1;
  const double one_s = Median(one), two_s = Median(two);
  std::printf("(a) veil ReadCsv, 1 thread : median %.3f s = %6.1f MB/s   (runs: %s)\n", one_s,
              megabytes / one_s, Join(one).c_str());
  std::printf("(b) veil ReadCsv, 2 threads: median %.3f s = %6.1f MB/s   (runs: %s)\n", two_s,
              megabytes / two_s, Join(two).c_str());

  double sqlite_s = 0;
  if (flags.sqlite_runs > 0) {
    const std::vector<std::string> import = {"sqlite3", ":memory:", "-cmd", ".mode csv",
                                             ".import " + path + " t"};
    // Once, untimed: check that sqlite3 exists and reads every row.
    const std::string count_file = dir + "/count.txt";
    const int rc = Run({"sqlite3", ":memory:", "-cmd", ".mode csv", "-cmd", ".import " + path + " t", "-cmd",
                        ".output " + count_file, "SELECT count(*) FROM t;"});
    const std::string count = veil::bench::FirstLine(count_file);
    if (rc != 0) {
      std::printf("(c) sqlite3 .import: could not run sqlite3 (install the Debian package sqlite3)\n");
      ++failures;
    } else {
      std::vector<double> seconds;
      for (int run = 0; run < flags.sqlite_runs; ++run) {
        const Clock::time_point start = Clock::now();
        if (Run(import) != 0) {
          std::printf("(c) sqlite3 .import failed\n");
          ++failures;
          break;
        }
        seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      }
      if (!seconds.empty()) {
        sqlite_s = Median(seconds);
        std::printf(
            "(c) sqlite3 .import        : median %.3f s = %6.1f MB/s   (runs: %s; rows imported: %s)\n",
            sqlite_s, megabytes / sqlite_s, Join(seconds).c_str(), count.c_str());
      }
    }
  }

  const double one_core_mbs = megabytes / one_s;
  const double best_s = std::min(one_s, two_s);
  std::printf("\nspeed-up of 2 threads over 1: %.2fx\n", one_s / two_s);
  std::printf("\ntarget 1: >= 150 MB/s on one core        measured %6.1f MB/s          %s\n", one_core_mbs,
              one_core_mbs >= 150 ? "PASS" : "FAIL");
  failures += one_core_mbs >= 150 ? 0 : 1;
  if (sqlite_s > 0) {
    const double ratio_one = sqlite_s / one_s, ratio_best = sqlite_s / best_s;
    std::printf(
        "target 2: >= 10x faster than sqlite3     measured %5.2fx (1 thread), %5.2fx (2 threads)  %s\n",
        ratio_one, ratio_best, ratio_best >= 10 ? "PASS" : "FAIL");
    failures += ratio_best >= 10 ? 0 : 1;
  }
  std::printf("\noverall: %s\n", failures == 0 ? "PASS" : "FAIL");

  if (flags.keep) {
    std::printf("kept %s\n", path.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
