#include "veil/fl/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"

namespace veil::fl {
namespace {

namespace fs = std::filesystem;

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct StoreDeleter {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct ExtDeleter {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// OpenSSL's reasons for the last failure (its error queue, drained).
std::string OpenSslReasons() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given" : out;
}

absl::Status OpenSslFailure(std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", OpenSslReasons()));
}

// An Ed25519 key whose 32-byte seed comes from `rng` (the Veil CSPRNG in production).
absl::StatusOr<PkeyPtr> NewKey(base::RandomSource& rng) {
  VEIL_ASSIGN_OR_RETURN(const base::SecretBytes seed, crypto::RandomKey(crypto::kEd25519SeedSize, rng));
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (key == nullptr) return OpenSslFailure("cannot create an Ed25519 key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtDeleter> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1)
    return OpenSslFailure(absl::StrCat("cannot add the extension ", OBJ_nid2sn(nid)));
  return absl::OkStatus();
}

struct CertSpec {
  std::string cn;
  enum class Role { kCa, kServer, kClient } role = Role::kClient;
  std::vector<std::string> hosts;  // kServer: subjectAltName
  int days = 365;
};

// A certificate for `key`, signed by issuer_key (self-signed when issuer is null).
absl::StatusOr<X509Ptr> Issue(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                              base::RandomSource& rng) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslFailure("X509_new");
  // A random positive 127-bit serial (RFC 5280 4.1.2.2: unique per CA, at most 20 octets).
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> serial, crypto::RandomBytes(16, rng));
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  std::unique_ptr<BIGNUM, BnDeleter> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (bn == nullptr || X509_set_version(cert.get(), 2) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      // Five minutes of slack for clocks that disagree a little.
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("Veil federated learning"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) != 1) {
    return OpenSslFailure("cannot fill the certificate");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr)
    VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always"));
  switch (spec.role) {
    case CertSpec::Role::kCa:
      VEIL_RETURN_IF_ERROR(
          AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
      break;
    case CertSpec::Role::kServer: {
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature"));
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth"));
      std::vector<std::string> alt;
      for (const std::string& h : spec.hosts) {
        in6_addr addr;
        const bool ip =
            inet_pton(AF_INET, h.c_str(), &addr) == 1 || inet_pton(AF_INET6, h.c_str(), &addr) == 1;
        alt.push_back(absl::StrCat(ip ? "IP:" : "DNS:", h));
      }
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_alt_name, absl::StrJoin(alt, ",")));
      break;
    }
    case CertSpec::Role::kClient:
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature"));
      VEIL_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_ext_key_usage, "clientAuth"));
      break;
  }
  // Ed25519 signs the whole TBSCertificate itself: no separate digest (md = NULL).
  if (X509_sign(cert.get(), issuer_key, nullptr) <= 0) return OpenSslFailure("cannot sign the certificate");
  return cert;
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslFailure("PEM_write_bio_X509");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<base::SecretBytes> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return OpenSslFailure("PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return base::SecretBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(n)));
}

absl::StatusOr<X509Ptr> ParsePem(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a PEM certificate"));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ParseKeyPem(const base::SecretBytes& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an unencrypted PEM private key"));
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an Ed25519 key"));
  return key;
}

std::string CommonName(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> ToDer(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) return OpenSslFailure("i2d_X509");
  std::vector<uint8_t> out(der, der + n);
  OPENSSL_free(der);
  return out;
}

// Writes a new file (never replaces one) with `mode`, synced.
absl::Status WriteNewFile(const fs::path& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot create ", path.string(), ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path.string(), ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  // fchmod: the process umask may have narrowed `mode`; a key must be exactly 0600.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot sync ", path.string(), ": ", std::strerror(err)));
  }
  if (::close(fd) != 0)
    return absl::InternalError(absl::StrCat("cannot close ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat("no file ", path.string()));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", path.string(), ": ", std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ": larger than 1 MiB"));
    }
  }
  ::close(fd);
  return out;
}

absl::Status ValidateHost(std::string_view host) {
  in6_addr addr;
  const std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &addr) == 1 || inet_pton(AF_INET6, h.c_str(), &addr) == 1)
    return absl::OkStatus();
  const bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' && host.front() != '-' &&
                  std::all_of(host.begin(), host.end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
                  });
  if (!ok)
    return absl::InvalidArgumentError(absl::StrCat("invalid coordinator host \"",
                                                   std::string(host.substr(0, 80)),
                                                   "\": give a DNS name or an IP address"));
  return absl::OkStatus();
}

// A new party directory: written beside its final place and renamed into it, so it appears whole or not
// at all.
absl::Status WriteParty(const fs::path& dir, const std::string& ca_pem, const std::string& cert_pem,
                        const base::SecretBytes& key_pem) {
  const fs::path tmp = dir.parent_path() / absl::StrCat(".", dir.filename().string(), ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (::mkdir(tmp.c_str(), 0700) != 0)
    return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", std::strerror(errno)));
  absl::Status s = WriteNewFile(tmp / "ca.pem", ca_pem, 0644);
  if (s.ok()) s = WriteNewFile(tmp / "cert.pem", cert_pem, 0644);
  if (s.ok())
    s = WriteNewFile(tmp / "key.pem",
                     std::string_view(reinterpret_cast<const char*>(key_pem.data()), key_pem.size()), 0600);
  if (s.ok() && ::rename(tmp.c_str(), dir.c_str()) != 0)
    s = absl::InternalError(
        absl::StrCat("cannot rename ", tmp.string(), " to ", dir.string(), ": ", std::strerror(errno)));
  if (!s.ok()) fs::remove_all(tmp, ec);
  return s;
}

}  // namespace

absl::Status ValidateSiteName(std::string_view name) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid site name \"", std::string(name.substr(0, 80)), "\": ", std::string(why)));
  };
  if (name.empty() || name.size() > 63) return bad("it must have 1 to 63 characters");
  if (!absl::ascii_islower(static_cast<unsigned char>(name[0])) &&
      !absl::ascii_isdigit(static_cast<unsigned char>(name[0])))
    return bad("it must start with a lower-case letter or a digit");
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_islower(u) && !absl::ascii_isdigit(u) && c != '_' && c != '-')
      return bad("use only lower-case letters, digits, '_' and '-'");
  }
  if (name == kCoordinatorName || name == "ca" || name == "localhost") return bad("the name is reserved");
  return absl::OkStatus();
}

absl::StatusOr<DeploymentResult> CreateDeployment(const DeploymentOptions& options, base::RandomSource& rng) {
  if (options.dir.empty()) return absl::InvalidArgumentError("no output directory");
  if (options.days < 1 || options.days > 3650)
    return absl::InvalidArgumentError("the validity must be 1 to 3650 days");
  std::set<std::string> seen;
  for (const std::string& s : options.sites) {
    VEIL_RETURN_IF_ERROR(ValidateSiteName(s));
    if (!seen.insert(s).second)
      return absl::InvalidArgumentError(absl::StrCat("site \"", s, "\" is listed twice"));
  }
  if (options.coordinator_hosts.empty())
    return absl::InvalidArgumentError("the coordinator needs at least one host name or address");
  for (const std::string& h : options.coordinator_hosts) VEIL_RETURN_IF_ERROR(ValidateHost(h));

  const fs::path dir(options.dir);
  std::error_code ec;
  for (const std::string& s : options.sites) {
    if (fs::exists(dir / s, ec))
      return absl::AlreadyExistsError(
          absl::StrCat((dir / s).string(), " exists: site \"", s, "\" already has a certificate"));
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));

  DeploymentResult result;
  std::vector<fs::path> created;
  const auto undo = [&](absl::Status s) {
    for (const fs::path& p : created) fs::remove_all(p, ec);
    return s;
  };

  // The CA: reused if present (adding sites to a deployment), else made here.
  X509Ptr ca;
  PkeyPtr ca_key;
  std::string ca_pem;
  const fs::path ca_dir = dir / "ca";
  if (fs::exists(ca_dir / "ca.key", ec)) {
    VEIL_ASSIGN_OR_RETURN(ca_pem, ReadFile(ca_dir / "ca.pem"));
    VEIL_ASSIGN_OR_RETURN(ca, ParsePem(ca_pem, (ca_dir / "ca.pem").string()));
    VEIL_ASSIGN_OR_RETURN(const std::string key_text, ReadFile(ca_dir / "ca.key"));
    VEIL_ASSIGN_OR_RETURN(ca_key,
                          ParseKeyPem(base::SecretBytes::FromString(key_text), (ca_dir / "ca.key").string()));
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(ca_dir.string(), ": ca.key does not match ca.pem"));
    }
  } else {
    if (fs::exists(ca_dir, ec))
      return absl::AlreadyExistsError(absl::StrCat(ca_dir.string(), " exists without ca.key"));
    VEIL_ASSIGN_OR_RETURN(ca_key, NewKey(rng));
    // The CA's name carries a random id so that two deployments' CAs never share a subject name.
    VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> id, crypto::RandomBytes(8, rng));
    VEIL_ASSIGN_OR_RETURN(ca, Issue({.cn = absl::StrCat("Veil FL CA ", base::HexEncode(id)),
                                     .role = CertSpec::Role::kCa,
                                     .hosts = {},
                                     .days = options.days},
                                    ca_key.get(), nullptr, ca_key.get(), rng));
    VEIL_ASSIGN_OR_RETURN(ca_pem, CertPem(ca.get()));
    VEIL_ASSIGN_OR_RETURN(const base::SecretBytes ca_key_pem, KeyPem(ca_key.get()));
    const fs::path tmp = dir / ".ca.tmp";
    fs::remove_all(tmp, ec);
    if (::mkdir(tmp.c_str(), 0700) != 0)
      return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", std::strerror(errno)));
    absl::Status s = WriteNewFile(tmp / "ca.pem", ca_pem, 0644);
    if (s.ok())
      s = WriteNewFile(tmp / "ca.key",
                       std::string_view(reinterpret_cast<const char*>(ca_key_pem.data()), ca_key_pem.size()),
                       0600);
    if (s.ok() && ::rename(tmp.c_str(), ca_dir.c_str()) != 0)
      s = absl::InternalError(absl::StrCat("cannot create ", ca_dir.string(), ": ", std::strerror(errno)));
    if (!s.ok()) {
      fs::remove_all(tmp, ec);
      return s;
    }
    created.push_back(ca_dir);
    result.created_ca = true;
  }
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> ca_der, ToDer(ca.get()));
  result.ca_fingerprint = base::HexEncode(crypto::Sha256(ca_der));

  const auto party = [&](const CertSpec& spec, const fs::path& where) -> absl::Status {
    VEIL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey(rng));
    VEIL_ASSIGN_OR_RETURN(X509Ptr cert, Issue(spec, key.get(), ca.get(), ca_key.get(), rng));
    VEIL_ASSIGN_OR_RETURN(const std::string cert_pem, CertPem(cert.get()));
    VEIL_ASSIGN_OR_RETURN(const base::SecretBytes key_pem, KeyPem(key.get()));
    VEIL_RETURN_IF_ERROR(WriteParty(where, ca_pem, cert_pem, key_pem));
    created.push_back(where);
    return absl::OkStatus();
  };
  if (!fs::exists(dir / kCoordinatorName, ec)) {
    absl::Status s = party({.cn = kCoordinatorName,
                            .role = CertSpec::Role::kServer,
                            .hosts = options.coordinator_hosts,
                            .days = options.days},
                           dir / kCoordinatorName);
    if (!s.ok()) return undo(s);
    result.created_coordinator = true;
  }
  for (const std::string& site : options.sites) {
    absl::Status s =
        party({.cn = site, .role = CertSpec::Role::kClient, .hosts = {}, .days = options.days}, dir / site);
    if (!s.ok()) return undo(s);
    result.sites.push_back(site);
  }
  return result;
}

struct CertificateAuthority::Impl {
  X509Ptr ca;
  std::unique_ptr<X509_STORE, StoreDeleter> store;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl, std::string pem)
    : impl_(std::move(impl)), pem_(std::move(pem)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

absl::StatusOr<CertificateAuthority> CertificateAuthority::Load(std::string_view pem) {
  VEIL_ASSIGN_OR_RETURN(X509Ptr ca, ParsePem(pem, "the CA certificate"));
  if (X509_check_ca(ca.get()) == 0)
    return absl::InvalidArgumentError("the CA certificate is not a certificate authority's");
  auto impl = std::make_unique<Impl>();
  impl->store.reset(X509_STORE_new());
  if (impl->store == nullptr || X509_STORE_add_cert(impl->store.get(), ca.get()) != 1)
    return OpenSslFailure("X509_STORE");
  impl->ca = std::move(ca);
  return CertificateAuthority(std::move(impl), std::string(pem));
}

absl::StatusOr<SiteIdentity> CertificateAuthority::Verify(std::span<const uint8_t> der, bool server,
                                                          std::string_view expected_cn) const {
  const std::string who =
      expected_cn.empty() ? std::string("a site") : absl::StrCat("\"", std::string(expected_cn), "\"");
  if (der.empty() || der.size() > 65536)
    return absl::InvalidArgumentError(absl::StrCat("the certificate of ", who, " is empty or too large"));
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr || p != der.data() + der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the certificate of ", who, " is not one DER certificate"));
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  if (ctx == nullptr || X509_STORE_CTX_init(ctx.get(), impl_->store.get(), cert.get(), nullptr) != 1)
    return OpenSslFailure("X509_STORE_CTX_init");
  // The purpose checks the extended key usage: a site certificate cannot act as the coordinator's, nor the
  // reverse.
  X509_STORE_CTX_set_purpose(ctx.get(), server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate of ", who, " is not valid for the CA: ", X509_verify_cert_error_string(err)));
  }
  const std::string cn = CommonName(cert.get());
  if (!expected_cn.empty() && cn != expected_cn)
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate presented for ", who, " was issued to \"", cn.substr(0, 80), "\""));
  if (!server) {
    absl::Status name_ok = ValidateSiteName(cn);
    if (!name_ok.ok())
      return absl::PermissionDeniedError(absl::StrCat("the certificate of ", who, ": ", name_ok.message()));
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  uint8_t raw[crypto::kEd25519PublicKeySize];
  size_t raw_len = sizeof(raw);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1 || raw_len != sizeof(raw)) {
    ERR_clear_error();
    return absl::PermissionDeniedError(absl::StrCat("the certificate of ", who, " has no Ed25519 key"));
  }
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey pk, crypto::Ed25519PublicKey::FromBytes(raw));
  struct tm not_after {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &not_after) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the certificate of ", who, " has an unreadable notAfter"));
  }
  return SiteIdentity{cn, pk, std::vector<uint8_t>(der.begin(), der.end()),
                      absl::FromTM(not_after, absl::UTCTimeZone())};
}

absl::StatusOr<SiteIdentity> CertificateAuthority::VerifySite(std::span<const uint8_t> der,
                                                              std::string_view expected_site) const {
  return Verify(der, /*server=*/false, expected_site);
}

absl::StatusOr<SiteIdentity> SiteVerifier::VerifySite(std::span<const uint8_t> der,
                                                      std::string_view expected_site) {
  std::string key(expected_site);
  key.push_back('\0');
  key.append(der.begin(), der.end());
  auto it = verified_.find(key);
  if (it != verified_.end()) {
    if (absl::Now() < it->second.not_after) return it->second;
    verified_.erase(it);  // expired: the full check below refuses it with the CA's reason
  }
  VEIL_ASSIGN_OR_RETURN(SiteIdentity id, ca_.VerifySite(der, expected_site));
  if (verified_.size() >= kMaxEntries) verified_.clear();
  verified_.emplace(std::move(key), id);
  return id;
}

absl::Status CertificateAuthority::VerifyCoordinator(std::span<const uint8_t> der) const {
  return Verify(der, /*server=*/true, kCoordinatorName).status();
}

absl::StatusOr<std::vector<uint8_t>> CertificatePemToDer(std::string_view pem) {
  VEIL_ASSIGN_OR_RETURN(X509Ptr cert, ParsePem(pem, "certificate"));
  return ToDer(cert.get());
}

absl::StatusOr<Credentials> LoadCredentials(const std::string& dir, std::string_view expected_name) {
  const fs::path d(dir);
  VEIL_ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(d / "ca.pem"));
  VEIL_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(d / "cert.pem"));
  struct stat st;
  if (::stat((d / "key.pem").c_str(), &st) != 0)
    return absl::NotFoundError(absl::StrCat("no file ", (d / "key.pem").string()));
  if ((st.st_mode & 077) != 0)
    return absl::FailedPreconditionError(
        absl::StrCat((d / "key.pem").string(),
                     " is readable by other users: chmod 600 it (it is the party's private key)"));
  VEIL_ASSIGN_OR_RETURN(const std::string key_text, ReadFile(d / "key.pem"));
  base::SecretBytes key_pem = base::SecretBytes::FromString(key_text);

  VEIL_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Load(ca_pem));
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> der, CertificatePemToDer(cert_pem));
  const bool coordinator = expected_name == kCoordinatorName;
  if (coordinator) {
    VEIL_RETURN_IF_ERROR(ca.VerifyCoordinator(der));
  } else {
    VEIL_RETURN_IF_ERROR(ca.VerifySite(der, expected_name).status());
  }
  VEIL_ASSIGN_OR_RETURN(PkeyPtr key, ParseKeyPem(key_pem, (d / "key.pem").string()));
  VEIL_ASSIGN_OR_RETURN(X509Ptr cert, ParsePem(cert_pem, (d / "cert.pem").string()));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError(absl::StrCat(d.string(), ": key.pem does not match cert.pem"));
  }
  base::SecretBytes seed(crypto::kEd25519SeedSize);
  size_t seed_len = seed.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), seed.data(), &seed_len) != 1 || seed_len != seed.size())
    return OpenSslFailure("cannot read the Ed25519 key");
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey signing, crypto::Ed25519PrivateKey::FromSeed(seed));
  return Credentials{std::string(expected_name), std::move(ca_pem), std::move(cert_pem), std::move(der),
                     std::move(key_pem),         std::move(signing)};
}

}  // namespace veil::fl
