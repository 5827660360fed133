// Encrypted scoring of linear and logistic models (issue 7, item 5): a customer encrypts feature records with
// their own key, a server (the bank) computes the model's logit, and optionally the sigmoid of it, on the
// ciphertexts without ever seeing a feature, and only the customer can decrypt the scores.
//
// Model format (the contract shared with the ML export; docs/he.md section 7). A JSON object:
//
//   {
//     "format": "veil-linear-model", "version": 1,
//     "kind": "logistic",                     // "linear" | "logistic"
//     "features": ["income", "debts", ...],   // unique, non-empty names; 1 to 4096 of them
//     "weights": [0.8, -1.3, ...],            // one finite number per feature
//     "bias": -0.4,                           // finite
//     "standardization": {                    // optional: the model applies w . (x - means) / scales + bias
//       "means": [...], "scales": [...]       // one finite number per feature; scales > 0
//     },
//     "metadata": {...}                       // optional, free-form, ignored
//   }
//
// The logit is bias + sum_f weights[f] * (x_f - means[f]) / scales[f] (means 0 and scales 1 without
// standardization); a logistic model's probability is sigmoid(logit). Any other key is an error (a typo would
// otherwise be ignored); errors name the field (and the index for array entries).
//
// Layout (feature-major). With F features padded to P = the next power of two and R = (N/2) / P records per
// ciphertext, slot f * R + r holds feature f of record r. The server multiplies by one plaintext holding
// weight f in slots [f R, (f + 1) R), rescales, and sums the P blocks with log2(P) rotations by R, 2R, 4R,
// ... (P/2)R: the sum is cyclic over all N/2 slots, so EVERY slot f R + r ends up holding the full logit of
// record r. This is the cheapest layout: one plaintext product and log2(P) rotations per R records (5 for 32
// features), with the rotations at the lowest level (one limb at N = 8192). The record-major alternative
// (slot r P + f, rotations by 1, 2, ..., P/2) costs the same but leaves partial sums across records in every
// slot but one per record, which would show the customer linear combinations of the weights unless the server
// spent a level on masking; one ciphertext per feature needs no rotation but P ciphertexts per query (P times
// the upload for fewer than N/2 records). Here the customer decrypts only the scores.
//
// Parameters (MakeScoringParameters). Logit key sets: ciphertext primes {61, 49} bits + special {49} (159
// bits, N = 8192 by default; 16384 or 32768 also work and pack more records). The query is encrypted with
// seeded secret-key encryption (half-size upload) at level 1 and scale 2^52 (kQueryScale; per-coefficient
// noise standard deviation 3.24); the weights are encoded at scale 2^53 * q_1 / 2^52 (about 2^50). The P
// rotations run at level 1 BEFORE the rescale, so their key-switching errors (large: the 49-bit special prime
// is below q_0, which keeps every prime but q_0 on the IFMA NTT path) are divided by q_1; one rescale then
// leaves the logit at level 0 and scale 2^53. That final scale, with an error of about 2^10 per coefficient,
// is what makes noise flooding affordable (keys.h): the decrypted logits can be shared (flooding noise about
// 2^-11.7 in the logit at 32 features; ScoresHeader::error_bound_bits carries the server's bound, computed
// from the weights' norm). Values must stay below 128 in magnitude: every product weight * feature, every
// partial sum and the logit (q_0 q_1 ~ 2^110 holds |value| * 2^102 < 2^109, and the 61-bit q_0 |value| *
// 2^53), and query values below 256 (kMaxQueryValue, well within the encoder's 2^62 limit at scale 2^52):
// standardize inputs (the model's standardization, applied by the customer when encrypting with the model).
// The error estimate assumes query values of root mean square at most 8 (standardized features: about 1).
//
// Probability key sets (probability = true, N = 16384): {61, 37 x 7, 49} + {61} (430 bits, below the 438
// bound): the logit as above (level 7, scale 2^53), then MatchLevelAndScale to scale 2^37 and a Chebyshev
// sigmoid (polyeval.h; default degree 15 on [-12, 12], max fit error returned in the header) evaluated under
// encryption. The probability's CKKS error is of order 1e-7, far above what flooding at 20 bits of
// statistical security needs (2^-38), so it can only be decrypted for the key owner's eyes (KeyOwnerOnly):
// the customer keeps it; a value to be shared is the (flooded) logit. Logits outside the interval give
// meaningless probabilities (the polynomial grows like T_d outside it).
//
// Threat model: the server learns the sizes (number of records, features and their names, which the model
// fixes anyway) and nothing about the values (IND-CPA at 128 bits). The customer learns the scores of their
// records and, from F + 1 well-chosen records, the linear model itself (inherent to any scoring service). The
// result's CKKS error depends on the weights (no circuit privacy is claimed; it is about 2^-40 relative).
// Authenticity is not provided by the files' checksums: use a signed or AEAD channel.
//
// Thread safety: functions are thread-safe (pure, or using a caller's RandomSource as that allows).
#ifndef VEIL_HE_SCORING_H_
#define VEIL_HE_SCORING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"
#include "veil/he/params.h"
#include "veil/he/polyeval.h"

namespace veil::he {

// ---------------------------------------------------------------------------------------------------------
// The model.

struct LinearModel {
  enum class Kind { kLinear, kLogistic };
  Kind kind = Kind::kLinear;
  std::vector<std::string> feature_names;
  std::vector<double> weights;
  double bias = 0;
  // Both empty (no standardization) or both of feature_names.size().
  std::vector<double> means;
  std::vector<double> scales;
};

inline constexpr size_t kMaxScoringFeatures = 4096;

// Validates a model (the rules of the header comment). Errors: InvalidArgument naming the field.
absl::Status ValidateLinearModel(const LinearModel& model);
// Parses and validates the JSON format above. Errors: InvalidArgument naming the field (or the JSON syntax
// error's byte offset).
absl::StatusOr<LinearModel> ParseLinearModelJson(std::string_view json);
// The JSON format above (pretty-printed, 2 spaces), which ParseLinearModelJson reads back exactly.
std::string LinearModelToJson(const LinearModel& model);
// The logit of one record in plaintext (features in the model's order). Precondition: a valid model and
// features.size() == model.feature_names.size().
double PlainLogit(const LinearModel& model, std::span<const double> features);

// ---------------------------------------------------------------------------------------------------------
// Parameters, keys, layout.

struct ScoringParameterOptions {
  // 8192 (default), 16384 or 32768 for logit key sets; probability key sets need 16384 or 32768.
  size_t poly_degree = 8192;
  // Deep enough for the sigmoid under encryption (see the header comment). Default false.
  bool probability = false;
};
// Errors: InvalidArgument for an unsupported N (naming it and the choices).
absl::StatusOr<CkksParameters> MakeScoringParameters(const ScoringParameterOptions& options);

// The scale of the query's values (2^52), of a logit (2^53) and of the probability evaluation (2^37).
inline constexpr double kQueryScale = 0x1p52;
inline constexpr double kLogitScale = 0x1p53;
inline constexpr double kProbabilityScale = 0x1p37;
// The largest |value| a query may hold (after the customer's standardization).
inline constexpr double kMaxQueryValue = 256;
// The largest |weight| (after folding standardizations) and |bias| the server accepts.
inline constexpr double kMaxEffectiveWeight = 128;

struct ScoringLayout {
  size_t features = 0;                // F
  size_t padded_features = 0;         // P: the next power of two >= F
  size_t records_per_ciphertext = 0;  // R = (N/2) / P
};
// Errors: InvalidArgument if features is 0 or above N/2 (or kMaxScoringFeatures).
absl::StatusOr<ScoringLayout> MakeScoringLayout(const CkksContext& ctx, size_t features);

// The rotation steps the server uses for up to `max_features` features: (N/2) / 2^k for k = 1..log2(P_max),
// P_max the next power of two >= max_features (every smaller feature count uses a subset).
std::vector<int64_t> ScoringRotationSteps(const CkksContext& ctx, size_t max_features);

// What the server needs: Galois keys for ScoringRotationSteps and, for probability key sets, relinearization
// keys. Secret-free.
struct ScoringKeys {
  GaloisKeys galois;
  std::optional<RelinKeys> relin;
};

// Identifies a key set: SHA-256 of the serialized public key (serialize.h). Queries and results carry it, so
// that another key set's files are refused with a clear error instead of decrypting to garbage.
using KeySetId = std::array<uint8_t, 32>;
KeySetId MakeKeySetId(const CkksContext& ctx, const PublicKey& pk);
std::string KeySetIdHex(const KeySetId& id);

// The manifest of a public key directory (KEYDIR/public/keyset.json, written by `veil he keygen`, read by the
// server from the customer's directory, so it is untrusted input):
//
//   {"format": "veil-he-keyset", "version": 1, "key_id": "<64 hex digits>", "poly_degree": 8192,
//    "modulus_bits": 159.0, "probability": false, "max_features": 256,
//    "files": {"params": "<SHA-256 hex>", "public_key": "...", "galois_keys": "...", "relin_keys": "..."}}
//
// Every field is required; "files" must list params, public_key and galois_keys (and relin_keys for a
// probability key set), each name without a path separator, each digest 64 lowercase hex digits.
struct KeySetManifest {
  KeySetId key_id{};
  size_t poly_degree = 0;
  double modulus_bits = 0;
  bool probability = false;
  size_t max_features = 0;
  std::vector<std::pair<std::string, std::string>> files;  // name, SHA-256 of the file's bytes in hex
};
// The JSON above (pretty-printed, 2 spaces, the fields in that order), which ParseKeySetManifest reads back.
std::string KeySetManifestToJson(const KeySetManifest& manifest);
// Errors: InvalidArgument naming the field (or the JSON syntax error's byte offset).
absl::StatusOr<KeySetManifest> ParseKeySetManifest(std::string_view json);

// ---------------------------------------------------------------------------------------------------------
// The query (customer side).

struct QueryHeader {
  KeySetId key_id{};
  std::vector<std::string> feature_names;  // the order of the features in the slots
  // The customer's transform x' = (x - means[f]) / scales[f] before encryption (the model's standardization
  // when encrypting with the model); empty: none (x' = x).
  std::vector<double> means;
  std::vector<double> scales;
  size_t records = 0;
  size_t records_per_ciphertext = 0;
};

struct EncryptedQuery {
  QueryHeader header;
  std::vector<SeededCiphertext> ciphertexts;  // ceil(records / R), each at the top level
};

struct ParsedQuery {
  QueryHeader header;
  std::vector<Ciphertext> ciphertexts;
};

// Encrypts `records` (each of feature_names.size() values, raw) with seeded secret-key encryption, applying
// the transform (means, scales: empty or one per feature; scales > 0). Errors: InvalidArgument naming the
// record (0-based) and the feature (never the value) for a non-finite value or a transformed value of
// magnitude above kMaxQueryValue, for a record of the wrong length, for no records, or for bad
// names/transform; the layout's and the rng's errors.
absl::StatusOr<EncryptedQuery> EncryptQuery(const CkksContext& ctx, const SecretKey& sk,
                                            const KeySetId& key_id,
                                            const std::vector<std::string>& feature_names,
                                            const std::vector<double>& means,
                                            const std::vector<double>& scales,
                                            const std::vector<std::vector<double>>& records,
                                            base::RandomSource& rng);

// The query file: magic "VEILHEQ1", u32 header length, header (JSON), u32 ciphertext count, per ciphertext
// u64 length and the seeded ciphertext (serialize.h), then SHA-256 of all preceding bytes.
absl::StatusOr<std::vector<uint8_t>> SerializeQuery(const CkksContext& ctx, const EncryptedQuery& query);
// Errors: DataLoss if the input is truncated, has trailing bytes or fails the checksum (altered);
// InvalidArgument for a malformed header (naming the field) or a layout that does not match ctx;
// FailedPrecondition for ciphertexts of other parameters; the ciphertext parser's errors.
absl::StatusOr<ParsedQuery> ParseQuery(const CkksContext& ctx, std::span<const uint8_t> bytes);

// ---------------------------------------------------------------------------------------------------------
// Scoring (server side).

struct ScoreOptions {
  // Also compute sigmoid(logit) under encryption (logistic models, probability key sets). Default false.
  bool probability = false;
  // The sigmoid's approximation interval [-interval, interval] and degree. Defaults 12 and 15.
  double interval = 12;
  int degree = 15;
};

struct ScoresHeader {
  KeySetId key_id{};
  size_t records = 0;
  size_t records_per_ciphertext = 0;
  // log2 of a bound on the logit ciphertexts' error per coefficient (8 standard deviations of the estimate
  // in scoring.cc), for DecryptOptions::error_bound_bits when flooding.
  double error_bound_bits = 12;
  bool has_probability = false;
  double interval = 0;  // probability: the sigmoid's interval [-interval, interval]
  int degree = 0;
  double fit_error = 0;  // max |p(x) - sigmoid(x)| on the interval
};

struct EncryptedScores {
  ScoresHeader header;
  std::vector<Ciphertext> logits;         // level 0, scale kLogitScale
  std::vector<Ciphertext> probabilities;  // empty unless header.has_probability
};

// Scores every record of the query. The model's features must all be in the query (matched by name; query
// features the model does not use get weight 0); the standardizations of the model and of the query are
// folded into the weights and the bias. Errors: InvalidArgument for an invalid model, a missing feature
// (named), effective weights or bias above kMaxEffectiveWeight, probability for a linear model or with keys
// lacking relinearization keys or levels; NotFound for missing rotation keys; the evaluator's errors.
absl::StatusOr<EncryptedScores> ScoreQuery(const CkksContext& ctx, const ScoringKeys& keys,
                                           const LinearModel& model, const ParsedQuery& query,
                                           const ScoreOptions& options = {});

// The result file: as the query file with magic "VEILHER1", logit ciphertexts then probability ciphertexts.
absl::StatusOr<std::vector<uint8_t>> SerializeScores(const CkksContext& ctx, const EncryptedScores& scores);
// Errors as ParseQuery.
absl::StatusOr<EncryptedScores> ParseScores(const CkksContext& ctx, std::span<const uint8_t> bytes);

// ---------------------------------------------------------------------------------------------------------
// Decryption (customer side).

struct DecryptScoresOptions {
  // The encrypted-computed probability instead of the logit. Default false.
  bool probability = false;
  // Logits: flooded (shareable) unless key_owner_only. Probabilities cannot be flooded (see the header
  // comment): they require key_owner_only.
  bool key_owner_only = false;
  // Flooding randomness; nullptr: crypto::SecureRandom().
  base::RandomSource* rng = nullptr;
};

struct DecryptedScores {
  std::vector<double> values;  // one per record, in input order
  bool flooded = false;
  double flooding_stddev = 0;  // the flooding noise's standard deviation per value (0 if not flooded)
};

// Errors: FailedPrecondition if the scores are for another key set (naming both key IDs), if a probability is
// asked for and absent, or asked for without key_owner_only; Decrypt's errors (e.g. flooding refused).
absl::StatusOr<DecryptedScores> DecryptScores(const CkksContext& ctx, const SecretKey& sk,
                                              const KeySetId& key_id, const EncryptedScores& scores,
                                              const DecryptScoresOptions& options = {});

}  // namespace veil::he

#endif  // VEIL_HE_SCORING_H_
