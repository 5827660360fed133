// Consistent pseudonyms and their sealed mapping: the privacy proxy pattern for prompts sent to an AI
// service.
//
//   PseudonymMap map;
//   Pseudonymizer p(map);
//   VEIL_ASSIGN_OR_RETURN(AnonymizeResult r, Anonymize(prompt, spans, p));   // "<PERSON_1> wrote to ..."
//   VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, map.Seal(key, context, crypto::SecureRandom()));
//   ... send r.text to the service; it answers with placeholders moved, repeated or dropped ...
//   VEIL_ASSIGN_OR_RETURN(PseudonymMap back, PseudonymMap::Open(key, sealed, context));
//   RestoreResult restored = Restore(answer, back);                          // originals back in place
//
// Pseudonyms. Each distinct value of a type gets "<TYPE_n>", n = 1, 2, ... in order of first appearance per
// type; values are compared by CanonicalValue (operators.h), so "Jane Doe" and "jane  doe" get the same
// pseudonym. Restore puts back the first spelling seen.
//
// Sealed format (version 1), what Seal returns and Open accepts:
//
//   "VEILPMAP" (8 bytes) || version (1 byte, = 1) || AES-256-GCM sealed payload (crypto/aead.h:
//   nonce 12 || ciphertext || tag 16)
//
// with associated data "VEILPMAP" || version || context, so a map opens only under the same key AND the same
// context (the CLI uses the workspace id and the key DeriveKey("pii pseudonym map v1")): a map from another
// workspace, a modified byte, a truncation or a changed version fail. The payload, little-endian:
//
//   count (u32), then per entry: type (u8, EntityType), number (u32, >= 1), length (u32), original (UTF-8)
//
// Parsing is strict: entries unique by (type, number) and by (type, canonical value), nothing after the last.
//
// Thread safety: PseudonymMap and Pseudonymizer are not thread-safe; Restore and Open are (on distinct or
// const maps).
#ifndef VEIL_ANON_PSEUDONYMIZER_H_
#define VEIL_ANON_PSEUDONYMIZER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/anon/operators.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/pii/entity.h"

namespace veil::anon {

inline constexpr char kPseudonymMapMagic[] = "VEILPMAP";
inline constexpr uint8_t kPseudonymMapVersion = 1;

class PseudonymMap {
 public:
  struct Entry {
    pii::EntityType type;
    uint32_t number;       // >= 1
    std::string original;  // the first spelling seen
  };

  // The pseudonym of `value` ("<PERSON_3>"), adding it if the canonical value is new for its type.
  std::string Pseudonymize(pii::EntityType type, std::string_view value);

  // The original behind a placeholder ("<PERSON_3>", with the angle brackets), or nullptr.
  const std::string* Original(std::string_view placeholder) const;

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // "<TYPE_n>".
  static std::string Placeholder(pii::EntityType type, uint32_t number);

  // The sealed form (header comment). `key` is 32 bytes. Errors: InvalidArgument for another key size;
  // rng's.
  absl::StatusOr<std::vector<uint8_t>> Seal(const base::SecretBytes& key, std::string_view context,
                                            base::RandomSource& rng) const;
  // Opens a sealed map. Errors: InvalidArgument for a key that is not 32 bytes; DataLoss, saying what failed,
  // for a truncated input, a wrong magic, an unsupported version, a failed authentication (wrong key or
  // context, or modified bytes) or a malformed payload.
  static absl::StatusOr<PseudonymMap> Open(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                           std::string_view context);

  // The payload alone (unencrypted), and its strict parser (DataLoss naming the entry and byte offset).
  std::vector<uint8_t> SerializePayload() const;
  static absl::StatusOr<PseudonymMap> ParsePayload(std::span<const uint8_t> payload);

 private:
  absl::Status Add(Entry entry);  // for the parser: AlreadyExists on a duplicate

  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string, size_t> by_value_;        // type byte + canonical value -> entry
  absl::flat_hash_map<std::string, size_t> by_placeholder_;  // "<TYPE_n>" -> entry
  std::array<uint32_t, pii::kEntityTypeCount> next_{};       // last number used per type
};

// The ValueOperator that replaces values by their pseudonyms in `map` (which it extends; it must outlive the
// operator).
class Pseudonymizer final : public ValueOperator {
 public:
  explicit Pseudonymizer(PseudonymMap& map) : map_(map) {}
  // Errors: InvalidArgument for an untyped value (pseudonyms are for typed spans).
  absl::StatusOr<std::string> Apply(ValueType type, std::string_view value) override;

 private:
  PseudonymMap& map_;
};

struct RestoreResult {
  std::string text;
  size_t restored = 0;  // placeholders replaced by their originals
  // Placeholders of the form "<TYPE_n>" (TYPE an entity name) that the map does not hold, in order of first
  // appearance, each once. They are left in the text as they are.
  std::vector<std::string> unknown;
};

// Replaces every "<TYPE_n>" of `map` in `text` by its original, wherever it appears and however often
// (placeholders moved, repeated or dropped by the service do not matter). Text that merely looks like a
// placeholder of a type the map has no entry for is reported in `unknown`.
RestoreResult Restore(std::string_view text, const PseudonymMap& map);

}  // namespace veil::anon

#endif  // VEIL_ANON_PSEUDONYMIZER_H_
