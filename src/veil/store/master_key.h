// The workspace master key: the key-encryption key that wraps every data key of the vault.
//
// Two ways to keep it (chosen at `veil init`):
//   - key file: 32 random bytes from the CSPRNG in `<workspace>/master.key` (mode 0600), which the owner may
//     move to a separate volume or a secrets manager;
//   - passphrase: derived from VEIL_PASSPHRASE with Argon2id (RFC 9106) and a random 16-byte salt; nothing
//     secret is stored.
// Either way `<workspace>/master-key.json` records the method, the Argon2id parameters and salt, and a key
// check value HMAC-SHA-256(master key, "veil master key check v1"), so that a wrong passphrase or a key file
// from another workspace is recognised before anything is decrypted with it. The check value reveals nothing
// useful about the key (HMAC is a PRF); it does let an attacker holding the files test passphrase guesses
// offline, which is exactly what Argon2id's memory-hard cost is for.
//
// Errors: DataLoss (exit code 4) for a wrong passphrase, a missing or damaged key file, or a damaged
// master-key.json; InvalidArgument for a passphrase that is required but absent (or given but not used).
#ifndef VEIL_STORE_MASTER_KEY_H_
#define VEIL_STORE_MASTER_KEY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/base/secret_bytes.h"

namespace veil::store {

inline constexpr size_t kMasterKeySize = 32;

// Argon2id cost parameters. The defaults are RFC 9106 section 4's second recommended option (64 MiB,
// 3 passes, 4 lanes), for machines where the first (2 GiB) is too much.
struct Argon2idParams {
  uint32_t memory_kib = 64 * 1024;
  uint32_t iterations = 3;
  uint32_t parallelism = 4;
};

// Argon2id version 1.3 (RFC 9106), with the optional secret and associated data of section 3.1.
// Errors: InvalidArgument if a parameter is outside Argon2's limits (salt shorter than 8 bytes, memory below
// 8 * parallelism KiB, ...).
absl::StatusOr<base::SecretBytes> Argon2id(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                                           const Argon2idParams& params, size_t length,
                                           std::span<const uint8_t> secret = {},
                                           std::span<const uint8_t> associated_data = {});

struct MasterKeyOptions {
  // Derive the key from this passphrase instead of keeping a key file.
  std::optional<base::SecretBytes> passphrase;
  Argon2idParams argon2;
};

// Creates a new master key for the workspace directory `dir` (which must exist) and writes master-key.json
// (and master.key for a key file) atomically. Randomness (key, salt) comes from env.random().
// Errors: AlreadyExists if the directory already has a master key; I/O errors from the Env.
absl::StatusOr<base::SecretBytes> CreateMasterKey(base::Env& env, const std::string& dir,
                                                  const MasterKeyOptions& options);

// Loads and checks the master key of the workspace `dir`. For a passphrase workspace `passphrase` is
// required; for a key-file workspace it must be absent.
// Errors: NotFound if `dir` has no master-key.json (not a workspace); DataLoss for a wrong passphrase, a
// missing, damaged or foreign key file, or a damaged master-key.json; InvalidArgument as described above.
absl::StatusOr<base::SecretBytes> LoadMasterKey(base::Env& env, const std::string& dir,
                                                const std::optional<base::SecretBytes>& passphrase);

}  // namespace veil::store

#endif  // VEIL_STORE_MASTER_KEY_H_
