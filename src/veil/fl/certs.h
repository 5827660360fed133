// Certificates of a federated deployment: one certificate authority (CA), one certificate for the
// coordinator and one per site, all with Ed25519 keys (OpenSSL 3), for mutual TLS and for the identities of
// secure aggregation.
//
// Identity binding (issue 10 item 4; secagg.h needs every client's Ed25519 identity public key in advance).
// A site's certificate key IS its secure-aggregation identity key: the key that authenticates the site in the
// TLS handshake also signs its round-0 keys (AdvertiseKeys) and its survivor-list signature. The coordinator
// sends every member of a round the certificates of all members; each member checks every certificate
// against the CA (chain, validity period, extended key usage clientAuth, subject CN = the site name the
// roster gives it) and takes the signing key from the certificate. A coordinator that does not hold the CA's
// private key therefore cannot substitute a key for a site: it would need a certificate the CA issued for
// that site name. The CA key stays with whoever runs `veil fl certs` (offline), never with the coordinator.
//
// Layout written by CreateDeployment (each party receives its own directory; ca/ stays offline):
//   DIR/ca/ca.pem, DIR/ca/ca.key               the CA (key 0600)
//   DIR/coordinator/{ca.pem,cert.pem,key.pem}  serverAuth, subjectAltName = the coordinator's hosts
//   DIR/<site>/{ca.pem,cert.pem,key.pem}       clientAuth, CN = the site name
// Private keys are unencrypted PKCS#8 PEM files with mode 0600 (the directory of a party is its secret).
//
// Thread safety: functions are thread-safe; a CertificateAuthority is immutable after Load.
#ifndef VEIL_FL_CERTS_H_
#define VEIL_FL_CERTS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/ed25519.h"

namespace veil::fl {

// The subject CN of the coordinator's certificate; no site may take this name.
inline constexpr char kCoordinatorName[] = "coordinator";

// Site names: 1 to 63 characters from [a-z0-9_-], starting with a letter or digit, not "coordinator", "ca"
// or "localhost" (a site name is also a directory name and must never pass for a host name).
// Errors: InvalidArgument saying why.
absl::Status ValidateSiteName(std::string_view name);

struct DeploymentOptions {
  std::string dir;
  std::vector<std::string> sites;
  // Host names or IP addresses under which clients reach the coordinator: its subjectAltName entries (the
  // TLS client checks the host it dialled against them).
  std::vector<std::string> coordinator_hosts = {"localhost", "127.0.0.1"};
  int days = 365;  // validity of the certificates, in [1, 3650]
};

struct DeploymentResult {
  bool created_ca = false;           // false: an existing DIR/ca was reused
  bool created_coordinator = false;  // false: DIR/coordinator existed and was kept
  std::vector<std::string> sites;    // the site directories created
  std::string ca_fingerprint;        // SHA-256 of the CA certificate (DER), hex
};

// Creates the layout above. If DIR/ca exists, its CA issues the new certificates (to add sites later) and an
// existing DIR/coordinator is kept; a site directory that already exists is an error. Keys come from `rng`
// (crypto::SecureRandom() in production). Errors: InvalidArgument for a bad site name, host, duplicate
// sites or days out of range; AlreadyExists for an existing site directory; the file system's errors. On
// error nothing new is left behind.
absl::StatusOr<DeploymentResult> CreateDeployment(const DeploymentOptions& options, base::RandomSource& rng);

// A verified site certificate: the site name and its Ed25519 identity key.
struct SiteIdentity {
  std::string site;
  crypto::Ed25519PublicKey key;
  std::vector<uint8_t> der;                     // the certificate
  absl::Time not_after = absl::InfinitePast();  // the end of the certificate's validity
};

// The CA's certificate, to verify peers against.
class CertificateAuthority {
 public:
  // Errors: InvalidArgument if `pem` is not exactly one PEM certificate of a CA.
  static absl::StatusOr<CertificateAuthority> Load(std::string_view pem);

  // Verifies `der` (one X.509 certificate, DER) was issued by this CA for a site (chain, validity now,
  // extended key usage clientAuth), that its subject CN is `expected_site` (if not empty), and that its key
  // is Ed25519. Errors: PermissionDenied naming the site and the reason; InvalidArgument for bytes that are
  // not a certificate.
  absl::StatusOr<SiteIdentity> VerifySite(std::span<const uint8_t> der, std::string_view expected_site) const;
  // The same for the coordinator's certificate (serverAuth, CN "coordinator").
  absl::Status VerifyCoordinator(std::span<const uint8_t> der) const;

  const std::string& pem() const { return pem_; }

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

 private:
  struct Impl;
  CertificateAuthority(std::unique_ptr<Impl> impl, std::string pem);
  absl::StatusOr<SiteIdentity> Verify(std::span<const uint8_t> der, bool server,
                                      std::string_view expected_cn) const;
  std::unique_ptr<Impl> impl_;
  std::string pem_;
};

// CertificateAuthority::VerifySite that remembers what it verified: a certificate it accepted before (the
// same DER bytes for the same site name) is accepted again without repeating the X.509 check until its
// notAfter passes (then it is checked again, and refused). That is the same answer: the check depends only on
// the bytes, the CA (fixed here) and the time, and the CA publishes no revocation lists. A site checks the
// whole roster of every secure round; with 10 sites, 10 chain verifications per site and round were ~5 % of
// the CPU of a round (docs/fl.md). Refusals are not remembered. The map is emptied when it reaches
// kMaxEntries. Not thread-safe; `ca` must outlive it.
class SiteVerifier {
 public:
  explicit SiteVerifier(const CertificateAuthority& ca) : ca_(ca) {}
  absl::StatusOr<SiteIdentity> VerifySite(std::span<const uint8_t> der, std::string_view expected_site);

  static constexpr size_t kMaxEntries = 4096;

 private:
  const CertificateAuthority& ca_;
  absl::flat_hash_map<std::string, SiteIdentity> verified_;  // key: the site name, a NUL, the DER bytes
};

// One party's credentials, read from its directory (ca.pem, cert.pem, key.pem).
struct Credentials {
  std::string name;      // the certificate's CN: a site name or "coordinator"
  std::string ca_pem;    // the CA certificate
  std::string cert_pem;  // this party's certificate
  std::vector<uint8_t> cert_der;
  base::SecretBytes key_pem;      // its private key (PKCS#8 PEM), for the TLS stack
  crypto::Ed25519PrivateKey key;  // the same key, for secure-aggregation signatures
};

// Reads DIR/{ca.pem,cert.pem,key.pem}, checks that the certificate was issued by the CA, that the key matches
// it, and that its CN is `expected_name` (a site name, or kCoordinatorName for the coordinator). Errors:
// NotFound for a missing file (naming it); InvalidArgument for files that are not what they should be;
// PermissionDenied for a certificate the CA did not issue, of the wrong role or name, or a key that does not
// match; FailedPrecondition if key.pem is readable by others than its owner.
absl::StatusOr<Credentials> LoadCredentials(const std::string& dir, std::string_view expected_name);

// The DER bytes of the first certificate in `pem`. Errors: InvalidArgument.
absl::StatusOr<std::vector<uint8_t>> CertificatePemToDer(std::string_view pem);

}  // namespace veil::fl

#endif  // VEIL_FL_CERTS_H_
