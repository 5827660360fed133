#include "veil/dp/random_bits.h"

#include <openssl/crypto.h>

#include <span>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace veil::dp {

RandomBits::RandomBits(base::RandomSource& source) : source_(&source) {}

RandomBits::~RandomBits() {
  // Unused bits determine future noise; do not leave them in freed memory.
  OPENSSL_cleanse(block_.data(), sizeof(block_));
  OPENSSL_cleanse(&word_, sizeof(word_));
}

RandomBits::RandomBits(RandomBits&& other) noexcept
    : source_(other.source_),
      status_(std::move(other.status_)),
      block_(other.block_),
      pos_(other.pos_),
      word_(other.word_),
      bits_left_(other.bits_left_) {
  // The moved-from object must not hand out the same bits again: mark it empty (it refills on next use).
  OPENSSL_cleanse(other.block_.data(), sizeof(other.block_));
  other.pos_ = kWords;
  other.word_ = 0;
  other.bits_left_ = 0;
  other.status_ = absl::OkStatus();
}

void RandomBits::RefillBlock() {
  if (!status_.ok()) {
    // Permanently failed: hand out zeros (callers check ok()) and never touch the source again.
    block_.fill(0);
    pos_ = 0;
    return;
  }
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(block_.data()), sizeof(block_));
  absl::Status s = source_->Fill(bytes);
  if (!s.ok()) {
    status_ = std::move(s);
    block_.fill(0);  // never use a partly filled block
  }
  pos_ = 0;
}

void RandomBits::Fail(const char* what) {
  if (status_.ok()) status_ = absl::InternalError(what);
  // Discard everything buffered so that no further output depends on the source.
  block_.fill(0);
  pos_ = kWords;
  word_ = 0;
  bits_left_ = 0;
}

uint64_t RandomBits::UniformSlow(uint64_t bound, u128 m) {
  // Lemire 2019, Algorithm 5: the low word of x * bound is below threshold = 2^64 mod bound for exactly
  // (2^64 mod bound) of the 2^64 values of x, and rejecting those leaves every output equally likely. Each
  // round rejects with probability threshold / 2^64 < 1/2, so 128 rounds all reject with probability
  // below 2^-128.
  const uint64_t threshold = (0 - bound) % bound;
  for (int round = 0; round < 128; ++round) {
    if (static_cast<uint64_t>(m) >= threshold) return static_cast<uint64_t>(m >> 64);
    m = static_cast<u128>(Word()) * bound;
  }
  Fail("RandomBits: uniform rejection cap reached");
  return 0;
}

absl::StatusOr<uint64_t> RandomBits::Next64() {
  const uint64_t v = Word();
  if (!ok()) return status_;
  return v;
}

absl::StatusOr<uint64_t> RandomBits::Uniform(uint64_t bound) {
  if (bound == 0) return absl::InvalidArgumentError("RandomBits::Uniform: bound must be positive");
  const uint64_t v = UniformFast(bound);
  if (!ok()) return status_;
  return v;
}

absl::StatusOr<bool> RandomBits::Bernoulli(uint64_t num, uint64_t den) {
  if (den == 0) return absl::InvalidArgumentError("RandomBits::Bernoulli: den must be positive");
  if (num > den) {
    return absl::InvalidArgumentError("RandomBits::Bernoulli: num must not exceed den (a probability)");
  }
  const bool b = BernoulliFast(num, den);
  if (!ok()) return status_;
  return b;
}

}  // namespace veil::dp
