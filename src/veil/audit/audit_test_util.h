// Test helpers shared by the audit module's tests.
#ifndef VEIL_AUDIT_AUDIT_TEST_UTIL_H_
#define VEIL_AUDIT_AUDIT_TEST_UTIL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "veil/audit/audit_entry.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/sha256.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::audit::testing {

// A fixed Ed25519 key for tests (seed drawn from the test-only DeterministicRandom).
inline crypto::Ed25519PrivateKey TestKey(uint64_t seed = 1) {
  crypto::testing::DeterministicRandom rng(seed);
  base::SecretBytes s(crypto::kEd25519SeedSize);
  (void)rng.Fill(s.span());
  return *crypto::Ed25519PrivateKey::FromSeed(s);
}

inline AuditEntry SampleEntry(int i, const std::string& actor = "alice") {
  AuditEntry e;
  e.actor = actor;
  e.action = i % 3 == 0 ? "query" : "export";
  e.dataset = "adult";
  e.purpose = "research";
  e.decision = i % 5 == 4 ? Decision::kDenied : Decision::kAllowed;
  e.reason = absl::StrCat("reason ", i);
  if (i % 2 == 0) e.cost = "rho=0.005";
  for (int k = 0; k < i % 4; ++k) e.subject_pseudonyms.push_back(absl::StrCat("ps", i, "_", k));
  e.params_hash = crypto::Sha256(absl::StrCat("params ", i));
  if (i % 3 != 1) e.result_hash = crypto::Sha256(absl::StrCat("result ", i));
  return e;
}

}  // namespace veil::audit::testing

#endif  // VEIL_AUDIT_AUDIT_TEST_UTIL_H_
