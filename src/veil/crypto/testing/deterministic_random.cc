#include "veil/crypto/testing/deterministic_random.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "veil/base/bytes.h"
#include "veil/crypto/hmac.h"

namespace veil::crypto::testing {
namespace {

constexpr std::string_view kSeedPersonalization = "veil::crypto::testing::DeterministicRandom";

std::array<uint8_t, 8> BigEndian(uint64_t x) {
  std::array<uint8_t, 8> out;
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(x & 0xff);
    x >>= 8;
  }
  return out;
}

}  // namespace

DeterministicRandom::DeterministicRandom(std::span<const uint8_t> entropy_input,
                                         std::span<const uint8_t> nonce,
                                         std::span<const uint8_t> personalization_string)
    : mac_(std::span<const uint8_t>()) {
  absl::MutexLock lock(&mu_);
  std::vector<uint8_t> seed_material;
  seed_material.reserve(entropy_input.size() + nonce.size() + personalization_string.size());
  seed_material.insert(seed_material.end(), entropy_input.begin(), entropy_input.end());
  seed_material.insert(seed_material.end(), nonce.begin(), nonce.end());
  seed_material.insert(seed_material.end(), personalization_string.begin(), personalization_string.end());
  key_.fill(0x00);
  v_.fill(0x01);
  mac_.Reset(key_);
  Update(seed_material);
  reseed_counter_ = 1;
  if (!seed_material.empty()) OPENSSL_cleanse(seed_material.data(), seed_material.size());
}

DeterministicRandom::DeterministicRandom(uint64_t seed)
    : DeterministicRandom(BigEndian(seed), {}, base::AsBytes(kSeedPersonalization)) {}

DeterministicRandom::~DeterministicRandom() {
  absl::MutexLock lock(&mu_);
  OPENSSL_cleanse(key_.data(), key_.size());
  OPENSSL_cleanse(v_.data(), v_.size());
}

void DeterministicRandom::Update(std::span<const uint8_t> provided_data) {
  for (const uint8_t round : {uint8_t{0x00}, uint8_t{0x01}}) {
    // K = HMAC(K, V || round || provided_data); V = HMAC(K, V).
    mac_.Update(v_);
    mac_.Update(std::span<const uint8_t>(&round, 1));
    mac_.Update(provided_data);
    key_ = mac_.Final();
    mac_.Reset(key_);
    mac_.Update(v_);
    v_ = mac_.Final();
    // The second round only runs when there is provided data (section 10.1.2.2, step 3).
    if (provided_data.empty()) break;
  }
}

absl::Status DeterministicRandom::Generate(std::span<uint8_t> out) {
  if (reseed_counter_ > kReseedInterval) {
    return absl::FailedPreconditionError("HMAC_DRBG reseed interval exhausted");
  }
  while (!out.empty()) {
    // V = HMAC(K, V), appended to the output.
    mac_.Update(v_);
    v_ = mac_.Final();
    const size_t n = std::min(out.size(), v_.size());
    std::copy_n(v_.begin(), n, out.begin());
    out = out.subspan(n);
  }
  Update({});
  ++reseed_counter_;
  return absl::OkStatus();
}

absl::Status DeterministicRandom::Fill(std::span<uint8_t> out) {
  absl::MutexLock lock(&mu_);
  while (!out.empty()) {
    const size_t n = std::min(out.size(), kMaxRequest);
    if (absl::Status s = Generate(out.first(n)); !s.ok()) return s;
    out = out.subspan(n);
  }
  return absl::OkStatus();
}

}  // namespace veil::crypto::testing
