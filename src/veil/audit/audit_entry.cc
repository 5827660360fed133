#include "veil/audit/audit_entry.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "veil/audit/encoding.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/base/text_format.h"
#include "veil/base/utf8.h"

namespace veil::audit {
namespace {

using internal::ByteReader;

constexpr uint8_t kNoResult = 0x00;
constexpr uint8_t kHasResult = 0x01;

absl::Status CheckField(std::string_view value, const char* name) {
  if (value.size() > kMaxEntryFieldBytes) {
    return absl::InvalidArgumentError(absl::StrCat("audit entry: ", name, " is ", value.size(),
                                                   " bytes, over the limit of ", kMaxEntryFieldBytes));
  }
  if (const size_t bad = base::FindInvalidUtf8(value); bad != value.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit entry: ", name, " is not valid UTF-8 (byte ", bad, ")"));
  }
  return absl::OkStatus();
}

void PutStr(std::vector<uint8_t>& out, std::string_view s) {
  internal::PutU32(out, static_cast<uint32_t>(s.size()));
  internal::PutBytes(out, s);
}

// Escapes a field for the one-line rendering: quotes and backslashes get a backslash, control characters
// their visible escape (base::EscapeControlCharacters); printable ASCII and UTF-8 pass through.
std::string Quote(std::string_view s) {
  std::string quoted;
  quoted.reserve(s.size());
  for (const char c : s) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return absl::StrCat("\"", base::EscapeControlCharacters(quoted), "\"");
}

std::string ShortHash(const crypto::Sha256Digest& h) {
  return base::HexEncode(std::span<const uint8_t>(h.data(), 8));
}

}  // namespace

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllowed:
      return "allowed";
    case Decision::kDenied:
      return "denied";
  }
  return "unknown";
}

absl::StatusOr<std::vector<uint8_t>> EncodeAuditEntry(const AuditEntry& entry) {
  VEIL_RETURN_IF_ERROR(CheckField(entry.actor, "actor"));
  VEIL_RETURN_IF_ERROR(CheckField(entry.action, "action"));
  VEIL_RETURN_IF_ERROR(CheckField(entry.dataset, "dataset"));
  VEIL_RETURN_IF_ERROR(CheckField(entry.purpose, "purpose"));
  VEIL_RETURN_IF_ERROR(CheckField(entry.reason, "reason"));
  VEIL_RETURN_IF_ERROR(CheckField(entry.cost, "cost"));
  if (entry.subject_pseudonyms.size() > kMaxEntrySubjects) {
    return absl::InvalidArgumentError(absl::StrCat("audit entry: ", entry.subject_pseudonyms.size(),
                                                   " subject pseudonyms, over the limit of ",
                                                   kMaxEntrySubjects));
  }
  for (const std::string& p : entry.subject_pseudonyms)
    VEIL_RETURN_IF_ERROR(CheckField(p, "subject pseudonym"));
  if (entry.decision != Decision::kAllowed && entry.decision != Decision::kDenied) {
    return absl::InvalidArgumentError("audit entry: unknown decision");
  }
  if (entry.time < absl::FromUnixNanos(std::numeric_limits<int64_t>::min()) ||
      entry.time > absl::FromUnixNanos(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError("audit entry: time outside the representable range (1678 to 2262)");
  }

  std::vector<uint8_t> out;
  out.reserve(128 + entry.actor.size() + entry.action.size() + entry.dataset.size() + entry.purpose.size() +
              entry.reason.size() + entry.cost.size() + entry.subject_pseudonyms.size() * 36);
  internal::PutU8(out, kAuditEntryVersion);
  internal::PutU64(out, entry.seq);
  internal::PutU64(out, static_cast<uint64_t>(absl::ToUnixNanos(entry.time)));
  internal::PutU8(out, static_cast<uint8_t>(entry.decision));
  PutStr(out, entry.actor);
  PutStr(out, entry.action);
  PutStr(out, entry.dataset);
  PutStr(out, entry.purpose);
  PutStr(out, entry.reason);
  PutStr(out, entry.cost);
  internal::PutU32(out, static_cast<uint32_t>(entry.subject_pseudonyms.size()));
  for (const std::string& p : entry.subject_pseudonyms) {
    PutStr(out, p);
    if (out.size() > kMaxEncodedEntryBytes) break;
  }
  internal::PutBytes(out, entry.params_hash);
  if (entry.result_hash.has_value()) {
    internal::PutU8(out, kHasResult);
    internal::PutBytes(out, *entry.result_hash);
  } else {
    internal::PutU8(out, kNoResult);
  }
  if (out.size() > kMaxEncodedEntryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit entry: encoding exceeds the limit of ", kMaxEncodedEntryBytes, " bytes"));
  }
  return out;
}

absl::StatusOr<AuditEntry> DecodeAuditEntry(std::span<const uint8_t> bytes) {
  ByteReader r(bytes, "audit entry");
  if (bytes.size() > kMaxEncodedEntryBytes) {
    return r.Invalid(kMaxEncodedEntryBytes, "entry longer than the limit");
  }
  AuditEntry e;
  VEIL_ASSIGN_OR_RETURN(const uint8_t version, r.U8("version"));
  if (version != kAuditEntryVersion) {
    return r.Invalid(0,
                     absl::StrCat("unsupported version ", version, " (expected ", kAuditEntryVersion, ")"));
  }
  VEIL_ASSIGN_OR_RETURN(e.seq, r.U64("seq"));
  VEIL_ASSIGN_OR_RETURN(const uint64_t nanos, r.U64("time"));
  e.time = absl::FromUnixNanos(static_cast<int64_t>(nanos));
  const size_t decision_at = r.pos();
  VEIL_ASSIGN_OR_RETURN(const uint8_t decision, r.U8("decision"));
  if (decision != static_cast<uint8_t>(Decision::kAllowed) &&
      decision != static_cast<uint8_t>(Decision::kDenied)) {
    return r.Invalid(decision_at, absl::StrCat("unknown decision ", decision));
  }
  e.decision = static_cast<Decision>(decision);
  VEIL_ASSIGN_OR_RETURN(e.actor, r.Str(kMaxEntryFieldBytes, "actor"));
  VEIL_ASSIGN_OR_RETURN(e.action, r.Str(kMaxEntryFieldBytes, "action"));
  VEIL_ASSIGN_OR_RETURN(e.dataset, r.Str(kMaxEntryFieldBytes, "dataset"));
  VEIL_ASSIGN_OR_RETURN(e.purpose, r.Str(kMaxEntryFieldBytes, "purpose"));
  VEIL_ASSIGN_OR_RETURN(e.reason, r.Str(kMaxEntryFieldBytes, "reason"));
  VEIL_ASSIGN_OR_RETURN(e.cost, r.Str(kMaxEntryFieldBytes, "cost"));
  const size_t count_at = r.pos();
  VEIL_ASSIGN_OR_RETURN(const uint32_t count, r.U32("subject count"));
  // Each pseudonym takes at least its 4-byte length, so a count the remaining bytes cannot hold is rejected
  // before anything is reserved.
  if (count > kMaxEntrySubjects) {
    return r.Invalid(count_at,
                     absl::StrCat("subject count ", count, " exceeds the limit of ", kMaxEntrySubjects));
  }
  if (count > r.remaining() / 4) {
    return absl::DataLossError(absl::StrCat("audit entry: truncated: subject count ", count, " at byte ",
                                            count_at, " does not fit in the ", r.remaining(), " bytes left"));
  }
  e.subject_pseudonyms.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    VEIL_ASSIGN_OR_RETURN(std::string p, r.Str(kMaxEntryFieldBytes, "subject pseudonym"));
    e.subject_pseudonyms.push_back(std::move(p));
  }
  VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> params, r.Bytes(e.params_hash.size(), "params hash"));
  std::copy(params.begin(), params.end(), e.params_hash.begin());
  const size_t flag_at = r.pos();
  VEIL_ASSIGN_OR_RETURN(const uint8_t flag, r.U8("result flag"));
  if (flag == kHasResult) {
    VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> result, r.Bytes(crypto::kSha256DigestSize, "result hash"));
    crypto::Sha256Digest h;
    std::copy(result.begin(), result.end(), h.begin());
    e.result_hash = h;
  } else if (flag != kNoResult) {
    return r.Invalid(flag_at, absl::StrCat("unknown result flag ", flag));
  }
  if (!r.done()) return r.Invalid(r.pos(), absl::StrCat(r.remaining(), " trailing bytes"));
  return e;
}

std::string FormatAuditTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

nlohmann::ordered_json AuditEntryToJson(const AuditEntry& entry) {
  nlohmann::ordered_json j;
  j["seq"] = entry.seq;
  j["time"] = FormatAuditTime(entry.time);
  j["actor"] = entry.actor;
  j["action"] = entry.action;
  j["dataset"] = entry.dataset;
  j["purpose"] = entry.purpose;
  j["decision"] = DecisionName(entry.decision);
  j["reason"] = entry.reason;
  j["cost"] = entry.cost;
  j["subject_pseudonyms"] = entry.subject_pseudonyms;
  j["params_hash"] = base::HexEncode(entry.params_hash);
  if (entry.result_hash.has_value()) {
    j["result_hash"] = base::HexEncode(*entry.result_hash);
  } else {
    j["result_hash"] = nullptr;
  }
  return j;
}

std::string AuditEntryToText(const AuditEntry& entry) {
  std::string decision = entry.decision == Decision::kAllowed ? "ALLOWED" : "DENIED";
  return absl::StrCat("#", entry.seq, " ", FormatAuditTime(entry.time), " ", Quote(entry.actor), " ",
                      Quote(entry.action), " dataset=", Quote(entry.dataset),
                      " purpose=", Quote(entry.purpose), " ", decision, " ", Quote(entry.reason),
                      entry.cost.empty() ? "" : " cost=", entry.cost.empty() ? "" : Quote(entry.cost),
                      " subjects=", entry.subject_pseudonyms.size(), " params=", ShortHash(entry.params_hash),
                      " result=", entry.result_hash.has_value() ? ShortHash(*entry.result_hash) : "-");
}

}  // namespace veil::audit
