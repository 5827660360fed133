// WipedVector: a std::vector wiped with OPENSSL_cleanse when it goes out of scope, for the working copies of
// secret values that arithmetic needs in typed form (secret-key limbs, sampled secret coefficients). The key
// itself is held in base::SecretBytes (keys.h). Internal to the he module.
#ifndef VEIL_HE_WIPED_H_
#define VEIL_HE_WIPED_H_

#include <openssl/crypto.h>

#include <cstddef>
#include <utility>
#include <vector>

namespace veil::he {

template <typename T>
class WipedVector {
 public:
  // n zero values.
  explicit WipedVector(size_t n) : v_(n, T{}) {}
  // Takes `v` over (no copy is left behind).
  explicit WipedVector(std::vector<T> v) : v_(std::move(v)) {}
  WipedVector(const WipedVector&) = delete;
  WipedVector& operator=(const WipedVector&) = delete;
  ~WipedVector() { OPENSSL_cleanse(v_.data(), v_.size() * sizeof(T)); }

  std::vector<T>& get() { return v_; }
  const std::vector<T>& get() const { return v_; }
  T* data() { return v_.data(); }

 private:
  std::vector<T> v_;
};

}  // namespace veil::he

#endif  // VEIL_HE_WIPED_H_
