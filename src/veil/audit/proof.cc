#include "veil/audit/proof.h"

#include <array>
#include <optional>

#include "absl/strings/str_cat.h"
#include "veil/audit/encoding.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/constant_time.h"

namespace veil::audit {
namespace {

constexpr std::string_view kInclusionHeader = "veil audit inclusion proof v1";
constexpr std::string_view kConsistencyHeader = "veil audit consistency proof v1";

std::string HashHex(const Hash& h) { return base::HexEncode(h); }

// Reads "key value" lines with position-aware errors.
class ProofReader : public internal::LineReader {
 public:
  explicit ProofReader(std::string_view text) : LineReader(text, "proof") {}

  absl::StatusOr<std::string_view> Line(const char* what) { return Next(what); }

  absl::Status Exact(std::string_view expected) {
    VEIL_ASSIGN_OR_RETURN(std::string_view line, Line("header line"));
    if (line != expected) return Error(absl::StrCat("expected \"", std::string(expected), "\""));
    return absl::OkStatus();
  }

  // "<key> <value>": returns the value.
  absl::StatusOr<std::string_view> Field(std::string_view key) {
    const std::string what = absl::StrCat("\"", std::string(key), "\" line");
    VEIL_ASSIGN_OR_RETURN(std::string_view line, Line(what.c_str()));
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ') {
      return Error(absl::StrCat("expected \"", std::string(key), " <value>\""));
    }
    return line.substr(key.size() + 1);
  }

  absl::StatusOr<uint64_t> Number(std::string_view key) {
    VEIL_ASSIGN_OR_RETURN(std::string_view v, Field(key));
    std::optional<uint64_t> n = internal::ParseDecimalU64(v);
    if (!n.has_value())
      return Error(absl::StrCat(std::string(key), " must be a canonical decimal"), key.size() + 1);
    return *n;
  }

  absl::StatusOr<Hash> HashValue(std::string_view text, size_t column) {
    Hash h;
    // Only the canonical (lower-case) form is accepted, so that a proof has one spelling.
    for (char c : text) {
      if (c >= 'A' && c <= 'F') return Error("hash must be lower-case hex", column);
    }
    if (!base::HexDecode(text, h)) return Error("hash must be 64 hex digits", column);
    return h;
  }

  absl::StatusOr<Hash> HashField(std::string_view key) {
    VEIL_ASSIGN_OR_RETURN(std::string_view v, Field(key));
    return HashValue(v, key.size() + 1);
  }

  absl::StatusOr<std::vector<Hash>> Path() {
    VEIL_ASSIGN_OR_RETURN(const uint64_t n, Number("path"));
    if (n > kMaxProofHashes) return Error(absl::StrCat("path longer than ", kMaxProofHashes, " hashes"));
    std::vector<Hash> path;
    for (uint64_t i = 0; i < n; ++i) {
      VEIL_ASSIGN_OR_RETURN(std::string_view line, Line("path hash"));
      VEIL_ASSIGN_OR_RETURN(Hash h, HashValue(line, 0));
      path.push_back(h);
    }
    if (!AtEnd()) {
      MarkRest();
      return Error("unexpected text after the path");
    }
    return path;
  }

  absl::StatusOr<std::string> LogId() {
    VEIL_ASSIGN_OR_RETURN(std::string_view v, Field("log"));
    std::array<uint8_t, kLogIdHexSize / 2> id;
    for (char c : v) {
      if (c >= 'A' && c <= 'F') return Error("log id must be lower-case hex", 4);
    }
    if (!base::HexDecode(v, id)) return Error("log id must be 32 hex digits", 4);
    return std::string(v);
  }
};

void AppendPath(std::string& out, const std::vector<Hash>& path) {
  absl::StrAppend(&out, "path ", path.size(), "\n");
  for (const Hash& h : path) absl::StrAppend(&out, HashHex(h), "\n");
}

bool Same(const Hash& a, const Hash& b) { return crypto::ConstantTimeEquals(a, b); }

}  // namespace

std::string FormatInclusionProof(const LogInclusionProof& p) {
  std::string out =
      absl::StrCat(std::string(kInclusionHeader), "\nlog ", p.log_id, "\nindex ", p.index, "\nsize ",
                   p.tree_size, "\nleaf ", HashHex(p.leaf_hash), "\nroot ", HashHex(p.root), "\n");
  AppendPath(out, p.path);
  return out;
}

std::string FormatConsistencyProof(const LogConsistencyProof& p) {
  std::string out =
      absl::StrCat(std::string(kConsistencyHeader), "\nlog ", p.log_id, "\nold ", p.old_size, "\nnew ",
                   p.new_size, "\nold-root ", HashHex(p.old_root), "\nnew-root ", HashHex(p.new_root), "\n");
  AppendPath(out, p.path);
  return out;
}

absl::StatusOr<LogInclusionProof> ParseInclusionProof(std::string_view text) {
  ProofReader r(text);
  LogInclusionProof p;
  VEIL_RETURN_IF_ERROR(r.Exact(kInclusionHeader));
  VEIL_ASSIGN_OR_RETURN(p.log_id, r.LogId());
  VEIL_ASSIGN_OR_RETURN(p.index, r.Number("index"));
  VEIL_ASSIGN_OR_RETURN(p.tree_size, r.Number("size"));
  VEIL_ASSIGN_OR_RETURN(p.leaf_hash, r.HashField("leaf"));
  VEIL_ASSIGN_OR_RETURN(p.root, r.HashField("root"));
  VEIL_ASSIGN_OR_RETURN(p.path, r.Path());
  return p;
}

absl::StatusOr<LogConsistencyProof> ParseConsistencyProof(std::string_view text) {
  ProofReader r(text);
  LogConsistencyProof p;
  VEIL_RETURN_IF_ERROR(r.Exact(kConsistencyHeader));
  VEIL_ASSIGN_OR_RETURN(p.log_id, r.LogId());
  VEIL_ASSIGN_OR_RETURN(p.old_size, r.Number("old"));
  VEIL_ASSIGN_OR_RETURN(p.new_size, r.Number("new"));
  VEIL_ASSIGN_OR_RETURN(p.old_root, r.HashField("old-root"));
  VEIL_ASSIGN_OR_RETURN(p.new_root, r.HashField("new-root"));
  VEIL_ASSIGN_OR_RETURN(p.path, r.Path());
  return p;
}

absl::Status VerifyInclusionProof(const LogInclusionProof& p) {
  return VerifyInclusion(p.index, p.tree_size, p.leaf_hash, p.path, p.root);
}

absl::Status VerifyInclusionProofAgainst(const LogInclusionProof& p, const Checkpoint& trusted) {
  if (p.log_id != trusted.log_id) {
    return absl::DataLossError(
        absl::StrCat("inclusion proof is for log ", p.log_id, ", the checkpoint for log ", trusted.log_id));
  }
  if (p.tree_size != trusted.size) {
    return absl::DataLossError(absl::StrCat("inclusion proof is for tree size ", p.tree_size,
                                            ", the checkpoint has size ", trusted.size));
  }
  if (!Same(p.root, trusted.root)) {
    return absl::DataLossError(absl::StrCat(
        "inclusion proof's root differs from the checkpoint's tree head of size ", trusted.size));
  }
  return VerifyInclusionProof(p);
}

absl::Status VerifyConsistencyProof(const LogConsistencyProof& p) {
  return VerifyConsistency(p.old_size, p.new_size, p.old_root, p.new_root, p.path);
}

absl::Status VerifyConsistencyProofAgainst(const LogConsistencyProof& p, const Checkpoint& trusted_old,
                                           const Checkpoint& trusted_new) {
  if (p.log_id != trusted_old.log_id || p.log_id != trusted_new.log_id) {
    return absl::DataLossError("consistency proof and checkpoints are for different logs");
  }
  if (p.old_size != trusted_old.size || p.new_size != trusted_new.size) {
    return absl::DataLossError(absl::StrCat("consistency proof is between sizes ", p.old_size, " and ",
                                            p.new_size, ", the checkpoints have sizes ", trusted_old.size,
                                            " and ", trusted_new.size));
  }
  if (!Same(p.old_root, trusted_old.root) || !Same(p.new_root, trusted_new.root)) {
    return absl::DataLossError("consistency proof's roots differ from the checkpoints' tree heads");
  }
  return VerifyConsistencyProof(p);
}

}  // namespace veil::audit
