#include "veil/anon/ff1.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::anon {
namespace {

constexpr size_t kBlock = 16;
constexpr int kRounds = 10;

absl::Status OpenSslFailure(std::string_view what) {
  std::string reasons;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", buf);
  }
  return absl::InternalError(absl::StrCat("FF1: ", std::string(what), " failed",
                                          reasons.empty() ? std::string() : absl::StrCat(": ", reasons)));
}

struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct BnCtxDeleter {
  void operator()(BN_CTX* p) const { BN_CTX_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxDeleter>;

// radix^e if it is below 2^64, else 0.
uint64_t PowIfFits(uint64_t radix, uint64_t e) {
  unsigned __int128 p = 1;
  for (uint64_t i = 0; i < e; ++i) {
    p *= radix;
    if (p > ~uint64_t{0}) return 0;
  }
  return static_cast<uint64_t>(p);
}

// One call's AES: a copy of the keyed template context (EVP contexts are not safe to share between threads).
class Aes {
 public:
  static absl::StatusOr<Aes> Copy(const EVP_CIPHER_CTX* tmpl) {
    Aes aes;
    aes.ctx_.reset(EVP_CIPHER_CTX_new());
    if (aes.ctx_ == nullptr || EVP_CIPHER_CTX_copy(aes.ctx_.get(), tmpl) != 1) {
      return OpenSslFailure("copying the AES context");
    }
    return aes;
  }
  // ECB over whole blocks: out may equal in.
  absl::Status Encrypt(const uint8_t* in, uint8_t* out, size_t len) {
    int outl = 0;
    if (EVP_EncryptUpdate(ctx_.get(), out, &outl, in, static_cast<int>(len)) != 1 ||
        static_cast<size_t>(outl) != len) {
      return OpenSslFailure("AES");
    }
    return absl::OkStatus();
  }

 private:
  struct Deleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_CIPHER_CTX, Deleter> ctx_;
};

// The round function's fixed layout for one call (SP 800-38G Algorithm 7 steps 1-5 and the shape of Q).
struct Layout {
  size_t n = 0, u = 0, v = 0;
  size_t b = 0;  // bytes of NUM_radix(B)
  size_t d = 0;  // bytes of S
  // P || Q: 16 + |Q| bytes; Q = T || 0^pad || [i]^1 || [NUM_radix(B)]^b.
  std::vector<uint8_t> pq;
  size_t round_byte = 0;                // offset of [i]^1 in pq
  size_t const_blocks = 0;              // leading blocks of pq that are the same in every round
  std::array<uint8_t, kBlock> chain{};  // CBC-MAC state after the constant blocks
};

// b = ceil(ceil(v * log2(radix)) / 8), computed exactly as the byte length of radix^v - 1 (its bit length is
// ceil(v * log2(radix)) for radix^v >= 2).
size_t BytesForBits(int bits) { return (static_cast<size_t>(bits) + 7) / 8; }

absl::StatusOr<Layout> MakeLayout(Aes& aes, uint32_t radix, size_t n, std::span<const uint8_t> tweak,
                                  int bits_of_radix_pow_v_minus_1) {
  Layout l;
  l.n = n;
  l.u = n / 2;
  l.v = n - l.u;
  l.b = BytesForBits(bits_of_radix_pow_v_minus_1);
  l.d = 4 * ((l.b + 3) / 4) + 4;
  const size_t t = tweak.size();
  const size_t pad = (kBlock - (t + l.b + 1) % kBlock) % kBlock;
  l.pq.assign(kBlock + t + pad + 1 + l.b, 0);
  uint8_t* p = l.pq.data();
  p[0] = 1;
  p[1] = 2;
  p[2] = 1;
  p[3] = static_cast<uint8_t>(radix >> 16);
  p[4] = static_cast<uint8_t>(radix >> 8);
  p[5] = static_cast<uint8_t>(radix);
  p[6] = 10;
  p[7] = static_cast<uint8_t>(l.u % 256);
  for (int i = 0; i < 4; ++i) p[8 + i] = static_cast<uint8_t>(static_cast<uint64_t>(n) >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[12 + i] = static_cast<uint8_t>(static_cast<uint64_t>(t) >> (24 - 8 * i));
  if (t > 0) std::memcpy(p + kBlock, tweak.data(), t);
  l.round_byte = kBlock + t + pad;
  l.const_blocks = l.round_byte / kBlock;
  // CBC-MAC (PRF, Algorithm 6) of the constant prefix, with a zero IV.
  for (size_t j = 0; j < l.const_blocks; ++j) {
    for (size_t k = 0; k < kBlock; ++k) l.chain[k] ^= p[j * kBlock + k];
    VEIL_RETURN_IF_ERROR(aes.Encrypt(l.chain.data(), l.chain.data(), kBlock));
  }
  return l;
}

// Steps 6.i-6.iii: with [i]^1 || [NUM_radix(B)]^b already written into l.pq, S (d bytes) into `s`.
absl::Status RoundS(Aes& aes, const Layout& l, std::vector<uint8_t>& s) {
  std::array<uint8_t, kBlock> r = l.chain;
  const size_t blocks = l.pq.size() / kBlock;
  for (size_t j = l.const_blocks; j < blocks; ++j) {
    for (size_t k = 0; k < kBlock; ++k) r[k] ^= l.pq[j * kBlock + k];
    VEIL_RETURN_IF_ERROR(aes.Encrypt(r.data(), r.data(), kBlock));
  }
  // S = first d bytes of R || CIPH(R xor [1]^16) || ... || CIPH(R xor [ceil(d/16) - 1]^16).
  const size_t extra = (l.d + kBlock - 1) / kBlock - 1;
  s.resize((extra + 1) * kBlock);
  std::memcpy(s.data(), r.data(), kBlock);
  for (size_t j = 1; j <= extra; ++j) {
    uint8_t* blk = s.data() + j * kBlock;
    std::memcpy(blk, r.data(), kBlock);
    for (int k = 0; k < 8; ++k)
      blk[kBlock - 1 - k] ^= static_cast<uint8_t>(static_cast<uint64_t>(j) >> (8 * k));
  }
  if (extra > 0) VEIL_RETURN_IF_ERROR(aes.Encrypt(s.data() + kBlock, s.data() + kBlock, extra * kBlock));
  s.resize(l.d);
  return absl::OkStatus();
}

// The rounds in 64/128-bit integers: valid when radix^v < 2^64, so b <= 8 and d <= 12.
absl::StatusOr<std::vector<uint16_t>> CryptWide(Aes& aes, bool encrypt, uint32_t radix,
                                                std::span<const uint16_t> x, std::span<const uint8_t> tweak,
                                                uint64_t pow_u, uint64_t pow_v) {
  const size_t n = x.size();
  VEIL_ASSIGN_OR_RETURN(Layout l, MakeLayout(aes, radix, n, tweak, std::bit_width(pow_v - 1)));
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < l.u; ++i) a = a * radix + x[i];
  for (size_t i = l.u; i < n; ++i) b = b * radix + x[i];
  std::vector<uint8_t> s;
  for (int step = 0; step < kRounds; ++step) {
    const int i = encrypt ? step : kRounds - 1 - step;
    const uint64_t mod = (i % 2 == 0) ? pow_u : pow_v;
    const uint64_t in = encrypt ? b : a;  // the half that enters the PRF
    l.pq[l.round_byte] = static_cast<uint8_t>(i);
    for (size_t k = 0; k < l.b; ++k)
      l.pq[l.round_byte + 1 + k] = static_cast<uint8_t>(in >> (8 * (l.b - 1 - k)));
    VEIL_RETURN_IF_ERROR(RoundS(aes, l, s));
    unsigned __int128 y = 0;
    for (uint8_t byte : s) y = (y << 8) | byte;
    const unsigned __int128 y_mod = y % mod;
    if (encrypt) {
      const uint64_t c = static_cast<uint64_t>((a + y_mod) % mod);
      a = b;
      b = c;
    } else {
      const uint64_t c = static_cast<uint64_t>((static_cast<unsigned __int128>(b) + mod - y_mod) % mod);
      b = a;
      a = c;
    }
  }
  std::vector<uint16_t> out(n);
  for (size_t i = l.u; i-- > 0;) {
    out[i] = static_cast<uint16_t>(a % radix);
    a /= radix;
  }
  for (size_t i = n; i-- > l.u;) {
    out[i] = static_cast<uint16_t>(b % radix);
    b /= radix;
  }
  return out;
}

absl::Status NumRadix(std::span<const uint16_t> digits, uint32_t radix, BIGNUM* out) {
  BN_zero(out);
  for (uint16_t d : digits) {
    if (BN_mul_word(out, radix) != 1 || BN_add_word(out, d) != 1) return OpenSslFailure("BN arithmetic");
  }
  return absl::OkStatus();
}

absl::Status StrRadix(BIGNUM* x, uint32_t radix, std::span<uint16_t> out) {
  for (size_t i = out.size(); i-- > 0;) {
    const BN_ULONG r = BN_div_word(x, radix);
    if (r == static_cast<BN_ULONG>(-1)) return OpenSslFailure("BN division");
    out[i] = static_cast<uint16_t>(r);
  }
  return absl::OkStatus();
}

// The rounds in OpenSSL BIGNUM, for any length.
absl::StatusOr<std::vector<uint16_t>> CryptBignum(Aes& aes, bool encrypt, uint32_t radix,
                                                  std::span<const uint16_t> x,
                                                  std::span<const uint8_t> tweak) {
  const size_t n = x.size();
  const size_t u = n / 2, v = n - u;
  BnCtxPtr ctx(BN_CTX_new());
  BnPtr a(BN_new()), b(BN_new()), y(BN_new()), c(BN_new()), pow_u(BN_new()), pow_v(BN_new()), r(BN_new()),
      pm1(BN_new());
  if (!ctx || !a || !b || !y || !c || !pow_u || !pow_v || !r || !pm1) return OpenSslFailure("BN allocation");
  if (BN_set_word(r.get(), radix) != 1 || BN_set_word(c.get(), u) != 1 ||
      BN_exp(pow_u.get(), r.get(), c.get(), ctx.get()) != 1 || BN_set_word(c.get(), v) != 1 ||
      BN_exp(pow_v.get(), r.get(), c.get(), ctx.get()) != 1 || BN_copy(pm1.get(), pow_v.get()) == nullptr ||
      BN_sub_word(pm1.get(), 1) != 1) {
    return OpenSslFailure("BN arithmetic");
  }
  VEIL_ASSIGN_OR_RETURN(Layout l, MakeLayout(aes, radix, n, tweak, BN_num_bits(pm1.get())));
  VEIL_RETURN_IF_ERROR(NumRadix(x.subspan(0, u), radix, a.get()));
  VEIL_RETURN_IF_ERROR(NumRadix(x.subspan(u), radix, b.get()));
  std::vector<uint8_t> s;
  for (int step = 0; step < kRounds; ++step) {
    const int i = encrypt ? step : kRounds - 1 - step;
    const BIGNUM* mod = (i % 2 == 0) ? pow_u.get() : pow_v.get();
    const BIGNUM* in = encrypt ? b.get() : a.get();
    l.pq[l.round_byte] = static_cast<uint8_t>(i);
    if (BN_bn2binpad(in, l.pq.data() + l.round_byte + 1, static_cast<int>(l.b)) < 0) {
      return OpenSslFailure("BN encoding");
    }
    VEIL_RETURN_IF_ERROR(RoundS(aes, l, s));
    if (BN_bin2bn(s.data(), static_cast<int>(s.size()), y.get()) == nullptr)
      return OpenSslFailure("BN decoding");
    if (encrypt) {
      if (BN_mod_add(c.get(), a.get(), y.get(), mod, ctx.get()) != 1) return OpenSslFailure("BN arithmetic");
      std::swap(a, b);  // A = B
      std::swap(b, c);  // B = C
    } else {
      if (BN_mod_sub(c.get(), b.get(), y.get(), mod, ctx.get()) != 1) return OpenSslFailure("BN arithmetic");
      std::swap(b, a);  // B = A
      std::swap(a, c);  // A = C
    }
  }
  std::vector<uint16_t> out(n);
  VEIL_RETURN_IF_ERROR(StrRadix(a.get(), radix, std::span<uint16_t>(out).subspan(0, u)));
  VEIL_RETURN_IF_ERROR(StrRadix(b.get(), radix, std::span<uint16_t>(out).subspan(u)));
  return out;
}

}  // namespace

absl::StatusOr<Ff1> Ff1::Create(const base::SecretBytes& key, uint32_t radix) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = EVP_aes_128_ecb();
      break;
    case 24:
      cipher = EVP_aes_192_ecb();
      break;
    case 32:
      cipher = EVP_aes_256_ecb();
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("FF1: the key must be 16, 24 or 32 bytes (AES-128/192/256), not ", key.size()));
  }
  if (radix < kFf1MinRadix || radix > kFf1MaxRadix) {
    return absl::InvalidArgumentError(absl::StrCat("FF1: radix ", radix, " is outside [2, 65536]"));
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return OpenSslFailure("AES key setup");
  }
  uint32_t min_length = 2;
  while (PowIfFits(radix, min_length) != 0 && PowIfFits(radix, min_length) < kFf1MinDomainSize) ++min_length;
  return Ff1(std::move(ctx), radix, min_length);
}

absl::StatusOr<std::vector<uint16_t>> Ff1::Crypt(bool encrypt, std::span<const uint16_t> x,
                                                 std::span<const uint8_t> tweak,
                                                 internal::Ff1Arithmetic arithmetic) const {
  const size_t n = x.size();
  if (n < min_length_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FF1: domain too small: ", n, " numerals in radix ", radix_,
        " (radix^n must be at least 1,000,000: ", min_length_, " numerals or more; SP 800-38G Rev. 1)"));
  }
  if (n > 0xffffffffu) return absl::InvalidArgumentError("FF1: input longer than 2^32 - 1 numerals");
  if (tweak.size() > 0xffffffffu) return absl::InvalidArgumentError("FF1: tweak of 2^32 bytes or more");
  for (size_t i = 0; i < n; ++i) {
    if (x[i] >= radix_) {
      return absl::InvalidArgumentError(
          absl::StrCat("FF1: numeral at position ", i, " is not below the radix ", radix_));
    }
  }
  VEIL_ASSIGN_OR_RETURN(Aes aes, Aes::Copy(ctx_.get()));
  const uint64_t pow_v = PowIfFits(radix_, n - n / 2);
  const bool wide_fits = pow_v != 0;
  if (arithmetic == internal::Ff1Arithmetic::kWide && !wide_fits) {
    return absl::InvalidArgumentError("FF1: input too long for 64-bit arithmetic");
  }
  if (wide_fits && arithmetic != internal::Ff1Arithmetic::kBignum) {
    return CryptWide(aes, encrypt, radix_, x, tweak, PowIfFits(radix_, n / 2), pow_v);
  }
  return CryptBignum(aes, encrypt, radix_, x, tweak);
}

absl::StatusOr<std::vector<uint16_t>> Ff1::Encrypt(std::span<const uint16_t> x,
                                                   std::span<const uint8_t> tweak) const {
  return Crypt(true, x, tweak, internal::Ff1Arithmetic::kAuto);
}

absl::StatusOr<std::vector<uint16_t>> Ff1::Decrypt(std::span<const uint16_t> y,
                                                   std::span<const uint8_t> tweak) const {
  return Crypt(false, y, tweak, internal::Ff1Arithmetic::kAuto);
}

absl::StatusOr<std::vector<uint16_t>> Ff1::CryptForTest(bool encrypt, std::span<const uint16_t> x,
                                                        std::span<const uint8_t> tweak,
                                                        internal::Ff1Arithmetic arithmetic) const {
  return Crypt(encrypt, x, tweak, arithmetic);
}

absl::StatusOr<std::string> Ff1::CryptString(bool encrypt, std::string_view x, std::string_view alphabet,
                                             std::span<const uint8_t> tweak) const {
  if (alphabet.size() != radix_) {
    return absl::InvalidArgumentError(
        absl::StrCat("FF1: the alphabet has ", alphabet.size(), " characters but the radix is ", radix_));
  }
  std::array<int32_t, 256> index;
  index.fill(-1);
  for (size_t i = 0; i < alphabet.size(); ++i) {
    int32_t& slot = index[static_cast<uint8_t>(alphabet[i])];
    if (slot >= 0) return absl::InvalidArgumentError(absl::StrCat("FF1: alphabet repeats position ", slot));
    slot = static_cast<int32_t>(i);
  }
  std::vector<uint16_t> numerals(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int32_t d = index[static_cast<uint8_t>(x[i])];
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("FF1: character at position ", i, " is not in the alphabet"));
    }
    numerals[i] = static_cast<uint16_t>(d);
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<uint16_t> out,
                        Crypt(encrypt, numerals, tweak, internal::Ff1Arithmetic::kAuto));
  std::string text(out.size(), '\0');
  for (size_t i = 0; i < out.size(); ++i) text[i] = alphabet[out[i]];
  return text;
}

absl::StatusOr<std::string> Ff1::EncryptString(std::string_view x, std::string_view alphabet,
                                               std::span<const uint8_t> tweak) const {
  return CryptString(true, x, alphabet, tweak);
}

absl::StatusOr<std::string> Ff1::DecryptString(std::string_view y, std::string_view alphabet,
                                               std::span<const uint8_t> tweak) const {
  return CryptString(false, y, alphabet, tweak);
}

}  // namespace veil::anon
