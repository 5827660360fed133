// The embedded pattern database (pattern_db_gen.cc, pattern_db_data.S) against the pattern table it must
// have been compiled from: a stale or foreign database must fail here, not ship.
#include <hs/hs.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "veil/pii/pattern_table.h"

namespace veil::pii::internal {
namespace {

struct DbDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using Db = std::unique_ptr<hs_database_t, DbDeleter>;

std::string Info(const hs_database_t* db) {
  char* info = nullptr;
  if (hs_database_info(db, &info) != HS_SUCCESS) return "";
  std::string s(info);
  std::free(info);
  return s;
}

std::string Serialized(const hs_database_t* db) {
  char* bytes = nullptr;
  size_t n = 0;
  if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) return "";
  std::string s(bytes, n);
  std::free(bytes);
  return s;
}

// Every (pattern id, from, to) the database reports on `text`.
std::vector<std::tuple<unsigned, unsigned long long, unsigned long long>> Matches(const hs_database_t* db,
                                                                                  std::string_view text) {
  std::vector<std::tuple<unsigned, unsigned long long, unsigned long long>> out;
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return out;
  hs_scan(
      db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
      [](unsigned id, unsigned long long from, unsigned long long to, unsigned, void* ctx) {
        static_cast<decltype(out)*>(ctx)->emplace_back(id, from, to);
        return 0;
      },
      &out);
  hs_free_scratch(scratch);
  return out;
}

TEST(PatternDbTest, EmbeddedImageCarriesTheTableHash) {
  const std::string_view image = EmbeddedPatternImage();
  ASSERT_GT(image.size(), 16u);
  EXPECT_EQ(image.substr(0, 8), "VEILPDB1");
  uint64_t hash = 0;
  for (int i = 0; i < 8; ++i) hash |= uint64_t{static_cast<unsigned char>(image[8 + i])} << (8 * i);
  EXPECT_EQ(hash, PatternTableHash());
}

// Compiles the table at run time (about a second) and compares: same database info (version, mode,
// platform), same serialized bytes, same matches on a text with one instance of most patterns.
TEST(PatternDbTest, EmbeddedDatabaseEqualsTheTableCompiledNow) {
  absl::StatusOr<hs_database_t*> loaded = LoadEmbeddedPatternDatabase();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Db embedded(*loaded);
  absl::StatusOr<hs_database_t*> compiled = CompilePatternDatabase(GenericPlatform());
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  Db fresh(*compiled);
  EXPECT_EQ(Info(embedded.get()), Info(fresh.get()));
  EXPECT_NE(Info(embedded.get()).find("BLOCK"), std::string::npos) << Info(embedded.get());
  EXPECT_EQ(Serialized(embedded.get()), Serialized(fresh.get()));
  const std::string text =
      "Mail jane.doe@example.com, see https://example.org/a?b=1 or www.example.net/x, host 10.0.0.1 or "
      "fe80::1:2, MAC 00:1A:2B:3C:4D:5E, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, "
      "SSN 123-45-6789, phone +1 (415) 555-2671 or (020) 7946 0958, born 12/31/1999 on 1999-12-31T23:59Z, "
      "December 31, 1999 at 5:30 pm on Tuesday in 1977, ZIP 94105-1234, SW1A 1AA, K1A 0B1, aged 34.";
  const auto a = Matches(embedded.get(), text);
  EXPECT_GT(a.size(), 30u);
  EXPECT_EQ(a, Matches(fresh.get(), text));
}

TEST(PatternDbTest, HashDependsOnTheTable) {
  EXPECT_EQ(PatternTableHash(), PatternTableHash());
  EXPECT_NE(PatternTableHash(), 0u);
  EXPECT_FALSE(Patterns().empty());
}

}  // namespace
}  // namespace veil::pii::internal
