#include "veil/table/schema.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "veil/base/utf8.h"

namespace veil::table {

Schema::Schema(std::vector<Field> fields) : fields_(std::move(fields)) {
  index_.reserve(fields_.size());
  for (int i = 0; i < num_fields(); ++i) index_.emplace(fields_[i].name, i);
}

absl::StatusOr<Schema> Schema::Make(std::vector<Field> fields) {
  absl::flat_hash_map<std::string_view, int> seen;
  for (int i = 0; i < static_cast<int>(fields.size()); ++i) {
    const std::string& name = fields[i].name;
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("field ", i + 1, " has an empty name"));
    if (!base::IsValidUtf8(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field ", i + 1, " has a name that is not valid UTF-8: \"", absl::CHexEscape(name), "\""));
    }
    auto [it, inserted] = seen.emplace(name, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("fields ", it->second + 1, " and ", i + 1,
                                                     " have the same name \"", absl::CHexEscape(name), "\""));
    }
  }
  return Schema(std::move(fields));
}

std::optional<int> Schema::FindField(std::string_view name) const {
  auto it = index_.find(absl::string_view(name.data(), name.size()));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::string Schema::ToString() const {
  std::string out;
  for (const Field& f : fields_) {
    if (!out.empty()) out += ", ";
    absl::StrAppend(&out, f.name, ": ", internal::ToAbsl(DataTypeName(f.type)),
                    f.nullable ? "" : " not null");
  }
  return out;
}

}  // namespace veil::table
