#include "veil/store/vault_file.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/test_env.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/table/table.h"

namespace veil::store {
namespace {

using table::ColumnBuilder;
using table::DataType;
using table::Date;
using table::Schema;
using table::Table;
using table::TableBuilder;
using table::Timestamp;
using table::Value;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();
// NaNs whose exact bits must survive: a quiet NaN with a payload, a negative one, a signalling one.
constexpr uint64_t kNanPayloadBits = 0x7FF8'0000'0000'BEEFULL;
constexpr uint64_t kNegativeNanBits = 0xFFF8'0000'0000'0001ULL;
constexpr uint64_t kSignallingNanBits = 0x7FF0'0000'0000'0001ULL;

std::span<const uint8_t> Bytes(const std::string& s) { return base::AsBytes(s); }

std::string Pseudonym(std::string_view subject) { return base::HexEncode(crypto::Sha256(subject)); }

Schema AllTypes(bool nullable) {
  return *Schema::Make({{"i", DataType::kInt64, nullable},
                        {"d", DataType::kDouble, nullable},
                        {"b", DataType::kBool, nullable},
                        {"s", DataType::kString, nullable},
                        {"day", DataType::kDate, nullable},
                        {"ts", DataType::kTimestamp, nullable}});
}

// Every type's corner cases, with nulls in rows 2 and 4 (row 4 is null throughout).
Table CornerCaseTable() {
  TableBuilder b(AllTypes(/*nullable=*/true));
  const auto add = [&](std::initializer_list<Value> row) { EXPECT_TRUE(b.AppendRow(row).ok()); };
  add({kInt64Min, -0.0, true, std::string(), Date{kInt32Min}, Timestamp{kInt64Min}});
  add({kInt64Max, std::bit_cast<double>(kNanPayloadBits), false, std::string("héllo wörld 日本語 🎉"),
       Date{-1}, Timestamp{-1}});
  add({int64_t{0}, std::numeric_limits<double>::infinity(), std::monostate(), std::string("a"),
       std::monostate(), Timestamp{0}});
  add({int64_t{-1}, -std::numeric_limits<double>::infinity(), true, std::monostate(), Date{-719528},
       Timestamp{kInt64Max}});
  add({std::monostate(), std::monostate(), std::monostate(), std::monostate(), std::monostate(),
       std::monostate()});
  add({int64_t{1} << 40, std::bit_cast<double>(kNegativeNanBits), false, std::string("a"), Date{kInt32Max},
       Timestamp{-86'400'000'000LL * 365 * 100}});
  add({int64_t{42}, std::bit_cast<double>(kSignallingNanBits), true,
       std::string("\x7f\xc2\x80 \xf4\x8f\xbf\xbf"), Date{0}, Timestamp{1'700'000'000'123'456LL}});
  add({int64_t{-64}, 5e-324, false, std::string(300, 'x'), Date{18'000}, Timestamp{1}});
  return *b.Finish();
}

// The rows `positions` of `table`, in that order.
Table Pick(const Table& table, const std::vector<int64_t>& positions) {
  TableBuilder b(table.schema());
  for (const int64_t row : positions) {
    std::vector<Value> values;
    for (int c = 0; c < table.num_columns(); ++c) values.push_back(table.GetValue(row, c));
    EXPECT_TRUE(b.AppendRow(values).ok());
  }
  return *b.Finish();
}

struct Decoded {
  Table table;
  std::vector<uint64_t> row_ids;
};

std::vector<ColumnBuilder> BuildersFor(const Schema& schema) {
  std::vector<ColumnBuilder> builders;
  for (const table::Field& f : schema.fields()) builders.emplace_back(f.type);
  return builders;
}

absl::StatusOr<Table> FinishTable(const Schema& schema, std::vector<ColumnBuilder>& builders) {
  std::vector<table::Column> columns;
  for (ColumnBuilder& b : builders) {
    absl::StatusOr<table::Column> column = b.Finish();
    if (!column.ok()) return column.status();
    columns.push_back(*std::move(column));
  }
  return Table::Make(schema, std::move(columns));
}

absl::StatusOr<Decoded> Decode(std::span<const uint8_t> plaintext, const Schema& schema) {
  std::vector<ColumnBuilder> builders = BuildersFor(schema);
  Decoded out;
  if (absl::Status s = DecodeSubjectRows(plaintext, schema, builders, &out.row_ids); !s.ok()) return s;
  absl::StatusOr<Table> table = FinishTable(schema, builders);
  if (!table.ok()) return table.status();
  out.table = *std::move(table);
  return out;
}

uint64_t DoubleBits(const Table& t, int64_t row) {
  return std::bit_cast<uint64_t>(t.column(1).GetDouble(row));
}

void ExpectDataLossAt(const absl::Status& status, std::string_view prefix, std::string_view what = "") {
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), table::internal::ToAbsl(prefix))) << status;
  EXPECT_NE(status.message().find(" at byte "), std::string_view::npos) << status;
  EXPECT_NE(status.message().find(table::internal::ToAbsl(what)), std::string_view::npos) << status;
}

// ---- Record plaintext.

TEST(VaultRecordTest, RoundTripsEveryTypeWithNullsAndCornerValues) {
  const Table table = CornerCaseTable();
  const std::vector<int64_t> positions = {6, 0, 3, 1, 4, 2, 7, 5};  // any order, as a subject's rows come
  std::string plaintext = "kept";                                   // EncodeSubjectRows appends
  EncodeSubjectRows(table, positions, /*row_id_base=*/1000, &plaintext);
  ASSERT_EQ(plaintext.substr(0, 4), "kept");
  auto decoded = Decode(Bytes(plaintext.substr(4)), table.schema());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->table, Pick(table, positions));
  EXPECT_EQ(decoded->row_ids, (std::vector<uint64_t>{1006, 1000, 1003, 1001, 1004, 1002, 1007, 1005}));
  // Column equality lets any NaN equal any NaN and compares -0.0 by bits; the NaN bits must be exact too.
  EXPECT_EQ(DoubleBits(decoded->table, 0), kSignallingNanBits);
  EXPECT_EQ(DoubleBits(decoded->table, 1), std::bit_cast<uint64_t>(-0.0));
  EXPECT_EQ(DoubleBits(decoded->table, 3), kNanPayloadBits);
  EXPECT_EQ(DoubleBits(decoded->table, 7), kNegativeNanBits);
  EXPECT_EQ(decoded->table.column(0).GetInt64(1), kInt64Min);
  EXPECT_EQ(decoded->table.column(3).GetString(3), "héllo wörld 日本語 🎉");
  EXPECT_EQ(decoded->table.column(4).GetDate(1).days, kInt32Min);
  EXPECT_EQ(decoded->table.column(4).GetDate(2).days, -719528) << "0000-01-01";
  EXPECT_EQ(decoded->table.column(5).GetTimestamp(2).micros, kInt64Max);
  EXPECT_TRUE(decoded->table.IsNull(4, 5));
  EXPECT_FALSE(decoded->table.IsNull(1, 3)) << "an empty string is not null";
}

TEST(VaultRecordTest, NonNullableSchemaAndEmptyRecordRoundTrip) {
  TableBuilder b(AllTypes(/*nullable=*/false));
  ASSERT_TRUE(b.AppendRow({int64_t{7}, 0.5, true, std::string("x"), Date{-3}, Timestamp{-5}}).ok());
  ASSERT_TRUE(b.AppendRow({int64_t{-7}, -0.5, false, std::string(""), Date{3}, Timestamp{5}}).ok());
  const Table table = *b.Finish();
  std::string plaintext;
  EncodeSubjectRows(table, std::vector<int64_t>{1, 0}, 0, &plaintext);
  auto decoded = Decode(Bytes(plaintext), table.schema());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->table, Pick(table, {1, 0}));
  EXPECT_EQ(decoded->row_ids, (std::vector<uint64_t>{1, 0}));

  std::string empty;
  EncodeSubjectRows(table, {}, 0, &empty);
  auto none = Decode(Bytes(empty), table.schema());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->table.num_rows(), 0);
  EXPECT_TRUE(none->row_ids.empty());
}

TEST(VaultRecordTest, RecordsOfManySubjectsDecodeIntoTheSameBuilders) {
  const Table table = CornerCaseTable();
  std::string a, b;
  EncodeSubjectRows(table, std::vector<int64_t>{0, 2, 5}, 0, &a);
  EncodeSubjectRows(table, std::vector<int64_t>{7, 1}, 0, &b);
  std::vector<ColumnBuilder> builders = BuildersFor(table.schema());
  std::vector<uint64_t> ids;
  ASSERT_TRUE(DecodeSubjectRows(Bytes(a), table.schema(), builders, &ids).ok());
  ASSERT_TRUE(DecodeSubjectRows(Bytes(b), table.schema(), builders, &ids).ok());
  auto all = FinishTable(table.schema(), builders);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, Pick(table, {0, 2, 5, 7, 1}));
  EXPECT_EQ(ids, (std::vector<uint64_t>{0, 2, 5, 7, 1}));
}

TEST(VaultRecordTest, ExplicitRowIdsAnywhereInTheRangeRoundTrip) {
  const Table table = CornerCaseTable();
  const std::vector<int64_t> positions = {0, 1, 2, 3};
  const std::vector<uint64_t> ids = {~uint64_t{0}, 0, uint64_t{1} << 63, 5};  // differences wrap mod 2^64
  std::string plaintext;
  internal::EncodeSubjectRowsWithIds(table, positions, ids, &plaintext);
  auto decoded = Decode(Bytes(plaintext), table.schema());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->row_ids, ids);
}

// Pins the format (vault_file.h): a change here breaks every vault already on disk.
TEST(VaultRecordTest, KnownAnswerEncoding) {
  const Schema schema =
      *Schema::Make({{"id", DataType::kInt64, /*nullable=*/false}, {"name", DataType::kString}});
  TableBuilder b(schema);
  ASSERT_TRUE(b.AppendRow({int64_t{1}, std::string("a")}).ok());
  ASSERT_TRUE(b.AppendRow({int64_t{-2}, std::monostate()}).ok());
  const Table table = *b.Finish();
  std::string plaintext;
  EncodeSubjectRows(table, std::vector<int64_t>{0, 1}, /*row_id_base=*/7, &plaintext);
  const std::string expected = {'\x01',                  // format
                                '\x02', '\x02',          // 2 rows, 2 columns
                                '\x07', '\x02',          // row ids 7, then +1 (zigzag 2)
                                '\x00', '\x00',          // int64, no nulls
                                '\x02', '\x03',          // 1, -2 (zigzag)
                                '\x03', '\x01', '\x02',  // string, a null bitmap: row 1 is null
                                '\x01', 'a'};            // "a"
  EXPECT_EQ(base::HexEncode(Bytes(plaintext)), base::HexEncode(Bytes(expected)));
}

TEST(VaultRecordTest, EveryTruncationIsDataLoss) {
  const Table table = CornerCaseTable();
  std::string plaintext;
  EncodeSubjectRows(table, std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, 0, &plaintext);
  for (size_t n = 0; n < plaintext.size(); ++n) {
    SCOPED_TRACE(n);
    std::vector<ColumnBuilder> builders = BuildersFor(table.schema());
    std::vector<uint64_t> ids;
    ExpectDataLossAt(DecodeSubjectRows(Bytes(plaintext.substr(0, n)), table.schema(), builders, &ids),
                     "vault record: ");
  }
}

TEST(VaultRecordTest, TrailingBytesAreDataLoss) {
  const Table table = CornerCaseTable();
  std::string plaintext;
  EncodeSubjectRows(table, std::vector<int64_t>{0, 1}, 0, &plaintext);
  const size_t size = plaintext.size();
  plaintext.push_back('\0');
  auto decoded = Decode(Bytes(plaintext), table.schema());
  ExpectDataLossAt(decoded.status(), "vault record: ", "1 trailing bytes at byte " + std::to_string(size));
}

// Every single-byte change either decodes (to rows that re-encode to exactly the changed bytes: the encoding
// is canonical) or is DataLoss; never a crash or another error.
TEST(VaultRecordTest, FlippedBytesDecodeCanonicallyOrAreDataLoss) {
  const Table table = CornerCaseTable();
  std::string plaintext;
  EncodeSubjectRows(table, std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, 0, &plaintext);
  int rejected = 0;
  for (size_t i = 0; i < plaintext.size(); ++i) {
    for (const uint8_t mask : {0x01, 0x02, 0x40, 0x80, 0xFF}) {
      std::string changed = plaintext;
      changed[i] = static_cast<char>(changed[i] ^ mask);
      auto decoded = Decode(Bytes(changed), table.schema());
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << i << ": " << decoded.status();
        ++rejected;
        continue;
      }
      std::vector<int64_t> all(decoded->table.num_rows());
      for (size_t r = 0; r < all.size(); ++r) all[r] = static_cast<int64_t>(r);
      std::string again;
      internal::EncodeSubjectRowsWithIds(decoded->table, all, decoded->row_ids, &again);
      EXPECT_EQ(again, changed) << "byte " << i << " mask " << int{mask};
    }
  }
  EXPECT_GT(rejected, 0);
}

// Hand-made records over a one-column schema, each broken in one way.
struct Broken {
  const char* name;
  DataType type;
  bool nullable;
  std::string bytes;
  const char* what;  // expected in the message
  int at;            // expected byte offset
};

TEST(VaultRecordTest, MalformedRecordsNameWhatAndWhere) {
  using namespace std::string_literals;  // NOLINT: "..."s for bytes with NULs
  const Broken cases[] = {
      {"other format", DataType::kInt64, false, "\x02\x00\x01\x00\x00"s, "unknown record format 2", 0},
      {"row count too large", DataType::kInt64, false, "\x01\x09\x01\x00\x00\x00\x02"s, "row count 9", 1},
      {"column count", DataType::kInt64, false, "\x01\x00\x02"s, "2 columns where the schema has 1", 2},
      {"overlong varint", DataType::kInt64, false, "\x01\x01\x01\x80\x00\x00\x00\x02"s, "malformed varint",
       3},
      {"varint over 64 bits", DataType::kInt64, false,
       "\x01\x01\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"s, "malformed varint", 6},
      {"unknown type tag", DataType::kInt64, false, "\x01\x01\x01\x00\x09\x00\x02"s, "unknown type tag 9", 4},
      {"wrong type tag", DataType::kInt64, false, "\x01\x01\x01\x00\x03\x00\x01x"s,
       "a string column \"c\" where the schema has int64", 4},
      {"null marker", DataType::kInt64, true, "\x01\x01\x01\x00\x00\x02\x02"s, "invalid null marker 2", 5},
      {"null in non-nullable", DataType::kInt64, false, "\x01\x01\x01\x00\x00\x01\x01"s,
       "a null in the non-nullable column \"c\"", 5},
      {"bitmap without nulls", DataType::kInt64, true, "\x01\x01\x01\x00\x00\x01\x00\x02"s,
       "a null bitmap without nulls", 6},
      {"bitmap padding", DataType::kInt64, true, "\x01\x01\x01\x00\x00\x01\x03"s, "padding bits", 6},
      {"bool byte", DataType::kBool, false, "\x01\x01\x01\x00\x02\x00\x02"s, "invalid bool byte 2", 6},
      {"date range", DataType::kDate, false, "\x01\x01\x01\x00\x04\x00\x80\x80\x80\x80\x10"s,
       "outside the int32 range", 6},
      {"bad UTF-8", DataType::kString, false,
       "\x01\x01\x01\x00\x03\x00\x03"
       "a\xc3("s,
       "not valid UTF-8", 8},
      {"surrogate", DataType::kString, false, "\x01\x01\x01\x00\x03\x00\x03\xed\xa0\x80"s, "not valid UTF-8",
       7},
      {"string past the end", DataType::kString, false,
       "\x01\x01\x01\x00\x03\x00\x09"
       "abc"s,
       "truncated string of 9 bytes", 7},
      {"double cut short", DataType::kDouble, false, "\x01\x01\x01\x00\x01\x00\x00\x00\x00\x00"s,
       "truncated double value", 6},
  };
  for (const Broken& c : cases) {
    SCOPED_TRACE(c.name);
    const Schema schema = *Schema::Make({{"c", c.type, c.nullable}});
    auto decoded = Decode(Bytes(c.bytes), schema);
    ExpectDataLossAt(decoded.status(), "vault record: ", c.what);
    EXPECT_TRUE(absl::EndsWith(decoded.status().message(), absl::StrCat(" at byte ", c.at)))
        << decoded.status();
  }
}

TEST(VaultRecordTest, BuildersThatDoNotMatchTheSchemaAreTheCallersMistake) {
  const Schema schema = AllTypes(true);
  std::vector<uint64_t> ids;
  std::vector<ColumnBuilder> too_few;
  too_few.emplace_back(DataType::kInt64);
  EXPECT_EQ(DecodeSubjectRows({}, schema, too_few, &ids).code(), absl::StatusCode::kInvalidArgument);
  std::vector<ColumnBuilder> mistyped = BuildersFor(schema);
  mistyped[3] = ColumnBuilder(DataType::kInt64);
  EXPECT_EQ(DecodeSubjectRows({}, schema, mistyped, &ids).code(), absl::StatusCode::kInvalidArgument);
}

// ---- Sealed records.

class VaultSealTest : public ::testing::Test {
 protected:
  crypto::testing::DeterministicRandom rng_{7};
  base::SecretBytes key_ = *crypto::RandomKey(32, rng_);
  const std::string alice_ = Pseudonym("alice");
  const std::string bob_ = Pseudonym("bob");
  const std::string plaintext_ = std::string("\x01\x00\x00", 3);  // any bytes: sealing does not look inside
};

TEST_F(VaultSealTest, SealsAndOpens) {
  auto sealed = SealRecord(key_, "patients", alice_, Bytes(plaintext_), rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->size(), plaintext_.size() + crypto::kAes256GcmOverhead);
  auto opened = OpenRecord(key_, "patients", alice_, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(std::string(opened->begin(), opened->end()), plaintext_);
  EXPECT_NE(*SealRecord(key_, "patients", alice_, Bytes(plaintext_), rng_), *sealed) << "a fresh nonce";
}

TEST_F(VaultSealTest, DoesNotOpenUnderAnythingElse) {
  const std::vector<uint8_t> sealed = *SealRecord(key_, "patients", alice_, Bytes(plaintext_), rng_);
  const base::SecretBytes other_key = *crypto::RandomKey(32, rng_);
  std::vector<std::pair<std::string, absl::Status>> failures = {
      {"wrong key", OpenRecord(other_key, "patients", alice_, sealed).status()},
      {"other dataset", OpenRecord(key_, "claims", alice_, sealed).status()},
      {"other pseudonym", OpenRecord(key_, "patients", bob_, sealed).status()},
      {"truncated", OpenRecord(key_, "patients", alice_, std::span(sealed).first(10)).status()},
  };
  for (size_t i : {size_t{0}, size_t{12}, sealed.size() - 1}) {
    std::vector<uint8_t> flipped = sealed;
    flipped[i] ^= 0x20;
    failures.push_back(
        {"flipped byte " + std::to_string(i), OpenRecord(key_, "patients", alice_, flipped).status()});
  }
  for (const auto& [name, status] : failures) {
    SCOPED_TRACE(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    const std::string& pseudonym = name == "other pseudonym" ? bob_ : alice_;
    EXPECT_NE(status.message().find(pseudonym.substr(0, 16)), std::string_view::npos) << status;
    EXPECT_EQ(status.message().find(pseudonym.substr(16, 8)), std::string_view::npos)
        << "only the first 16 hex digits: " << status;
  }
  EXPECT_NE(failures[0].second.message().find("\"patients\""), std::string_view::npos) << failures[0].second;
}

TEST_F(VaultSealTest, MalformedPseudonymsAreRefusedAndNotEchoed) {
  std::string upper = alice_;
  upper[0] = 'A';
  for (const std::string& bad :
       {std::string("alice@example.org"), upper, alice_.substr(1), alice_ + "0", std::string(64, 'g')}) {
    auto sealed = SealRecord(key_, "patients", bad, Bytes(plaintext_), rng_);
    EXPECT_EQ(sealed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(sealed.status().message().find(bad), std::string_view::npos) << sealed.status();
    EXPECT_EQ(OpenRecord(key_, "patients", bad, std::vector<uint8_t>(40)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(IsVaultPseudonym(alice_));
  EXPECT_FALSE(IsVaultPseudonym(upper));
}

// ---- Vault files.

// Seals records of a few subjects, each under their own key, and writes and reads vault files of them.
class VaultFileTest : public ::testing::Test {
 protected:
  struct Record {
    std::string pseudonym;
    std::vector<uint8_t> sealed;
    friend bool operator==(const Record&, const Record&) = default;
  };

  void SetUp() override {
    ASSERT_TRUE(env_.CreateDirs("/vault").ok());
    for (const char* subject : {"alice", "bob", "carol"}) {
      Record r{Pseudonym(subject), {}};
      keys_.emplace(r.pseudonym, *crypto::RandomKey(32, rng_));
      const std::string plaintext = std::string("rows of ") + subject;
      r.sealed = *SealRecord(keys_.at(r.pseudonym), kDataset, r.pseudonym, Bytes(plaintext), rng_);
      records_.push_back(std::move(r));
    }
  }

  absl::StatusOr<VaultFileSummary> Write(base::Env& env, const std::string& path,
                                         const std::vector<Record>& records) {
    absl::StatusOr<VaultFileWriter> writer = VaultFileWriter::Create(env, path, kDataset);
    if (!writer.ok()) return writer.status();
    for (const Record& r : records) {
      if (absl::Status s = writer->Add(r.pseudonym, r.sealed); !s.ok()) return s;
    }
    return writer->Finish();
  }

  // Parses `bytes`; *visited gets what the visitor saw.
  absl::Status Parse(const std::string& bytes, const VaultFileSummary* expected, std::vector<Record>* visited,
                     std::string_view dataset = kDataset) {
    return ParseVaultFile(Bytes(bytes), "test.vault", dataset, expected,
                          [&](std::string_view pseudonym, std::span<const uint8_t> sealed) {
                            visited->push_back({std::string(pseudonym), {sealed.begin(), sealed.end()}});
                            return absl::OkStatus();
                          });
  }

  static VaultFileSummary SummaryOf(const std::string& bytes, int64_t records) {
    return {.records = records, .bytes = static_cast<int64_t>(bytes.size()), .sha256 = crypto::Sha256(bytes)};
  }

  static constexpr std::string_view kDataset = "patients";
  crypto::testing::DeterministicRandom rng_{3};
  base::testing::TestEnv env_{rng_};
  std::map<std::string, base::SecretBytes> keys_;
  std::vector<Record> records_;
};

TEST_F(VaultFileTest, WritesAndReadsBackThroughTheTestEnv) {
  auto summary = Write(env_, "/vault/patients-0.vault", records_);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::string bytes = *env_.ReadFileToString("/vault/patients-0.vault");
  EXPECT_EQ(*summary, SummaryOf(bytes, 3)) << "size and SHA-256 computed while writing";

  for (const VaultFileSummary* expected :
       std::initializer_list<const VaultFileSummary*>{&*summary, nullptr}) {
    std::vector<Record> visited;
    ASSERT_TRUE(ReadVaultFile(env_, "/vault/patients-0.vault", kDataset, expected,
                              [&](std::string_view pseudonym, std::span<const uint8_t> sealed) {
                                visited.push_back({std::string(pseudonym), {sealed.begin(), sealed.end()}});
                                return absl::OkStatus();
                              })
                    .ok());
    EXPECT_EQ(visited, records_);
  }
  // And the records open under their subjects' keys.
  for (const Record& r : records_)
    EXPECT_TRUE(OpenRecord(keys_.at(r.pseudonym), kDataset, r.pseudonym, r.sealed).ok());
}

// Pins the file format (vault_file.h).
TEST_F(VaultFileTest, KnownAnswerFileLayout) {
  ASSERT_TRUE(Write(env_, "/vault/empty.vault", {}).ok());
  using namespace std::string_literals;  // NOLINT
  EXPECT_EQ(*env_.ReadFileToString("/vault/empty.vault"),
            "VEILVLT1\x01\x08patientsE\x00\x00\x00\x00\x00\x00\x00\x00"s);

  ASSERT_TRUE(Write(env_, "/vault/one.vault", {records_[0]}).ok());
  std::string expected = "VEILVLT1\x01\x08patientsR"s;
  expected.resize(expected.size() + 32);
  ASSERT_TRUE(
      base::HexDecode(records_[0].pseudonym,
                      std::span(reinterpret_cast<uint8_t*>(expected.data()) + expected.size() - 32, 32)));
  expected.push_back(static_cast<char>(records_[0].sealed.size()));  // < 128: a one-byte varint
  expected.append(records_[0].sealed.begin(), records_[0].sealed.end());
  expected += "E\x01\x00\x00\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(base::HexEncode(Bytes(*env_.ReadFileToString("/vault/one.vault"))),
            base::HexEncode(Bytes(expected)));
}

TEST_F(VaultFileTest, LargeFilesThroughARealDirectory) {
  base::testing::ScopedTempDir tmp("veil_vault_file_test");
  base::testing::ZeroRandom zero;
  std::unique_ptr<base::Env> posix = base::NewPosixEnv(zero);
  // Enough records to fill the write buffer a few times, one of them larger than the buffer.
  std::vector<Record> records;
  for (int i = 0; i < 3000; ++i) {
    const bool large = i == 1234;
    std::vector<uint8_t> sealed(large ? (3 << 20) / 2 : 100 + (i * 37) % 1500,
                                large ? uint8_t{0xAB} : static_cast<uint8_t>(i));
    records.push_back({Pseudonym(std::to_string(i)), std::move(sealed)});
  }
  const std::string path = tmp.File("big.vault");
  auto summary = Write(*posix, path, records);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::string bytes = base::testing::FileContents(path);
  EXPECT_EQ(*summary, SummaryOf(bytes, 3000));
  std::vector<Record> visited;
  ASSERT_TRUE(ReadVaultFile(*posix, path, kDataset, &*summary,
                            [&](std::string_view pseudonym, std::span<const uint8_t> sealed) {
                              visited.push_back({std::string(pseudonym), {sealed.begin(), sealed.end()}});
                              return absl::OkStatus();
                            })
                  .ok());
  EXPECT_TRUE(visited == records);
}

TEST_F(VaultFileTest, EveryTruncationIsDataLossAndVisitsNothing) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  const std::string bytes = *env_.ReadFileToString("/vault/f");
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    const std::string cut = bytes.substr(0, n);
    std::vector<Record> visited;
    const absl::Status with_catalog = Parse(cut, &summary, &visited);
    EXPECT_EQ(with_catalog.code(), absl::StatusCode::kDataLoss) << with_catalog;
    EXPECT_NE(with_catalog.message().find("does not match the catalog"), std::string_view::npos);
    // The trailer catches a cut even without the catalog, between frames too.
    ExpectDataLossAt(Parse(cut, nullptr, &visited), "vault file test.vault: ");
    EXPECT_TRUE(visited.empty());
  }
}

TEST_F(VaultFileTest, EveryFlippedByteIsCaught) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  const std::string bytes = *env_.ReadFileToString("/vault/f");
  for (size_t i = 0; i < bytes.size(); ++i) {
    SCOPED_TRACE(i);
    std::string changed = bytes;
    changed[i] = static_cast<char>(changed[i] ^ 0x04);
    std::vector<Record> visited;
    const absl::Status with_catalog = Parse(changed, &summary, &visited);
    EXPECT_EQ(with_catalog.code(), absl::StatusCode::kDataLoss) << with_catalog;
    EXPECT_TRUE(visited.empty());
    // Without the catalog: the structure check or, for a change inside a frame, the AEAD (or the key store,
    // which has no key for a changed pseudonym) catches it.
    const absl::Status alone = Parse(changed, nullptr, &visited);
    if (!alone.ok()) {
      EXPECT_EQ(alone.code(), absl::StatusCode::kDataLoss) << alone;
      continue;
    }
    bool caught = false;
    for (const Record& r : visited) {
      auto key = keys_.find(r.pseudonym);
      caught |= key == keys_.end() || !OpenRecord(key->second, kDataset, r.pseudonym, r.sealed).ok();
    }
    EXPECT_TRUE(caught);
  }
}

TEST_F(VaultFileTest, HeaderNamingAnotherDatasetIsDataLoss) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  const std::string bytes = *env_.ReadFileToString("/vault/f");
  std::vector<Record> visited;
  for (const VaultFileSummary* expected : {&summary, static_cast<const VaultFileSummary*>(nullptr)}) {
    const absl::Status s = Parse(bytes, expected, &visited, "claims");
    ExpectDataLossAt(s, "vault file test.vault: ", "holds dataset \"patients\", not \"claims\" at byte 10");
  }
  EXPECT_TRUE(visited.empty());
}

TEST_F(VaultFileTest, RecordCountOtherThanTheCatalogsIsDataLoss) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  const std::string bytes = *env_.ReadFileToString("/vault/f");
  for (const int64_t records : {int64_t{2}, int64_t{4}, int64_t{0}}) {
    VaultFileSummary wrong = summary;
    wrong.records = records;
    std::vector<Record> visited;
    const absl::Status s = Parse(bytes, &wrong, &visited);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find("vault file test.vault: does not match the catalog ("), std::string_view::npos)
        << s;
    EXPECT_TRUE(visited.empty());
  }
}

TEST_F(VaultFileTest, ExtraRecordIsDataLoss) {
  const VaultFileSummary summary = *Write(env_, "/vault/three", records_);
  const std::string three = *env_.ReadFileToString("/vault/three");
  std::vector<Record> visited;

  // A frame appended after the trailer.
  ASSERT_TRUE(Write(env_, "/vault/one", {records_[0]}).ok());
  const std::string frame =
      env_.ReadFileToString("/vault/one")->substr(18, 1 + 32 + 1 + records_[0].sealed.size());
  ASSERT_EQ(frame[0], 'R');
  ExpectDataLossAt(Parse(three + frame, nullptr, &visited),
                   "vault file test.vault: ", "bytes after the trailer");
  EXPECT_EQ(Parse(three + frame, &summary, &visited).code(), absl::StatusCode::kDataLoss);

  // A consistent file with a fourth record (trailer count and all): only the catalog can tell.
  std::vector<Record> four = records_;
  four.push_back(records_[0]);
  ASSERT_TRUE(Write(env_, "/vault/four", four).ok());
  const std::string forged = *env_.ReadFileToString("/vault/four");
  EXPECT_TRUE(Parse(forged, nullptr, &visited).ok());
  visited.clear();
  EXPECT_EQ(Parse(forged, &summary, &visited).code(), absl::StatusCode::kDataLoss);
  VaultFileSummary same_bytes = SummaryOf(forged, 3);  // a catalog whose count alone is off
  const absl::Status s = Parse(forged, &same_bytes, &visited);
  EXPECT_NE(s.message().find("more than the catalog's 3 records"), std::string_view::npos) << s;
  EXPECT_TRUE(visited.empty());
}

TEST_F(VaultFileTest, MalformedFilesNameTheirOffset) {
  using namespace std::string_literals;  // NOLINT
  const std::string header = "VEILVLT1\x01\x08patients"s;
  const std::string pseudonym(32, '\x11');
  const std::pair<std::string, std::string> cases[] = {
      {"", "truncated magic at byte 0"},
      {"NOTVAULT", "not a vault file (wrong magic) at byte 0"},
      {"VEILVLT1\x02"s, "unknown format version 2 at byte 8"},
      {"VEILVLT1\x01\x00"s, "dataset name length 0 out of range at byte 9"},
      {"VEILVLT1\x01\x81\x00"s, "malformed varint in dataset name length at byte 9"},
      {"VEILVLT1\x01\x02\xff\xfe"s, "dataset name is not valid UTF-8 at byte 10"},
      {header, "truncated: no trailer at byte 18"},
      {header + "X", "unknown frame tag 88 at byte 18"},
      {header + "R" + pseudonym + "\x05"s, "record length 5 out of range at byte 51"},
      {header + "R" + pseudonym + "\x40"s + std::string(30, 'x'),
       "truncated record of 64 bytes (30 left) at byte 52"},
      {header + "E\x01\x00\x00\x00\x00\x00\x00\x00"s,
       "the trailer counts 1 records, the file holds 0 at byte 19"},
      {header + "E\x00\x00\x00"s, "truncated trailer at byte 19"},
  };
  for (const auto& [bytes, what] : cases) {
    std::vector<Record> visited;
    const absl::Status s = Parse(bytes, nullptr, &visited);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_EQ(s.message(), "vault file test.vault: " + what);
  }
}

TEST_F(VaultFileTest, VisitorErrorStopsTheWalkAndIsReturnedAsIs) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  int calls = 0;
  const absl::Status s =
      ReadVaultFile(env_, "/vault/f", kDataset, &summary, [&](std::string_view, std::span<const uint8_t>) {
        return ++calls == 2 ? absl::CancelledError("enough") : absl::OkStatus();
      });
  EXPECT_EQ(s, absl::CancelledError("enough"));
  EXPECT_EQ(calls, 2);
}

TEST_F(VaultFileTest, MissingOrResizedFile) {
  const VaultFileSummary summary = *Write(env_, "/vault/f", records_);
  auto ignore = [](std::string_view, std::span<const uint8_t>) { return absl::OkStatus(); };
  const absl::Status missing = ReadVaultFile(env_, "/vault/gone", kDataset, &summary, ignore);
  EXPECT_EQ(missing, absl::DataLossError("vault file /vault/gone is missing"));
  EXPECT_EQ(ReadVaultFile(env_, "/vault/gone", kDataset, nullptr, ignore).code(),
            absl::StatusCode::kNotFound);
  VaultFileSummary bigger = summary;
  bigger.bytes += 1;
  const absl::Status resized = ReadVaultFile(env_, "/vault/f", kDataset, &bigger, ignore);
  EXPECT_EQ(resized.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(resized.message().find("does not match the catalog"), std::string_view::npos) << resized;
}

TEST_F(VaultFileTest, WriterRefusesBadInputAndStaysUsable) {
  auto writer = VaultFileWriter::Create(env_, "/vault/f", kDataset);
  ASSERT_TRUE(writer.ok());
  std::string upper = records_[0].pseudonym;
  upper[5] = 'F';
  for (const std::string& bad : {upper, std::string("alice"), records_[0].pseudonym.substr(2)}) {
    EXPECT_EQ(writer->Add(bad, records_[0].sealed).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(writer->Add(records_[0].pseudonym, std::vector<uint8_t>(27)).code(),
            absl::StatusCode::kInvalidArgument);
  VaultFileWriter moved = *std::move(writer);
  ASSERT_TRUE(moved.Add(records_[1].pseudonym, records_[1].sealed).ok());
  EXPECT_EQ(moved.records(), 1);
  auto summary = moved.Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(moved.Add(records_[0].pseudonym, records_[0].sealed).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(moved.Finish().status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<Record> visited;
  ASSERT_TRUE(Parse(*env_.ReadFileToString("/vault/f"), &*summary, &visited).ok());
  EXPECT_EQ(visited, std::vector<Record>{records_[1]});

  EXPECT_EQ(VaultFileWriter::Create(env_, "/vault/g", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VaultFileWriter::Create(env_, "/vault/g", "bad\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VaultFileWriter::Create(env_, "/nodir/g", kDataset).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(VaultFileTest, DiskFullFailsFinishAndStaysFailed) {
  env_.SetWriteLimit(20);
  auto writer = VaultFileWriter::Create(env_, "/vault/f", kDataset);
  ASSERT_TRUE(writer.ok());
  for (const Record& r : records_) ASSERT_TRUE(writer->Add(r.pseudonym, r.sealed).ok()) << "buffered";
  const absl::Status finish = writer->Finish().status();
  EXPECT_EQ(finish.code(), absl::StatusCode::kUnavailable) << finish;
  EXPECT_EQ(writer->Finish().status(), finish);
  EXPECT_EQ(writer->Add(records_[0].pseudonym, records_[0].sealed), finish);
}

TEST_F(VaultFileTest, DiskFullFailsAddOnceTheBufferSpills) {
  env_.SetWriteLimit(1 << 20);
  auto writer = VaultFileWriter::Create(env_, "/vault/f", kDataset);
  ASSERT_TRUE(writer.ok());
  const std::vector<uint8_t> sealed(10'000, 0x5A);
  absl::Status status;
  int added = 0;
  for (; added < 1000 && status.ok(); ++added) status = writer->Add(records_[0].pseudonym, sealed);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_LT(added, 300) << "fails at the first flush past the limit, not at Finish";
  EXPECT_EQ(writer->Finish().status(), status);
}

// The whole path, as the workspace takes it: encode each subject's rows, seal, write; read, open, decode, and
// put the rows back in dataset order by their row ids.
TEST_F(VaultFileTest, TableSurvivesTheVault) {
  const Table table = CornerCaseTable();
  const std::map<std::string, std::vector<int64_t>> rows_of = {
      {Pseudonym("alice"), {0, 3, 7}}, {Pseudonym("bob"), {1}}, {Pseudonym("carol"), {2, 4, 5, 6}}};
  auto writer = VaultFileWriter::Create(env_, "/vault/t", kDataset);
  ASSERT_TRUE(writer.ok());
  std::string plaintext;
  for (const auto& [pseudonym, rows] : rows_of) {
    plaintext.clear();
    EncodeSubjectRows(table, rows, /*row_id_base=*/0, &plaintext);
    auto sealed = SealRecord(keys_.at(pseudonym), kDataset, pseudonym, Bytes(plaintext), rng_);
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE(writer->Add(pseudonym, *sealed).ok());
  }
  const VaultFileSummary summary = *writer->Finish();

  std::vector<ColumnBuilder> builders = BuildersFor(table.schema());
  std::vector<uint64_t> ids;
  ASSERT_TRUE(ReadVaultFile(env_, "/vault/t", kDataset, &summary,
                            [&](std::string_view pseudonym, std::span<const uint8_t> sealed) -> absl::Status {
                              auto plain =
                                  OpenRecord(keys_.at(std::string(pseudonym)), kDataset, pseudonym, sealed);
                              if (!plain.ok()) return plain.status();
                              return DecodeSubjectRows(*plain, table.schema(), builders, &ids);
                            })
                  .ok());
  const Table read = *FinishTable(table.schema(), builders);
  std::vector<int64_t> order(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) order[ids[i]] = static_cast<int64_t>(i);
  EXPECT_EQ(Pick(read, order), table);
}

}  // namespace
}  // namespace veil::store
