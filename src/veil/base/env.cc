#include "veil/base/env.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::base {

absl::StatusOr<std::string> Env::ReadFileToString(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, NewSequentialFile(path));
  std::string out;
  char buf[1 << 16];
  while (true) {
    VEIL_ASSIGN_OR_RETURN(size_t n, file->Read(std::span<char>(buf, sizeof(buf))));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
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
