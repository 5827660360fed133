#include "veil/audit/log_format.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "veil/audit/encoding.h"
#include "veil/base/status_macros.h"

namespace veil::audit::internal {
namespace {

constexpr size_t kReadChunk = 1 << 20;

// A forward-only buffered reader over a SequentialFile that can look ahead by a whole record.
// The index where the run of zero bytes that ends `bytes` starts (bytes.size() if the last byte is not zero).
size_t TrailingZeroStart(std::span<const uint8_t> bytes) {
  size_t i = bytes.size();
  while (i > 0 && bytes[i - 1] == 0) --i;
  return i;
}

// How many zero bytes must end a record whose checksum fails for it to count as torn rather than damaged.
// A torn write zeroes whole sectors; a record's last bytes are a tree head (a hash), which ends in eight zero
// bytes with probability 2^-64.
constexpr size_t kMinTornZeros = 8;

class BufferedReader {
 public:
  BufferedReader(std::unique_ptr<base::SequentialFile> file, uint64_t limit)
      : file_(std::move(file)), limit_(limit) {}

  // Makes at least n bytes available at the cursor unless the file (or the limit) ends first; returns how
  // many are available.
  absl::StatusOr<size_t> Ensure(size_t n) {
    while (avail() < n && !eof_) {
      if (pos_ > 0) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(pos_));
        pos_ = 0;
      }
      const uint64_t room = limit_ - (offset_ + avail());
      if (room == 0) {
        eof_ = true;
        break;
      }
      const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(kReadChunk, n - avail()), room));
      const size_t old = buf_.size();
      buf_.resize(old + want);
      absl::StatusOr<size_t> got =
          file_->Read(std::span<char>(reinterpret_cast<char*>(buf_.data() + old), want));
      if (!got.ok()) return got.status();
      buf_.resize(old + *got);
      if (*got == 0) eof_ = true;
    }
    return std::min(avail(), n);
  }
  const uint8_t* data() const { return buf_.data() + pos_; }
  void Consume(size_t n) {
    pos_ += n;
    offset_ += n;
  }
  uint64_t offset() const { return offset_; }
  size_t avail() const { return buf_.size() - pos_; }

  // Reads to the end (or the limit); returns true if every byte from the cursor on is zero.
  absl::StatusOr<bool> RestIsZero() {
    while (true) {
      const size_t want = avail() + 1;
      VEIL_ASSIGN_OR_RETURN(size_t got, Ensure(want));
      for (size_t i = 0; i < avail(); ++i) {
        if (data()[i] != 0) return false;
      }
      if (got < want) return true;
      Consume(avail());
    }
  }
  // Reads (and consumes) everything up to the end or the limit.
  absl::Status ReadToEnd() {
    while (true) {
      const size_t want = avail() + 1;
      VEIL_ASSIGN_OR_RETURN(size_t got, Ensure(want));
      if (got < want) return absl::OkStatus();
      Consume(avail());
    }
  }
  // Offset of the end of the data (after ReadToEnd).
  uint64_t end() const { return offset_ + avail(); }

 private:
  std::unique_ptr<base::SequentialFile> file_;
  uint64_t limit_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
};

}  // namespace

std::vector<uint8_t> EncodeLogHeader(const LogHeader& header) {
  std::vector<uint8_t> out;
  out.reserve(kLogHeaderSize);
  out.insert(out.end(), kLogMagic, kLogMagic + sizeof(kLogMagic));
  PutU32(out, kLogFormatVersion);
  PutBytes(out, header.log_id);
  PutBytes(out, header.public_key);
  PutU32(out, MaskCrc(Crc32c(out)));
  return out;
}

absl::StatusOr<LogHeader> DecodeLogHeader(std::span<const uint8_t> bytes, const std::string& path) {
  if (bytes.size() < kLogHeaderSize) {
    return absl::DataLossError(
        absl::StrCat(path, ": file header truncated (", bytes.size(), " of ", kLogHeaderSize, " bytes)"));
  }
  if (std::memcmp(bytes.data(), kLogMagic, sizeof(kLogMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a Veil audit log (bad magic at byte 0)"));
  }
  if (LoadU32(bytes.data() + 60) != MaskCrc(Crc32c(bytes.subspan(0, 60)))) {
    return absl::DataLossError(absl::StrCat(path, ": file header checksum mismatch (bytes 0 to 63)"));
  }
  const uint32_t version = LoadU32(bytes.data() + 8);
  if (version != kLogFormatVersion) {
    return absl::DataLossError(absl::StrCat(path, ": unsupported format version ", version, " at byte 8"));
  }
  LogHeader h;
  std::memcpy(h.log_id.data(), bytes.data() + 12, kLogIdSize);
  std::memcpy(h.public_key.data(), bytes.data() + 28, h.public_key.size());
  return h;
}

void AppendRecord(std::span<const uint8_t> body, std::vector<uint8_t>& out) {
  uint8_t header[kRecordHeaderSize];
  StoreU32(header, static_cast<uint32_t>(body.size()));
  StoreU32(header + 4, MaskCrc(Crc32c(std::span<const uint8_t>(header, 4))));
  StoreU32(header + 8, MaskCrc(Crc32c(body)));
  out.insert(out.end(), header, header + kRecordHeaderSize);
  out.insert(out.end(), body.begin(), body.end());
}

void AppendEntryRecord(std::span<const uint8_t> entry, const Hash& head, std::vector<uint8_t>& out) {
  const size_t body_size = 1 + entry.size() + head.size();
  const size_t at = out.size();
  out.resize(at + kRecordHeaderSize + body_size);
  uint8_t* p = out.data() + at;
  uint8_t* body = p + kRecordHeaderSize;
  body[0] = kEntryRecord;
  std::memcpy(body + 1, entry.data(), entry.size());
  std::memcpy(body + 1 + entry.size(), head.data(), head.size());
  StoreU32(p, static_cast<uint32_t>(body_size));
  StoreU32(p + 4, MaskCrc(Crc32c(std::span<const uint8_t>(p, 4))));
  StoreU32(p + 8, MaskCrc(Crc32c(std::span<const uint8_t>(body, body_size))));
}

absl::StatusOr<ScanResult> ScanRecords(base::Env& env, const std::string& path, const ScanOptions& options,
                                       const std::function<absl::Status(std::span<const uint8_t>)>& prefix_fn,
                                       const RecordFn& fn) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::SequentialFile> file, env.NewSequentialFile(path));
  BufferedReader in(std::move(file), options.limit);
  ScanResult result;
  if (options.start > 0) {
    VEIL_ASSIGN_OR_RETURN(size_t got, in.Ensure(options.start));
    if (prefix_fn) VEIL_RETURN_IF_ERROR(prefix_fn(std::span<const uint8_t>(in.data(), got)));
    if (got < options.start) {
      return absl::DataLossError(
          absl::StrCat(path, ": file shorter than its ", options.start, "-byte header"));
    }
    in.Consume(got);
  }
  auto corrupt = [&](uint64_t offset, std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", options.record_name, " ", result.records, " at byte ",
                                            offset, ": ", std::string(what)));
  };
  while (true) {
    const uint64_t offset = in.offset();
    VEIL_ASSIGN_OR_RETURN(size_t have, in.Ensure(kRecordHeaderSize));
    if (have == 0) break;  // clean end
    std::string torn;
    if (have < kRecordHeaderSize) {
      torn = absl::StrCat("incomplete record header (", have, " of ", kRecordHeaderSize, " bytes)");
    } else {
      const uint8_t* h = in.data();
      const uint32_t length = LoadU32(h);
      if (LoadU32(h + 4) != MaskCrc(Crc32c(std::span<const uint8_t>(h, 4)))) {
        // A header written in part: its end (at least the body checksum) and everything after it are zero.
        const size_t written = TrailingZeroStart(std::span<const uint8_t>(h, kRecordHeaderSize));
        bool zero = false;
        if (written <= kRecordHeaderSize - 4) {
          in.Consume(kRecordHeaderSize);
          VEIL_ASSIGN_OR_RETURN(zero, in.RestIsZero());
        }
        if (!zero) return corrupt(offset, "record header checksum mismatch");
        torn = written == 0 ? "zero-filled tail" : "record header written in part";
      } else if (length == 0 || length > kMaxRecordBody) {
        return corrupt(offset, absl::StrCat("impossible record length ", length));
      } else {
        VEIL_ASSIGN_OR_RETURN(have, in.Ensure(kRecordHeaderSize + length));
        if (have < kRecordHeaderSize + length) {
          torn = absl::StrCat("incomplete record (", have, " of ", kRecordHeaderSize + length, " bytes)");
        } else {
          std::span<const uint8_t> body(in.data() + kRecordHeaderSize, length);
          if (LoadU32(in.data() + 8) != MaskCrc(Crc32c(body))) {
            // A body written in part: the file's size reached the disk before all of its data (a torn
            // write leaves whole sectors of zeros). Anything else is damage to written data.
            const size_t zeros = length - TrailingZeroStart(body);
            bool zero = false;
            if (zeros >= std::min<size_t>(kMinTornZeros, length)) {
              in.Consume(kRecordHeaderSize + length);
              VEIL_ASSIGN_OR_RETURN(zero, in.RestIsZero());
            }
            if (!zero) return corrupt(offset, "record checksum mismatch");
            torn = "record written in part (its end is zeros)";
          } else {
            VEIL_RETURN_IF_ERROR(fn(result.records, offset, body));
            in.Consume(kRecordHeaderSize + length);
            ++result.records;
            continue;
          }
        }
      }
    }
    // A torn tail: nothing valid follows.
    result.valid_end = offset;
    VEIL_RETURN_IF_ERROR(in.ReadToEnd());
    result.file_end = in.end();
    result.tail_reason = torn;
    if (!options.allow_torn_tail) return corrupt(offset, torn);
    return result;
  }
  result.valid_end = in.offset();
  result.file_end = in.offset();
  if (options.require_limit && options.limit != UINT64_MAX && result.file_end < options.limit) {
    return absl::DataLossError(absl::StrCat(path, ": file ends at byte ", result.file_end,
                                            " but the log has acknowledged records up to byte ",
                                            options.limit));
  }
  return result;
}

absl::Status TruncateFileTo(base::Env& env, const std::string& dir, const std::string& path,
                            uint64_t length) {
  const std::string tmp = path + ".truncate-tmp";
  {
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::SequentialFile> in, env.NewSequentialFile(path));
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::WritableFile> out, env.NewWritableFile(tmp));
    std::vector<char> buf(kReadChunk);
    uint64_t left = length;
    while (left > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      VEIL_ASSIGN_OR_RETURN(size_t got, in->Read(std::span<char>(buf.data(), want)));
      if (got == 0) {
        return absl::DataLossError(
            absl::StrCat(path, ": ended before byte ", length, " while copying its valid prefix"));
      }
      VEIL_RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), got)));
      left -= got;
    }
    VEIL_RETURN_IF_ERROR(out->Sync());
    VEIL_RETURN_IF_ERROR(out->Close());
  }
  VEIL_RETURN_IF_ERROR(env.RenameFile(tmp, path));
  return env.SyncDir(dir);
}

void CompactRange::Append(const Hash& leaf_hash) {
  Hash h = leaf_hash;
  // Each trailing one bit of the old size is a complete subtree that the new leaf's subtree now pairs with.
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = NodeHash(nodes_.back(), h);
    nodes_.pop_back();
  }
  nodes_.push_back(h);
  ++size_;
}

Hash CompactRange::Root() const {
  if (nodes_.empty()) return EmptyTreeHash();
  Hash r = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) r = NodeHash(nodes_[i], r);
  return r;
}

}  // namespace veil::audit::internal
