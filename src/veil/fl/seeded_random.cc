#include "veil/fl/seeded_random.h"

#include "absl/strings/str_cat.h"

namespace veil::fl {

SeededRandom::SeededRandom(uint64_t seed, std::string_view label)
    : key_(absl::StrCat("veil fl test seed v1 ", std::string(label), " ", seed)) {}

absl::Status SeededRandom::Fill(std::span<uint8_t> out) {
  for (uint8_t& b : out) {
    if (used_ == block_.size()) {
      // Block i is HMAC(key, i) for i = 0, 1, ...; counter_ is the next block's index.
      block_ = crypto::HmacSha256(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key_.data()), key_.size()),
          absl::StrCat(counter_++));
      used_ = 0;
    }
    b = block_[used_++];
  }
  return absl::OkStatus();
}

std::string SeededRandom::SaveState() const {
  std::string s;
  for (uint64_t v : {counter_, used_}) {
    for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  }
  return s;
}

absl::Status SeededRandom::RestoreState(std::string_view state) {
  if (state.size() != 16) return absl::DataLossError("seeded random state: not 16 bytes");
  uint64_t v[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 8; ++i) v[k] |= uint64_t{static_cast<uint8_t>(state[8 * k + i])} << (8 * i);
  }
  if (v[1] > block_.size() || (v[0] == 0 && v[1] != block_.size()))
    return absl::DataLossError("seeded random state: position out of range");
  counter_ = v[0];
  used_ = v[1];
  if (used_ < block_.size()) {
    // Recompute the current block (the one with index counter_ - 1).
    block_ = crypto::HmacSha256(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key_.data()), key_.size()),
        absl::StrCat(counter_ - 1));
  }
  return absl::OkStatus();
}

}  // namespace veil::fl
