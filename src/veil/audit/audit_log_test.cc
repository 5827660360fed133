#include "veil/audit/audit_log.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/audit/audit_test_util.h"
#include "veil/audit/encoding.h"
#include "veil/audit/log_format.h"
#include "veil/base/bytes.h"
#include "veil/base/test_env.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::audit {
namespace {

using ::testing::HasSubstr;
using testing::SampleEntry;
using testing::TestKey;

constexpr char kDir[] = "/ws/audit";
const std::string kLogPath = std::string(kDir) + "/audit.log";
const std::string kCheckpointPath = std::string(kDir) + "/checkpoints.log";

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest() : rng_(7), env_(rng_) {}

  std::unique_ptr<AuditLog> OpenOrDie(const AuditLogOptions& options = {}) {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(env_, kDir, TestKey(), options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> Reopen(const AuditLogOptions& options = {}) {
    return AuditLog::Open(env_, kDir, TestKey(), options);
  }
  void Fill(AuditLog& log, int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      absl::StatusOr<uint64_t> seq = log.Append(SampleEntry(i));
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_EQ(*seq, static_cast<uint64_t>(i));
    }
  }
  std::string ReadFile(const std::string& path) { return *env_.ReadFileToString(path); }
  void WriteFile(const std::string& path, const std::string& data) {
    std::unique_ptr<base::WritableFile> f = *env_.NewWritableFile(path);
    ASSERT_TRUE(f->Append(data).ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  // Expects that opening and verifying the log fails with DataLoss; returns the message.
  std::string ExpectTamperDetected() {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = Reopen({.read_only = true});
    if (!log.ok()) {
      EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << log.status();
      return std::string(log.status().message());
    }
    absl::StatusOr<AuditVerifyReport> r = (*log)->Verify();
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    return std::string(r.status().message());
  }

  crypto::testing::DeterministicRandom rng_;
  base::testing::TestEnv env_;
};

TEST(LogFormatTest, CompactRangeMatchesMerkleTree) {
  MerkleTree tree;
  internal::CompactRange range;
  EXPECT_EQ(range.Root(), EmptyTreeHash());
  for (int i = 0; i < 70; ++i) {
    const std::string leaf = absl::StrCat("leaf ", i);
    const std::span<const uint8_t> bytes = base::AsBytes(leaf);
    tree.AppendLeafHash(LeafHash(bytes));
    range.Append(LeafHash(bytes));
    ASSERT_EQ(range.Root(), tree.Root()) << i;
    ASSERT_EQ(range.size(), tree.size());
  }
}

TEST_F(AuditLogTest, AppendReopenReadVerify) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    EXPECT_TRUE(log->recovery().created);
    EXPECT_EQ(log->log_id().size(), 32u);
    Fill(*log, 25);
    EXPECT_EQ(log->size(), 25u);
    absl::StatusOr<AuditVerifyReport> r = log->Verify();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->entries, 25u);
    EXPECT_EQ(r->root, log->root());
  }
  std::unique_ptr<AuditLog> log = OpenOrDie();
  EXPECT_FALSE(log->recovery().created);
  EXPECT_EQ(log->recovery().entries, 25u);
  EXPECT_EQ(log->recovery().torn_tail_bytes, 0u);
  absl::StatusOr<std::vector<AuditEntry>> entries = log->ReadEntries(0);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 25u);
  for (int i = 0; i < 25; ++i) {
    AuditEntry want = SampleEntry(i);
    want.seq = static_cast<uint64_t>(i);
    want.time = env_.Now();
    EXPECT_EQ((*entries)[i], want) << i;
  }
  EXPECT_EQ(log->ReadEntries(20, 3)->size(), 3u);
  EXPECT_EQ(log->ReadEntries(20, 3)->front().seq, 20u);
  EXPECT_TRUE(log->ReadEntries(25)->empty());
  Fill(*log, 5, 25);
  EXPECT_TRUE(log->Verify().ok());
}

TEST_F(AuditLogTest, TimesAreStampedAndMonotonic) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  AuditEntry e = SampleEntry(0);
  e.seq = 999;
  e.time = absl::FromUnixSeconds(5);
  ASSERT_EQ(*log->Append(e), 0u);
  env_.AdvanceClock(absl::Seconds(10));
  ASSERT_EQ(*log->Append(e), 1u);
  env_.AdvanceClock(absl::Seconds(-100));  // the clock steps back
  ASSERT_EQ(*log->Append(e), 2u);
  std::vector<AuditEntry> got = *log->ReadEntries(0);
  EXPECT_EQ(got[1].time - got[0].time, absl::Seconds(10));
  EXPECT_EQ(got[2].time, got[1].time);
}

TEST_F(AuditLogTest, RejectsWrongKeyAndReadOnlyWrites) {
  { OpenOrDie(); }
  absl::StatusOr<std::unique_ptr<AuditLog>> other = AuditLog::Open(env_, kDir, TestKey(2));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(other.status().message(), HasSubstr("public key"));

  std::unique_ptr<AuditLog> ro = OpenOrDie({.read_only = true});
  EXPECT_EQ(ro->Append(SampleEntry(0)).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ro->Checkpoint().status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::unique_ptr<AuditLog>> pub = AuditLog::Open(env_, kDir, TestKey().public_key());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ((*pub)->Checkpoint().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*pub)->Append(SampleEntry(0)).ok());

  EXPECT_EQ(AuditLog::Open(env_, "/nowhere", TestKey(), {.read_only = true}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(AuditLogTest, GroupCommitManyThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          AuditEntry e = SampleEntry(i, absl::StrCat("thread", t));
          absl::StatusOr<uint64_t> seq = log->Append(e);
          ASSERT_TRUE(seq.ok()) << seq.status();
          seqs[t].push_back(*seq);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(log->size(), uint64_t{kThreads * kPerThread});
  }
  std::set<uint64_t> all;
  for (const auto& v : seqs) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // a thread's entries keep their order
    all.insert(v.begin(), v.end());
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kPerThread - 1});  // dense: 0..n-1

  std::unique_ptr<AuditLog> log = OpenOrDie();
  std::vector<AuditEntry> entries = *log->ReadEntries(0);
  ASSERT_EQ(entries.size(), size_t{kThreads * kPerThread});
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const AuditEntry& e = entries[seqs[t][i]];
      EXPECT_EQ(e.actor, absl::StrCat("thread", t));
      EXPECT_EQ(e.reason, absl::StrCat("reason ", i));
    }
  }
  EXPECT_TRUE(log->Verify().ok());
}

TEST_F(AuditLogTest, CheckpointsSignedPersistedAndVerified) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 10);
  absl::StatusOr<std::string> note = log->Checkpoint();
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<SignedCheckpoint> cp = ParseAndVerifyCheckpoint(*note, TestKey().public_key());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->checkpoint.size, 10u);
  EXPECT_EQ(cp->checkpoint.root, log->root());
  EXPECT_EQ(cp->checkpoint.log_id, log->log_id());
  Fill(*log, 5, 10);
  ASSERT_TRUE(log->Checkpoint().ok());
  log.reset();
  log = OpenOrDie();
  EXPECT_EQ(log->recovery().checkpoints, 2u);
  absl::StatusOr<std::vector<SignedCheckpoint>> stored = log->ReadCheckpoints();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[1].checkpoint.size, 15u);
  absl::StatusOr<AuditVerifyReport> r = log->Verify();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->checkpoints, 2u);
}

TEST_F(AuditLogTest, WitnessCheckpointFromBeforeVerifiesForgedFails) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 13);
  const std::string old_note = *log->Checkpoint();
  Fill(*log, 20, 13);
  const SignedCheckpoint witness = *ParseCheckpoint(old_note);
  absl::StatusOr<AuditVerifyReport> r = log->Verify(witness);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->witness_size, 13u);

  // The same statement with a different root, signed by another key: rejected.
  Checkpoint forged = witness.checkpoint;
  forged.root[0] ^= 1;
  SignedCheckpoint f1 = *ParseCheckpoint(*SignCheckpoint(forged, TestKey(99)));
  EXPECT_EQ(log->Verify(f1).status().code(), absl::StatusCode::kDataLoss);
  // A tampered body with the original signature: rejected.
  SignedCheckpoint f2 = witness;
  f2.checkpoint.root[0] ^= 1;
  f2.body = *FormatCheckpointBody(f2.checkpoint);
  EXPECT_THAT(log->Verify(f2).status().message(), HasSubstr("signature"));
  // A genuinely signed head that is not a prefix of this log (a fork): rejected, naming the range.
  Checkpoint fork = witness.checkpoint;
  fork.root[5] ^= 1;
  SignedCheckpoint f3 = *ParseCheckpoint(*SignCheckpoint(fork, TestKey()));
  absl::Status s = log->Verify(f3).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("not a prefix"));
  // A witness that has seen more entries than the log holds: truncation or fork.
  Checkpoint ahead = witness.checkpoint;
  ahead.size = 1000;
  SignedCheckpoint f4 = *ParseCheckpoint(*SignCheckpoint(ahead, TestKey()));
  EXPECT_THAT(log->Verify(f4).status().message(), HasSubstr("truncated or forked"));
}

TEST_F(AuditLogTest, ProofsFromTheLog) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 37);
  const SignedCheckpoint cp = *ParseCheckpoint(*log->Checkpoint());
  for (uint64_t seq : {0, 1, 17, 36}) {
    absl::StatusOr<LogInclusionProof> p = log->InclusionProof(seq, 37);
    ASSERT_TRUE(p.ok()) << p.status();
    absl::StatusOr<LogInclusionProof> parsed = ParseInclusionProof(FormatInclusionProof(*p));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, *p);
    EXPECT_TRUE(VerifyInclusionProofAgainst(*parsed, cp.checkpoint).ok());
    // The leaf hash is that of the entry as stored.
    AuditEntry e = log->ReadEntries(seq, 1)->front();
    EXPECT_EQ(p->leaf_hash, LeafHash(*EncodeAuditEntry(e)));
  }
  for (uint64_t old_size : {0, 1, 8, 20, 37}) {
    absl::StatusOr<LogConsistencyProof> p = log->ConsistencyProof(old_size, 37);
    ASSERT_TRUE(p.ok());
    absl::StatusOr<LogConsistencyProof> parsed = ParseConsistencyProof(FormatConsistencyProof(*p));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(VerifyConsistencyProof(*parsed).ok());
    EXPECT_EQ(parsed->old_root, *log->RootAt(old_size));
  }
  EXPECT_EQ(log->InclusionProof(37, 37).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->InclusionProof(3, 38).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->ConsistencyProof(5, 38).status().code(), absl::StatusCode::kOutOfRange);
}

// Flips bytes throughout audit.log (header, record headers, entries, stored heads, the last record) and
// checks that each flip is detected by Open or Verify, naming the entry it hit.
TEST_F(AuditLogTest, ByteFlipsAnywhereAreDetectedAndLocalised) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 12);
    ASSERT_TRUE(log->Checkpoint().ok());
  }
  const std::string original = ReadFile(kLogPath);
  // Record boundaries, to know which seq each offset belongs to.
  std::vector<uint64_t> starts;
  for (uint64_t off = internal::kLogHeaderSize; off < original.size();) {
    starts.push_back(off);
    off += internal::kRecordHeaderSize +
           internal::LoadU32(reinterpret_cast<const uint8_t*>(original.data()) + off);
  }
  ASSERT_EQ(starts.size(), 12u);
  int checked = 0;
  for (size_t off = 0; off < original.size(); off += (off < 80 ? 1 : 5)) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string bad = original;
      bad[off] = static_cast<char>(bad[off] ^ mask);
      WriteFile(kLogPath, bad);
      const std::string msg = ExpectTamperDetected();
      if (off < internal::kLogHeaderSize) {
        EXPECT_THAT(msg, ::testing::AnyOf(HasSubstr("header"), HasSubstr("magic"), HasSubstr("public key")))
            << off;
      } else {
        size_t seq = 0;
        while (seq + 1 < starts.size() && starts[seq + 1] <= off) ++seq;
        EXPECT_THAT(msg, HasSubstr(absl::StrCat("entry seq ", seq, " "))) << "offset " << off << ": " << msg;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
  WriteFile(kLogPath, original);
  EXPECT_TRUE(OpenOrDie()->Verify().ok());
}

// Rewrites entry `victim` with valid checksums, either leaving the later stored heads alone (localised by
// the head check) or recomputing them all (caught only by the signed checkpoint).
std::string RewriteLog(const std::string& original, int victim, bool rehash) {
  std::string out = original.substr(0, internal::kLogHeaderSize);
  internal::CompactRange range;
  uint64_t off = internal::kLogHeaderSize;
  for (int seq = 0; off < original.size(); ++seq) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(original.data()) + off;
    const uint32_t len = internal::LoadU32(p);
    std::span<const uint8_t> body(p + internal::kRecordHeaderSize, len);
    std::vector<uint8_t> entry(body.begin() + 1, body.end() - 32);
    Hash head;
    std::copy(body.end() - 32, body.end(), head.begin());
    if (seq == victim) {
      AuditEntry e = *DecodeAuditEntry(entry);
      e.reason = "nothing to see here";
      entry = *EncodeAuditEntry(e);
    }
    range.Append(LeafHash(entry));
    std::vector<uint8_t> rec;
    internal::AppendEntryRecord(entry, rehash ? range.Root() : head, rec);
    out.append(reinterpret_cast<const char*>(rec.data()), rec.size());
    off += internal::kRecordHeaderSize + len;
  }
  return out;
}

TEST_F(AuditLogTest, NaiveRewriteNamesTheEntry) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 20);
  }
  WriteFile(kLogPath, RewriteLog(ReadFile(kLogPath), 7, /*rehash=*/false));
  const std::string msg = ExpectTamperDetected();
  EXPECT_THAT(msg, HasSubstr("entry seq 7 "));
  EXPECT_THAT(msg, HasSubstr("stored tree head"));
}

TEST_F(AuditLogTest, ConsistentRewriteCaughtBySignedCheckpoint) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 8);
    ASSERT_TRUE(log->Checkpoint().ok());
    Fill(*log, 12, 8);
    ASSERT_TRUE(log->Checkpoint().ok());
    Fill(*log, 4, 20);
  }
  const std::string original = ReadFile(kLogPath);
  // Without checkpoints the rewrite would be self-consistent; the checkpoint of size 20 catches it and the
  // one of size 8 bounds the range.
  WriteFile(kLogPath, RewriteLog(original, 11, /*rehash=*/true));
  const std::string msg = ExpectTamperDetected();
  EXPECT_THAT(msg, HasSubstr("signed checkpoint #1 (size 20"));
  EXPECT_THAT(msg, HasSubstr("seq in [8, 20)"));

  // An entry after the last checkpoint rewritten consistently is NOT detectable without a witness
  // (documented).
  WriteFile(kLogPath, RewriteLog(original, 22, /*rehash=*/true));
  EXPECT_TRUE(OpenOrDie({.read_only = true})->Verify().ok());
}

TEST_F(AuditLogTest, TruncatingCheckpointedEntriesIsDataLoss) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 10);
    ASSERT_TRUE(log->Checkpoint().ok());
  }
  const std::string original = ReadFile(kLogPath);
  // Cut the file in the middle of the last record: looks like a torn tail, but the checkpoint covers it.
  WriteFile(kLogPath, original.substr(0, original.size() - 10));
  absl::StatusOr<std::unique_ptr<AuditLog>> log = Reopen();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("signed checkpoint covers 10 entries but only 9"));
  // And the file was not modified.
  EXPECT_EQ(ReadFile(kLogPath).size(), original.size() - 10);
}

TEST_F(AuditLogTest, TornTailIsTruncatedAndReported) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 5);
  }
  const std::string good = ReadFile(kLogPath);
  // A final record written only in part (as a crash mid-write leaves it), for every possible cut.
  std::vector<uint8_t> rec;
  AuditEntry e = SampleEntry(5);
  e.seq = 5;
  internal::AppendEntryRecord(*EncodeAuditEntry(e), Hash{}, rec);
  for (size_t cut = 1; cut < rec.size(); cut += 3) {
    WriteFile(kLogPath, good + std::string(reinterpret_cast<const char*>(rec.data()), cut));
    {
      AuditLogOptions ro;
      ro.read_only = true;
      absl::StatusOr<std::unique_ptr<AuditLog>> r = Reopen(ro);
      ASSERT_TRUE(r.ok()) << cut << ": " << r.status();
      EXPECT_EQ((*r)->recovery().torn_tail_bytes, cut);
      EXPECT_FALSE((*r)->recovery().torn_tail_truncated);
      EXPECT_EQ(ReadFile(kLogPath).size(), good.size() + cut);
    }
    std::unique_ptr<AuditLog> log = OpenOrDie();
    EXPECT_EQ(log->recovery().torn_tail_offset, good.size());
    EXPECT_EQ(log->recovery().torn_tail_bytes, cut) << cut;
    EXPECT_TRUE(log->recovery().torn_tail_truncated);
    EXPECT_FALSE(log->recovery().torn_tail_reason.empty());
    EXPECT_EQ(ReadFile(kLogPath), good);
    EXPECT_EQ(log->size(), 5u);
  }
  // The file's size reached the disk before all its data: the record's end reads as zeros (a torn write),
  // with the rest of the last sector zero too. Both a body and a header written in part are torn tails.
  // (A real record ends in a tree head, a hash: not in zeros.)
  std::vector<uint8_t> real;
  Hash head;
  head.fill(0xAB);
  internal::AppendEntryRecord(*EncodeAuditEntry(e), head, real);
  const std::string rec_text(reinterpret_cast<const char*>(real.data()), real.size());
  const std::string zero_sector(512, '\0');
  for (size_t written :
       {size_t{4}, size_t{8}, internal::kRecordHeaderSize + 3, rec.size() / 2, rec.size() - 8}) {
    WriteFile(kLogPath,
              good + rec_text.substr(0, written) + std::string(rec.size() - written, '\0') + zero_sector);
    std::unique_ptr<AuditLog> torn = OpenOrDie();
    EXPECT_EQ(torn->recovery().torn_tail_offset, good.size()) << written;
    EXPECT_TRUE(torn->recovery().torn_tail_truncated) << written;
    EXPECT_EQ(ReadFile(kLogPath), good) << written;
  }
  // ... but a flipped bit in a complete final record is damage, not a torn write.
  {
    std::string damaged = rec_text;
    damaged[real.size() / 2] ^= 0x10;
    WriteFile(kLogPath, good + damaged);
    EXPECT_EQ(Reopen().status().code(), absl::StatusCode::kDataLoss);
    WriteFile(kLogPath, good + damaged + zero_sector);
    EXPECT_EQ(Reopen().status().code(), absl::StatusCode::kDataLoss) << "zeros after it do not make it torn";
  }
  // A zero-filled tail (file extended, data never written).
  WriteFile(kLogPath, good + std::string(4096, '\0'));
  std::unique_ptr<AuditLog> log = OpenOrDie();
  EXPECT_EQ(log->recovery().torn_tail_reason, "zero-filled tail");
  Fill(*log, 3, 5);
  EXPECT_TRUE(log->Verify().ok());
  // Garbage (non-zero) after the last record is corruption, not a torn write.
  log.reset();
  WriteFile(kLogPath, ReadFile(kLogPath) + std::string(40, 'x'));
  EXPECT_EQ(Reopen().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditLogTest, DiskFullFailsAppendLosesNothingAcknowledged) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 10);
  env_.SetWriteLimit(50);  // the next record is written only in part
  absl::StatusOr<uint64_t> r = log->Append(SampleEntry(10));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("No space left on device"));  // the Env's error is passed on
  EXPECT_THAT(r.status().message(), HasSubstr("nothing was acknowledged"));
  // Still full: the log cannot repair itself yet, and says so.
  absl::StatusOr<uint64_t> r2 = log->Append(SampleEntry(10));
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.status().message(), HasSubstr("earlier write failure"));
  // Space again: the next Append repairs the file and gets the next seq.
  env_.SetWriteLimit(std::nullopt);
  ASSERT_EQ(*log->Append(SampleEntry(10)), 10u);
  EXPECT_TRUE(log->Verify().ok());
  log.reset();

  // A crash right after a failed (partial) write that was never repaired: reopen recovers.
  log = OpenOrDie();
  env_.SetWriteLimit(30);
  EXPECT_FALSE(log->Append(SampleEntry(11)).ok());
  log.reset();
  env_.SimulateCrash();
  env_.SetWriteLimit(std::nullopt);
  log = OpenOrDie();
  EXPECT_EQ(log->size(), 11u);
  absl::StatusOr<AuditVerifyReport> v = log->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->entries, 11u);
}

TEST_F(AuditLogTest, FailedSyncFailsAppendAndLogStaysConsistent) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 4);
  env_.FailNextOperation(base::testing::TestEnv::Op::kSync, absl::InternalError("fdatasync: EIO (injected)"));
  absl::StatusOr<uint64_t> r = log->Append(SampleEntry(4));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("EIO"));
  // The failed entry is gone (repaired right away) and its seq is reused.
  EXPECT_EQ(log->size(), 4u);
  ASSERT_EQ(*log->Append(SampleEntry(4)), 4u);
  ASSERT_EQ(*log->Append(SampleEntry(5)), 5u);
  env_.FailNextOperation(base::testing::TestEnv::Op::kAppend, absl::InternalError("write: EIO (injected)"));
  EXPECT_FALSE(log->Append(SampleEntry(6)).ok());
  ASSERT_EQ(*log->Append(SampleEntry(6)), 6u);
  log.reset();
  env_.SimulateCrash();
  log = OpenOrDie();
  EXPECT_EQ(log->size(), 7u);
  std::vector<AuditEntry> entries = *log->ReadEntries(0);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(entries[i].reason, absl::StrCat("reason ", i));
  EXPECT_TRUE(log->Verify().ok());
}

TEST_F(AuditLogTest, FailedCheckpointWriteThenRecovers) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 3);
  env_.FailNextOperation(base::testing::TestEnv::Op::kSync, absl::InternalError("EIO (injected)"));
  EXPECT_FALSE(log->Checkpoint().ok());
  ASSERT_TRUE(log->Checkpoint().ok());
  EXPECT_EQ(log->ReadCheckpoints()->size(), 1u);
  EXPECT_TRUE(log->Verify().ok());
}

// Appenders run while the "machine" crashes: every Append acknowledged before the crash survives it.
TEST_F(AuditLogTest, SimulatedCrashMidBurst) {
  std::unique_ptr<AuditLog> log = OpenOrDie();
  Fill(*log, 3);
  std::atomic<bool> crashed{false};
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  absl::Mutex mu;
  std::vector<std::pair<uint64_t, std::string>> before_crash;  // seq, reason
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        AuditEntry e = SampleEntry(i, absl::StrCat("t", t));
        e.reason = absl::StrCat("t", t, "-", i);
        absl::StatusOr<uint64_t> seq = log->Append(e);
        // Only an Append that returned before the crash began is known durable.
        if (seq.ok() && !crashed.load()) {
          absl::MutexLock lock(&mu);
          before_crash.emplace_back(*seq, e.reason);
        }
        ++acked;
      }
    });
  }
  while (acked.load() < 200) std::this_thread::yield();
  crashed = true;
  env_.SetWriteLimit(0);  // nothing more reaches the disk: the process is "dead"
  env_.SimulateCrash();
  stop = true;
  for (std::thread& th : threads) th.join();
  log.reset();
  env_.SetWriteLimit(std::nullopt);

  log = OpenOrDie();
  ASSERT_GE(before_crash.size(), 100u);
  std::vector<AuditEntry> entries = *log->ReadEntries(0);
  for (const auto& [seq, reason] : before_crash) {
    ASSERT_LT(seq, entries.size());
    EXPECT_EQ(entries[seq].reason, reason);
  }
  absl::StatusOr<AuditVerifyReport> v = log->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(log->Append(SampleEntry(0)).ok());
}

TEST_F(AuditLogTest, CorruptCheckpointFileIsDataLoss) {
  {
    std::unique_ptr<AuditLog> log = OpenOrDie();
    Fill(*log, 3);
    ASSERT_TRUE(log->Checkpoint().ok());
  }
  std::string cps = ReadFile(kCheckpointPath);
  cps[cps.size() / 2] ^= 0x20;
  WriteFile(kCheckpointPath, cps);
  absl::StatusOr<std::unique_ptr<AuditLog>> log = Reopen();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("checkpoint # 0"));
}

}  // namespace
}  // namespace veil::audit
