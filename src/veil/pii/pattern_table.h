// The candidate patterns of the pattern-and-checksum recognizers and their Vectorscan database. Internal to
// veil_pii.
//
// This table is the single source of truth for the database: it is compiled into the build-time generator
// (pattern_db_gen.cc, which compiles and serializes the database that pattern_db_data.S embeds) and into the
// recognizers, which deserialize that database at first use and check PatternTableHash() against the hash
// the generator stored beside it (a stale database is never used: the recognizers then compile the table).
#ifndef VEIL_PII_PATTERN_TABLE_H_
#define VEIL_PII_PATTERN_TABLE_H_

#include <hs/hs.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "veil/pii/entity.h"

namespace veil::pii::internal {

// What validates a candidate of a pattern.
enum class Check : uint8_t {
  kEmail,
  kUrl,
  kDomain,
  kIpv4,
  kIpv6,
  kMac,
  kCard,
  kIban,
  kSsn,
  kItin,
  kPassport,
  kDriverLicense,
  kNhs,
  kPhone,
  kDateNumeric,    // 12/31/1999, 31.12.1999, 12/31/99
  kDateIso,        // 1999-12-31[ T]23:59[:59[.fff]][Z|+01:00], 1999/12/31
  kDateMonth,      // "December 31, 1999", "31st of December 1999", "Dec 1999"
  kTime,           // 23:59, 11:34:35, 5:30 pm
  kWeekday,        // Tuesday
  kYear,           // 1977 after "in", "since", ...
  kZip,            // 12345[-6789]
  kPostcodeUk,     // SW1A 1AA
  kPostcodeCa,     // K1A 0B1
  kPostalGeneric,  // 394 13, 53-320, 3520 with "zip"/"postal" context only
  kAge,
};

// How overlapping matches of one pattern are validated.
enum class Mode : uint8_t {
  kEach,   // every reported match (the checksum decides which one is real)
  kUnion,  // the cluster's extent once (URLs, IPv6: the maximal token)
  kPhone,  // the extent, then the matches from the longest down, until one validates
};

struct Pattern {
  std::string_view recognizer;
  EntityType type;
  const char* regex;
  // Vectorscan flags. Without HS_FLAG_SOM_LEFTMOST (start-of-match tracking made the scan 3x slower): the
  // database reports only where a match ends, and the recognizers recover its leftmost start with RE2.
  unsigned flags;
  Check check;
  Mode mode;
  size_t max_cluster;  // bytes; a longer cluster is a run, not an identifier
};

// The patterns; the database id of a pattern is its index.
std::span<const Pattern> Patterns();

// FNV-1a 64 over every pattern's expression and flags (in order) and the Vectorscan version: equal for the
// generator and the runtime exactly when the embedded database was compiled from this table by this library.
uint64_t PatternTableHash();

// The platform the embedded database targets: generic x86-64 (tune 0, no CPU features), so that the binary
// runs on any x86-64 machine; Vectorscan still dispatches its own runtime code by the CPU.
hs_platform_info_t GenericPlatform();

// Compiles Patterns() into a block-mode database for `platform` (the caller frees it with
// hs_free_database). Errors: Internal naming the pattern that does not compile (a defect).
absl::StatusOr<hs_database_t*> CompilePatternDatabase(const hs_platform_info_t& platform);

// The embedded image: an 8-byte magic "VEILPDB1", the 8-byte little-endian PatternTableHash() of the table it
// was compiled from, then hs_serialize_database's bytes. Empty if the binary was built without it.
std::string_view EmbeddedPatternImage();

// Deserializes the embedded database (the caller frees it with hs_free_database). Errors: NotFound if the
// binary has no image; DataLoss if the image is truncated or has the wrong magic; FailedPrecondition if it
// was compiled from another pattern table or Vectorscan version (PatternTableHash() differs) or Vectorscan
// rejects it.
absl::StatusOr<hs_database_t*> LoadEmbeddedPatternDatabase();

}  // namespace veil::pii::internal

#endif  // VEIL_PII_PATTERN_TABLE_H_
