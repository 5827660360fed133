// TEST-ONLY helpers shared by accountant_test.cc and calibration_test.cc.
#ifndef VEIL_DP_ACCOUNTING_TEST_UTIL_H_
#define VEIL_DP_ACCOUNTING_TEST_UTIL_H_

#include <limits>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::dp::testing {

inline constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// The status is an InvalidArgumentError whose message contains `needle` (the parameter it names, say).
inline void ExpectInvalid(const absl::Status& status, const std::string& needle) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(needle));
}

}  // namespace veil::dp::testing

#endif  // VEIL_DP_ACCOUNTING_TEST_UTIL_H_
