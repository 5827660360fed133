// libFuzzer target for every parser of the audit module: the binary entry decoder, the checkpoint (signed
// note) parser and the two proof parsers. The first input byte picks the parser; the rest is its input.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - the entry encoding is canonical: anything DecodeAuditEntry accepts re-encodes to the same bytes;
//   - a parsed checkpoint's body is exactly what FormatCheckpointBody produces for its content;
//   - a parsed proof formats back to text that parses to the same proof, and verifying it does not crash.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "veil/audit/audit_entry.h"
#include "veil/audit/checkpoint.h"
#include "veil/audit/proof.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace veil::audit;  // NOLINT: a fuzz target's single function
  if (size == 0) return 0;
  const uint8_t which = data[0] % 4;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  switch (which) {
    case 0: {
      auto entry = DecodeAuditEntry(bytes);
      if (entry.ok()) {
        auto again = EncodeAuditEntry(*entry);
        Check(again.ok() && std::equal(again->begin(), again->end(), bytes.begin(), bytes.end()));
        (void)AuditEntryToJson(*entry).dump();
        (void)AuditEntryToText(*entry);
      }
      break;
    }
    case 1: {
      auto note = ParseCheckpoint(text);
      if (note.ok()) {
        auto body = FormatCheckpointBody(note->checkpoint);
        Check(body.ok() && *body == note->body);
      }
      break;
    }
    case 2: {
      auto proof = ParseInclusionProof(text);
      if (proof.ok()) {
        auto again = ParseInclusionProof(FormatInclusionProof(*proof));
        Check(again.ok() && *again == *proof);
        (void)VerifyInclusionProof(*proof);
      }
      break;
    }
    case 3: {
      auto proof = ParseConsistencyProof(text);
      if (proof.ok()) {
        auto again = ParseConsistencyProof(FormatConsistencyProof(*proof));
        Check(again.ok() && *again == *proof);
        (void)VerifyConsistencyProof(*proof);
      }
      break;
    }
  }
  return 0;
}
