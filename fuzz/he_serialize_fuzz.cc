// libFuzzer target for every parser of the he module's serialization (veil/he/serialize.h): parameters,
// ciphertexts (plain and seeded), plaintexts, public keys, relinearization keys, Galois keys and secret keys,
// for a fixed small parameter set (N = 4096, ciphertext prime 1073692673, special prime 1073668097).
//
// Input: byte 0 selects the parser (low 3 bits) and whether to reseal (bit 7: the trailing SHA-256 is
// recomputed over the rest before parsing, so that mutations reach the body checks behind the checksum);
// the remaining bytes are the serialized object.
//
// Properties checked beyond "no crash, no sanitizer report, no huge allocation":
//   - every error is InvalidArgument, DataLoss or FailedPrecondition;
//   - without resealing, an accepted input is canonical: serializing the parsed object gives the input back
//     (seeded ciphertexts: the parsed c1 is the expansion of the seed, checked by re-serializing c0 + seed is
//     not possible from a Ciphertext, so only the shape is checked).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "veil/crypto/sha256.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"
#include "veil/he/params.h"
#include "veil/he/serialize.h"

namespace {

using veil::he::CkksContext;

const CkksContext& Context() {
  static const CkksContext* ctx = [] {
    auto params = veil::he::CkksParametersBuilder()
                      .SetPolyDegree(4096)
                      .SetCiphertextPrimes({1073692673})
                      .SetSpecialPrimes({1073668097})
                      .Build();
    if (!params.ok()) std::abort();
    auto c = CkksContext::Create(*params);
    if (!c.ok()) std::abort();
    return new CkksContext(std::move(*c));
  }();
  return *ctx;
}

void CheckError(const absl::Status& s) {
  if (s.ok()) return;
  const absl::StatusCode code = s.code();
  if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kDataLoss &&
      code != absl::StatusCode::kFailedPrecondition) {
    std::abort();
  }
}

void CheckSame(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size() || !std::equal(a.begin(), a.end(), b.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const CkksContext& ctx = Context();
  const uint8_t selector = data[0];
  std::vector<uint8_t> bytes(data + 1, data + size);
  const bool reseal = (selector & 0x80) != 0;
  if (reseal && bytes.size() >= 32) {
    const veil::crypto::Sha256Digest d =
        veil::crypto::Sha256(std::span<const uint8_t>(bytes.data(), bytes.size() - 32));
    std::copy(d.begin(), d.end(), bytes.end() - 32);
  }
  const bool canonical = !reseal;
  switch (selector & 7) {
    case 0: {
      auto p = veil::he::ParseParameters(bytes);
      CheckError(p.status());
      if (p.ok() && canonical) CheckSame(veil::he::SerializeParameters(*p), bytes);
      break;
    }
    case 1: {
      auto c = veil::he::ParseCiphertext(ctx, bytes);
      CheckError(c.status());
      if (c.ok()) {
        if (c->parts.size() < 2 || c->level != 0) std::abort();
        if (canonical && bytes.size() > 8 &&
            bytes[8] == static_cast<uint8_t>(veil::he::ObjectKind::kCiphertext)) {
          auto again = veil::he::SerializeCiphertext(ctx, *c);
          if (!again.ok()) std::abort();
          CheckSame(*again, bytes);
        }
      }
      break;
    }
    case 2: {
      auto p = veil::he::ParsePlaintext(ctx, bytes);
      CheckError(p.status());
      if (p.ok() && canonical) CheckSame(veil::he::SerializePlaintext(ctx, *p), bytes);
      break;
    }
    case 3: {
      auto k = veil::he::ParsePublicKey(ctx, bytes);
      CheckError(k.status());
      if (k.ok() && canonical) CheckSame(veil::he::SerializePublicKey(ctx, *k), bytes);
      break;
    }
    case 4: {
      auto k = veil::he::ParseRelinKeys(ctx, bytes);
      CheckError(k.status());
      if (k.ok() && canonical) CheckSame(veil::he::SerializeRelinKeys(ctx, *k), bytes);
      break;
    }
    case 5: {
      auto k = veil::he::ParseGaloisKeys(ctx, bytes);
      CheckError(k.status());
      if (k.ok() && canonical) CheckSame(veil::he::SerializeGaloisKeys(ctx, *k), bytes);
      break;
    }
    default: {
      auto k = veil::he::ParseSecretKey(ctx, bytes);
      CheckError(k.status());
      if (k.ok() && canonical) {
        auto again = veil::he::SerializeSecretKey(ctx, *k);
        if (!again.ok()) std::abort();
        CheckSame(again->span(), bytes);
      }
      break;
    }
  }
  return 0;
}
