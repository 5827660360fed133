// Fuzz target for ARX hierarchy files (anon::Hierarchy::ParseArxCsv, DESIGN.md 5.11) and the search on them.
//
// The first byte picks the separator (';', ',', '\t' or '|'); the rest is the hierarchy text. For every
// input:
//   - ParseArxCsv returns a hierarchy or InvalidArgument, never crashes or hangs;
//   - a parsed hierarchy satisfies its invariants (every row as long as the first, every label valid UTF-8,
//     leaves unique and found by FindLeaf, levels consistent), and ToArxCsv parses back to the same rows;
//   - for a small one, a table made of its leaves encodes, and the optimal k=2 search either finds a node
//     that CheckNode confirms or reports that none exists.
// Any violation calls __builtin_trap() so that libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "veil/anon/hierarchy.h"
#include "veil/anon/kanon.h"
#include "veil/base/utf8.h"
#include "veil/table/csv_reader.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckInvariants(const veil::anon::Hierarchy& h) {
  Check(h.num_leaves() > 0 && h.num_levels() > 0);
  for (int i = 0; i < h.num_leaves(); ++i) {
    Check(static_cast<int>(h.rows()[i].size()) == h.num_levels());
    Check(h.FindLeaf(h.Label(i, 0)) == i);
    for (int l = 0; l < h.num_levels(); ++l) Check(veil::base::IsValidUtf8(h.Label(i, l)));
  }
  for (int l = 0; l + 1 < h.num_levels(); ++l) {
    std::map<std::string, std::string> parent;
    for (int i = 0; i < h.num_leaves(); ++i) {
      auto [it, inserted] = parent.emplace(h.Label(i, l), h.Label(i, l + 1));
      Check(inserted || it->second == h.Label(i, l + 1));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr char kSeparators[] = {';', ',', '\t', '|'};
  const char sep = kSeparators[data[0] & 3];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<veil::anon::Hierarchy> h = veil::anon::Hierarchy::ParseArxCsv(text, "fuzz.csv", sep);
  if (!h.ok()) {
    Check(h.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CheckInvariants(*h);
  absl::StatusOr<veil::anon::Hierarchy> again =
      veil::anon::Hierarchy::ParseArxCsv(h->ToArxCsv(sep), "again", sep);
  Check(again.ok() && again->rows() == h->rows());

  if (h->num_leaves() > 64 || h->num_levels() > 8) return 0;
  // A one-column table holding every leaf once, plus the first leaf again (so k=2 can hold at the bottom for
  // at least one class).
  auto schema = veil::table::Schema::Make({veil::table::Field{"v", veil::table::DataType::kString, false}});
  Check(schema.ok());
  veil::table::TableBuilder builder(*schema);
  for (int i = 0; i < h->num_leaves(); ++i) builder.column(0).AppendString(h->Label(i, 0));
  builder.column(0).AppendString(h->Label(0, 0));
  absl::StatusOr<veil::table::Table> t = builder.Finish();
  Check(t.ok());
  std::vector<std::string> qis = {"v"};
  absl::StatusOr<veil::anon::EncodedTable> e = veil::anon::EncodeTable(*t, qis, {*h});
  Check(e.ok());
  veil::anon::SearchOptions options;
  options.model.k = 2;
  absl::StatusOr<veil::anon::SearchResult> r = veil::anon::OptimalSearch(*e, options);
  Check(r.ok());
  if (r->found) {
    absl::StatusOr<veil::anon::NodeCheck> c = veil::anon::CheckNode(*e, r->levels, options.model);
    Check(c.ok() && c->anonymous);
  } else {
    // Not even the top level is 2-anonymous.
    absl::StatusOr<veil::anon::NodeCheck> c = veil::anon::CheckNode(*e, {h->num_levels() - 1}, options.model);
    Check(c.ok() && !c->anonymous);
  }
  return 0;
}
