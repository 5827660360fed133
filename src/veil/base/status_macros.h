// Status propagation macros over absl::Status / absl::StatusOr, in the style of Abseil's internal ones.
//
//   VEIL_RETURN_IF_ERROR(WriteHeader(file));          // returns the Status if it is not OK
//   VEIL_ASSIGN_OR_RETURN(Table t, ReadCsv(path));     // declares t, or returns the error
//   VEIL_ASSIGN_OR_RETURN(t, ReadCsv(path));           // assigns to an existing t
//
// Both work in functions returning absl::Status or absl::StatusOr<T> (a Status converts to either).
// VEIL_ASSIGN_OR_RETURN expands to several statements: do not use it as the body of an unbraced if/else.
#ifndef VEIL_BASE_STATUS_MACROS_H_
#define VEIL_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VEIL_RETURN_IF_ERROR(expr)                                                 \
  do {                                                                             \
    ::absl::Status veil_status_macro_tmp = ::veil::base::internal::ToStatus(expr); \
    if (!veil_status_macro_tmp.ok()) return veil_status_macro_tmp;                 \
  } while (false)

#define VEIL_ASSIGN_OR_RETURN(lhs, rexpr) \
  VEIL_ASSIGN_OR_RETURN_IMPL_(VEIL_STATUS_CONCAT_(veil_statusor_macro_tmp_, __COUNTER__), lhs, rexpr)

// Implementation details below.
#define VEIL_STATUS_CONCAT_INNER_(a, b) a##b
#define VEIL_STATUS_CONCAT_(a, b) VEIL_STATUS_CONCAT_INNER_(a, b)
#define VEIL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace veil::base::internal {

inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
inline absl::Status ToStatus(absl::Status&& s) { return std::move(s); }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace veil::base::internal

#endif  // VEIL_BASE_STATUS_MACROS_H_
