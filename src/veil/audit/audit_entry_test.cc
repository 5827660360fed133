#include "veil/audit/audit_entry.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/audit/audit_test_util.h"

namespace veil::audit {
namespace {

using ::testing::HasSubstr;

AuditEntry Full() {
  AuditEntry e = testing::SampleEntry(2);
  e.seq = 42;
  e.time = absl::FromUnixNanos(1767225600123456789);
  e.subject_pseudonyms = {"p1", "p2\xC3\xA9"};
  return e;
}

TEST(AuditEntryTest, RoundTrip) {
  for (int i = 0; i < 20; ++i) {
    AuditEntry e = testing::SampleEntry(i);
    e.seq = static_cast<uint64_t>(i) * 1000003;
    e.time = absl::FromUnixNanos(int64_t{1767225600} * 1000000000 + i);
    absl::StatusOr<std::vector<uint8_t>> bytes = EncodeAuditEntry(e);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<AuditEntry> back = DecodeAuditEntry(*bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, e);
    EXPECT_EQ(*EncodeAuditEntry(*back), *bytes);
  }
}

TEST(AuditEntryTest, FixedLayout) {
  AuditEntry e;
  e.seq = 0x0102030405060708;
  e.time = absl::FromUnixNanos(0x1112131415161718);
  std::vector<uint8_t> b = *EncodeAuditEntry(e);
  ASSERT_GE(b.size(), 18u);
  EXPECT_EQ(b[0], kAuditEntryVersion);
  EXPECT_EQ(b[kEntrySeqOffset], 0x01);
  EXPECT_EQ(b[kEntrySeqOffset + 7], 0x08);
  EXPECT_EQ(b[kEntryTimeOffset], 0x11);
  EXPECT_EQ(b[17], 0x01);  // allowed
  // 6 empty strings, empty subject list, params hash, no-result flag.
  EXPECT_EQ(b.size(), 18u + 6 * 4 + 4 + 32 + 1);
  EXPECT_EQ(b.back(), 0x00);
}

TEST(AuditEntryTest, EveryTruncationIsDataLossWithOffset) {
  const std::vector<uint8_t> bytes = *EncodeAuditEntry(Full());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<AuditEntry> r = DecodeAuditEntry(std::span<const uint8_t>(bytes.data(), n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << n << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("at byte")) << n;
  }
}

TEST(AuditEntryTest, MalformedIsInvalidArgumentWithOffset) {
  const std::vector<uint8_t> good = *EncodeAuditEntry(Full());
  {
    std::vector<uint8_t> b = good;
    b[0] = 2;
    EXPECT_THAT(DecodeAuditEntry(b).status().message(),
                HasSubstr("unsupported version 2 (expected 1) at byte 0"));
  }
  {
    std::vector<uint8_t> b = good;
    b[17] = 3;
    absl::Status s = DecodeAuditEntry(b).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("unknown decision 3 at byte 17"));
  }
  {
    std::vector<uint8_t> b = good;
    b.push_back(0);
    EXPECT_THAT(DecodeAuditEntry(b).status().message(), HasSubstr("1 trailing bytes at byte"));
  }
  {
    std::vector<uint8_t> b = good;
    b[good.size() - 33] = 7;  // result flag
    EXPECT_THAT(DecodeAuditEntry(b).status().message(), HasSubstr("unknown result flag 7"));
  }
  {
    // The actor's first byte made invalid UTF-8.
    AuditEntry e = Full();
    e.actor = "abc";
    std::vector<uint8_t> b = *EncodeAuditEntry(e);
    b[22] = 0xFF;
    absl::Status s = DecodeAuditEntry(b).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("actor is not valid UTF-8 at byte 22"));
  }
  {
    // An absurd string length.
    std::vector<uint8_t> b = good;
    b[18] = 0x7F;
    absl::Status s = DecodeAuditEntry(b).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("exceeds the limit"));
  }
}

TEST(AuditEntryTest, EveryByteFlipDecodesOrFailsCleanly) {
  const std::vector<uint8_t> good = *EncodeAuditEntry(Full());
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> b = good;
      b[i] ^= mask;
      absl::StatusOr<AuditEntry> r = DecodeAuditEntry(b);
      if (r.ok()) {
        EXPECT_EQ(*EncodeAuditEntry(*r), b) << "non-canonical decode at " << i;
      }
    }
  }
}

TEST(AuditEntryTest, EncodeRejectsBadFields) {
  AuditEntry e = Full();
  e.reason = "bad \xC0\xAF";
  EXPECT_EQ(EncodeAuditEntry(e).status().code(), absl::StatusCode::kInvalidArgument);
  e = Full();
  e.actor = std::string(kMaxEntryFieldBytes + 1, 'a');
  EXPECT_EQ(EncodeAuditEntry(e).status().code(), absl::StatusCode::kInvalidArgument);
  e = Full();
  e.subject_pseudonyms.assign(kMaxEntrySubjects + 1, "x");
  EXPECT_EQ(EncodeAuditEntry(e).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AuditEntryTest, JsonAndText) {
  AuditEntry e = Full();
  e.reason = "line1\nline2 \"q\"";
  nlohmann::ordered_json j = AuditEntryToJson(e);
  EXPECT_EQ(j["seq"], 42);
  EXPECT_EQ(j["time"], "2026-01-01T00:00:00.123456789Z");
  EXPECT_EQ(j["decision"], "allowed");
  EXPECT_EQ(j["subject_pseudonyms"].size(), 2u);
  EXPECT_EQ(j["params_hash"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["reason"], "line1\nline2 \"q\"");
  EXPECT_NO_THROW((void)j.dump());
  e.result_hash.reset();
  EXPECT_TRUE(AuditEntryToJson(e)["result_hash"].is_null());

  const std::string line = AuditEntryToText(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_THAT(line, HasSubstr("#42 2026-01-01T00:00:00.123456789Z \"alice\""));
  EXPECT_THAT(line, HasSubstr("\"line1\\nline2 \\\"q\\\"\""));
  EXPECT_THAT(line, HasSubstr("ALLOWED"));
  EXPECT_THAT(line, HasSubstr("result=-"));
  // Backslashes, tabs, carriage returns, other control characters and DEL are escaped; UTF-8 passes.
  e.reason = std::string("a\\b\tc\rd\x1b[31me\x7f f\xC3\xA9");
  EXPECT_THAT(AuditEntryToText(e), HasSubstr("\"a\\\\b\\tc\\rd\\x1b[31me\\x7f f\xC3\xA9\""));
}

}  // namespace
}  // namespace veil::audit
