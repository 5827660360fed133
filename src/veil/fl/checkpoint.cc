#include "veil/fl/checkpoint.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/constant_time.h"
#include "veil/crypto/sha256.h"
#include "veil/fl/strategy.h"

namespace veil::fl {
namespace {

constexpr char kMagic[] = "VFLCKPT1";
constexpr size_t kMagicSize = 8;
constexpr std::string_view kWhat = "coordinator checkpoint";

void AppendBytes(std::string& out, std::string_view bytes) {
  internal::AppendU64(out, bytes.size());
  out.append(bytes);
}

absl::Status ReadBytes(std::string_view in, size_t& pos, std::string_view field, std::string& out) {
  uint64_t n = 0;
  VEIL_RETURN_IF_ERROR(internal::ReadU64(in, pos, kWhat, field, n));
  if (n > in.size() - pos)
    return absl::DataLossError(absl::StrCat(std::string(kWhat), ": truncated at ", std::string(field)));
  out.assign(in.substr(pos, n));
  pos += n;
  return absl::OkStatus();
}

}  // namespace

std::string CheckpointPath(const std::string& dir) { return dir + "/coordinator.ckpt"; }

absl::Status WriteCheckpoint(base::Env& env, const std::string& dir, const CoordinatorCheckpoint& c) {
  std::string out(kMagic, kMagicSize);
  AppendBytes(out, c.config_digest);
  internal::AppendU64(out, c.next_round);
  internal::AppendU64(out, c.model.size());
  for (double v : c.model) internal::AppendDouble(out, v);
  AppendBytes(out, c.strategy_state);
  AppendBytes(out, c.dp_state);
  AppendBytes(out, c.rng_state);
  AppendBytes(out, c.history_json);
  const crypto::Sha256Digest d = crypto::Sha256(out);
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  VEIL_RETURN_IF_ERROR(env.CreateDirs(dir));
  return env.WriteFileAtomically(CheckpointPath(dir), out);
}

absl::StatusOr<std::optional<CoordinatorCheckpoint>> ReadCheckpoint(base::Env& env, const std::string& dir) {
  const std::string path = CheckpointPath(dir);
  if (!env.FileExists(path)) return std::optional<CoordinatorCheckpoint>();
  VEIL_ASSIGN_OR_RETURN(const std::string in, env.ReadFileToString(path));
  const auto damaged = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": damaged checkpoint (", std::string(what), ")"));
  };
  if (in.size() < kMagicSize + crypto::kSha256DigestSize || std::memcmp(in.data(), kMagic, kMagicSize) != 0)
    return damaged("not a Veil coordinator checkpoint");
  const std::string_view body(in.data(), in.size() - crypto::kSha256DigestSize);
  const crypto::Sha256Digest d = crypto::Sha256(body);
  if (!crypto::ConstantTimeEquals(
          d, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(in.data()) + body.size(),
                                      crypto::kSha256DigestSize)))
    return damaged("SHA-256 mismatch");
  CoordinatorCheckpoint c;
  size_t pos = kMagicSize;
  VEIL_RETURN_IF_ERROR(ReadBytes(body, pos, "config digest", c.config_digest));
  VEIL_RETURN_IF_ERROR(internal::ReadU64(body, pos, kWhat, "next round", c.next_round));
  uint64_t n = 0;
  VEIL_RETURN_IF_ERROR(internal::ReadU64(body, pos, kWhat, "model size", n));
  if (n > (body.size() - pos) / 8) return damaged("model size");
  c.model.resize(n);
  for (double& v : c.model) VEIL_RETURN_IF_ERROR(internal::ReadDouble(body, pos, kWhat, "model", v));
  VEIL_RETURN_IF_ERROR(ReadBytes(body, pos, "strategy state", c.strategy_state));
  VEIL_RETURN_IF_ERROR(ReadBytes(body, pos, "dp state", c.dp_state));
  VEIL_RETURN_IF_ERROR(ReadBytes(body, pos, "rng state", c.rng_state));
  VEIL_RETURN_IF_ERROR(ReadBytes(body, pos, "history", c.history_json));
  if (pos != body.size()) return damaged("trailing bytes");
  return std::optional<CoordinatorCheckpoint>(std::move(c));
}

}  // namespace veil::fl
