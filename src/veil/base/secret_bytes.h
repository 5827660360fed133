// SecretBytes: the one container for key material in Veil.
//
// - Move-only: a key is never copied by accident; Clone() makes an explicit copy.
// - Wiped: the buffer is overwritten with OPENSSL_cleanse when destroyed, moved from, or Reset().
// - Never printable: streaming a SecretBytes prints "[secret: N bytes]", never the content, and it does not
//   convert to absl::AlphaNum, so absl::StrCat(key) does not compile: a key cannot reach a log or an error
//   message through formatting.
// - Equality is constant-time (CRYPTO_memcmp) when the sizes match.
//
// Thread safety: like std::vector; concurrent const access is safe.
#ifndef VEIL_BASE_SECRET_BYTES_H_
#define VEIL_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace veil::base {

class SecretBytes {
 public:
  SecretBytes() = default;
  // n zero bytes.
  explicit SecretBytes(size_t n);
  // Copies `bytes`; the caller remains responsible for wiping its own copy.
  explicit SecretBytes(std::span<const uint8_t> bytes);
  static SecretBytes FromString(std::string_view s);

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  // An explicit deep copy.
  SecretBytes Clone() const;
  // Wipes and frees the content; size() becomes 0.
  void Reset();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

  // Constant-time in the content when the sizes are equal.
  friend bool operator==(const SecretBytes& a, const SecretBytes& b);

  friend std::ostream& operator<<(std::ostream& os, const SecretBytes& s);

 private:
  std::string Describe() const;

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace veil::base

#endif  // VEIL_BASE_SECRET_BYTES_H_
