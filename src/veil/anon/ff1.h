// FF1 format-preserving encryption (NIST SP 800-38G, "Recommendation for Block Cipher Modes of Operation:
// Methods for Format-Preserving Encryption", March 2016, and its Revision 1 draft of February 2019) on AES
// through OpenSSL's EVP API.
//
// FF1 encrypts a string of n numerals in radix r (each numeral in [0, r)) to another string of n numerals in
// the same radix, under a key and a public tweak: a 16-digit card number encrypts to 16 digits. It is a
// 10-round Feistel network whose round function is AES-CBC-MAC over the round's input (SP 800-38G
// Algorithm 7, with PRF = Algorithm 6); decryption is Algorithm 8. The tweak is public: it separates domains
// (the same digits under different tweaks encrypt independently) and need not be secret.
//
//   VEIL_ASSIGN_OR_RETURN(anon::Ff1 ff1, anon::Ff1::Create(key, 10));
//   VEIL_ASSIGN_OR_RETURN(std::string ct, ff1.EncryptString("4111111111111111", "0123456789", tweak));
//
// Parameters (SP 800-38G section 5.2 and Rev. 1):
//   key      AES-128, AES-192 or AES-256: 16, 24 or 32 bytes.
//   radix    2 <= radix <= 2^16.
//   length   n >= 2, n <= 2^32 - 1, and radix^n >= 1,000,000 (Rev. 1's minimum domain size; FF1 on smaller
//            domains is open to the message-recovery attacks of Durak-Vaudenay 2017 and Hoang-Tessaro-Trieu
//            2018). Every call checks its input's length against this.
//   tweak    0 to 2^32 - 1 bytes (maxTlen is the implementation's choice; we only bound it by the encoding).
//
// Arithmetic. NUM_radix and STR_radix need integers up to radix^ceil(n/2). When radix^ceil(n/2) < 2^64 (for
// radix 10: up to 38 numerals) the rounds run in 64/128-bit integers; longer inputs use OpenSSL BIGNUM. Both
// paths are checked against each other and against NIST's samples in ff1_test.cc.
//
// Thread safety: an Ff1 is immutable after Create; Encrypt and Decrypt are const and may be called from many
// threads at once (each call works on its own copy of the AES context). Move-only; the key schedule is
// cleansed by OpenSSL when the Ff1 is destroyed.
#ifndef VEIL_ANON_FF1_H_
#define VEIL_ANON_FF1_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"

namespace veil::anon {

// The smallest domain FF1 accepts: radix^n >= 1,000,000 (SP 800-38G Rev. 1, section 5.2).
inline constexpr uint64_t kFf1MinDomainSize = 1000000;
inline constexpr uint32_t kFf1MinRadix = 2;
inline constexpr uint32_t kFf1MaxRadix = 1u << 16;

namespace internal {
// Which arithmetic Encrypt/Decrypt use. kAuto picks 64/128-bit integers when they suffice, else BIGNUM. The
// others exist so that tests can run both on the same inputs; production code uses kAuto.
enum class Ff1Arithmetic { kAuto, kWide, kBignum };
}  // namespace internal

class Ff1 {
 public:
  // Errors: InvalidArgument if the key is not 16, 24 or 32 bytes or radix is outside [2, 2^16];
  // Internal on an unexpected OpenSSL failure.
  static absl::StatusOr<Ff1> Create(const base::SecretBytes& key, uint32_t radix);

  Ff1(Ff1&&) noexcept = default;
  Ff1& operator=(Ff1&&) noexcept = default;
  Ff1(const Ff1&) = delete;
  Ff1& operator=(const Ff1&) = delete;
  ~Ff1() = default;

  uint32_t radix() const { return radix_; }

  // The smallest n with radix^n >= 1,000,000 (and n >= 2): the shortest input Encrypt accepts.
  uint32_t min_length() const { return min_length_; }

  // FF1.Encrypt(K, T, X) (Algorithm 7) and FF1.Decrypt(K, T, Y) (Algorithm 8) on numerals.
  // Errors: InvalidArgument if a numeral is >= radix (naming its position), if x.size() < min_length()
  // ("domain too small": radix^n below 1,000,000) or above 2^32 - 1, or if the tweak is 2^32 bytes or more;
  // Internal on an unexpected OpenSSL failure.
  absl::StatusOr<std::vector<uint16_t>> Encrypt(std::span<const uint16_t> x,
                                                std::span<const uint8_t> tweak) const;
  absl::StatusOr<std::vector<uint16_t>> Decrypt(std::span<const uint16_t> y,
                                                std::span<const uint8_t> tweak) const;

  // The same on text: `alphabet` lists the radix() numerals in order (e.g. "0123456789" or
  // "0123456789abcdefghijklmnopqrstuvwxyz"; single bytes, no repeats). Errors: as above, plus InvalidArgument
  // if alphabet.size() != radix() or has a repeated character, or the text holds a character outside it
  // (naming the position, never the character).
  absl::StatusOr<std::string> EncryptString(std::string_view x, std::string_view alphabet,
                                            std::span<const uint8_t> tweak) const;
  absl::StatusOr<std::string> DecryptString(std::string_view y, std::string_view alphabet,
                                            std::span<const uint8_t> tweak) const;

  // For tests: Encrypt/Decrypt with the arithmetic forced (kWide fails with InvalidArgument when the input
  // is too long for it).
  absl::StatusOr<std::vector<uint16_t>> CryptForTest(bool encrypt, std::span<const uint16_t> x,
                                                     std::span<const uint8_t> tweak,
                                                     internal::Ff1Arithmetic arithmetic) const;

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
  };
  using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

  Ff1(CtxPtr ctx, uint32_t radix, uint32_t min_length)
      : ctx_(std::move(ctx)), radix_(radix), min_length_(min_length) {}

  absl::StatusOr<std::vector<uint16_t>> Crypt(bool encrypt, std::span<const uint16_t> x,
                                              std::span<const uint8_t> tweak,
                                              internal::Ff1Arithmetic arithmetic) const;
  absl::StatusOr<std::string> CryptString(bool encrypt, std::string_view x, std::string_view alphabet,
                                          std::span<const uint8_t> tweak) const;

  CtxPtr ctx_;  // AES-ECB, keyed, no padding; copied per call
  uint32_t radix_ = 0;
  uint32_t min_length_ = 0;
};

}  // namespace veil::anon

#endif  // VEIL_ANON_FF1_H_
