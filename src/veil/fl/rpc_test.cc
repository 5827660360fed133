#include "veil/fl/rpc.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/status_macros.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/fl/certs.h"

namespace veil::fl {
namespace {

using ::testing::HasSubstr;

// A payload of `n` bytes that is not periodic in the chunk size.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

// A service that answers Join with the name of the site certificate the TLS handshake presented, and
// NextTask with a payload of the size asked for (in last_task), so the tests exercise the real transport.
class EchoService final : public wire::Federation::Service {
 public:
  explicit EchoService(const CertificateAuthority* ca) : ca_(ca) {}
  grpc::Status Join(grpc::ServerContext* ctx, const wire::JoinRequest*, wire::JoinReply* reply) override {
    const std::vector<uint8_t> der = PeerCertificate(*ctx->auth_context());
    if (ca_ != nullptr) {
      absl::StatusOr<SiteIdentity> id = ca_->VerifySite(der, "");
      if (!id.ok()) return ToGrpc(id.status());
      reply->set_run_id(id->site);
    } else {
      reply->set_run_id(der.empty() ? "anonymous" : "certificate without TLS?");
    }
    return grpc::Status::OK;
  }
  grpc::Status NextTask(grpc::ServerContext*, const wire::TaskRequest* req,
                        grpc::ServerWriter<wire::Chunk>* writer) override {
    wire::Header h;
    h.set_task(7);
    h.set_phase(wire::PHASE_TRAIN);
    absl::StatusOr<uint64_t> sent = SendPayload(*writer, h, Pattern(req->last_task()));
    return sent.ok() ? grpc::Status::OK : ToGrpc(sent.status());
  }

 private:
  const CertificateAuthority* ca_;
};

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DeploymentOptions o;
    o.dir = dir_.File("pki");
    o.sites = {"a"};
    ASSERT_TRUE(CreateDeployment(o, rng_).ok());
    auto c = LoadCredentials(dir_.File("pki/coordinator"), kCoordinatorName);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::make_unique<Credentials>(*std::move(c));
    auto a = LoadCredentials(dir_.File("pki/a"), "a");
    ASSERT_TRUE(a.ok()) << a.status();
    site_ = std::make_unique<Credentials>(*std::move(a));
    auto ca = CertificateAuthority::Load(site_->ca_pem);
    ASSERT_TRUE(ca.ok());
    ca_ = std::make_unique<CertificateAuthority>(*std::move(ca));
  }

  void Start(bool tls, const std::string& address = "127.0.0.1:0") {
    service_ = std::make_unique<EchoService>(tls ? ca_.get() : nullptr);
    grpc::ServerBuilder b;
    ConfigureServer(options_, b);
    b.AddListeningPort(address, ServerCredentials(tls ? coordinator_.get() : nullptr), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  std::unique_ptr<wire::Federation::Stub> Stub(const Credentials* creds,
                                               const std::string& host = "localhost") {
    return wire::Federation::NewStub(grpc::CreateCustomChannel(
        host + ":" + std::to_string(port_), ChannelCredentials(creds), ClientChannelArguments(options_)));
  }

  absl::StatusOr<std::string> Join(wire::Federation::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    wire::JoinRequest req;
    wire::JoinReply reply;
    VEIL_RETURN_IF_ERROR(FromGrpc(stub.Join(&ctx, req, &reply), "Join"));
    return reply.run_id();
  }

  base::testing::ScopedTempDir dir_;
  crypto::testing::DeterministicRandom rng_{11};
  TransportOptions options_;
  std::unique_ptr<Credentials> coordinator_, site_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<EchoService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(RpcTest, MutualTlsWithEd25519CertificatesIdentifiesTheSite) {
  Start(/*tls=*/true);
  auto stub = Stub(site_.get());
  absl::StatusOr<std::string> who = Join(*stub);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, "a");
  // By IP address too (the coordinator's certificate lists 127.0.0.1).
  auto by_ip = Stub(site_.get(), "127.0.0.1");
  EXPECT_TRUE(Join(*by_ip).ok());
}

TEST_F(RpcTest, TlsServerRefusesPlaintextAndForeignCertificates) {
  Start(/*tls=*/true);
  auto plain = Stub(nullptr);
  EXPECT_EQ(Join(*plain).status().code(), absl::StatusCode::kUnavailable);

  // A site certified by another deployment's CA fails the handshake.
  DeploymentOptions o;
  o.dir = dir_.File("other");
  o.sites = {"a"};
  ASSERT_TRUE(CreateDeployment(o, rng_).ok());
  auto foreign = LoadCredentials(dir_.File("other/a"), "a");
  ASSERT_TRUE(foreign.ok());
  auto stub = Stub(&*foreign);
  EXPECT_EQ(Join(*stub).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RpcTest, ClientChecksTheCoordinatorsHostName) {
  Start(/*tls=*/true, "0.0.0.0:0");
  // "127.0.0.2" reaches the server (it listens on every address) but is not in the coordinator
  // certificate's subjectAltName.
  auto stub = Stub(site_.get(), "127.0.0.2");
  EXPECT_EQ(Join(*stub).status().code(), absl::StatusCode::kUnavailable);
  // The same address with the expected name overridden to one the certificate lists works: the refusal
  // above is the name check, not reachability.
  grpc::ChannelArguments args = ClientChannelArguments(options_);
  args.SetSslTargetNameOverride("localhost");
  auto named = wire::Federation::NewStub(
      grpc::CreateCustomChannel("127.0.0.2:" + std::to_string(port_), ChannelCredentials(site_.get()), args));
  EXPECT_TRUE(Join(*named).ok());
  auto good = Stub(site_.get(), "127.0.0.1");
  EXPECT_TRUE(Join(*good).ok());
}

TEST_F(RpcTest, ChunkedPayloadRoundTripsOverTheWire) {
  Start(/*tls=*/true);
  auto stub = Stub(site_.get());
  for (size_t n : {size_t{0}, size_t{1}, kChunkBytes, kChunkBytes + 1, 3 * kChunkBytes + 12345}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    wire::TaskRequest req;
    req.set_last_task(n);
    auto reader = stub->NextTask(&ctx, req);
    PayloadAssembler assembler(uint64_t{1} << 30);
    wire::Chunk chunk;
    int chunks = 0;
    while (reader->Read(&chunk)) {
      ASSERT_TRUE(assembler.Add(chunk).ok());
      ++chunks;
    }
    ASSERT_TRUE(reader->Finish().ok());
    absl::StatusOr<std::string> payload = assembler.Finish();
    ASSERT_TRUE(payload.ok()) << payload.status();
    EXPECT_EQ(*payload, Pattern(n)) << n;
    EXPECT_EQ(chunks, std::max<size_t>(1, (n + kChunkBytes - 1) / kChunkBytes)) << n;
    EXPECT_EQ(assembler.header().task(), 7u);
  }
}

// A writer that keeps the chunks, for the assembler's checks.
struct VectorWriter {
  std::vector<wire::Chunk> chunks;
  bool Write(const wire::Chunk& c) {
    chunks.push_back(c);
    return true;
  }
};

TEST(PayloadAssemblerTest, ChecksSizesOrderAndDigest) {
  VectorWriter w;
  ASSERT_TRUE(SendPayload(w, wire::Header(), Pattern(2 * kChunkBytes + 5)).ok());
  ASSERT_EQ(w.chunks.size(), 3u);
  {
    PayloadAssembler a(uint64_t{1} << 30);
    for (auto c : w.chunks) ASSERT_TRUE(a.Add(c).ok());
    EXPECT_TRUE(a.Finish().ok());
  }
  {  // Above the receiver's limit: refused at the header, before anything is buffered.
    PayloadAssembler a(kChunkBytes);
    auto c = w.chunks[0];
    EXPECT_THAT(a.Add(c).message(), HasSubstr("more than the limit"));
  }
  {  // A missing chunk.
    PayloadAssembler a(uint64_t{1} << 30);
    auto c0 = w.chunks[0], c2 = w.chunks[2];
    ASSERT_TRUE(a.Add(c0).ok());
    ASSERT_TRUE(a.Add(c2).ok());
    EXPECT_THAT(a.Finish().status().message(), HasSubstr("received of"));
  }
  {  // Chunks swapped: same size, wrong digest.
    PayloadAssembler a(uint64_t{1} << 30);
    auto c0 = w.chunks[0], c1 = w.chunks[1], c2 = w.chunks[2];
    std::swap(*c0.mutable_data(), *c1.mutable_data());
    ASSERT_TRUE(a.Add(c0).ok());
    ASSERT_TRUE(a.Add(c1).ok());
    ASSERT_TRUE(a.Add(c2).ok());
    EXPECT_EQ(a.Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  {  // No header first; a second header; too many bytes; an oversized chunk.
    PayloadAssembler a(uint64_t{1} << 30);
    auto c1 = w.chunks[1];
    EXPECT_THAT(a.Add(c1).message(), HasSubstr("no header"));
    PayloadAssembler b(uint64_t{1} << 30);
    auto c0 = w.chunks[0], again = w.chunks[0];
    ASSERT_TRUE(b.Add(c0).ok());
    EXPECT_THAT(b.Add(again).message(), HasSubstr("header in a later chunk"));
    PayloadAssembler d(uint64_t{1} << 30);
    auto first = w.chunks[0];
    first.mutable_header()->set_total_bytes(10);
    EXPECT_THAT(d.Add(first).message(), HasSubstr("more bytes than"));
    PayloadAssembler e(uint64_t{1} << 30);
    auto big = w.chunks[0];
    big.mutable_data()->append("x");
    big.mutable_header()->set_total_bytes(kChunkBytes * 4);
    EXPECT_THAT(e.Add(big).message(), HasSubstr("a chunk of"));
  }
}

TEST(BackoffTest, GrowsToTheCapWithFullJitter) {
  crypto::testing::DeterministicRandom rng(3);
  TransportOptions o;
  o.backoff_initial = absl::Milliseconds(100);
  o.backoff_max = absl::Seconds(2);
  Backoff b(o, rng);
  // After k failures the wait is uniform in [0, min(2 s, 0.1 s * 2^k)]: check the bound each time, and that
  // the waits are not all tiny (the mean of 200 draws at the cap is 1 s; below 0.5 s has probability far
  // below 1e-9 by Hoeffding: exp(-2 * 200 * 0.25^2)).
  double sum = 0;
  for (int k = 0; k < 220; ++k) {
    const double cap = std::min(2.0, 0.1 * std::pow(2.0, k));
    const double w = absl::ToDoubleSeconds(b.Next());
    EXPECT_GE(w, 0.0);
    EXPECT_LE(w, cap + 1e-9) << k;
    if (k >= 20) sum += w;
  }
  EXPECT_GT(sum / 200, 0.5);
  b.Reset();
  EXPECT_LE(absl::ToDoubleSeconds(b.Next()), 0.1 + 1e-9);
  EXPECT_TRUE(IsTransient(absl::UnavailableError("x")));
  EXPECT_FALSE(IsTransient(absl::PermissionDeniedError("x")));
}

}  // namespace
}  // namespace veil::fl
