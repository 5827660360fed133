// libFuzzer target for the encrypted-scoring file parsers (veil/he/scoring.h): the query file (ParseQuery,
// what the bank's `veil he score` reads from a customer) and the result file (ParseScores, what the
// customer's `veil he decrypt` reads from the bank), for a small parameter set (N = 4096, ciphertext prime
// 1073692673, special prime 1073668097; the parsers take any parameters).
//
// Input: byte 0 selects the parser (bit 0: 0 = query, 1 = scores) and the mode:
//   - bit 1 clear: the remaining bytes are the file; bit 7 set: its trailing SHA-256 is recomputed over the
//     rest before parsing, so that mutations reach the header and the ciphertexts behind the checksum;
//   - bit 1 set (header mode): the remaining bytes are the JSON header only, and the target wraps it in a
//     well-formed file (scoring.h: magic, u32 header length, header, u32 count, per ciphertext a u64 length
//     and the bytes, SHA-256) with (byte 0 >> 2) & 3 copies of a valid seeded ciphertext of the parameters,
//     so that the fuzzer works on the header's fields instead of mostly mutating ciphertext bytes.
//
// Properties checked beyond "no crash, no sanitizer report, no huge allocation":
//   - every error is InvalidArgument, DataLoss or FailedPrecondition;
//   - an accepted file is consistent with the parameters: records_per_ciphertext is the layout's (queries)
//     or a power of two up to N/2 (scores), the ciphertext count is ceil(records / records_per_ciphertext)
//     (twice that with probabilities), every ciphertext has 2 parts at the expected level;
//   - accepted scores serialize again (SerializeScores) into a file that parses to the same header and
//     ciphertexts (the JSON header's spacing and key order may differ from the input's, so byte equality is
//     not expected).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "veil/base/random.h"
#include "veil/base/splitmix.h"
#include "veil/crypto/sha256.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/params.h"
#include "veil/he/scoring.h"
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

// Deterministic bytes for the fixture ciphertext (test data, not privacy randomness).
class FixtureRandom : public veil::base::RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t> out) override {
    for (uint8_t& b : out) b = static_cast<uint8_t>(rng_.Next());
    return absl::OkStatus();
  }

 private:
  veil::base::SplitMix64 rng_{7};
};

// A serialized seeded ciphertext of Context() (level 0, the only level): valid in queries and in results.
const std::vector<uint8_t>& FixtureCiphertext() {
  static const std::vector<uint8_t>* bytes = [] {
    const CkksContext& ctx = Context();
    FixtureRandom rng;
    auto sk = veil::he::GenerateSecretKey(ctx, rng);
    if (!sk.ok()) std::abort();
    auto pt = ctx.Encode(std::vector<double>{1, -2, 3}, 0x1p20, 0);
    if (!pt.ok()) std::abort();
    auto ct = veil::he::EncryptSymmetric(ctx, *sk, *pt, rng);
    if (!ct.ok()) std::abort();
    auto b = veil::he::SerializeSeededCiphertext(ctx, *ct);
    if (!b.ok()) std::abort();
    return new std::vector<uint8_t>(std::move(*b));
  }();
  return *bytes;
}

void PutLe(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A well-formed file around `header` with `count` fixture ciphertexts.
std::vector<uint8_t> WrapHeader(const char* magic, std::span<const uint8_t> header, int count) {
  std::vector<uint8_t> out(magic, magic + 8);
  PutLe(out, header.size(), 4);
  out.insert(out.end(), header.begin(), header.end());
  PutLe(out, static_cast<uint64_t>(count), 4);
  for (int i = 0; i < count; ++i) {
    PutLe(out, FixtureCiphertext().size(), 8);
    out.insert(out.end(), FixtureCiphertext().begin(), FixtureCiphertext().end());
  }
  const veil::crypto::Sha256Digest d = veil::crypto::Sha256(std::span<const uint8_t>(out));
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

void CheckError(const absl::Status& s) {
  if (s.ok()) return;
  const absl::StatusCode code = s.code();
  if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kDataLoss &&
      code != absl::StatusCode::kFailedPrecondition) {
    std::abort();
  }
}

void CheckCiphertexts(const std::vector<veil::he::Ciphertext>& cts, size_t count, int level) {
  if (cts.size() != count) std::abort();
  for (const veil::he::Ciphertext& ct : cts) {
    if (ct.parts.size() != 2 || ct.level != level) std::abort();
  }
}

void CheckSameCiphertexts(const std::vector<veil::he::Ciphertext>& a,
                          const std::vector<veil::he::Ciphertext>& b) {
  if (a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].level != b[i].level || a[i].scale != b[i].scale || a[i].parts.size() != b[i].parts.size())
      std::abort();
    for (size_t p = 0; p < a[i].parts.size(); ++p) {
      if (a[i].parts[p].data != b[i].parts[p].data) std::abort();
    }
  }
}

void CheckQuery(const CkksContext& ctx, const veil::he::ParsedQuery& q) {
  const veil::he::QueryHeader& h = q.header;
  auto layout = veil::he::MakeScoringLayout(ctx, h.feature_names.size());
  if (!layout.ok() || layout->records_per_ciphertext != h.records_per_ciphertext || h.records == 0)
    std::abort();
  if (h.means.size() != h.scales.size() || (!h.means.empty() && h.means.size() != h.feature_names.size())) {
    std::abort();
  }
  CheckCiphertexts(q.ciphertexts, (h.records + h.records_per_ciphertext - 1) / h.records_per_ciphertext,
                   ctx.max_level());
}

void CheckScores(const CkksContext& ctx, const veil::he::EncryptedScores& s) {
  const veil::he::ScoresHeader& h = s.header;
  if (h.records == 0 || !std::has_single_bit(h.records_per_ciphertext) ||
      h.records_per_ciphertext > ctx.slot_count()) {
    std::abort();
  }
  const size_t per_list = (h.records + h.records_per_ciphertext - 1) / h.records_per_ciphertext;
  CheckCiphertexts(s.logits, per_list, 0);
  CheckCiphertexts(s.probabilities, h.has_probability ? per_list : 0, 0);
  // Serialize again and parse: the same header and ciphertexts.
  auto bytes = veil::he::SerializeScores(ctx, s);
  if (!bytes.ok()) std::abort();
  auto again = veil::he::ParseScores(ctx, *bytes);
  if (!again.ok()) std::abort();
  const veil::he::ScoresHeader& g = again->header;
  if (g.key_id != h.key_id || g.records != h.records ||
      g.records_per_ciphertext != h.records_per_ciphertext || g.error_bound_bits != h.error_bound_bits ||
      g.has_probability != h.has_probability || g.interval != h.interval || g.degree != h.degree ||
      g.fit_error != h.fit_error) {
    std::abort();
  }
  CheckSameCiphertexts(again->logits, s.logits);
  CheckSameCiphertexts(again->probabilities, s.probabilities);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const CkksContext& ctx = Context();
  const uint8_t selector = data[0];
  const bool scores = (selector & 1) != 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((selector & 2) != 0) {
    bytes = WrapHeader(scores ? "VEILHER1" : "VEILHEQ1", bytes, (selector >> 2) & 3);
  } else if ((selector & 0x80) != 0 && bytes.size() >= 32) {
    const veil::crypto::Sha256Digest d =
        veil::crypto::Sha256(std::span<const uint8_t>(bytes.data(), bytes.size() - 32));
    std::copy(d.begin(), d.end(), bytes.end() - 32);
  }
  if (!scores) {
    auto q = veil::he::ParseQuery(ctx, bytes);
    CheckError(q.status());
    if (q.ok()) CheckQuery(ctx, *q);
  } else {
    auto s = veil::he::ParseScores(ctx, bytes);
    CheckError(s.status());
    if (s.ok()) CheckScores(ctx, *s);
  }
  return 0;
}
