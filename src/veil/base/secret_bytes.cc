#include "veil/base/secret_bytes.h"

#include <openssl/crypto.h>

#include <cstring>
#include <new>
#include <utility>

#include "veil/base/bytes.h"

namespace veil::base {

SecretBytes::SecretBytes(size_t n) : data_(n ? new uint8_t[n]() : nullptr), size_(n) {}

SecretBytes::SecretBytes(std::span<const uint8_t> bytes) : SecretBytes(bytes.size()) {
  if (size_ != 0) std::memcpy(data_, bytes.data(), size_);
}

SecretBytes SecretBytes::FromString(std::string_view s) { return SecretBytes(base::AsBytes(s)); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Reset(); }

SecretBytes SecretBytes::Clone() const { return SecretBytes(span()); }

void SecretBytes::Reset() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

bool operator==(const SecretBytes& a, const SecretBytes& b) {
  if (a.size_ != b.size_) return false;
  if (a.size_ == 0) return true;
  return CRYPTO_memcmp(a.data_, b.data_, a.size_) == 0;
}

std::ostream& operator<<(std::ostream& os, const SecretBytes& s) { return os << s.Describe(); }

std::string SecretBytes::Describe() const { return "[secret: " + std::to_string(size_) + " bytes]"; }

}  // namespace veil::base
