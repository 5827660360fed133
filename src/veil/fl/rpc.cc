#include "veil/fl/rpc.h"

#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "veil/crypto/constant_time.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"

namespace veil::fl {
namespace {

// The least time a connection attempt (TCP connect and TLS handshake) gets before it is abandoned: gRPC's
// default MIN_CONNECT_TIMEOUT.
constexpr absl::Duration kMinConnectTimeout = absl::Seconds(20);

int Millis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, int64_t{1} << 30));
}

}  // namespace

absl::Status TransportOptions::Validate() const {
  const auto positive = [](absl::Duration d) { return d > absl::ZeroDuration() && d < absl::Hours(24); };
  if (max_payload_bytes < 1024 || max_payload_bytes > (uint64_t{1} << 34))
    return absl::InvalidArgumentError("transport: max payload must be in [1 KiB, 16 GiB]");
  if (!positive(keepalive_time) || !positive(keepalive_timeout))
    return absl::InvalidArgumentError("transport: keepalive time and timeout must be positive");
  if (keepalive_time < absl::Seconds(1))
    return absl::InvalidArgumentError("transport: keepalive time must be at least 1 s");
  if (!positive(call_timeout) || !positive(poll))
    return absl::InvalidArgumentError("transport: call timeout and poll must be positive");
  if (!positive(backoff_initial) || !positive(backoff_max) || backoff_max < backoff_initial)
    return absl::InvalidArgumentError("transport: backoff must satisfy 0 < initial <= max");
  if (!(backoff_multiplier >= 1.0 && backoff_multiplier <= 10.0))
    return absl::InvalidArgumentError("transport: backoff multiplier must be in [1, 10]");
  return absl::OkStatus();
}

grpc::ChannelArguments ClientChannelArguments(const TransportOptions& o) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(o.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(o.keepalive_timeout));
  // Pings also between calls (a site waiting in its backoff keeps its connection checked) and without
  // a limit on pings without data (the long poll may carry none for a while).
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, Millis(o.backoff_initial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, Millis(o.backoff_max));
  // gRPC's C core also takes the MIN reconnect backoff as the minimum time a connection attempt (TCP and
  // the TLS handshake) is given (doc/connection-backoff.md, MIN_CONNECT_TIMEOUT). It once was the initial
  // backoff, 200 ms: on a loaded machine the handshake did not finish in time, every attempt was cut off
  // ("Handshake read failed") and sites that started before the coordinator never joined.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Millis(kMinConnectTimeout));
  // A fresh channel per site process: no sharing of subchannels with other channels of the process.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return args;
}

void ConfigureServer(const TransportOptions& o, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(o.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(o.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Accept the clients' pings at their interval (the default 5 min minimum would make the server answer a
  // keepalive client with GOAWAY "too_many_pings").
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             std::max(1, Millis(o.keepalive_time) / 2));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const Credentials* c) {
  if (c == nullptr) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = c->ca_pem;
  o.pem_cert_chain = c->cert_pem;
  o.pem_private_key.assign(reinterpret_cast<const char*>(c->key_pem.data()), c->key_pem.size());
  return grpc::SslCredentials(o);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const Credentials* c) {
  if (c == nullptr) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = c->ca_pem;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.private_key.assign(reinterpret_cast<const char*>(c->key_pem.data()), c->key_pem.size());
  pair.cert_chain = c->cert_pem;
  o.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(o);
}

std::vector<uint8_t> PeerCertificate(const grpc::AuthContext& auth) {
  const std::vector<grpc::string_ref> pem = auth.FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return {};
  absl::StatusOr<std::vector<uint8_t>> der =
      CertificatePemToDer(std::string_view(pem.front().data(), pem.front().size()));
  return der.ok() ? *std::move(der) : std::vector<uint8_t>{};
}

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(std::string(what), ": ", s.error_message()));
}

namespace internal {
std::string Sha256Bytes(std::string_view data) {
  const crypto::Sha256Digest d = crypto::Sha256(data);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}
}  // namespace internal

absl::Status PayloadAssembler::Add(wire::Chunk& chunk) {
  wire_bytes_ += chunk.ByteSizeLong();
  if (!has_header_) {
    if (!chunk.has_header()) return absl::InvalidArgumentError("payload: the first chunk has no header");
    header_ = chunk.header();
    has_header_ = true;
    if (header_.total_bytes() > max_bytes_)
      return absl::InvalidArgumentError(absl::StrCat(
          "payload: ", header_.total_bytes(), " bytes announced, more than the limit of ", max_bytes_));
    if (header_.sha256().size() != crypto::kSha256DigestSize)
      return absl::InvalidArgumentError("payload: the header's SHA-256 is not 32 bytes");
    data_.reserve(header_.total_bytes());
  } else if (chunk.has_header()) {
    return absl::InvalidArgumentError("payload: a header in a later chunk");
  }
  if (chunk.data().size() > kChunkBytes)
    return absl::InvalidArgumentError(
        absl::StrCat("payload: a chunk of ", chunk.data().size(), " bytes, more than ", kChunkBytes));
  if (chunk.data().size() > header_.total_bytes() - data_.size())
    return absl::InvalidArgumentError("payload: more bytes than the header announced");
  data_.append(chunk.data());
  return absl::OkStatus();
}

absl::StatusOr<std::string> PayloadAssembler::Finish() {
  if (!has_header_) return absl::InvalidArgumentError("payload: no chunk received");
  if (data_.size() != header_.total_bytes())
    return absl::InvalidArgumentError(
        absl::StrCat("payload: ", data_.size(), " bytes received of ", header_.total_bytes(), " announced"));
  const crypto::Sha256Digest d = crypto::Sha256(data_);
  if (!crypto::ConstantTimeEquals(
          d, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header_.sha256().data()), 32)))
    return absl::DataLossError("payload: SHA-256 mismatch (the chunks do not reassemble to what was sent)");
  return std::move(data_);
}

absl::Duration Backoff::Next() {
  const double cap = absl::ToDoubleSeconds(options_.backoff_max);
  const double base = absl::ToDoubleSeconds(options_.backoff_initial) *
                      std::pow(options_.backoff_multiplier, std::min(failures_, 60));
  const double top = std::min(cap, base);
  ++failures_;
  // Full jitter; the draw is not secret, a failed draw (never expected) falls back to the cap's half.
  absl::StatusOr<uint64_t> u = crypto::UniformUint64(rng_, uint64_t{1} << 53);
  const double f = u.ok() ? static_cast<double>(*u) / static_cast<double>(uint64_t{1} << 53) : 0.5;
  return absl::Seconds(top * f);
}

std::string EncodeDoubles(std::span<const double> values) {
  std::string out(values.size() * 8, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t bits;
    std::memcpy(&bits, &values[i], 8);
    for (int b = 0; b < 8; ++b) out[8 * i + b] = static_cast<char>(bits >> (8 * b));
  }
  return out;
}

absl::StatusOr<std::vector<double>> DecodeDoubles(std::string_view bytes, int64_t expected,
                                                  std::string_view what) {
  if (bytes.size() % 8 != 0 || (expected >= 0 && bytes.size() != static_cast<uint64_t>(expected) * 8))
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": ", bytes.size(), " bytes, expected ",
                     expected >= 0 ? absl::StrCat(expected * 8) : "a multiple of 8"));
  std::vector<double> out(bytes.size() / 8);
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t bits = 0;
    for (int b = 0; b < 8; ++b) bits |= uint64_t{static_cast<uint8_t>(bytes[8 * i + b])} << (8 * b);
    std::memcpy(&out[i], &bits, 8);
    if (!std::isfinite(out[i]))
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": value ", i, " is not finite"));
  }
  return out;
}

bool IsTransient(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

}  // namespace veil::fl
