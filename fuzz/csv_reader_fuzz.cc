// Fuzz target for the CSV reader and writer (DESIGN.md 5.11).
//
// The first byte picks a dialect; the rest is the CSV text. For every input:
//   - ReadCsvFromString must return a table or InvalidArgument, never crash or hang;
//   - reading it again in tiny chunks on two threads must give the same table, or the same error;
//   - a table that was read must write back (WriteCsvToString) and read back, with its schema, to an equal
//     table.
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "veil/table/csv_reader.h"
#include "veil/table/csv_writer.h"
#include "veil/table/table.h"

namespace {

using veil::table::CsvReadOptions;
using veil::table::CsvWriteOptions;
using veil::table::Table;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

CsvReadOptions ReadOptionsFor(uint8_t mode) {
  CsvReadOptions o;
  switch (mode & 3) {
    case 0:  // the defaults
      break;
    case 1:
      o.delimiter = ';';
      o.quote = '\'';
      o.trim_whitespace = false;
      break;
    case 2:
      o.delimiter = '\t';
      o.has_header = false;
      o.null_tokens = {"NA", "N/A"};
      break;
    case 3:
      o.has_header = false;
      o.null_tokens = {};
      break;
  }
  // Exercise the chunked paths on the first read too, sometimes.
  if (mode & 4) o.chunk_size = 1 + (mode >> 3);
  if (mode & 8) o.num_threads = 2;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const CsvReadOptions options = ReadOptionsFor(data[0]);
  const std::string_view csv(reinterpret_cast<const char*>(data + 1), size - 1);

  const absl::StatusOr<Table> table = veil::table::ReadCsvFromString(csv, options, "fuzz.csv");
  Check(table.ok() || table.status().code() == absl::StatusCode::kInvalidArgument);

  CsvReadOptions chunked = options;
  chunked.chunk_size = 7;
  chunked.num_threads = 2;
  const absl::StatusOr<Table> again = veil::table::ReadCsvFromString(csv, chunked, "fuzz.csv");
  Check(again.ok() == table.ok());
  if (!table.ok()) {
    Check(again.status() == table.status());
    return 0;
  }
  Check(*again == *table);

  CsvWriteOptions write;
  write.delimiter = options.delimiter;
  write.quote = options.quote;
  write.write_header = options.has_header;
  write.null_tokens = options.null_tokens;
  const absl::StatusOr<std::string> text = veil::table::WriteCsvToString(*table, write);
  Check(text.ok());

  CsvReadOptions back = options;
  back.schema = table->schema();
  const absl::StatusOr<Table> reread = veil::table::ReadCsvFromString(*text, back, "fuzz-roundtrip.csv");
  Check(reread.ok());
  Check(*reread == *table);
  return 0;
}
