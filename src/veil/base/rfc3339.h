// Instants as text in Veil's JSON, audit parameters and messages: RFC 3339 in UTC.
#ifndef VEIL_BASE_RFC3339_H_
#define VEIL_BASE_RFC3339_H_

#include <string>

#include "absl/time/time.h"

namespace veil::base {

// "2026-03-01T09:00:00Z", with as many fractional digits as the instant needs ("...T09:00:00.25Z").
inline std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

// `t` cut to whole nanoseconds, the resolution Veil stores instants at (SQLite integers of Unix nanoseconds):
// what a caller is handed back then equals what a later read returns.
inline absl::Time TruncatedToNanos(absl::Time t) { return absl::FromUnixNanos(absl::ToUnixNanos(t)); }

}  // namespace veil::base

#endif  // VEIL_BASE_RFC3339_H_
