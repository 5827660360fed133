#include "veil/store/master_key.h"

#include <argon2.h>
#include <openssl/crypto.h>

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/constant_time.h"
#include "veil/crypto/hmac.h"
#include "veil/crypto/random.h"

namespace veil::store {
namespace {

constexpr char kConfigFile[] = "master-key.json";
constexpr char kKeyFile[] = "master.key";
constexpr char kKeyFileHeader[] = "veil master key v1\n";
constexpr char kCheckLabel[] = "veil master key check v1";
constexpr size_t kSaltSize = 16;

std::string Join(const std::string& dir, const char* name) { return absl::StrCat(dir, "/", name); }

// Decodes exactly `n` bytes of hex; nullopt otherwise.
std::optional<std::vector<uint8_t>> FromHex(std::string_view hex, size_t n) {
  std::vector<uint8_t> out(n);
  if (!base::HexDecode(hex, out)) {
    OPENSSL_cleanse(out.data(), out.size());  // it may hold part of a key
    return std::nullopt;
  }
  return out;
}

// Argon2id parameters read from master-key.json are capped, so that a damaged or hostile file is an error
// rather than a command that runs for hours or starts thousands of threads.
constexpr uint32_t kMaxMemoryKib = 4u << 20;  // 4 GiB
constexpr uint32_t kMaxIterations = 100;
constexpr uint32_t kMaxParallelism = 64;

crypto::HmacSha256Tag CheckValue(const base::SecretBytes& key) {
  return crypto::HmacSha256(key, kCheckLabel);
}

absl::Status DamagedConfig(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrCat(path, " is damaged: ", what));
}

}  // namespace

absl::StatusOr<base::SecretBytes> Argon2id(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                                           const Argon2idParams& params, size_t length,
                                           std::span<const uint8_t> secret,
                                           std::span<const uint8_t> associated_data) {
  base::SecretBytes out(length);
  // argon2_context takes non-const pointers but only reads the inputs; ARGON2_DEFAULT_FLAGS leaves the
  // caller's password and secret untouched (we own their wiping).
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<uint32_t>(length);
  ctx.pwd = const_cast<uint8_t*>(password.data());
  ctx.pwdlen = static_cast<uint32_t>(password.size());
  ctx.salt = const_cast<uint8_t*>(salt.data());
  ctx.saltlen = static_cast<uint32_t>(salt.size());
  ctx.secret = secret.empty() ? nullptr : const_cast<uint8_t*>(secret.data());
  ctx.secretlen = static_cast<uint32_t>(secret.size());
  ctx.ad = associated_data.empty() ? nullptr : const_cast<uint8_t*>(associated_data.data());
  ctx.adlen = static_cast<uint32_t>(associated_data.size());
  ctx.t_cost = params.iterations;
  ctx.m_cost = params.memory_kib;
  ctx.lanes = params.parallelism;
  ctx.threads = params.parallelism;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  const int rc = argon2_ctx(&ctx, Argon2_id);
  if (rc != ARGON2_OK) {
    const std::string msg = absl::StrCat("Argon2id: ", argon2_error_message(rc));
    return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? absl::ResourceExhaustedError(msg)
                                                : absl::InvalidArgumentError(msg);
  }
  return out;
}

absl::StatusOr<base::SecretBytes> CreateMasterKey(base::Env& env, const std::string& dir,
                                                  const MasterKeyOptions& options) {
  const std::string config_path = Join(dir, kConfigFile);
  if (env.FileExists(config_path)) {
    return absl::AlreadyExistsError(absl::StrCat(dir, " already has a master key (", kConfigFile, ")"));
  }
  nlohmann::ordered_json config = {{"format", "veil master key config v1"}};
  base::SecretBytes key;
  if (options.passphrase.has_value()) {
    VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, crypto::RandomBytes(kSaltSize, env.random()));
    VEIL_ASSIGN_OR_RETURN(key, Argon2id(options.passphrase->span(), salt, options.argon2, kMasterKeySize));
    config["source"] = "passphrase";
    config["kdf"] = {{"algorithm", "argon2id"},
                     {"version", 19},
                     {"memory_kib", options.argon2.memory_kib},
                     {"iterations", options.argon2.iterations},
                     {"parallelism", options.argon2.parallelism},
                     {"salt", base::HexEncode(salt)}};
  } else {
    VEIL_ASSIGN_OR_RETURN(key, crypto::RandomKey(kMasterKeySize, env.random()));
    std::string hex = base::HexEncode(key.span());
    std::string text = absl::StrCat(kKeyFileHeader, hex, "\n");
    OPENSSL_cleanse(hex.data(), hex.size());
    absl::Status s = env.WriteFileAtomically(Join(dir, kKeyFile), text);
    OPENSSL_cleanse(text.data(), text.size());
    VEIL_RETURN_IF_ERROR(s);
    config["source"] = "key file";
    config["key_file"] = kKeyFile;
  }
  config["check"] = base::HexEncode(CheckValue(key));
  VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(config_path, config.dump(2) + "\n"));
  return key;
}

absl::StatusOr<base::SecretBytes> LoadMasterKey(base::Env& env, const std::string& dir,
                                                const std::optional<base::SecretBytes>& passphrase) {
  const std::string config_path = Join(dir, kConfigFile);
  absl::StatusOr<std::string> text = env.ReadFileToString(config_path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(dir, " is not a Veil workspace (no ", kConfigFile, ")"));
  }
  VEIL_RETURN_IF_ERROR(text.status());
  nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) return DamagedConfig(config_path, "not JSON");
  auto string_field = [&](const nlohmann::json& obj, const char* name) -> std::optional<std::string> {
    auto it = obj.find(name);
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const std::optional<std::string> source = string_field(config, "source");
  const std::optional<std::string> check_hex = string_field(config, "check");
  if (!source || !check_hex) return DamagedConfig(config_path, "missing \"source\" or \"check\"");
  const std::optional<std::vector<uint8_t>> check = FromHex(*check_hex, crypto::kHmacSha256TagSize);
  if (!check) return DamagedConfig(config_path, "\"check\" is not 32 bytes of hex");

  base::SecretBytes key;
  if (*source == "passphrase") {
    if (!passphrase.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the workspace ", dir, " is protected by a passphrase: set VEIL_PASSPHRASE"));
    }
    auto kdf = config.find("kdf");
    if (kdf == config.end() || !kdf->is_object()) return DamagedConfig(config_path, "missing \"kdf\"");
    Argon2idParams params;
    for (auto [name, field, max] : {std::tuple{"memory_kib", &params.memory_kib, kMaxMemoryKib},
                                    std::tuple{"iterations", &params.iterations, kMaxIterations},
                                    std::tuple{"parallelism", &params.parallelism, kMaxParallelism}}) {
      auto it = kdf->find(name);
      if (it == kdf->end() || !it->is_number_unsigned() || it->get<uint64_t>() > max) {
        return DamagedConfig(config_path, absl::StrCat("kdf.", name, " is not a number from 0 to ", max));
      }
      *field = it->get<uint32_t>();
    }
    const std::optional<std::string> salt_hex = string_field(*kdf, "salt");
    const std::optional<std::vector<uint8_t>> salt = salt_hex ? FromHex(*salt_hex, kSaltSize) : std::nullopt;
    if (!salt) return DamagedConfig(config_path, "kdf.salt is not 16 bytes of hex");
    absl::StatusOr<base::SecretBytes> derived = Argon2id(passphrase->span(), *salt, params, kMasterKeySize);
    if (!derived.ok()) return DamagedConfig(config_path, std::string(derived.status().message()));
    key = std::move(*derived);
    if (!crypto::ConstantTimeEquals(CheckValue(key), *check)) {
      return absl::DataLossError(absl::StrCat("wrong passphrase for the workspace ", dir));
    }
    return key;
  }
  if (*source != "key file") return DamagedConfig(config_path, "unknown \"source\"");
  if (passphrase.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the workspace ", dir, " uses a key file, not a passphrase: unset VEIL_PASSPHRASE"));
  }
  const std::string key_path = Join(dir, kKeyFile);
  absl::StatusOr<std::string> key_text = env.ReadFileToString(key_path);
  if (!key_text.ok()) {
    return absl::DataLossError(
        absl::StrCat("cannot read the master key file ", key_path, ": ", key_text.status().message()));
  }
  const std::string_view body(*key_text);
  const std::string_view header(kKeyFileHeader);
  std::optional<std::vector<uint8_t>> bytes;
  if (body.size() == header.size() + 2 * kMasterKeySize + 1 && body.substr(0, header.size()) == header &&
      body.back() == '\n') {
    bytes = FromHex(body.substr(header.size(), 2 * kMasterKeySize), kMasterKeySize);
  }
  OPENSSL_cleanse(key_text->data(), key_text->size());
  if (!bytes) return absl::DataLossError(absl::StrCat("the master key file ", key_path, " is damaged"));
  key = base::SecretBytes(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  if (!crypto::ConstantTimeEquals(CheckValue(key), *check)) {
    return absl::DataLossError(
        absl::StrCat("the master key file ", key_path, " does not belong to this workspace"));
  }
  return key;
}

}  // namespace veil::store
