// End-to-end tests of the `veil` command as a user runs it: output, JSON, exit codes and error messages.
// The binary under test is VEIL_BINARY (set by CMake); tests run from the repository root.
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/veil/cli_test_util.h"

namespace {

using ::veil::cli::testing::IsLowerHex;
using ::veil::cli::testing::kPatients;
using ::veil::cli::testing::ParseJson;
using ::veil::cli::testing::Q;
using ::veil::cli::testing::Result;
using ::veil::cli::testing::Slurp;
using ::veil::cli::testing::VeilCliTest;

using ::testing::HasSubstr;
using ::testing::Not;

// A minimal RFC 4180 reader (quotes, doubled quotes, line breaks inside quotes) to compare tables cell by
// cell.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  bool pending = false;  // a record has started
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"') {
        cell += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = pending = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      pending = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
      pending = false;
    } else {
      cell += c;
      pending = true;
    }
  }
  if (pending) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Whether `exported` is the exporter's canonical form of the source cell `source`: the same text, a timestamp
// "2025-11-26 14:53:00" re-printed as RFC 3339 "2025-11-26T14:53:00Z", or a decimal number ("1200.00",
// "2008.90") re-printed in its shortest form with the same value. Integers must match exactly, so a zip code
// that lost a leading zero would show.
bool SameCell(const std::string& source, const std::string& exported) {
  if (source == exported) return true;
  const std::string& s = source;
  if (s.size() == 19 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' && s[16] == ':') {
    return exported == s.substr(0, 10) + "T" + s.substr(11) + "Z";
  }
  if (s.find('.') != std::string::npos && !exported.empty()) {
    char* end_s = nullptr;
    char* end_e = nullptr;
    const double a = std::strtod(s.c_str(), &end_s);
    const double b = std::strtod(exported.c_str(), &end_e);
    return *end_s == '\0' && *end_e == '\0' && a == b;
  }
  return false;
}

// Every file and directory under `dir`, by relative path, with its bytes ("<dir>" for a directory); the LOCK
// file is left out (its presence is not workspace state).
std::map<std::string, std::string> Snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = std::filesystem::relative(e.path(), dir).string();
    if (rel == "LOCK") continue;
    files[rel] = e.is_directory() ? "<dir>" : Slurp(e.path().string());
  }
  return files;
}

// The differences between two snapshots by name ("" if none), so a failure does not print binary files.
std::string SnapshotDiff(const std::map<std::string, std::string>& before,
                         const std::map<std::string, std::string>& after) {
  std::string diff;
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      diff += "removed " + name + "\n";
    } else if (it->second != bytes) {
      diff += "changed " + name + "\n";
    }
  }
  for (const auto& [name, bytes] : after) {
    if (!before.contains(name)) diff += "added " + name + "\n";
  }
  return diff;
}

// The files under `dir` (relative paths, LOCK excepted) whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::filesystem::path& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& [name, bytes] : Snapshot(dir)) {
    if (bytes.find(needle) != std::string::npos) found.push_back(name);
  }
  return found;
}

// audit.log's framing (src/veil/audit/audit_log.h): a 64-byte header, then records of u32 body length |
// u32 masked CRC-32C of the length | u32 masked CRC-32C of the body | body, big-endian; record k is entry seq
// k and its body is 0x01 | canonical entry | 32-byte tree head.
constexpr size_t kAuditHeaderSize = 64;
constexpr size_t kRecordHeaderSize = 12;

struct AuditRecord {
  size_t offset;  // of the record header
  size_t body_size;
};

uint32_t LoadU32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

void StoreU32(std::string& bytes, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

std::vector<AuditRecord> AuditRecords(const std::string& log) {
  std::vector<AuditRecord> records;
  size_t at = kAuditHeaderSize;
  while (at + kRecordHeaderSize <= log.size()) {
    const size_t body = LoadU32(log, at);
    records.push_back({at, body});
    at += kRecordHeaderSize + body;
  }
  return records;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit, and LevelDB's mask: what an attacker who
// edits an entry would recompute so that the record's checksum still matches.
uint32_t Crc32c(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

void WriteBytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST_F(VeilCliTest, VersionAndHelp) {
  Result v = Veil("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("veil 0."));

  Result h = Veil("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.out, HasSubstr("inspect"));
  EXPECT_THAT(h.out, HasSubstr("--workspace"));
  EXPECT_THAT(h.out, HasSubstr("Exit codes"));
}

TEST_F(VeilCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Veil("").exit_code, 2) << "a command is required";
  EXPECT_EQ(Veil("no-such-command").exit_code, 2);
  EXPECT_EQ(Veil("inspect").exit_code, 2) << "inspect needs a file";
  EXPECT_EQ(Veil("inspect examples/data/patients.csv --top nope").exit_code, 2);
}

TEST_F(VeilCliTest, InspectPrintsSchemaAndStatistics) {
  Result r = Veil("inspect examples/data/patients.csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("300 rows"));
  EXPECT_THAT(r.out, HasSubstr("15 columns"));
  EXPECT_THAT(r.out, HasSubstr("birth_date"));
  EXPECT_THAT(r.out, HasSubstr("date"));
  EXPECT_THAT(r.out, HasSubstr("admitted_at"));
  EXPECT_THAT(r.out, HasSubstr("timestamp"));
  EXPECT_THAT(r.out, HasSubstr("length_of_stay"));
  EXPECT_THAT(r.out, HasSubstr("int64"));
}

TEST_F(VeilCliTest, InspectJsonOnAdult) {
  Result r = Veil("inspect ../shared/data/adult/adult.csv --json --top 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);  // exactly one JSON document on stdout
  EXPECT_EQ(doc["rows"], 48842);
  ASSERT_EQ(doc["columns"].size(), 15u);
  const nlohmann::json& age = doc["columns"][0];
  EXPECT_EQ(age["name"], "age");
  EXPECT_EQ(age["type"], "int64");
  EXPECT_EQ(age["nulls"], 0);
  EXPECT_EQ(age["min"], "17");
  EXPECT_EQ(age["max"], "90");
  EXPECT_EQ(age["top"].size(), 3u);
  // "?" marks a missing value in Adult: workclass has 2,799 of them (UCI's documentation).
  const nlohmann::json& workclass = doc["columns"][1];
  EXPECT_EQ(workclass["name"], "workclass");
  EXPECT_EQ(workclass["type"], "string");
  EXPECT_EQ(workclass["nulls"], 2799);
}

TEST_F(VeilCliTest, GlobalOptionsAfterTheCommand) {
  Result r = Veil("inspect examples/data/patients.csv --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"], 300);
}

TEST_F(VeilCliTest, TypeOverrideAndOptions) {
  const std::string path = WriteFile("semi.csv", "zip;score\n02134;NA\n10001;2.5\n");
  Result r = Veil("inspect " + path + " --delimiter ';' --null NA --type zip=int64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["columns"][0]["type"], "int64");
  EXPECT_EQ(doc["columns"][1]["type"], "double");
  EXPECT_EQ(doc["columns"][1]["nulls"], 1);

  EXPECT_EQ(Veil("inspect " + path + " --type zip=integer").exit_code, 2) << "unknown type name";
  EXPECT_EQ(Veil("inspect " + path + " --type nosuchcolumn=int64").exit_code, 2);
}

TEST_F(VeilCliTest, BadInputNamesFileLineAndColumn) {
  const std::string path = WriteFile("bad.csv", "id,age\n1,34\n2,forty-one\n");
  Result r = Veil("inspect " + path + " --type age=int64");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3:"));
  EXPECT_THAT(r.err, HasSubstr("column 2 (\"age\")"));
  EXPECT_THAT(r.out, Not(HasSubstr("rows")));

  const std::string unterminated = WriteFile("open.csv", "id,city\n1,\"Lyon\n2,Paris\n");
  Result u = Veil("inspect " + unterminated);
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_THAT(u.err, HasSubstr("open.csv:2:"));

  Result missing = Veil("inspect " + (dir_ / "nope.csv").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.csv"));
}

TEST_F(VeilCliTest, UsageErrorsAsJsonWithJsonFlag) {
  Result r = Veil("--json inspect");
  EXPECT_EQ(r.exit_code, 2);
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["error"]["exit_code"], 2);
  EXPECT_THAT(r.err, HasSubstr("veil: error:"));
}

TEST_F(VeilCliTest, FailedOutputIsNotSuccess) {
  Result r = Veil("inspect examples/data/patients.csv --json", "/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("writing the output failed"));
}

TEST_F(VeilCliTest, ErrorsAsJsonWithJsonFlag) {
  const std::string path = WriteFile("ragged.csv", "a,b\n1,2\n3\n");
  Result r = Veil("--json inspect " + path);
  EXPECT_EQ(r.exit_code, 2);
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(doc["error"]["exit_code"], 2);
  EXPECT_THAT(doc["error"]["message"].get<std::string>(), HasSubstr("ragged.csv:3:"));
}

// --- Workspace commands (issue 3): each test has its own workspace, dir_/ws. ---

TEST_F(VeilCliTest, InitCreatesTheWorkspaceOnce) {
  Result init = Ws("--json init");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const nlohmann::json doc = ParseJson(init.out);
  EXPECT_TRUE(IsLowerHex(doc["id"], 32)) << doc.dump();
  EXPECT_EQ(doc["owner"], "alice");
  EXPECT_EQ(doc["master_key"], "key_file");
  EXPECT_EQ(doc["workspace"], ws_.string());
  EXPECT_TRUE(IsLowerHex(doc["audit_public_key"], 64)) << doc.dump();
  for (const char* file :
       {"master.key", "master-key.json", "workspace.db", "keys/keys.db", "audit/audit.log"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(ws_ / file)) << file;
  }
  EXPECT_EQ((std::filesystem::status(ws_ / "master.key").permissions() & std::filesystem::perms::all),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  // The creator is the owner, and the log starts with the init entry.
  Result grants = Ws("--json grants");
  ASSERT_EQ(grants.exit_code, 0) << grants.err;
  const nlohmann::json g = ParseJson(grants.out)["grants"];
  ASSERT_EQ(g.size(), 1u) << grants.out;
  EXPECT_EQ(g[0]["actor"], "alice");
  EXPECT_EQ(g[0]["role"], "owner");
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["size"], 1) << log.dump();
  EXPECT_EQ(log["entries"][0]["seq"], 0);
  EXPECT_EQ(log["entries"][0]["action"], "init");
  EXPECT_EQ(log["entries"][0]["actor"], "alice");
  EXPECT_EQ(log["entries"][0]["decision"], "allowed");
  Result datasets = Ws("--json datasets");
  ASSERT_EQ(datasets.exit_code, 0) << datasets.err;
  EXPECT_EQ(ParseJson(datasets.out)["datasets"], nlohmann::json::array());

  // A second init on the same directory is refused and changes nothing.
  const auto before = Snapshot(ws_);
  Result again = Ws("init", "mallory");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("already a Veil workspace"));
  Result again_json = Ws("--json init");
  EXPECT_EQ(again_json.exit_code, 2);
  EXPECT_EQ(ParseJson(again_json.out)["error"]["code"], "ALREADY_EXISTS");
  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");
  EXPECT_EQ(AuditSize(), 1u);

  // A non-empty directory that is no workspace is not taken over; --workspace wins over VEIL_WORKSPACE.
  std::filesystem::create_directories(dir_ / "other");
  WriteFile("other/notes.txt", "mine\n");
  EXPECT_EQ(Ws("init --workspace " + Q(Path("other"))).exit_code, 2);
  EXPECT_EQ(Snapshot(dir_ / "other").size(), 1u);
  // Commands other than init do not create a workspace where there is none.
  Result nowhere = Ws("datasets --workspace " + Q(Path("nowhere")));
  EXPECT_EQ(nowhere.exit_code, 2) << nowhere.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nowhere"));
}

TEST_F(VeilCliTest, PassphraseWorkspaceRefusesAWrongOrMissingPassphraseAndStaysUnchanged) {
  // Each open of a passphrase workspace runs Argon2id (64 MiB, ~0.3 s): this test keeps to five of them.
  const std::string passphrase = "correct horse battery staple";
  Result init = Ws("--json init --passphrase", "alice", passphrase);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(ParseJson(init.out)["master_key"], "passphrase");
  EXPECT_FALSE(std::filesystem::exists(ws_ / "master.key")) << "nothing secret is stored";
  const std::string csv = WriteFile("small.csv", "id,v\nA,1\nB,2\n");
  const std::string ingest = "ingest " + csv + " --dataset small --subject-column id --purpose care";

  const auto before = Snapshot(ws_);
  Result wrong = Ws(ingest, "alice", "Correct horse battery staple");
  EXPECT_EQ(wrong.exit_code, 4);
  EXPECT_THAT(wrong.err, HasSubstr("wrong passphrase"));
  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");

  Result missing = Ws(ingest);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("VEIL_PASSPHRASE"));
  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");

  Result empty = Ws("grant bob analyst", "alice", "");
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");

  Result right = Ws("--json " + ingest, "alice", passphrase);
  ASSERT_EQ(right.exit_code, 0) << right.err;
  EXPECT_EQ(ParseJson(right.out)["dataset"]["rows"], 2);

  // init --passphrase without a passphrase creates nothing.
  Result no_passphrase = Ws("init --passphrase --workspace " + Q(Path("ws2")));
  EXPECT_EQ(no_passphrase.exit_code, 2);
  EXPECT_THAT(no_passphrase.err, HasSubstr("VEIL_PASSPHRASE"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ws2"));
}

TEST_F(VeilCliTest, KeyFileWorkspaceWithoutItsKeyFileFailsAndStaysUnchanged) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  const std::string csv = WriteFile("small.csv", "id,v\nA,1\nB,2\n");
  ASSERT_EQ(Ws("ingest " + csv + " --dataset small --subject-column id --purpose care --quiet").exit_code, 0);

  // The key file is gone (lost, or not copied with the workspace).
  std::filesystem::rename(ws_ / "master.key", dir_ / "master.key.saved");
  const auto before = Snapshot(ws_);
  for (const std::string& args : {std::string("datasets"), std::string("export small --purpose care"),
                                  "ingest " + csv + " --dataset other --subject-column id",
                                  std::string("erase --subject A"), std::string("audit verify")}) {
    Result r = Ws(args);
    EXPECT_EQ(r.exit_code, 4) << args << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("master.key")) << args;
    EXPECT_THAT(r.out, Not(HasSubstr("A,1"))) << args;
  }
  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");

  // Another workspace's key file is no substitute.
  ASSERT_EQ(Ws("init --quiet --workspace " + Q(Path("ws2"))).exit_code, 0);
  std::filesystem::copy_file(dir_ / "ws2" / "master.key", ws_ / "master.key");
  const auto with_foreign = Snapshot(ws_);
  Result foreign = Ws("export small --purpose care");
  EXPECT_EQ(foreign.exit_code, 4) << foreign.err;
  EXPECT_THAT(foreign.out, Not(HasSubstr("A,1")));
  EXPECT_EQ(SnapshotDiff(with_foreign, Snapshot(ws_)), "");

  // A passphrase where a key file is expected is a usage error.
  std::filesystem::remove(ws_ / "master.key");
  std::filesystem::rename(dir_ / "master.key.saved", ws_ / "master.key");
  EXPECT_EQ(Ws("datasets", "alice", "some passphrase").exit_code, 2);
  // With its own key back, the workspace works and nothing was lost.
  Result back = Ws("export small --purpose care");
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, "id,v\nA,1\nB,2\n");
}

TEST_F(VeilCliTest, IngestThenExportGivesBackEveryRowAndValue) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  Result ingest = Ws("--json ingest " + std::string(kPatients) +
                     " --dataset patients --subject-column patient_id --purpose care --purpose research");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  const nlohmann::json in = ParseJson(ingest.out);
  EXPECT_EQ(in["rows_added"], 300);
  EXPECT_EQ(in["subjects_in_file"], 300);
  EXPECT_EQ(in["new_subjects"], 300);

  Result info = Ws("--json datasets patients");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json d = ParseJson(info.out);
  EXPECT_EQ(d["name"], "patients");
  EXPECT_EQ(d["subject_column"], "patient_id");
  EXPECT_EQ(d["rows"], 300);
  EXPECT_EQ(d["subjects"], 300);
  EXPECT_EQ(d["purposes"], nlohmann::json({"care", "research"}));
  EXPECT_EQ(d["columns"].size(), 15u);
  ASSERT_EQ(d["sources"].size(), 1u);
  EXPECT_EQ(d["sources"][0]["file_name"], "patients.csv") << "the catalog keeps the base name only";
  EXPECT_EQ(d["sources"][0]["bytes"], std::filesystem::file_size(kPatients));
  EXPECT_EQ(d["sources"][0]["mode"], "create");

  Result exported = Ws("export patients --purpose care");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto source = ParseCsv(Slurp(kPatients));
  const auto output = ParseCsv(exported.out);
  ASSERT_EQ(output.size(), source.size());
  ASSERT_EQ(output.size(), 301u);
  int rewritten = 0;
  for (size_t r = 0; r < source.size(); ++r) {
    ASSERT_EQ(output[r].size(), source[r].size()) << "row " << r;
    for (size_t c = 0; c < source[r].size(); ++c) {
      EXPECT_TRUE(SameCell(source[r][c], output[r][c]))
          << "row " << r << " column " << source[0][c] << ": \"" << source[r][c] << "\" came back as \""
          << output[r][c] << "\"";
      rewritten += source[r][c] != output[r][c];
    }
  }
  EXPECT_GE(rewritten, 300) << "admitted_at is re-printed in RFC 3339 form in every row";

  // -o writes the same bytes; --json then describes the file.
  Result to_file = Ws("--json export patients --purpose care -o " + Q(Path("out.csv")));
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(Slurp(Path("out.csv")), exported.out);
  const nlohmann::json f = ParseJson(to_file.out);
  EXPECT_EQ(f["rows"], 300);
  EXPECT_TRUE(IsLowerHex(f["sha256"], 64));
}

TEST_F(VeilCliTest, ExportOfCanonicalCsvIsByteForByteTheSource) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  // Already in the exporter's canonical forms: quoting only where needed, RFC 3339 timestamps, shortest
  // numbers. Subject S1 has two rows with another subject's between them: ingest order is kept.
  const std::string csv =
      "id,name,age,score,member,joined,seen_at,note\n"
      "S1,Ana Lima,34,2.5,true,2024-01-31,2025-11-26T14:53:00Z,\"hello, world\"\n"
      "S2,Bo Chen,41,-0.125,false,2023-12-01,2025-02-01T15:15:00Z,\"she said \"\"hi\"\"\"\n"
      "S1,Ana Lima,35,,,2020-02-29,2025-08-25T09:04:00Z,\n"
      "S3,\xC3\x89mile Zola,7,1e-07,true,1999-12-31,1970-01-01T00:00:00Z,\"two\nlines\"\n";
  const std::string path = WriteFile("canonical.csv", csv);
  Result ingest = Ws("--json ingest " + path + " --dataset people --subject-column id --purpose research");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_EQ(ParseJson(ingest.out)["subjects_in_file"], 3);

  Result exported = Ws("export people --purpose research");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(exported.out, csv);

  Result info = Ws("--json datasets people");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json columns = ParseJson(info.out)["columns"];
  std::vector<std::string> types;
  for (const nlohmann::json& column : columns) types.push_back(column["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"string", "string", "int64", "double", "bool", "date",
                                             "timestamp", "string"}));
}

TEST_F(VeilCliTest, MalformedCsvIsRejectedBeforeTheWorkspaceIsTouched) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  const uint64_t audit_size = AuditSize();
  const auto before = Snapshot(ws_);

  const std::string ragged = WriteFile("ragged.csv", "patient_id,age\nP1,34\nP2\nP3,51\n");
  Result r = Ws("ingest " + ragged + " --dataset bad --subject-column patient_id --purpose care");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ragged.csv:3:"));
  const std::string open_quote = WriteFile("open.csv", "patient_id,city\nP1,\"Lyon\nP2,Paris\n");
  Result u = Ws("--json ingest " + open_quote + " --dataset bad --subject-column patient_id");
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_THAT(ParseJson(u.out)["error"]["message"].get<std::string>(), HasSubstr("open.csv:2:"));
  const std::string typed = WriteFile("typed.csv", "patient_id,age\nP1,34\nP2,forty\n");
  Result t = Ws("ingest " + typed + " --type age=int64 --dataset bad --subject-column patient_id");
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_THAT(t.err, HasSubstr("typed.csv:3:"));
  Result missing = Ws("ingest " + Path("nope.csv") + " --dataset bad --subject-column patient_id");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.csv"));

  EXPECT_EQ(SnapshotDiff(before, Snapshot(ws_)), "");
  Result datasets = Ws("--json datasets");
  ASSERT_EQ(datasets.exit_code, 0) << datasets.err;
  EXPECT_EQ(ParseJson(datasets.out)["datasets"], nlohmann::json::array());
  EXPECT_EQ(AuditSize(), audit_size);

  // A well-formed file that fails in the workspace (a row without subject id, an unknown subject column)
  // commits nothing either, and leaves no audit entry.
  const std::string anonymous = WriteFile("anonymous.csv", "patient_id,age\nP1,34\n,51\n");
  Result a = Ws("ingest " + anonymous + " --dataset bad --subject-column patient_id");
  EXPECT_EQ(a.exit_code, 2);
  EXPECT_THAT(a.err, HasSubstr("subject column"));
  EXPECT_EQ(Ws("ingest " + typed + " --dataset bad --subject-column nosuch").exit_code, 2);
  Result after = Ws("--json datasets");
  EXPECT_EQ(ParseJson(after.out)["datasets"], nlohmann::json::array());
  EXPECT_EQ(AuditSize(), audit_size);
}

TEST_F(VeilCliTest, IngestCreateAppendReplace) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  const std::string ab = WriteFile("ab.csv", "id,v\nA,1\nB,2\n");
  const std::string c = WriteFile("c.csv", "id,v\nC,3\n");
  const std::string other = WriteFile("other.csv", "id,w,x\nC,3,4\n");
  ASSERT_EQ(Ws("ingest " + ab + " --dataset d --subject-column id --purpose care --quiet").exit_code, 0);

  Result twice = Ws("ingest " + ab + " --dataset d --subject-column id");
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_THAT(twice.err, HasSubstr("already exists"));

  Result append = Ws("--json ingest " + c + " --dataset d --subject-column id --append");
  ASSERT_EQ(append.exit_code, 0) << append.err;
  EXPECT_EQ(ParseJson(append.out)["dataset"]["rows"], 3);
  EXPECT_EQ(ParseJson(append.out)["new_subjects"], 1);
  EXPECT_EQ(Ws("ingest " + other + " --dataset d --subject-column id --append").exit_code, 2)
      << "columns differ";
  EXPECT_EQ(Ws("ingest " + ab + " --dataset d --subject-column id --append --replace").exit_code, 2);
  EXPECT_EQ(Ws("ingest " + ab + " --dataset nosuch --subject-column id --replace").exit_code, 2);
  EXPECT_EQ(Ws("export d --purpose care").out, "id,v\nA,1\nB,2\nC,3\n");

  Result replace = Ws("--json ingest " + c + " --dataset d --subject-column id --replace --purpose research");
  ASSERT_EQ(replace.exit_code, 0) << replace.err;
  EXPECT_EQ(ParseJson(replace.out)["removed_subjects"], 2);
  EXPECT_EQ(ParseJson(replace.out)["dataset"]["purposes"], nlohmann::json({"research"}));
  EXPECT_EQ(Ws("export d --purpose research").out, "id,v\nC,3\n");
  EXPECT_EQ(Ws("export d --purpose care").exit_code, 3) << "--replace with --purpose replaces the purposes";
}

TEST_F(VeilCliTest, GateRefusesAndAuditsEveryDenial) {
  InitWithPatients();
  struct Denial {
    std::string actor, args, action, purpose, reason;
  };
  const std::vector<Denial> denials = {
      {"alice", "export patients", "export", "", "needs a declared purpose"},
      {"alice", "export patients --purpose marketing", "export", "marketing",
       "\"marketing\" is not declared"},
      {"bob", "export patients --purpose care", "export", "care", "has the role analyst"},
      {"bob", "audit verify", "audit.read", "", "has the role analyst"},
      {"bob", "grant bob owner", "grant", "", "has the role analyst"},
      {"mallory", "datasets", "datasets", "", "has no role"},
      {"carol", "export patients --purpose care", "export", "care", "has the role auditor"},
      {"carol", "erase --subject P00001", "erase", "", "has the role auditor"},
  };
  // A narrower purpose under a declared one is allowed.
  Result narrower = Ws("export patients --purpose research.cohort");
  EXPECT_EQ(narrower.exit_code, 0) << narrower.err;
  EXPECT_THAT(narrower.out, HasSubstr("P00001"));
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);
  const uint64_t size_before = AuditSize();

  for (const Denial& d : denials) {
    Result r = Ws(d.args, d.actor);
    EXPECT_EQ(r.exit_code, 3) << d.actor << " " << d.args << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("refused")) << d.actor << " " << d.args;
    EXPECT_THAT(r.out, Not(HasSubstr("P0000"))) << d.actor << " " << d.args;
  }
  // What each role may do.
  Result bob_lists = Ws("datasets", "bob");
  EXPECT_EQ(bob_lists.exit_code, 0) << bob_lists.err;
  EXPECT_THAT(bob_lists.out, HasSubstr("patients"));
  Result carol_verifies = Ws("audit verify", "carol");
  EXPECT_EQ(carol_verifies.exit_code, 0) << carol_verifies.err;
  EXPECT_EQ(Ws("--json audit log", "carol").exit_code, 0);
  EXPECT_EQ(Ws("datasets patients", "carol").exit_code, 0);
  // --actor wins over VEIL_ACTOR.
  EXPECT_EQ(Ws("datasets --actor mallory", "alice").exit_code, 3);

  // Every denial is in the log, in order, as "denied" with the gate's reason; allowed reads are not audited.
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["size"], size_before + denials.size() + 1) << log.dump(1);
  for (size_t i = 0; i <= denials.size(); ++i) {
    const nlohmann::json& e = log["entries"][size_before + i];
    const Denial& d = i < denials.size() ? denials[i] : Denial{"mallory", "", "datasets", "", "has no role"};
    EXPECT_EQ(e["decision"], "denied") << e.dump();
    EXPECT_EQ(e["actor"], d.actor) << e.dump();
    EXPECT_EQ(e["action"], d.action) << e.dump();
    EXPECT_EQ(e["purpose"], d.purpose) << e.dump();
    EXPECT_THAT(e["reason"].get<std::string>(), HasSubstr(d.reason)) << e.dump();
    EXPECT_EQ(e["result_hash"], nullptr) << "nothing was released";
  }

  // Revoking takes effect at once; the last owner cannot be revoked.
  ASSERT_EQ(Ws("revoke bob analyst").exit_code, 0);
  EXPECT_EQ(Ws("datasets", "bob").exit_code, 3);
  EXPECT_EQ(Ws("revoke bob analyst").exit_code, 2) << "bob no longer has the role";
  Result last_owner = Ws("revoke alice owner");
  EXPECT_NE(last_owner.exit_code, 0);
  EXPECT_THAT(last_owner.err, HasSubstr("last owner"));
  EXPECT_EQ(Ws("datasets").exit_code, 0) << "alice is still owner";
  EXPECT_EQ(Ws("grant bob superuser").exit_code, 2);
}

TEST_F(VeilCliTest, RefusalIsOneJsonDocumentWithExitCodeThree) {
  InitWithPatients();
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);
  Result r = Ws("--json export patients --purpose care", "carol");
  EXPECT_EQ(r.exit_code, 3);
  const nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["error"]["exit_code"], 3);
  EXPECT_EQ(doc["error"]["code"], "PERMISSION_DENIED");
  EXPECT_THAT(doc["error"]["message"].get<std::string>(), HasSubstr("export needs the role owner"));
  EXPECT_THAT(r.err, HasSubstr("veil: error: refused"));

  Result no_purpose = Ws("export patients --json");
  EXPECT_EQ(no_purpose.exit_code, 3);
  EXPECT_EQ(ParseJson(no_purpose.out)["error"]["exit_code"], 3);
}

TEST_F(VeilCliTest, EraseRemovesTheSubjectAndNeverWritesTheirId) {
  InitWithPatients("--purpose care");
  // At rest, no file of the workspace holds the subject's id or name in the clear.
  EXPECT_THAT(FilesContaining(ws_, "P00002"), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(ws_, "Nora Mensah"), ::testing::IsEmpty());

  Result erase = Ws("--json erase --subject P00002");
  ASSERT_EQ(erase.exit_code, 0) << erase.err;
  const nlohmann::json doc = ParseJson(erase.out);
  EXPECT_EQ(doc["rows_removed"], 1);
  EXPECT_EQ(doc["keys_destroyed"], 1);
  EXPECT_EQ(doc["datasets"], nlohmann::json({"patients"}));
  ASSERT_TRUE(IsLowerHex(doc["subject_pseudonym"], 64)) << doc.dump();
  const std::string pseudonym = doc["subject_pseudonym"];
  EXPECT_THAT(erase.out + erase.err, Not(HasSubstr("P00002")));

  Result exported = Ws("export patients --purpose care");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.out, Not(HasSubstr("P00002")));
  EXPECT_THAT(exported.out, Not(HasSubstr("Nora Mensah")));
  EXPECT_THAT(exported.out, HasSubstr("P00001,Nora Costa,"));
  EXPECT_THAT(exported.out, HasSubstr("P00003,Arjun Rossi,"));
  EXPECT_EQ(ParseCsv(exported.out).size(), 300u) << "header and 299 rows";
  Result info = Ws("--json datasets patients");
  EXPECT_EQ(ParseJson(info.out)["rows"], 299);
  EXPECT_EQ(ParseJson(info.out)["subjects"], 299);

  // The audit entry names the subject by pseudonym only.
  const nlohmann::json log = AuditLog();
  int erase_entries = 0;
  for (const nlohmann::json& e : log["entries"]) {
    if (e["action"] != "erase") continue;
    ++erase_entries;
    EXPECT_EQ(e["decision"], "allowed");
    EXPECT_EQ(e["subject_pseudonyms"], nlohmann::json({pseudonym})) << e.dump();
    EXPECT_TRUE(IsLowerHex(e["result_hash"], 64)) << e.dump();
  }
  EXPECT_EQ(erase_entries, 1);
  EXPECT_EQ(Slurp((ws_ / "audit" / "audit.log").string()).find("P00002"), std::string::npos);
  EXPECT_THAT(FilesContaining(ws_, "P00002"), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(ws_, "Nora Mensah"), ::testing::IsEmpty());

  // Erasing again finds nothing; an unknown dataset is bad input.
  Result again = Ws("--json erase --subject P00002");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ParseJson(again.out)["rows_removed"], 0);
  EXPECT_EQ(ParseJson(again.out)["keys_destroyed"], 0);
  EXPECT_EQ(ParseJson(again.out)["subject_pseudonym"], pseudonym) << "the pseudonym is stable";
  EXPECT_EQ(Ws("erase --subject P00003 --dataset nosuch").exit_code, 2);
}

TEST_F(VeilCliTest, ErasedSubjectStaysErasedWhenOldVaultFilesAreRestored) {
  InitWithPatients("--purpose care");
  // The attacker's copy, taken before the erasure.
  std::filesystem::copy(ws_ / "vault", dir_ / "vault.before", std::filesystem::copy_options::recursive);
  ASSERT_FALSE(std::filesystem::exists(ws_ / "workspace.db-wal"));
  std::filesystem::copy_file(ws_ / "workspace.db", dir_ / "workspace.db.before");
  Result erase = Ws("erase --subject P00002");
  ASSERT_EQ(erase.exit_code, 0) << erase.err;
  std::vector<std::filesystem::path> current;  // the vault files the catalog now references
  for (const auto& e : std::filesystem::recursive_directory_iterator(ws_ / "vault")) {
    if (e.is_regular_file()) current.push_back(e.path());
  }
  ASSERT_EQ(current.size(), 1u);
  const std::string current_bytes = Slurp(current[0].string());

  // 1. The old vault files copied back over the vault directory (their names differ from the current
  // ones'). Observed: export succeeds (exit 0) from the file the catalog references, without P00002 (and
  // that open deleted the unreferenced copy). Exit 4 would be acceptable too; P00002 coming back would not.
  std::filesystem::copy(dir_ / "vault.before", ws_ / "vault", std::filesystem::copy_options::recursive);
  std::filesystem::copy_file(dir_ / "workspace.db.before", ws_ / "workspace.db",
                             std::filesystem::copy_options::overwrite_existing);
  Result restored = Ws("export patients --purpose care");
  EXPECT_EQ(restored.exit_code, 4) << restored.err;
  EXPECT_THAT(restored.err, HasSubstr("no data key"));
  EXPECT_THAT(restored.out, Not(HasSubstr("P00002")));
  EXPECT_THAT(restored.out, Not(HasSubstr("Nora Mensah")));
}

TEST_F(VeilCliTest, AuditCheckpointsAndProofsVerify) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  const std::string csv = WriteFile("small.csv", "id,v\nA,1\nB,2\n");
  ASSERT_EQ(Ws("ingest " + csv + " --dataset small --subject-column id --purpose care --quiet").exit_code, 0);

  Result cp1 = Ws("--json audit checkpoint -o " + Q(Path("cp1")));
  ASSERT_EQ(cp1.exit_code, 0) << cp1.err;
  const nlohmann::json cp1_doc = ParseJson(cp1.out);
  const uint64_t size1 = cp1_doc["size"];
  EXPECT_EQ(size1, 2u);
  EXPECT_EQ(Slurp(Path("cp1")), cp1_doc["checkpoint"]);
  EXPECT_THAT(Slurp(Path("cp1")), HasSubstr("veil.audit/"));

  // More operations (reading and proving are not audited: only these three entries are added).
  ASSERT_EQ(Ws("export small --purpose care --quiet -o " + Q(Path("out.csv"))).exit_code, 0);
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  ASSERT_EQ(Ws("export small --purpose care", "bob").exit_code, 3);
  Result cp2 = Ws("--json audit checkpoint -o " + Q(Path("cp2")));
  ASSERT_EQ(cp2.exit_code, 0) << cp2.err;
  const uint64_t size2 = ParseJson(cp2.out)["size"];
  EXPECT_EQ(size2, size1 + 3);

  Result verify = Ws("--json audit verify --against " + Q(Path("cp1")));
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  const nlohmann::json v = ParseJson(verify.out);
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["entries"], size2);
  EXPECT_EQ(v["witness_size"], size1);
  EXPECT_EQ(v["checkpoints"], 2);

  // Inclusion of entry 1 (the ingest) in the tree that cp2 signs.
  ASSERT_EQ(Ws("audit proof 1 -o " + Q(Path("p"))).exit_code, 0);
  EXPECT_THAT(Slurp(Path("p")), HasSubstr("veil audit inclusion proof"));
  Result inclusion = Ws("--json audit verify-proof " + Q(Path("p")) + " --against " + Q(Path("cp2")));
  ASSERT_EQ(inclusion.exit_code, 0) << inclusion.err;
  EXPECT_EQ(ParseJson(inclusion.out)["ok"], true);
  EXPECT_EQ(ParseJson(inclusion.out)["against_checkpoint"], true);
  // Against a checkpoint of another size the proof does not hold (observed: exit 4).
  EXPECT_NE(Ws("audit verify-proof " + Q(Path("p")) + " --against " + Q(Path("cp1"))).exit_code, 0);
  // A proof whose path was altered fails, with or without a checkpoint.
  std::string forged = Slurp(Path("p"));
  const size_t last_line = forged.rfind('\n', forged.size() - 2) + 1;
  forged[last_line] = forged[last_line] == '0' ? '1' : '0';
  WriteBytes(dir_ / "forged", forged);
  EXPECT_EQ(Ws("audit verify-proof " + Q(Path("forged"))).exit_code, 4);
  EXPECT_EQ(Ws("audit verify-proof " + Q(Path("forged")) + " --against " + Q(Path("cp2"))).exit_code, 4);
  EXPECT_EQ(Ws("audit proof " + std::to_string(size2)).exit_code, 2) << "no such entry";

  // The tree of cp1 is a prefix of the tree of cp2.
  Result consistency = Ws("audit consistency " + std::to_string(size1) + " --size " + std::to_string(size2) +
                          " -o " + Q(Path("c")));
  ASSERT_EQ(consistency.exit_code, 0) << consistency.err;
  Result prefix = Ws("--json audit verify-proof " + Q(Path("c")) + " --old " + Q(Path("cp1")) +
                     " --against " + Q(Path("cp2")));
  ASSERT_EQ(prefix.exit_code, 0) << prefix.err;
  EXPECT_EQ(ParseJson(prefix.out)["ok"], true);
  EXPECT_NE(
      Ws("audit verify-proof " + Q(Path("c")) + " --old " + Q(Path("cp2")) + " --against " + Q(Path("cp1")))
          .exit_code,
      0);
  EXPECT_EQ(Ws("audit verify-proof " + Q(Path("c")) + " --against " + Q(Path("cp2"))).exit_code, 2)
      << "a consistency proof needs both checkpoints";

  // A checkpoint of another workspace's log is no witness for this one.
  ASSERT_EQ(Ws("init --quiet --workspace " + Q(Path("ws2"))).exit_code, 0);
  ASSERT_EQ(Ws("audit checkpoint --quiet -o " + Q(Path("cpx")) + " --workspace " + Q(Path("ws2"))).exit_code,
            0);
  EXPECT_EQ(Ws("audit verify --against " + Q(Path("cpx"))).exit_code, 4);
}

TEST_F(VeilCliTest, TamperedAuditLogFailsVerificationNamingTheEntry) {
  InitWithPatients("--purpose care");
  ASSERT_EQ(Ws("export patients --purpose care --quiet -o " + Q(Path("out.csv"))).exit_code, 0);
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);
  ASSERT_EQ(Ws("export patients --purpose care", "bob").exit_code, 3);
  ASSERT_EQ(Ws("audit verify --quiet").exit_code, 0);

  const std::filesystem::path log_path = ws_ / "audit" / "audit.log";
  const std::string original = Slurp(log_path.string());
  const std::vector<AuditRecord> records = AuditRecords(original);
  ASSERT_EQ(records.size(), 6u);
  const size_t seq = records.size() / 2;
  const AuditRecord& rec = records[seq];
  const size_t body = rec.offset + kRecordHeaderSize;
  // The middle entry (alice's grant to bob): its actor "alice" becomes "Alice", one bit flipped, still a
  // well-formed entry.
  const size_t at = original.find("alice", body);
  ASSERT_LT(at + 5, body + rec.body_size - 32) << "the actor is in the entry, before its tree head";

  // 1. One flipped bit: the record's checksum fails; every command refuses the workspace.
  std::string flipped = original;
  flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
  WriteBytes(log_path, flipped);
  Result verify = Ws("audit verify");
  EXPECT_EQ(verify.exit_code, 4);
  EXPECT_THAT(verify.err, HasSubstr("entry seq " + std::to_string(seq)));
  Result verify_json = Ws("--json audit verify", "carol");
  EXPECT_EQ(verify_json.exit_code, 4);
  EXPECT_EQ(ParseJson(verify_json.out)["error"]["exit_code"], 4);
  EXPECT_EQ(ParseJson(verify_json.out)["error"]["code"], "DATA_LOSS");
  EXPECT_EQ(Ws("export patients --purpose care").exit_code, 4);
  EXPECT_EQ(Slurp(log_path.string()), flipped) << "nothing is dropped or rewritten";

  // 2. The same edit with the checksum recomputed: the stored tree head no longer matches.
  std::string rewritten = flipped;
  StoreU32(rewritten, rec.offset + 8,
           MaskCrc(Crc32c(std::string_view(rewritten).substr(body, rec.body_size))));
  WriteBytes(log_path, rewritten);
  Result verify2 = Ws("audit verify");
  EXPECT_EQ(verify2.exit_code, 4);
  EXPECT_THAT(verify2.err, HasSubstr("entry seq " + std::to_string(seq)));
  EXPECT_THAT(verify2.err, HasSubstr("tree head"));

  // The untouched log verifies again: the failures came from the edits.
  WriteBytes(log_path, original);
  Result restored = Ws("audit verify");
  EXPECT_EQ(restored.exit_code, 0) << restored.err;
}

// --- Privacy budgets (issue 4) ---

TEST_F(VeilCliTest, BudgetIsSetByTheOwnerAndReadByEveryRole) {
  InitWithPatients();
  ASSERT_EQ(Ws("ingest " + std::string(kPatients) + " --dataset clinic --subject-column patient_id --quiet")
                .exit_code,
            0);
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);

  // Without a budget: shown as not set, with how to set one.
  Result none = Ws("budget patients");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("Dataset \"patients\" has no privacy budget"));
  EXPECT_THAT(none.out, HasSubstr("veil budget set patients --epsilon E --delta D"));

  Result set = Ws("budget set patients --epsilon 1 --delta 1e-5");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, HasSubstr("Set the privacy budget of dataset \"patients\" to epsilon 1, delta 1e-05"));
  const nlohmann::json entry = AuditLog()["entries"].back();
  EXPECT_EQ(entry["action"], "budget.set");
  EXPECT_EQ(entry["actor"], "alice");
  EXPECT_EQ(entry["dataset"], "patients");
  EXPECT_EQ(entry["decision"], "allowed");

  Result json = Ws("--json budget patients", "bob");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json doc = ParseJson(json.out);
  EXPECT_EQ(doc["dataset"], "patients");
  EXPECT_EQ(doc["composition"], "basic");
  EXPECT_EQ(doc["total"]["epsilon"], 1.0);
  EXPECT_EQ(doc["total"]["delta"], 1e-5);
  EXPECT_EQ(doc["total"]["set_by"], "alice");
  EXPECT_EQ(doc["spent"]["epsilon"], 0.0);
  EXPECT_EQ(doc["remaining"]["epsilon"], 1.0);
  EXPECT_TRUE(doc["charges"].empty());

  // The list, as aligned text: one line per dataset.
  Result list = Ws("budget", "carol");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("dataset   epsilon  spent  remaining  delta  spent  remaining  charges"));
  EXPECT_THAT(list.out, HasSubstr("clinic    not set"));
  EXPECT_THAT(list.out, HasSubstr("patients        1      0          1  1e-05      0      1e-05        0"));
  Result list_json = Ws("--json budget", "carol");
  ASSERT_EQ(list_json.exit_code, 0);
  EXPECT_EQ(ParseJson(list_json.out)["budgets"].size(), 2u);
  EXPECT_EQ(ParseJson(list_json.out)["budgets"][0]["total"], nullptr) << "clinic: none set";

  // Global options after the subcommand; raising and lowering.
  Result raise = Ws("budget set patients --epsilon 2.5 --delta 1e-6 --json");
  ASSERT_EQ(raise.exit_code, 0) << raise.err;
  EXPECT_EQ(ParseJson(raise.out)["total"]["epsilon"], 2.5);
  EXPECT_EQ(ParseJson(raise.out)["total"]["delta"], 1e-6);

  // Refusals (exit 3, audited) and bad input (exit 2).
  const uint64_t before = AuditSize();
  Result analyst = Ws("budget set patients --epsilon 100", "bob");
  EXPECT_EQ(analyst.exit_code, 3);
  EXPECT_THAT(analyst.err, HasSubstr("refused: budget.set needs the role owner"));
  EXPECT_EQ(Ws("budget", "mallory").exit_code, 3);
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["size"], before + 2);
  EXPECT_EQ(log["entries"][before]["action"], "budget.set");
  EXPECT_EQ(log["entries"][before]["decision"], "denied");
  EXPECT_EQ(log["entries"][before + 1]["action"], "budget.read");
  for (const char* bad :
       {"budget set patients --epsilon -1", "budget set patients --epsilon 1 --delta 1",
        "budget set patients --epsilon nan", "budget set patients --epsilon lots", "budget set patients",
        "budget set --epsilon 1", "budget set nope --epsilon 1", "budget nope"}) {
    Result r = Ws(bad);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
  }
  EXPECT_EQ(AuditSize(), before + 2) << "bad input is not an operation";
  EXPECT_EQ(ParseJson(Ws("--json budget patients").out)["total"]["epsilon"], 2.5) << "unchanged";
}

// --- DP queries (issue 4): `veil query`, charged to the budget ---

constexpr char kCountQuery[] =
    "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 0.5, privacy_unit_column = patient_id) "
    "COUNT(*) AS n FROM patients";
constexpr char kGroupQuery[] =
    "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 0.25, delta = 1e-6, privacy_unit_column = "
    "patient_id) "
    "sex, COUNT(*) AS n, AVG(length_of_stay, contribution_bounds_per_group => (0, 30)) AS stay "
    "FROM patients WHERE name != 'Nora Costa' GROUP BY sex";

TEST_F(VeilCliTest, QueryIsChargedAuditedAndRefusedOnceTheBudgetIsSpent) {
  InitWithPatients();
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  ASSERT_EQ(Ws("budget set patients --epsilon 1 --delta 1e-5").exit_code, 0);

  // A grouped query: keys, values with their intervals, then the charge.
  Result grouped = Ws("query " + Q(kGroupQuery) + " --purpose research", "bob");
  ASSERT_EQ(grouped.exit_code, 0) << grouped.err;
  EXPECT_THAT(grouped.out, HasSubstr("sex"));
  EXPECT_THAT(grouped.out, HasSubstr("95% CI"));
  EXPECT_THAT(grouped.out, HasSubstr("stay"));
  EXPECT_THAT(grouped.out,
              HasSubstr("Charged epsilon 0.25, delta 1e-06 to dataset \"patients\" (audit entry #"));
  EXPECT_THAT(grouped.out, HasSubstr("remaining: epsilon 0.75, delta 9e-06"));

  // As JSON: the count of 300 patients, with Laplace noise of scale 1 / 0.5 = 2: |noise| > 40 has
  // probability exp(-20) ~ 2e-9.
  Result counted = Ws("--json query " + Q(kCountQuery) + " --purpose research", "bob");
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  const nlohmann::json doc = ParseJson(counted.out);
  EXPECT_EQ(doc["dataset"], "patients");
  EXPECT_EQ(doc["result"]["columns"], nlohmann::json({"n", "n_ci_lo", "n_ci_hi"}));
  ASSERT_EQ(doc["result"]["rows"].size(), 1u);
  const double n = doc["result"]["rows"][0][0].get<double>();
  EXPECT_NEAR(n, 300, 40);
  EXPECT_LT(doc["result"]["rows"][0][1].get<double>(), n);
  EXPECT_GT(doc["result"]["rows"][0][2].get<double>(), n);
  EXPECT_EQ(doc["charge"]["epsilon"], 0.5);
  EXPECT_EQ(doc["charge"]["delta"], 0.0);
  EXPECT_NEAR(doc["budget"]["remaining"]["epsilon"].get<double>(), 0.25, 1e-12);

  // The next 0.5 does not fit in the 0.25 left: refused before it runs, exit 3, audited.
  Result refused = Ws("query " + Q(kCountQuery) + " --purpose research", "bob");
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_THAT(refused.err, HasSubstr("refused: the privacy budget of dataset \"patients\" does not cover"));
  EXPECT_THAT(refused.err, HasSubstr("it costs epsilon=0.5 delta=0 but only epsilon=0.25"));
  EXPECT_EQ(refused.out, "");

  // The ledger: two charges, who, what (no literal of the query), and the audit entries they point at.
  Result budget = Ws("--json budget patients", "bob");
  ASSERT_EQ(budget.exit_code, 0) << budget.err;
  const nlohmann::json b = ParseJson(budget.out);
  ASSERT_EQ(b["charges"].size(), 2u);
  EXPECT_NEAR(b["spent"]["epsilon"].get<double>(), 0.75, 1e-12);
  EXPECT_EQ(b["charges"][0]["actor"], "bob");
  EXPECT_EQ(b["charges"][0]["operation"], "query");
  EXPECT_EQ(b["charges"][0]["state"], "committed");
  const std::string what = b["charges"][0]["description"].get<std::string>();
  EXPECT_THAT(what, HasSubstr("COUNT(*), AVG(length_of_stay) GROUP BY sex (filtered); sql "));
  EXPECT_THAT(what, Not(HasSubstr("Nora")));
  Result text = Ws("budget patients", "bob");
  EXPECT_THAT(text.out, HasSubstr("Charges (2):"));
  EXPECT_THAT(text.out, HasSubstr("bob  query"));

  const nlohmann::json log = AuditLog();
  const nlohmann::json& first = log["entries"][b["charges"][0]["audit_seq"].get<size_t>()];
  EXPECT_EQ(first["action"], "query");
  EXPECT_EQ(first["decision"], "allowed");
  EXPECT_EQ(first["purpose"], "research");
  EXPECT_EQ(first["cost"], "epsilon=0.25 delta=1e-06");
  EXPECT_TRUE(IsLowerHex(first["result_hash"], 64));
  EXPECT_EQ(log["entries"][b["charges"][1]["audit_seq"].get<size_t>()]["cost"], "epsilon=0.5 delta=0");
  const nlohmann::json& last = log["entries"].back();
  EXPECT_EQ(last["action"], "query");
  EXPECT_EQ(last["decision"], "denied");
  EXPECT_THAT(last["reason"].get<std::string>(), HasSubstr("does not cover this query"));
  EXPECT_TRUE(FilesContaining(ws_, "Nora Costa").empty()) << "the query's literal is stored nowhere in clear";
}

TEST_F(VeilCliTest, QueryExplainReadsNoDataAndSpendsNothing) {
  InitWithPatients();
  const uint64_t before = AuditSize();
  Result none = Ws("query " + Q(kGroupQuery) + " --explain");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("no privacy budget is set, so this query would be refused"));
  EXPECT_THAT(none.out, HasSubstr("Nothing was read and no budget was spent."));
  ASSERT_EQ(Ws("budget set patients --epsilon 0.2 --delta 1e-5").exit_code, 0);
  Result json = Ws("--json query " + Q(kGroupQuery) + " --explain");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json doc = ParseJson(json.out);
  EXPECT_EQ(doc["dataset"], "patients");
  EXPECT_EQ(doc["fits"], false) << "0.25 > 0.2";
  EXPECT_EQ(doc["explain"]["cost"]["epsilon"], 0.25);
  EXPECT_EQ(doc["budget"]["remaining"]["epsilon"], 0.2);
  EXPECT_EQ(AuditSize(), before + 1) << "only the budget.set entry";
  EXPECT_TRUE(ParseJson(Ws("--json budget patients").out)["charges"].empty());
}

TEST_F(VeilCliTest, QueryRefusalsAndBadQueries) {
  InitWithPatients();
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);
  // No budget: refused, exit 3, with what to do.
  Result no_budget = Ws("query " + Q(kCountQuery) + " --purpose research");
  EXPECT_EQ(no_budget.exit_code, 3);
  EXPECT_THAT(no_budget.err, HasSubstr("has no privacy budget"));
  EXPECT_THAT(no_budget.err, HasSubstr("veil budget set patients --epsilon E --delta D"));
  ASSERT_EQ(Ws("budget set patients --epsilon 10 --delta 1e-5").exit_code, 0);
  // The gate: a purpose, the role.
  EXPECT_EQ(Ws("query " + Q(kCountQuery)).exit_code, 3) << "no purpose";
  EXPECT_EQ(Ws("query " + Q(kCountQuery) + " --purpose marketing").exit_code, 3);
  EXPECT_EQ(Ws("query " + Q(kCountQuery) + " --purpose research", "carol").exit_code, 3);
  // Bad input: exit 2, naming the problem.
  Result syntax = Ws("query " + Q("SELECT COUNT(*) FROM patients") + " --purpose research");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_THAT(syntax.err, HasSubstr("1:"));
  Result unit = Ws("query " +
                   Q("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = diagnosis) "
                     "COUNT(*) FROM patients") +
                   " --purpose research");
  EXPECT_EQ(unit.exit_code, 2);
  EXPECT_THAT(unit.err,
              HasSubstr("the privacy unit must be dataset \"patients\"'s subject column \"patient_id\""));
  EXPECT_EQ(Ws("query " + Q(kCountQuery) + " --dataset nope --purpose research").exit_code, 2);
  Result column = Ws("query " +
                     Q("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = "
                       "patient_id) SUM(nosuch) FROM patients") +
                     " --purpose research");
  EXPECT_EQ(column.exit_code, 2);
  // Nothing was charged.
  EXPECT_TRUE(ParseJson(Ws("--json budget patients").out)["charges"].empty());
  // --dataset overrides the FROM name.
  Result other = Ws("query " + Q(std::string(kCountQuery) + "_2024") + " --dataset patients --purpose care");
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

// Eight `veil query` processes started at once race for a budget that covers four of them: exactly four
// succeed (exit 0) and four are refused (exit 3); the ledger never goes over.
TEST_F(VeilCliTest, ConcurrentQueryProcessesCannotOverspend) {
  InitWithPatients();
  ASSERT_EQ(Ws("budget set patients --epsilon 2").exit_code, 0);
  std::string script;
  for (int i = 0; i < 8; ++i) {
    script += "(env -u VEIL_PASSPHRASE VEIL_WORKSPACE=" + Q(ws_.string()) + " VEIL_ACTOR=alice " +
              VEIL_BINARY + " query " + Q(kCountQuery) + " --purpose research >/dev/null 2>&1; echo $? >" +
              Q(Path("rc_" + std::to_string(i))) + ") & ";
  }
  script += "wait";
  ASSERT_EQ(std::system(script.c_str()), 0);
  int ok = 0, refused = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string rc = Slurp(Path("rc_" + std::to_string(i)));
    ok += rc == "0\n";
    refused += rc == "3\n";
  }
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(refused, 4);
  const nlohmann::json b = ParseJson(Ws("--json budget patients").out);
  EXPECT_EQ(b["charges"].size(), 4u);
  EXPECT_EQ(b["spent"]["epsilon"], 2.0);
}

}  // namespace
