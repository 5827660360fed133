#include "veil/base/env.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::base {

absl::StatusOr<std::string> Env::ReadFileToString(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, NewSequentialFile(path));
  // Read straight into a buffer of the file's size: appending in chunks would grow the string by doubling,
  // which for a 36 MB vault file copies it again and touches some 100 MB of fresh pages. The size is only a
  // hint (a pipe says 0, a file may grow while it is read): the buffer still grows when it fills up, and one
  // byte to spare lets the read that returns 0 find the end without growing it.
  const absl::StatusOr<uint64_t> size = GetFileSize(path);
  constexpr size_t kMinBuffer = 1 << 16;
  std::string out(size.ok() && *size > 0 ? static_cast<size_t>(*size) + 1 : kMinBuffer, '\0');
  size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(2 * out.size());
    VEIL_ASSIGN_OR_RETURN(size_t n, file->Read(std::span<char>(out.data() + used, out.size() - used)));
    if (n == 0) break;
    used += n;
  }
  const bool mostly_unused = 2 * used < out.size();  // the size was unknown, or the file shrank
  out.resize(used);
  if (mostly_unused) out.shrink_to_fit();
  return out;
}

namespace {

class StringContents final : public FileContents {
 public:
  explicit StringContents(std::string data) : data_(std::move(data)) {}
  std::span<const uint8_t> bytes() const override {
    return {reinterpret_cast<const uint8_t*>(data_.data()), data_.size()};
  }

 private:
  const std::string data_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileContents>> Env::ReadWholeFile(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  return std::make_unique<StringContents>(std::move(data));
}

absl::Status Env::WriteFileAtomically(const std::string& path, std::string_view data) {
  // The temporary name is fixed per target so that a crashed writer's leftover is simply overwritten by the
  // next attempt instead of accumulating.
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, NewWritableFile(tmp));
    absl::Status s = file->Append(data);
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = file->Close();
    if (!s.ok()) {
      DeleteFile(tmp).IgnoreError();
      return s;
    }
  }
  if (absl::Status s = RenameFile(tmp, path); !s.ok()) {
    DeleteFile(tmp).IgnoreError();
    return s;
  }
  const size_t slash = path.find_last_of('/');
  return SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

absl::Status Env::DeleteRecursively(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> children = ListDir(path);
  if (!children.ok()) {
    // Not a directory (or nothing there at all).
    if (!FileExists(path)) return absl::OkStatus();
    return DeleteFile(path);
  }
  for (const std::string& child : *children) {
    VEIL_RETURN_IF_ERROR(DeleteRecursively(absl::StrCat(path, "/", child)));
  }
  return DeleteDir(path);
}

}  // namespace veil::base
