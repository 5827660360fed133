// De-identification operators on one thread (issue 5): FF1 encryptions per second of 16-digit card numbers
// (anon::Ff1, NIST SP 800-38G, AES-256) and through the text operator (Ff1Operator: digits extracted, dashes
// kept, Luhn digit recomputed), keyed tokens per second (TokenOperator: canonicalisation + HMAC-SHA-256 +
// hex), against the baseline of one AES-256-GCM seal of the same 16 bytes (crypto::Seal with a fresh random
// nonce, and SealWithNonce without drawing one), measured in the same run. Each figure is the median of 5
// runs.
//
//   build/release/bench/anon_bench [ITERATIONS]    (default 200,000 per run)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "veil/anon/ff1.h"
#include "veil/anon/operators.h"
#include "veil/base/bytes.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/random.h"
#include "veil/pii/checksums.h"

namespace veil::bench {
namespace {

constexpr int kRuns = 5;

template <typename F>
double OpsPerSecond(size_t n, F&& f) {
  std::vector<double> rates;
  for (int run = 0; run < kRuns; ++run) {
    const Clock::time_point start = Clock::now();
    for (size_t i = 0; i < n; ++i) f(i);
    rates.push_back(static_cast<double>(n) / SecondsSince(start));
  }
  return Median(rates);
}

void Fail(const absl::Status& s) {
  std::fprintf(stderr, "anon_bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

int Main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  DataRandom rnd(7);
  std::vector<std::string> cards(4096), dashed(4096);
  for (size_t i = 0; i < cards.size(); ++i) {
    // Luhn-valid (the ff1 operator refuses cards failing Luhn: their check digit could not be restored).
    for (int d = 0; d < 15; ++d) cards[i].push_back(static_cast<char>('0' + rnd.Below(10)));
    cards[i].push_back(static_cast<char>('0' + pii::internal::LuhnCheckDigit(cards[i])));
    dashed[i] = cards[i].substr(0, 4) + "-" + cards[i].substr(4, 4) + "-" + cards[i].substr(8, 4) + "-" +
                cards[i].substr(12, 4);
  }
  absl::StatusOr<base::SecretBytes> key = crypto::RandomKey(32, crypto::SecureRandom());
  if (!key.ok()) Fail(key.status());
  absl::StatusOr<anon::Ff1> ff1 = anon::Ff1::Create(*key, 10);
  if (!ff1.ok()) Fail(ff1.status());
  absl::StatusOr<std::unique_ptr<anon::Ff1Operator>> ff1_op = anon::Ff1Operator::Create(*key);
  if (!ff1_op.ok()) Fail(ff1_op.status());
  absl::StatusOr<std::unique_ptr<anon::TokenOperator>> token = anon::TokenOperator::Create(key->Clone());
  if (!token.ok()) Fail(token.status());
  const std::vector<uint8_t> tweak = {'c', 'a', 'r', 'd'};
  const std::vector<uint8_t> nonce(crypto::kAes256GcmNonceSize, 1);
  size_t sink = 0;
  const auto check = [&](const auto& r) {
    if (!r.ok()) Fail(r.status());
    sink += r->size();
  };

  const double gcm = OpsPerSecond(n, [&](size_t i) {
    check(crypto::Seal(*key, base::AsBytes(cards[i % cards.size()]), {}, crypto::SecureRandom()));
  });
  const double gcm_nonce = OpsPerSecond(n, [&](size_t i) {
    check(crypto::SealWithNonce(*key, nonce, base::AsBytes(cards[i % cards.size()]), {}));
  });
  const double ff1_raw = OpsPerSecond(
      n, [&](size_t i) { check(ff1->EncryptString(cards[i % cards.size()], "0123456789", tweak)); });
  const double ff1_text = OpsPerSecond(
      n, [&](size_t i) { check((*ff1_op)->Apply(pii::EntityType::kCreditCard, dashed[i % dashed.size()])); });
  // Class-preserving paths: an IBAN (country kept, 4 letters + 14 digits in one mixed-radix domain, check
  // digits recomputed) and a name (1 upper + 7 lower, 1 upper + 8 lower: mixed radix, radix-2 FF1 with cycle
  // walking).
  const double ff1_iban = OpsPerSecond(
      n, [&](size_t) { check((*ff1_op)->Apply(pii::EntityType::kIbanCode, "GB82 WEST 1234 5698 7654 32")); });
  const double ff1_name = OpsPerSecond(
      n, [&](size_t) { check((*ff1_op)->Apply(pii::EntityType::kPerson, "Margaret Whitfield")); });
  const double tok = OpsPerSecond(
      n, [&](size_t i) { check((*token)->Apply(pii::EntityType::kCreditCard, dashed[i % dashed.size()])); });

  std::printf("anon_bench: %zu operations per run, median of %d runs, one thread (checksum %zu)\n", n, kRuns,
              sink);
  std::printf("%-52s %12s %10s\n", "operation (16-digit card)", "ops/s", "vs GCM seal");
  const auto row = [&](const char* name, double rate) {
    std::printf("%-52s %12s %9.2fx\n", name, absl::StrFormat("%.0f", rate).c_str(), rate / gcm);
  };
  row("baseline: AES-256-GCM Seal (random nonce)", gcm);
  row("AES-256-GCM SealWithNonce (no nonce drawn)", gcm_nonce);
  row("FF1 AES-256 radix 10, 16 digits (Ff1::EncryptString)", ff1_raw);
  row("ff1 operator on 4111-xxxx-xxxx-xxxx (Luhn fixed)", ff1_text);
  row("ff1 operator on GB82 WEST 1234 5698 7654 32 (IBAN)", ff1_iban);
  row("ff1 operator on Margaret Whitfield (PERSON)", ff1_name);
  row("token operator (HMAC-SHA-256, canonical digits)", tok);
  std::printf(
      "per card: FF1 %.2f us, ff1 operator %.2f us, token %.2f us; GCM seal %.2f us (%.2f us without the "
      "nonce)\n",
      1e6 / ff1_raw, 1e6 / ff1_text, 1e6 / tok, 1e6 / gcm, 1e6 / gcm_nonce);
  return 0;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) { return veil::bench::Main(argc, argv); }
