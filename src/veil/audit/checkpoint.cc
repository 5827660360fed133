#include "veil/audit/checkpoint.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/audit/encoding.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/crypto/sha256.h"

namespace veil::audit {
namespace {

constexpr std::string_view kOriginPrefix = "veil.audit/";
constexpr std::string_view kTimePrefix = "time ";
constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014, the signed-note signature line marker
constexpr uint8_t kEd25519AlgorithmId = 0x01;
constexpr const char* kTimeFormat = "%Y-%m-%d%ET%H:%M:%SZ";

bool IsLogId(std::string_view id) {
  if (id.size() != kLogIdHexSize) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

using internal::LineReader;

}  // namespace

std::string CheckpointOrigin(std::string_view log_id) {
  return absl::StrCat(std::string(kOriginPrefix), std::string(log_id));
}

uint32_t NoteKeyId(std::string_view name, const crypto::Ed25519PublicKey& public_key) {
  crypto::Sha256Hasher h;
  h.Update(name);
  h.Update("\n");
  h.Update(std::span<const uint8_t>(&kEd25519AlgorithmId, 1));
  h.Update(public_key.bytes());
  const crypto::Sha256Digest d = h.Final();
  return internal::LoadU32(d.data());
}

absl::StatusOr<std::string> FormatCheckpointBody(const Checkpoint& checkpoint) {
  if (!IsLogId(checkpoint.log_id)) {
    return absl::InvalidArgumentError("checkpoint: the log id must be 32 lower-case hex digits");
  }
  return absl::StrCat(CheckpointOrigin(checkpoint.log_id), "\n", checkpoint.size, "\n",
                      internal::Base64Encode(checkpoint.root), "\n", std::string(kTimePrefix),
                      absl::FormatTime(kTimeFormat, checkpoint.time, absl::UTCTimeZone()), "\n");
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const crypto::Ed25519PrivateKey& key) {
  VEIL_ASSIGN_OR_RETURN(std::string body, FormatCheckpointBody(checkpoint));
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519Signature sig, key.Sign(body));
  const std::string name = CheckpointOrigin(checkpoint.log_id);
  std::vector<uint8_t> blob(4);
  internal::StoreU32(blob.data(), NoteKeyId(name, key.public_key()));
  blob.insert(blob.end(), sig.begin(), sig.end());
  return absl::StrCat(body, "\n", std::string(kEmDash), " ", name, " ", internal::Base64Encode(blob), "\n");
}

absl::StatusOr<SignedCheckpoint> ParseCheckpoint(std::string_view text) {
  if (text.size() > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: ", text.size(), " bytes, over the limit of ", kMaxCheckpointBytes));
  }
  if (const size_t bad = base::FindInvalidUtf8(text); bad != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: invalid UTF-8 at byte ", bad));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(text[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint: control character at byte ", i));
    }
  }
  SignedCheckpoint out;
  Checkpoint& cp = out.checkpoint;
  LineReader lines(text, "checkpoint");

  VEIL_ASSIGN_OR_RETURN(std::string_view origin, lines.Next("origin line"));
  if (origin.substr(0, kOriginPrefix.size()) != kOriginPrefix) {
    return lines.Error(absl::StrCat("origin must start with \"", std::string(kOriginPrefix), "\""));
  }
  cp.log_id = std::string(origin.substr(kOriginPrefix.size()));
  if (!IsLogId(cp.log_id)) {
    return lines.Error("log id must be 32 lower-case hex digits", kOriginPrefix.size());
  }

  VEIL_ASSIGN_OR_RETURN(std::string_view size, lines.Next("tree size line"));
  std::optional<uint64_t> n = internal::ParseDecimalU64(size);
  if (!n.has_value() || *n > uint64_t{1} << 62) return lines.Error("tree size must be a canonical decimal");
  cp.size = *n;

  VEIL_ASSIGN_OR_RETURN(std::string_view root, lines.Next("root hash line"));
  std::optional<std::vector<uint8_t>> root_bytes = internal::Base64DecodeStrict(root);
  if (!root_bytes.has_value() || root_bytes->size() != cp.root.size()) {
    return lines.Error("root hash must be 32 bytes in canonical base64");
  }
  std::copy(root_bytes->begin(), root_bytes->end(), cp.root.begin());

  VEIL_ASSIGN_OR_RETURN(std::string_view time, lines.Next("time line"));
  if (time.substr(0, kTimePrefix.size()) != kTimePrefix) return lines.Error("expected \"time <RFC 3339>\"");
  const std::string time_text(time.substr(kTimePrefix.size()));
  std::string err;
  if (!absl::ParseTime(kTimeFormat, time_text, absl::UTCTimeZone(), &cp.time, &err) ||
      absl::FormatTime(kTimeFormat, cp.time, absl::UTCTimeZone()) != time_text) {
    return lines.Error("time must be YYYY-MM-DDTHH:MM:SSZ", kTimePrefix.size());
  }
  out.body = std::string(text.substr(0, lines.pos()));

  VEIL_ASSIGN_OR_RETURN(std::string_view blank, lines.Next("blank line after the body"));
  if (!blank.empty()) return lines.Error("expected a blank line after the four body lines");

  while (!lines.AtEnd()) {
    VEIL_ASSIGN_OR_RETURN(std::string_view sig, lines.Next("signature line"));
    const std::string prefix = absl::StrCat(std::string(kEmDash), " ");
    if (sig.substr(0, prefix.size()) != prefix)
      return lines.Error("signature line must start with \"\u2014 \"");
    std::string_view rest = sig.substr(prefix.size());
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0) return lines.Error("signature line needs a key name");
    NoteSignature s;
    s.name = std::string(rest.substr(0, space));
    if (s.name.find('+') != std::string::npos) return lines.Error("key name must not contain '+'");
    std::optional<std::vector<uint8_t>> blob = internal::Base64DecodeStrict(rest.substr(space + 1));
    if (!blob.has_value() || blob->size() < 5) {
      return lines.Error("signature must be canonical base64 of a key ID and a signature",
                         prefix.size() + space + 1);
    }
    s.key_id = internal::LoadU32(blob->data());
    s.signature.assign(blob->begin() + 4, blob->end());
    out.signatures.push_back(std::move(s));
  }
  if (out.signatures.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: byte ", text.size(), ": no signature line"));
  }
  return out;
}

absl::Status VerifyCheckpoint(const SignedCheckpoint& note, const crypto::Ed25519PublicKey& public_key) {
  const std::string name = CheckpointOrigin(note.checkpoint.log_id);
  const uint32_t key_id = NoteKeyId(name, public_key);
  for (const NoteSignature& s : note.signatures) {
    if (s.name != name || s.key_id != key_id) continue;
    if (s.signature.size() != crypto::kEd25519SignatureSize) {
      return absl::DataLossError("checkpoint: the log's signature has the wrong length");
    }
    absl::Status st = public_key.Verify(note.body, s.signature);
    if (!st.ok()) {
      return absl::DataLossError(absl::StrCat("checkpoint of size ", note.checkpoint.size,
                                              ": signature does not verify with the log's public key"));
    }
    return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat("checkpoint of size ", note.checkpoint.size,
                                          ": no signature by the log's key (name ", name, ", key ID ",
                                          absl::StrFormat("%08x", key_id), ")"));
}

absl::StatusOr<SignedCheckpoint> ParseAndVerifyCheckpoint(std::string_view text,
                                                          const crypto::Ed25519PublicKey& public_key) {
  VEIL_ASSIGN_OR_RETURN(SignedCheckpoint note, ParseCheckpoint(text));
  VEIL_RETURN_IF_ERROR(VerifyCheckpoint(note, public_key));
  return note;
}

}  // namespace veil::audit
