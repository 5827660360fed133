#include "veil/crypto/openssl_util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace veil::crypto::internal {
namespace {

// Collects and clears this thread's error queue, so that a stale error never leaks into a later report.
std::string DrainErrors() {
  std::string reasons;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!reasons.empty()) reasons += "; ";
    reasons += buf;
  }
  return reasons.empty() ? std::string("no OpenSSL error reported") : reasons;
}

// OpenSSL registers OPENSSL_cleanup with atexit() on its first initialisation. That cleanup runs before the
// static destructors of libraries initialised earlier (gRPC joins its threads there), and a thread that
// exits after it can no longer free its thread-local OpenSSL state (its per-thread DRBGs, error queue): the
// cleanup has deleted the key whose destructor would have. Under LeakSanitizer that showed up as a few
// hundred bytes "leaked" from CRYPTO_zalloc, depending on which gRPC thread outlived main (reproduced with a
// static object whose destructor joins a thread that called RAND_bytes; gone with this). Initialising
// OpenSSL first, during static initialisation, with OPENSSL_INIT_NO_ATEXIT leaves its state to the exiting
// process (as every process without the atexit handler does) and lets every thread free its own on exit.
// No secret outlives the process: the memory goes with it.
[[maybe_unused]] const bool kOpenSslInitialised = [] {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;
}();

}  // namespace

// The fetched objects are intentionally never freed: they live as long as the process (no static destructor
// ordering issues), and C++ guarantees thread-safe initialisation of the function-local statics.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return md;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

EVP_KDF* HkdfKdf() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

const EVP_CIPHER* Aes256GcmCipher() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", DrainErrors()));
}

void FatalOpenSslError(std::string_view what) {
  std::string reasons = DrainErrors();
  std::fprintf(stderr, "veil::crypto fatal OpenSSL failure: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), reasons.c_str());
  std::abort();
}

}  // namespace veil::crypto::internal
