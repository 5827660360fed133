// Build-time generator of the pattern recognizers' Vectorscan database: compiles pattern_table.cc's patterns
// for the generic x86-64 platform, serializes the database and writes the image EmbeddedPatternImage()
// describes (magic, PatternTableHash(), hs_serialize_database's bytes). pattern_db_data.S embeds the file.
//
//   veil_pii_pattern_db_gen OUTPUT
#include <hs/hs.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "veil/pii/pattern_table.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
    return 2;
  }
  auto db = veil::pii::internal::CompilePatternDatabase(veil::pii::internal::GenericPlatform());
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 1;
  }
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(*db, &bytes, &length) != HS_SUCCESS) {
    std::fprintf(stderr, "hs_serialize_database failed\n");
    return 1;
  }
  hs_free_database(*db);
  const uint64_t hash = veil::pii::internal::PatternTableHash();
  unsigned char header[16] = {'V', 'E', 'I', 'L', 'P', 'D', 'B', '1'};
  for (int i = 0; i < 8; ++i) header[8 + i] = static_cast<unsigned char>(hash >> (8 * i));
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  out.write(bytes, static_cast<std::streamsize>(length));
  std::free(bytes);
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
