#include "veil/fl/certs.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::fl {
namespace {

using ::testing::HasSubstr;

class CertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DeploymentOptions o;
    o.dir = dir_.File("pki");
    o.sites = {"a", "b"};
    auto r = CreateDeployment(o, rng_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->created_ca);
    EXPECT_EQ(r->sites, (std::vector<std::string>{"a", "b"}));
  }
  std::string Pki(const std::string& sub) const { return dir_.File("pki/" + sub); }

  base::testing::ScopedTempDir dir_;
  crypto::testing::DeterministicRandom rng_{7};
};

TEST_F(CertsTest, PartiesLoadAndKeysArePrivate) {
  for (const char* f : {"ca/ca.key", "coordinator/key.pem", "a/key.pem", "b/key.pem"}) {
    struct stat st;
    ASSERT_EQ(::stat(Pki(f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  auto a = LoadCredentials(Pki("a"), "a");
  ASSERT_TRUE(a.ok()) << a.status();
  auto c = LoadCredentials(Pki("coordinator"), kCoordinatorName);
  ASSERT_TRUE(c.ok()) << c.status();

  // The certificate's key is the secure-aggregation identity key: a signature made with the loaded key
  // verifies under the key the CA check extracts from the certificate.
  auto ca = CertificateAuthority::Load(a->ca_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto id = ca->VerifySite(a->cert_der, "a");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->site, "a");
  auto sig = a->key.Sign("round keys");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(id->key.Verify("round keys", *sig).ok());
  EXPECT_TRUE(ca->VerifyCoordinator(c->cert_der).ok());
}

TEST_F(CertsTest, VerifyRefusesWrongNameRoleAndIssuer) {
  auto a = LoadCredentials(Pki("a"), "a");
  auto c = LoadCredentials(Pki("coordinator"), kCoordinatorName);
  ASSERT_TRUE(a.ok() && c.ok());
  auto ca = CertificateAuthority::Load(a->ca_pem);
  ASSERT_TRUE(ca.ok());
  // Site a's certificate presented as site b's: the coordinator cannot pass one site's key for another's.
  auto wrong = ca->VerifySite(a->cert_der, "b");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrong.status().message(), HasSubstr("issued to \"a\""));
  // A site certificate is not a coordinator's, nor the reverse (extended key usage).
  EXPECT_EQ(ca->VerifyCoordinator(a->cert_der).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ca->VerifySite(c->cert_der, "").status().code(), absl::StatusCode::kPermissionDenied);
  // Garbage.
  std::vector<uint8_t> junk = a->cert_der;
  junk.resize(junk.size() / 2);
  EXPECT_EQ(ca->VerifySite(junk, "a").status().code(), absl::StatusCode::kInvalidArgument);
  // A byte flipped in the signed part: the CA's signature no longer verifies.
  std::vector<uint8_t> flipped = a->cert_der;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(ca->VerifySite(flipped, "a").ok());

  // A certificate from another deployment's CA, even for the same site name.
  DeploymentOptions other;
  other.dir = dir_.File("other");
  other.sites = {"a"};
  ASSERT_TRUE(CreateDeployment(other, rng_).ok());
  auto foreign = LoadCredentials(dir_.File("other/a"), "a");
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  auto r = ca->VerifySite(foreign->cert_der, "a");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("not valid for the CA"));
}

// The verifier that remembers: the same answers as VerifySite, first time and again, and the certificate's
// end of validity (365 days from its issue, a few seconds ago) is what a remembered answer is bounded by.
TEST_F(CertsTest, SiteVerifierGivesTheCasAnswersAndRemembersOnlyAcceptances) {
  auto a = LoadCredentials(Pki("a"), "a");
  ASSERT_TRUE(a.ok());
  auto ca = CertificateAuthority::Load(a->ca_pem);
  ASSERT_TRUE(ca.ok());
  SiteVerifier verifier(*ca);
  std::vector<uint8_t> flipped = a->cert_der;
  flipped[flipped.size() / 2] ^= 1;
  for (int pass = 0; pass < 2; ++pass) {
    auto id = verifier.VerifySite(a->cert_der, "a");
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->site, "a");
    EXPECT_TRUE(id->key == a->key.public_key());
    EXPECT_EQ(id->der, a->cert_der);
    const absl::Duration left = id->not_after - absl::Now();
    EXPECT_GT(left, absl::Hours(24 * 365) - absl::Hours(1)) << pass;
    EXPECT_LE(left, absl::Hours(24 * 365)) << pass;
    // Accepted as "a" does not make it "b"'s; a changed byte is a different certificate.
    auto wrong = verifier.VerifySite(a->cert_der, "b");
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied) << pass;
    EXPECT_THAT(wrong.status().message(), HasSubstr("issued to \"a\""));
    EXPECT_FALSE(verifier.VerifySite(flipped, "a").ok()) << pass;
  }
}

TEST_F(CertsTest, LoadCredentialsChecks) {
  // The wrong expected name.
  EXPECT_EQ(LoadCredentials(Pki("a"), "b").status().code(), absl::StatusCode::kPermissionDenied);
  // A key readable by others.
  ASSERT_EQ(::chmod(Pki("b/key.pem").c_str(), 0644), 0);
  auto loose = LoadCredentials(Pki("b"), "b");
  EXPECT_EQ(loose.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loose.status().message(), HasSubstr("chmod 600"));
  ASSERT_EQ(::chmod(Pki("b/key.pem").c_str(), 0600), 0);
  // Another party's key beside the certificate.
  std::filesystem::copy_file(Pki("a/key.pem"), Pki("b/key.pem"),
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(::chmod(Pki("b/key.pem").c_str(), 0600), 0);
  auto mismatch = LoadCredentials(Pki("b"), "b");
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not match"));
  // A missing file is named.
  auto missing = LoadCredentials(Pki("nowhere"), "a");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("ca.pem"));
}

TEST_F(CertsTest, AddingSitesReusesTheCa) {
  DeploymentOptions o;
  o.dir = dir_.File("pki");
  o.sites = {"c"};
  auto r = CreateDeployment(o, rng_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->created_ca);
  EXPECT_FALSE(r->created_coordinator);
  auto c = LoadCredentials(Pki("c"), "c");
  ASSERT_TRUE(c.ok()) << c.status();
  auto a = LoadCredentials(Pki("a"), "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ca_pem, c->ca_pem);
  // An existing site is refused, and nothing is written.
  o.sites = {"d", "a"};
  auto again = CreateDeployment(o, rng_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(std::filesystem::exists(Pki("d")));
}

TEST(CertsOptionsTest, BadInput) {
  crypto::testing::DeterministicRandom rng(1);
  base::testing::ScopedTempDir dir;
  DeploymentOptions o;
  o.dir = dir.File("x");
  o.sites = {"Upper"};
  EXPECT_EQ(CreateDeployment(o, rng).status().code(), absl::StatusCode::kInvalidArgument);
  o.sites = {"coordinator"};
  EXPECT_EQ(CreateDeployment(o, rng).status().code(), absl::StatusCode::kInvalidArgument);
  o.sites = {"a", "a"};
  EXPECT_THAT(CreateDeployment(o, rng).status().message(), HasSubstr("twice"));
  o.sites = {"a"};
  o.coordinator_hosts = {"bad host!"};
  EXPECT_EQ(CreateDeployment(o, rng).status().code(), absl::StatusCode::kInvalidArgument);
  o.coordinator_hosts = {"10.0.0.1", "fl.example.org", "::1"};
  o.days = 0;
  EXPECT_EQ(CreateDeployment(o, rng).status().code(), absl::StatusCode::kInvalidArgument);
  o.days = 30;
  EXPECT_TRUE(CreateDeployment(o, rng).ok());
  EXPECT_TRUE(ValidateSiteName("hospital-3_x").ok());
  EXPECT_FALSE(ValidateSiteName("").ok());
  EXPECT_FALSE(ValidateSiteName("-a").ok());
  EXPECT_FALSE(ValidateSiteName("a/b").ok());
}

}  // namespace
}  // namespace veil::fl
