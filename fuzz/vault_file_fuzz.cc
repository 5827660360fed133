// libFuzzer target for the vault's two parsers (DESIGN.md 5.11): the vault file parser (ParseVaultFile) and
// the record plaintext decoder (DecodeSubjectRows). The first input byte picks what the rest is: bit 0 clear,
// a vault file (of the dataset "patients"); bit 0 set, a record plaintext, decoded with the schema that the
// byte's other bits pick.
//
// Properties checked beyond "no crash, no sanitizer report, no huge allocation":
//   - every error is DataLoss;
//   - a vault file is either rejected before any record is visited, or every record visited has a well-formed
//     pseudonym and a sealed length the format allows, and the count matches; checking it against its own
//     summary succeeds, and against a summary with another record count fails;
//   - the record encoding is canonical: anything DecodeSubjectRows accepts builds a valid table (nulls only
//   in
//     nullable fields) that re-encodes, with the decoded row ids, to exactly the input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/crypto/sha256.h"
#include "veil/store/vault_file.h"
#include "veil/table/column.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace {

using veil::table::DataType;
using veil::table::Schema;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// The schemas a record may be decoded with: all six types in one record, nullable or not, and each type
// alone, nullable or not.
std::vector<Schema> MakeSchemas() {
  constexpr DataType kTypes[] = {DataType::kInt64,  DataType::kDouble, DataType::kBool,
                                 DataType::kString, DataType::kDate,   DataType::kTimestamp};
  std::vector<Schema> schemas;
  for (const bool nullable : {true, false}) {
    std::vector<veil::table::Field> all;
    for (const DataType t : kTypes) {
      all.push_back({std::string(veil::table::DataTypeName(t)), t, nullable});
      schemas.push_back(*Schema::Make({{"c", t, nullable}}));
    }
    schemas.push_back(*Schema::Make(std::move(all)));
  }
  schemas.push_back(Schema());  // no columns: row ids only
  return schemas;
}

void FuzzVaultFile(std::span<const uint8_t> bytes) {
  int64_t visited = 0;
  auto visit = [&](std::string_view pseudonym, std::span<const uint8_t> sealed) {
    Check(veil::store::IsVaultPseudonym(pseudonym));
    Check(sealed.size() >= veil::crypto::kAes256GcmOverhead &&
          sealed.size() <= veil::store::kMaxSealedRecordBytes);
    ++visited;
    return absl::OkStatus();
  };
  const absl::Status status = veil::store::ParseVaultFile(bytes, "fuzz", "patients", nullptr, visit);
  Check(status.ok() || status.code() == absl::StatusCode::kDataLoss);
  if (!status.ok()) {
    Check(visited == 0);
    return;
  }
  veil::store::VaultFileSummary summary{
      .records = visited, .bytes = static_cast<int64_t>(bytes.size()), .sha256 = veil::crypto::Sha256(bytes)};
  const int64_t count = visited;
  visited = 0;
  Check(veil::store::ParseVaultFile(bytes, "fuzz", "patients", &summary, visit).ok());
  Check(visited == count);
  summary.records = count + 1;
  visited = 0;
  const absl::Status mismatch = veil::store::ParseVaultFile(bytes, "fuzz", "patients", &summary, visit);
  Check(mismatch.code() == absl::StatusCode::kDataLoss && visited == 0);
}

void FuzzRecord(std::span<const uint8_t> bytes, const Schema& schema) {
  std::vector<veil::table::ColumnBuilder> builders;
  for (const veil::table::Field& f : schema.fields()) builders.emplace_back(f.type);
  std::vector<uint64_t> row_ids;
  const absl::Status status = veil::store::DecodeSubjectRows(bytes, schema, builders, &row_ids);
  Check(status.ok() || status.code() == absl::StatusCode::kDataLoss);
  if (!status.ok()) return;
  std::vector<veil::table::Column> columns;
  for (veil::table::ColumnBuilder& b : builders) {
    absl::StatusOr<veil::table::Column> column = b.Finish();
    Check(column.ok());
    Check(column->size() == static_cast<int64_t>(row_ids.size()));
    columns.push_back(*std::move(column));
  }
  absl::StatusOr<veil::table::Table> table = veil::table::Table::Make(schema, std::move(columns));
  Check(table.ok());
  std::vector<int64_t> positions(row_ids.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int64_t>(i);
  std::string again;
  veil::store::internal::EncodeSubjectRowsWithIds(*table, positions, row_ids, &again);
  Check(std::string_view(again) ==
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Schema>* const schemas = new std::vector<Schema>(MakeSchemas());
  if (size == 0) return 0;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    FuzzVaultFile(bytes);
  } else {
    FuzzRecord(bytes, (*schemas)[(data[0] >> 1) % schemas->size()]);
  }
  return 0;
}
