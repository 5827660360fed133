// The transport of federated learning (issue 10 item 1): gRPC channel and server settings, mutual TLS
// credentials, chunked payloads and reconnection backoff, shared by the coordinator (coordinator.h) and the
// sites (client.h). The service and its messages are in fl.proto.
//
// Policies (docs/fl.md, "Transport"):
//   - Mutual TLS by default: the coordinator requires and verifies a client certificate issued by the
//     deployment's CA, the client verifies the coordinator's certificate and its host name (certs.h).
//     Plaintext only when the caller passes no credentials (`--insecure`, local tests).
//   - Bounded messages: one gRPC message is at most kMaxMessageBytes (a chunk of kChunkBytes and its
//     header); a payload is at most TransportOptions::max_payload_bytes, checked from the first chunk's
//     header before anything is buffered, and its SHA-256 is checked when it is complete.
//   - Keepalive: the client pings every keepalive_time (also between calls) and gives up on the connection
//     after keepalive_timeout without an answer; the server accepts pings that often (min receive interval)
//     and pings its clients too, so a dead peer is noticed in seconds, not at TCP's timeout.
//   - Deadlines: every call has one (TransportOptions::call_timeout, plus the long poll for NextTask).
//   - Reconnect: gRPC's own channel reconnect backoff is set from the same options, and the client loop
//     waits Backoff::Next() (exponential, full jitter) between failed calls.
//
// Thread safety: PayloadAssembler and Backoff are not thread-safe; the functions are.
#ifndef VEIL_FL_RPC_H_
#define VEIL_FL_RPC_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "veil/base/random.h"
#include "veil/fl/certs.h"
#include "veil/fl/fl.grpc.pb.h"
#include "veil/fl/fl.pb.h"

namespace veil::fl {

inline constexpr uint32_t kProtocolVersion = 1;
// Payload bytes per chunk, and the largest gRPC message either side accepts (a chunk plus its header, with
// room to spare).
inline constexpr size_t kChunkBytes = size_t{1} << 20;
inline constexpr int kMaxMessageBytes = 4 << 20;

struct TransportOptions {
  // The largest payload (a model, an update, a key directory) accepted, in bytes.
  uint64_t max_payload_bytes = uint64_t{1} << 30;
  absl::Duration keepalive_time = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // Deadline of each unary or upload call; NextTask gets poll + call_timeout.
  absl::Duration call_timeout = absl::Seconds(60);
  // How long the coordinator holds a NextTask call open before answering PHASE_WAIT.
  absl::Duration poll = absl::Seconds(10);
  // Reconnection backoff (client): initial wait, cap, growth factor.
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(10);
  double backoff_multiplier = 2.0;

  // Errors: InvalidArgument naming the field.
  absl::Status Validate() const;
};

// Channel arguments of a site's channel to the coordinator: message limits, keepalive, reconnect backoff.
grpc::ChannelArguments ClientChannelArguments(const TransportOptions& options);
// The same policies on the coordinator's server.
void ConfigureServer(const TransportOptions& options, grpc::ServerBuilder& builder);

// TLS credentials from a party's certificates (certs.h), or plaintext when `credentials` is null.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const Credentials* credentials);
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const Credentials* credentials);

// The DER certificate a TLS peer presented (empty if none, e.g. without TLS).
std::vector<uint8_t> PeerCertificate(const grpc::AuthContext& auth);

// absl::Status <-> grpc::Status, keeping the code and message.
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

// Sends `payload` as chunks through `write` (a grpc writer's Write, returning false when the stream broke),
// the first carrying `header` with the payload's size and SHA-256 filled in. Returns the bytes written (the
// serialized Chunk messages). Errors: Unavailable if the stream broke.
template <typename Writer>
absl::StatusOr<uint64_t> SendPayload(Writer& writer, wire::Header header, std::string_view payload);

// Reassembles a payload from its chunks, checking: the first chunk has a header (and no later one does);
// the announced size is at most max_bytes; no chunk carries more than kChunkBytes; the bytes add up to the
// announced size; the SHA-256 matches. Errors: InvalidArgument naming the check (DataLoss for the digest).
class PayloadAssembler {
 public:
  explicit PayloadAssembler(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  absl::Status Add(wire::Chunk& chunk);  // takes the chunk's data
  bool has_header() const { return has_header_; }
  const wire::Header& header() const { return header_; }
  // After the last chunk. Errors: as above.
  absl::StatusOr<std::string> Finish();
  uint64_t wire_bytes() const { return wire_bytes_; }

 private:
  uint64_t max_bytes_;
  bool has_header_ = false;
  wire::Header header_;
  std::string data_;
  uint64_t wire_bytes_ = 0;
};

// Exponential backoff with full jitter (the wait is uniform in [0, min(max, initial * multiplier^k)] after
// k failures; "full jitter" spreads reconnecting clients apart after a coordinator restart).
class Backoff {
 public:
  Backoff(const TransportOptions& options, base::RandomSource& rng) : options_(options), rng_(rng) {}
  absl::Duration Next();
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  TransportOptions options_;
  base::RandomSource& rng_;
  int failures_ = 0;
};

// Vectors in payloads: IEEE-754 float64 bit patterns, little-endian (exact, so a resumed or repeated run
// reproduces models bit for bit).
std::string EncodeDoubles(std::span<const double> values);
// Errors: InvalidArgument naming `what` if the size is not 8 * expected (expected < 0: any multiple of 8) or
// a value is not finite.
absl::StatusOr<std::vector<double>> DecodeDoubles(std::string_view bytes, int64_t expected,
                                                  std::string_view what);

// Whether a failed call may succeed if retried after a wait (the coordinator is down or restarting, the
// network dropped, a deadline passed).
bool IsTransient(const absl::Status& status);

// --- Implementation of the template.
namespace internal {
std::string Sha256Bytes(std::string_view data);
}  // namespace internal

template <typename Writer>
absl::StatusOr<uint64_t> SendPayload(Writer& writer, wire::Header header, std::string_view payload) {
  header.set_total_bytes(payload.size());
  header.set_sha256(internal::Sha256Bytes(payload));
  uint64_t sent = 0;
  size_t offset = 0;
  bool first = true;
  while (first || offset < payload.size()) {
    wire::Chunk chunk;
    if (first) *chunk.mutable_header() = header;
    const size_t n = std::min(kChunkBytes, payload.size() - offset);
    chunk.set_data(payload.data() + offset, n);
    offset += n;
    sent += chunk.ByteSizeLong();
    if (!writer.Write(chunk)) return absl::UnavailableError("the stream broke while sending");
    first = false;
  }
  return sent;
}

}  // namespace veil::fl

#endif  // VEIL_FL_RPC_H_
