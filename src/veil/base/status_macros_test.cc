#include "veil/base/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace veil::base {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  VEIL_ASSIGN_OR_RETURN(int h, Half(x));
  VEIL_ASSIGN_OR_RETURN(h, Half(h));  // assignment to an existing variable
  return h;
}

absl::Status CheckEven(int x) {
  VEIL_RETURN_IF_ERROR(Half(x));  // works on a StatusOr too
  VEIL_RETURN_IF_ERROR(absl::OkStatus());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeBox(int v) { return std::make_unique<int>(v); }

absl::StatusOr<int> Unbox(int v) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(v));  // move-only values
  return *box;
}

TEST(StatusMacrosTest, AssignOrReturn) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(7).status().message(), "odd");
  EXPECT_EQ(*Unbox(5), 5);
}

TEST(StatusMacrosTest, ReturnIfError) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::base
