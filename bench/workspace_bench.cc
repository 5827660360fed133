// workspace_bench: how fast a CSV file goes into the encrypted vault, as `veil ingest` does it, against the
// sqlite3 shell's `.import` of the same file into a fresh database file.
//
// The issue's figure: "Ingest of a generated 1,000,000-row table with 100,000 subjects into the vault: at
// least 50 MB/s of CSV." The program generates that table (about 113 MB; fixed seed) in a temporary
// directory: a subject id such as S0001234 (about 10 rows per subject, subjects interleaved in random order),
// name, email, birth date and zip (the same on all of a subject's rows), then a visit timestamp, a diagnosis
// (one of 30), an amount (double), a bool and a short free-text note (often empty, sometimes quoted).
//
// Each run measures the whole user path of tools/veil/workspace_commands.cc RunIngest into a fresh
// workspace (made by Session::Init, untimed, as `veil init` is a separate command): read the file, parse it
// (table::ReadCsvFromString with the CLI's default options, so one parsing thread per core), SHA-256 of
// the file, gov::Session::Open, gov::Session::Ingest (gate, per-subject keys, sealing, the vault file and
// the catalog, all synced to disk, and the audit entry), closing the session. It prints the median of the
// end-to-end time in MB/s of CSV (MB = 10^6 bytes) and the median of each step of the same runs; then reads
// the dataset back (store::Workspace::Read, and gov::Session::Export, which also writes the CSV and audits)
// and times sqlite3 `.import` of the same file into a fresh database file (all columns TEXT, one
// transaction, the shell's default durability) in the same run.
//
// Last, unless --no-stages, it repeats the steps of Session::Ingest one by one through the public API of
// veil::store (grouping, pseudonyms, KeyStore::GetOrCreateKeys, EncodeSubjectRows, SealRecord, the vault
// file) on a scratch key store, so that a reader sees where the time of an ingest goes; what remains of
// Session::Ingest (the catalog commit, the gate, the audit entry) is printed as the rest. Apart from the
// grouping (a copy of Workspace's counting sort), each step times a public call, so the estimate follows the
// code it measures; the end-to-end figure is the measurement.
//
// Usage: workspace_bench [--rows N] [--subjects N] [--runs N] [--sqlite-runs N] [--stage-runs N]
//                        [--no-stages] [--keep] [--dir DIR]
//   --dir puts the temporary directory under DIR (default $TMPDIR or /tmp); it should be on the disk whose
//   durability is being measured, not tmpfs. --keep leaves the CSV file and the last workspace in place.
// Exit status: 0 if the target is met, 1 if not or on an error, 2 for bad flags.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "veil/base/bytes.h"
#include "veil/base/env.h"
#include "veil/base/hex.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/session.h"
#include "veil/store/key_store.h"
#include "veil/store/sqlite.h"
#include "veil/store/vault_file.h"
#include "veil/store/workspace.h"
#include "veil/table/csv_reader.h"
#include "veil/table/table.h"

namespace veil::bench {
namespace {

constexpr double kTargetMBps = 50;  // the issue's figure
constexpr char kDataset[] = "patients";
constexpr char kSubjectColumn[] = "subject_id";
constexpr char kPurpose[] = "research";
constexpr char kActor[] = "bench";

struct Flags {
  int64_t rows = 1'000'000;
  int64_t subjects = 100'000;
  int runs = 5;
  int sqlite_runs = 3;
  int stage_runs = 3;
  bool keep = false;
  std::string dir;  // parent of the temporary directory
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> int64_t { return i + 1 < argc ? std::atoll(argv[++i]) : -1; };
    if (a == "--rows") {
      flags->rows = value();
    } else if (a == "--subjects") {
      flags->subjects = value();
    } else if (a == "--runs") {
      flags->runs = static_cast<int>(value());
    } else if (a == "--sqlite-runs") {
      flags->sqlite_runs = static_cast<int>(value());
    } else if (a == "--stage-runs") {
      flags->stage_runs = static_cast<int>(value());
    } else if (a == "--no-stages") {
      flags->stage_runs = 0;
    } else if (a == "--keep") {
      flags->keep = true;
    } else if (a == "--dir" && i + 1 < argc) {
      flags->dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: workspace_bench [--rows N] [--subjects N] [--runs N] [--sqlite-runs N] "
                   "[--stage-runs N] [--no-stages] [--keep] [--dir DIR]\n");
      return false;
    }
  }
  if (flags->subjects <= 0 || flags->subjects > flags->rows || flags->subjects > 10'000'000) {
    std::fprintf(stderr, "--subjects must be in [1, min(--rows, 10^7)]\n");
    return false;
  }
  return flags->runs > 0 && flags->sqlite_runs >= 0 && flags->stage_runs >= 0;
}

// A benchmark stops at the first error: there is no figure to report after one.
void Check(const absl::Status& status, std::string_view what) {
  if (status.ok()) return;
  std::fprintf(stderr, "workspace_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::exit(1);
}
template <typename T>
T Must(absl::StatusOr<T> value, std::string_view what) {
  Check(value.status(), what);
  return *std::move(value);
}

// ---- The generated table.

struct Name {
  const char* display;  // as written in the name column (UTF-8)
  const char* ascii;    // as used in email addresses
};
constexpr Name kFirst[] = {{"Alice", "alice"}, {"Bob", "bob"},     {"Chloé", "chloe"}, {"David", "david"},
                           {"Emma", "emma"},   {"Farid", "farid"}, {"Grace", "grace"}, {"Hiro", "hiro"},
                           {"Inès", "ines"},   {"Jonas", "jonas"}, {"Kofi", "kofi"},   {"Lena", "lena"},
                           {"Mateo", "mateo"}, {"Nora", "nora"},   {"Omar", "omar"},   {"Priya", "priya"}};
constexpr Name kLast[] = {{"Smith", "smith"},   {"Nguyen", "nguyen"}, {"García", "garcia"},
                          {"Müller", "muller"}, {"Rossi", "rossi"},   {"Kowalski", "kowalski"},
                          {"Okafor", "okafor"}, {"Tanaka", "tanaka"}, {"Dubois", "dubois"},
                          {"Berg", "berg"},     {"Silva", "silva"},   {"Haddad", "haddad"}};
constexpr const char* kDomains[] = {"example.org", "mail.test", "ex.net", "inbox.test"};
constexpr const char* kDiagnoses[] = {
    "hypertension", "diabetes_t2", "asthma",    "copd",        "migraine",   "depression", "anxiety",
    "arthritis",    "back_pain",   "influenza", "covid19",     "bronchitis", "eczema",     "psoriasis",
    "gerd",         "ibs",         "anemia",    "hypothyroid", "obesity",    "insomnia",   "otitis",
    "sinusitis",    "uti",         "fracture",  "sprain",      "concussion", "dermatitis", "hyperlipidemia",
    "allergy",      "checkup"};
constexpr const char* kNotes[] = {"",
                                  "",
                                  "",
                                  "",
                                  "follow-up",
                                  "referred",
                                  "no-show",
                                  "\"called, no answer\"",
                                  "fasting",
                                  "\"said \"\"later\"\"\"",
                                  "lab ordered",
                                  "stable"};

// The subject id of subject s: "S" and 7 digits. s -> s * 7919 mod 10^7 is one-to-one (7919 is prime to 10),
// so the ids are distinct and scattered rather than 1, 2, 3.
void AppendSubjectId(int64_t s, std::string* out) {
  out->push_back('S');
  AppendPadded(out, static_cast<uint64_t>(s) * 7919 % 10'000'000, 7);
}

void AppendRow(int64_t subject, DataRandom& rng, std::string* out) {
  // What belongs to the subject comes from a generator seeded by the subject, so it is the same on every row.
  DataRandom person(0x5EEDULL * 1'000'003 + static_cast<uint64_t>(subject));
  const Name& first = kFirst[person.Below(std::size(kFirst))];
  const Name& last = kLast[person.Below(std::size(kLast))];
  const uint64_t year = 1940 + person.Below(66), month = 1 + person.Below(12), day = 1 + person.Below(28);
  AppendSubjectId(subject, out);
  absl::StrAppend(out, ",", first.display, " ", last.display, ",", first.ascii, ".", last.ascii, year % 100,
                  "@", kDomains[person.Below(std::size(kDomains))], ",", year, "-");
  AppendPadded(out, month, 2);
  out->push_back('-');
  AppendPadded(out, day, 2);
  absl::StrAppend(out, ",", 10000 + person.Below(90000), ",", 2023 + rng.Below(2), "-");
  AppendPadded(out, 1 + rng.Below(12), 2);
  out->push_back('-');
  AppendPadded(out, 1 + rng.Below(28), 2);
  out->push_back('T');
  AppendPadded(out, rng.Below(24), 2);
  out->push_back(':');
  AppendPadded(out, rng.Below(60), 2);
  out->push_back(':');
  AppendPadded(out, rng.Below(60), 2);
  absl::StrAppend(out, "Z,", kDiagnoses[rng.Below(std::size(kDiagnoses))], ",", rng.Below(2000), ".");
  AppendPadded(out, rng.Below(100), 2);
  out->append(rng.Below(3) != 0 ? ",true," : ",false,");
  out->append(kNotes[rng.Below(std::size(kNotes))]);
  out->push_back('\n');
}

// Writes the table to `path`: every subject has at least one row, the other rows go to random subjects (so
// about rows / subjects each), and the rows are shuffled so that subjects interleave.
absl::Status GenerateFile(const std::string& path, int64_t rows, int64_t subjects) {
  DataRandom rng(2025);
  std::vector<int32_t> subject_of_row(rows);
  for (int64_t r = 0; r < rows; ++r) {
    subject_of_row[r] = static_cast<int32_t>(r < subjects ? r : rng.Below(subjects));
  }
  for (int64_t r = rows - 1; r > 0; --r) std::swap(subject_of_row[r], subject_of_row[rng.Below(r + 1)]);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  std::string buf =
      absl::StrCat(kSubjectColumn, ",name,email,birth_date,zip,visit_time,diagnosis,amount,insured,note\n");
  for (int64_t r = 0; r < rows; ++r) {
    AppendRow(subject_of_row[r], rng, &buf);
    if (buf.size() > (1 << 20) || r == rows - 1) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        std::fclose(f);
        return absl::InternalError(absl::StrCat("write to ", path, " failed"));
      }
      buf.clear();
    }
  }
  if (std::fclose(f) != 0) return absl::InternalError(absl::StrCat("closing ", path, " failed"));
  return absl::OkStatus();
}

// ---- Timing.

// The wall-clock time of a step, and the CPU time of all the process's threads during it: wall well above CPU
// means waiting (fsync, I/O); CPU above wall means several threads at work.
struct Sample {
  double wall = 0, cpu = 0;
  Sample& operator+=(const Sample& o) {
    wall += o.wall;
    cpu += o.cpu;
    return *this;
  }
};

double ProcessCpuSeconds() {
  timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of the waited-for children (the sqlite3 baseline).
double ChildrenCpuSeconds() {
  rusage u;
  ::getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

class Stopwatch {
 public:
  Stopwatch() { Restart(); }
  void Restart() {
    wall_ = Clock::now();
    cpu_ = ProcessCpuSeconds();
  }
  // The time since the last Lap or Restart; restarts.
  Sample Lap() {
    const Clock::time_point wall = Clock::now();
    const double cpu = ProcessCpuSeconds();
    const Sample s{std::chrono::duration<double>(wall - wall_).count(), cpu - cpu_};
    wall_ = wall;
    cpu_ = cpu;
    return s;
  }

 private:
  Clock::time_point wall_;
  double cpu_ = 0;
};

// ---- One run of the user path.

struct RunTimes {
  Sample read, parse, sha, open, ingest, close;
  Sample total;
  Sample workspace_read, export_csv;  // read back
  int64_t vault_bytes = 0;
};

// As RunIngest: the timed part starts with reading the file and ends when the session is closed.
RunTimes IngestOnce(base::Env& env, const std::string& csv_path, const std::string& ws_dir,
                    const Flags& flags, bool print_schema) {
  {
    // `veil init`: not part of the ingest.
    std::unique_ptr<gov::Session> init =
        Must(gov::Session::Init(env, ws_dir, kActor, store::WorkspaceCreateOptions{}), "Session::Init");
  }
  RunTimes t;
  Stopwatch watch;
  const std::string bytes = Must(env.ReadFileToString(csv_path), "reading the CSV file");
  t.read = watch.Lap();
  // The CLI's defaults (MakeReadOptions with no CSV flags): header, nulls "" and "?", trimming, one thread
  // per core.
  const table::Table table =
      Must(table::ReadCsvFromString(bytes, table::CsvReadOptions{}, csv_path), "ReadCsvFromString");
  t.parse = watch.Lap();
  store::IngestRequest request;
  request.dataset = kDataset;
  request.subject_column = kSubjectColumn;
  request.purposes = {kPurpose};
  request.mode = store::IngestMode::kCreate;
  request.source.file_name = std::filesystem::path(csv_path).filename().string();
  request.source.sha256 = base::HexEncode(crypto::Sha256(bytes));
  request.source.bytes = static_cast<int64_t>(bytes.size());
  t.sha = watch.Lap();
  std::unique_ptr<gov::Session> session =
      Must(gov::Session::Open(env, ws_dir, kActor, std::nullopt), "Session::Open");
  t.open = watch.Lap();
  const store::IngestResult result = Must(session->Ingest(table, request), "Session::Ingest");
  t.ingest = watch.Lap();
  session.reset();
  t.close = watch.Lap();
  for (const Sample& step : {t.read, t.parse, t.sha, t.open, t.ingest, t.close}) t.total += step;
  if (result.rows_added != flags.rows || result.subjects_in_file != flags.subjects) {
    std::fprintf(stderr, "workspace_bench: ingested %lld rows of %lld subjects, expected %lld and %lld\n",
                 static_cast<long long>(result.rows_added), static_cast<long long>(result.subjects_in_file),
                 static_cast<long long>(flags.rows), static_cast<long long>(flags.subjects));
    std::exit(1);
  }
  t.vault_bytes = result.dataset.vault_bytes;
  if (print_schema) std::printf("schema: %s\n", table.schema().ToString().c_str());

  // Read back (`veil export`): a new session, as a new command would open.
  session = Must(gov::Session::Open(env, ws_dir, kActor, std::nullopt), "Session::Open");
  watch.Restart();
  const store::DatasetContents contents = Must(session->workspace().Read(kDataset), "Workspace::Read");
  t.workspace_read = watch.Lap();
  if (contents.table.num_rows() != flags.rows) {
    std::fprintf(stderr, "workspace_bench: Workspace::Read returned %lld rows\n",
                 static_cast<long long>(contents.table.num_rows()));
    std::exit(1);
  }
  watch.Restart();
  const gov::ExportResult exported = Must(session->Export(kDataset, kPurpose), "Session::Export");
  t.export_csv = watch.Lap();
  if (exported.csv.empty()) std::exit(1);
  return t;
}

// ---- Session::Ingest stage by stage (see the file comment).

struct StageTimes {
  Sample group, pseudonyms, keys, encode, seal, vault;
  Sample Sum() const {
    Sample sum;
    for (const Sample& s : {group, pseudonyms, keys, encode, seal, vault}) sum += s;
    return sum;
  }
};

StageTimes StagesOnce(base::Env& env, const table::Table& table, const std::string& dir) {
  StageTimes t;
  Check(env.CreateDirs(dir), "creating the stage directory");
  const base::SecretBytes master = Must(crypto::RandomKey(32, crypto::SecureRandom()), "RandomKey");
  store::KeyStore keys = Must(store::KeyStore::Open(dir + "/keys.db", master), "KeyStore::Open");

  // 1. Rows grouped by subject, as GroupBySubject (dictionary codes, then a stable counting sort).
  Stopwatch watch;
  const table::Column& column = table.column(*table.schema().FindField(kSubjectColumn));
  const int64_t n = column.size();
  std::vector<int32_t> group_of_code(column.dictionary().size(), -1), group_of_row(n);
  std::vector<std::string> ids;
  for (int64_t r = 0; r < n; ++r) {
    int32_t& g = group_of_code[column.GetStringCode(r)];
    if (g < 0) {
      g = static_cast<int32_t>(ids.size());
      ids.emplace_back(column.GetString(r));
    }
    group_of_row[r] = g;
  }
  std::vector<int64_t> offsets(ids.size() + 1, 0), order(n);
  for (int32_t g : group_of_row) ++offsets[g + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  {
    std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
    for (int64_t r = 0; r < n; ++r) order[next[group_of_row[r]]++] = r;
  }
  const auto rows_of = [&](size_t g) {
    return std::span<const int64_t>(order).subspan(offsets[g], offsets[g + 1] - offsets[g]);
  };
  t.group = watch.Lap();

  // 2. Pseudonyms (HMAC-SHA-256).
  std::vector<std::string> pseudonyms(ids.size());
  for (size_t g = 0; g < ids.size(); ++g) pseudonyms[g] = keys.Pseudonym(ids[g]);
  t.pseudonyms = watch.Lap();

  // 3. A new data key per subject, wrapped and stored in keys.db (one transaction).
  const std::vector<base::SecretBytes> data_keys =
      Must(keys.GetOrCreateKeys(kDataset, pseudonyms, env.random()), "GetOrCreateKeys");
  t.keys = watch.Lap();

  // 4, 5, 6. The loop of Workspace::Ingest: each subject's rows encoded into one reused buffer, sealed, and
  // framed into the vault file; then the file finished (trailer, fsync) and its directory synced. Encoding is
  // timed in a pass of its own first; sealing and framing are the loop's time less that.
  std::string plaintext;
  for (size_t g = 0; g < ids.size(); ++g) {
    plaintext.clear();
    store::EncodeSubjectRows(table, rows_of(g), 0, &plaintext);
  }
  t.encode = watch.Lap();
  const std::string vault_dir = dir + "/vault";
  Check(env.CreateDirs(vault_dir), "creating the vault directory");
  watch.Restart();
  store::VaultFileWriter writer =
      Must(store::VaultFileWriter::Create(env, vault_dir + "/v1.vault", kDataset), "VaultFileWriter::Create");
  for (size_t g = 0; g < ids.size(); ++g) {
    plaintext.clear();
    store::EncodeSubjectRows(table, rows_of(g), 0, &plaintext);
    const std::vector<uint8_t> sealed =
        Must(store::SealRecord(data_keys[g], kDataset, pseudonyms[g], base::AsBytes(plaintext), env.random()),
             "SealRecord");
    Check(writer.Add(pseudonyms[g], sealed), "VaultFileWriter::Add");
  }
  t.seal = watch.Lap();
  t.seal.wall -= t.encode.wall;
  t.seal.cpu -= t.encode.cpu;
  Must(writer.Finish(), "VaultFileWriter::Finish");
  Check(env.SyncDir(vault_dir), "SyncDir");
  t.vault = watch.Lap();

  return t;
}

// ---- Printing.

// One line: the median wall-clock time of `runs`, the MB/s of CSV it amounts to, its share of `total`
// seconds, the median CPU time, and the wall-clock times of the runs.
void PrintStep(std::string_view what, const std::vector<Sample>& runs, double megabytes, double total) {
  std::vector<double> wall, cpu;
  for (const Sample& r : runs) {
    wall.push_back(r.wall);
    cpu.push_back(r.cpu);
  }
  const double s = Median(wall);
  std::printf("  %-46s %7.3f s %8.1f MB/s", std::string(what).c_str(), s, megabytes / s);
  if (total > 0) {
    std::printf(" %5.1f%%", 100 * s / total);
  } else {
    std::printf("       ");
  }
  std::printf("  cpu %6.3f s   (runs: %s)\n", Median(cpu), Join(wall).c_str());
}

template <typename T>
std::vector<Sample> Field(const std::vector<T>& runs, Sample T::*field) {
  std::vector<Sample> out;
  for (const T& r : runs) out.push_back(r.*field);
  return out;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  const std::string dir = MakeTempDir("veil_workspace_bench", flags.dir);
  if (dir.empty()) return 1;
  base::Env& env = crypto::DefaultEnv();

  const std::string csv_path = dir + "/patients.csv";
  std::printf("workspace_bench: generating %lld rows of %lld subjects in %s ...\n",
              static_cast<long long>(flags.rows), static_cast<long long>(flags.subjects), csv_path.c_str());
  Check(GenerateFile(csv_path, flags.rows, flags.subjects), "generating the CSV file");
  const double file_bytes = static_cast<double>(std::filesystem::file_size(csv_path));
  const double megabytes = file_bytes / 1e6;
  std::printf("file: %.1f MB (1 MB = 10^6 bytes), %.0f bytes per row, %.1f rows per subject; in page cache\n",
              megabytes, file_bytes / static_cast<double>(flags.rows),
              static_cast<double>(flags.rows) / static_cast<double>(flags.subjects));
  std::printf("directory: %s on %s\n", dir.c_str(), FileSystemType(dir).c_str());
  PrintMachine();

  // 1. The user path, `veil ingest`, then read back.
  std::vector<RunTimes> runs;
  for (int r = 0; r < flags.runs; ++r) {
    const std::string ws_dir = absl::StrCat(dir, "/ws", r);
    runs.push_back(IngestOnce(env, csv_path, ws_dir, flags, r == 0));
    if (!(flags.keep && r == flags.runs - 1)) Check(env.DeleteRecursively(ws_dir), "removing a workspace");
  }
  const std::vector<Sample> total = Field(runs, &RunTimes::total);
  std::vector<double> total_wall;
  for (const Sample& t : total) total_wall.push_back(t.wall);
  const double total_s = Median(total_wall);
  const double veil_mbps = megabytes / total_s;
  std::printf("vault: %.1f MB in one vault file (%.2f x the CSV)\n\n",
              static_cast<double>(runs.back().vault_bytes) / 1e6,
              static_cast<double>(runs.back().vault_bytes) / file_bytes);
  std::printf(
      "ingest as `veil ingest` does it, a fresh workspace each run (median of %d runs; cpu = all threads):\n",
      flags.runs);
  PrintStep("end to end", total, megabytes, 0);
  std::printf(" of which (medians of the same runs; %% of the end-to-end median):\n");
  PrintStep("read the file", Field(runs, &RunTimes::read), megabytes, total_s);
  PrintStep("parse (ReadCsvFromString, a thread per core)", Field(runs, &RunTimes::parse), megabytes,
            total_s);
  PrintStep("SHA-256 of the file", Field(runs, &RunTimes::sha), megabytes, total_s);
  PrintStep("Session::Open", Field(runs, &RunTimes::open), megabytes, total_s);
  PrintStep("Session::Ingest", Field(runs, &RunTimes::ingest), megabytes, total_s);
  PrintStep("close the session", Field(runs, &RunTimes::close), megabytes, total_s);
  std::printf("\nread back (MB/s of the source CSV; same runs):\n");
  PrintStep("Workspace::Read", Field(runs, &RunTimes::workspace_read), megabytes, 0);
  PrintStep("Session::Export (Read, write CSV, audit entry)", Field(runs, &RunTimes::export_csv), megabytes,
            0);

  // 2. The baseline: sqlite3's .import into a fresh database file.
  double sqlite_s = 0;
  if (flags.sqlite_runs > 0) {
    const std::string db = dir + "/baseline.db";
    const std::string count_file = dir + "/count.txt";
    // Once, untimed: check that sqlite3 exists and imports every row.
    const int rc = Run({"sqlite3", db, "-cmd", ".mode csv", "-cmd", ".import " + csv_path + " t", "-cmd",
                        ".output " + count_file, "SELECT count(*) FROM t;"});
    const std::string count = FirstLine(count_file);
    std::filesystem::remove(db);
    if (rc != 0) {
      std::printf("\nbaseline: could not run sqlite3 (install the Debian package sqlite3)\n");
    } else {
      std::vector<Sample> samples;
      for (int r = 0; r < flags.sqlite_runs; ++r) {
        const double cpu = ChildrenCpuSeconds();
        const Clock::time_point start = Clock::now();
        if (Run({"sqlite3", db, "-cmd", ".mode csv", ".import " + csv_path + " t"}) != 0) {
          std::printf("\nbaseline: sqlite3 .import failed\n");
          samples.clear();
          break;
        }
        samples.push_back({SecondsSince(start), ChildrenCpuSeconds() - cpu});
        std::filesystem::remove(db);
      }
      if (!samples.empty()) {
        std::printf(
            "\nbaseline, same run: sqlite3 DB -cmd '.mode csv' '.import FILE t' into a fresh database file\n"
            "(columns TEXT, one transaction, rollback journal, synchronous=FULL; rows imported: %s):\n",
            count.c_str());
        PrintStep("sqlite3 .import", samples, megabytes, 0);
        std::vector<double> wall;
        for (const Sample& x : samples) wall.push_back(x.wall);
        sqlite_s = Median(wall);
      }
    }
  }

  // 3. Session::Ingest stage by stage.
  if (flags.stage_runs > 0) {
    const table::Table table =
        Must(table::ReadCsvFromString(Must(env.ReadFileToString(csv_path), "reading the CSV file"),
                                      table::CsvReadOptions{}, csv_path),
             "ReadCsvFromString");
    std::vector<StageTimes> stages;
    for (int r = 0; r < flags.stage_runs; ++r) {
      const std::string stage_dir = absl::StrCat(dir, "/stages", r);
      stages.push_back(StagesOnce(env, table, stage_dir));
      Check(env.DeleteRecursively(stage_dir), "removing the stage directory");
    }
    std::vector<double> ingest_wall;
    for (const RunTimes& r : runs) ingest_wall.push_back(r.ingest.wall);
    const double ingest_s = Median(ingest_wall);
    std::printf(
        "\nSession::Ingest step by step: the same work through veil::store's public API on a scratch key "
        "store,\nan estimate (median of %d runs; %% of the Session::Ingest median above, %.3f s):\n",
        flags.stage_runs, ingest_s);
    const std::string n = absl::StrCat(flags.subjects);
    PrintStep("group rows by subject", Field(stages, &StageTimes::group), megabytes, ingest_s);
    PrintStep(absl::StrCat("pseudonyms (HMAC-SHA-256) x ", n), Field(stages, &StageTimes::pseudonyms),
              megabytes, ingest_s);
    PrintStep(absl::StrCat("KeyStore::GetOrCreateKeys, ", n, " new keys"), Field(stages, &StageTimes::keys),
              megabytes, ingest_s);
    PrintStep("EncodeSubjectRows", Field(stages, &StageTimes::encode), megabytes, ingest_s);
    PrintStep(absl::StrCat("SealRecord (AES-256-GCM) + framing x ", n), Field(stages, &StageTimes::seal),
              megabytes, ingest_s);
    PrintStep("vault file: Finish (fsync), SyncDir", Field(stages, &StageTimes::vault), megabytes, ingest_s);
    std::vector<Sample> sums;
    for (const StageTimes& st : stages) sums.push_back(st.Sum());
    PrintStep("sum of the steps above", sums, megabytes, ingest_s);
    std::vector<double> sum_wall;
    for (const Sample& x : sums) sum_wall.push_back(x.wall);
    const double rest = ingest_s - Median(sum_wall);
    std::printf("  %-46s %7.3f s               %5.1f%%\n", "rest (catalog commit, gate, audit, clean-up)",
                rest, 100 * rest / ingest_s);
  }

  // 4. Verdict.
  std::printf(
      "\ntarget: ingest >= %.0f MB/s of CSV end to end   measured %6.1f MB/s   measured/target %.2f   %s\n",
      kTargetMBps, veil_mbps, veil_mbps / kTargetMBps, veil_mbps >= kTargetMBps ? "PASS" : "FAIL");
  if (sqlite_s > 0) {
    std::printf("baseline: sqlite3 .import %.1f MB/s; veil ingest runs at %.2fx its speed\n",
                megabytes / sqlite_s, sqlite_s / total_s);
  }

  if (flags.keep) {
    std::printf("kept %s (the CSV file and the last workspace)\n", dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return veil_mbps >= kTargetMBps ? 0 : 1;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) { return veil::bench::Main(argc, argv); }
