#include "veil/synth/domain.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/table/column.h"
#include "veil/table/schema.h"

namespace veil::synth {

absl::StatusOr<Domain> Domain::Create(std::vector<Attribute> attributes) {
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < attributes.size(); ++i) {
    const Attribute& a = attributes[i];
    if (a.name.empty())
      return absl::InvalidArgumentError(absl::StrCat("domain: attribute ", i, " has no name"));
    if (!seen.insert(a.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("domain: duplicate attribute \"", a.name, "\""));
    }
    if (a.size < 1 || a.size > kMaxAttributeSize) {
      return absl::InvalidArgumentError(absl::StrCat("domain: attribute \"", a.name, "\" has size ", a.size,
                                                     ", expected 1 to ", kMaxAttributeSize));
    }
  }
  Domain d;
  d.attributes_ = std::move(attributes);
  return d;
}

int Domain::Find(std::string_view name) const {
  for (int i = 0; i < num_attributes(); ++i) {
    if (attributes_[i].name == name) return i;
  }
  return -1;
}

absl::StatusOr<int64_t> Domain::MarginalCells(std::span<const int> attrs) const {
  int64_t cells = 1;
  for (size_t i = 0; i < attrs.size(); ++i) {
    const int a = attrs[i];
    if (a < 0 || a >= num_attributes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("marginal: attribute index ", a, " out of range [0, ", num_attributes(), ")"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (attrs[j] == a) {
        return absl::InvalidArgumentError(
            absl::StrCat("marginal: attribute \"", attributes_[a].name, "\" repeated"));
      }
    }
    cells *= attributes_[a].size;  // both factors <= 2^28 and 2^24: no overflow before the check
    if (cells > kMaxMarginalCells) {
      return absl::InvalidArgumentError(absl::StrCat("marginal: more than ", kMaxMarginalCells,
                                                     " cells over ", attrs.size(), " attributes"));
    }
  }
  return cells;
}

bool operator==(const Domain& a, const Domain& b) {
  if (a.attributes_.size() != b.attributes_.size()) return false;
  for (size_t i = 0; i < a.attributes_.size(); ++i) {
    if (a.attributes_[i].name != b.attributes_[i].name || a.attributes_[i].size != b.attributes_[i].size) {
      return false;
    }
  }
  return true;
}

namespace {

std::string_view Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

}  // namespace

absl::StatusOr<Domain> ParseDomainCsv(std::string_view text, std::string_view source) {
  std::vector<Attribute> attributes;
  bool header_seen = false;
  int line_no = 0;
  const std::string src(source);
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    line = Strip(line);
    if (line.empty()) continue;
    std::vector<std::string_view> fields = Split(line, ',');
    for (auto& f : fields) f = Strip(f);
    const std::string where = absl::StrCat(src, ":", line_no, ": ");
    if (!header_seen) {
      if (fields.size() != 2 || fields[0] != "attribute" || fields[1] != "size") {
        return absl::InvalidArgumentError(absl::StrCat(where, "expected the header \"attribute,size\""));
      }
      header_seen = true;
      continue;
    }
    if (fields.size() != 2 || fields[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "expected \"name,size\""));
    }
    const std::string name(fields[0]);
    int64_t size = 0;
    const auto [ptr, ec] = std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), size);
    if (ec != std::errc() || ptr != fields[1].data() + fields[1].size() || size < 1 ||
        size > kMaxAttributeSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "size of \"", name, "\" must be an integer in [1, ", kMaxAttributeSize, "]"));
    }
    for (const Attribute& a : attributes) {
      if (a.name == name) {
        return absl::InvalidArgumentError(absl::StrCat(where, "duplicate attribute \"", name, "\""));
      }
    }
    attributes.push_back({name, size});
  }
  if (attributes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(src, ": no attribute (expected \"attribute,size\" lines)"));
  }
  return Domain::Create(std::move(attributes));
}

absl::StatusOr<Domain> ReadDomainCsv(base::Env& env, const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string text, env.ReadFileToString(path));
  return ParseDomainCsv(text, path);
}

absl::StatusOr<DiscreteTable> DiscreteTable::Create(Domain domain, std::vector<std::vector<int32_t>> codes) {
  if (static_cast<int>(codes.size()) != domain.num_attributes()) {
    return absl::InvalidArgumentError(absl::StrCat("discrete table: ", codes.size(), " columns for ",
                                                   domain.num_attributes(), " attributes"));
  }
  const int64_t rows = codes.empty() ? 0 : static_cast<int64_t>(codes[0].size());
  for (int i = 0; i < domain.num_attributes(); ++i) {
    const auto& col = codes[i];
    if (static_cast<int64_t>(col.size()) != rows) {
      return absl::InvalidArgumentError(absl::StrCat("discrete table: column \"", domain.attribute(i).name,
                                                     "\" has ", col.size(), " rows, expected ", rows));
    }
    const int64_t size = domain.size(i);
    for (int64_t r = 0; r < rows; ++r) {
      if (col[r] < 0 || col[r] >= size) {
        return absl::InvalidArgumentError(absl::StrCat("discrete table: column \"", domain.attribute(i).name,
                                                       "\" row ", r, ": code ", col[r], " outside [0, ", size,
                                                       ")"));
      }
    }
  }
  DiscreteTable t;
  t.domain_ = std::move(domain);
  t.codes_ = std::move(codes);
  t.num_rows_ = rows;
  return t;
}

absl::StatusOr<DiscreteTable> DiscreteTable::FromTable(const table::Table& t, const Domain& domain) {
  for (int c = 0; c < t.num_columns(); ++c) {
    if (domain.Find(t.schema().field(c).name) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("discrete table: column \"", t.schema().field(c).name, "\" is not in the domain"));
    }
  }
  std::vector<std::vector<int32_t>> codes(domain.num_attributes());
  for (int i = 0; i < domain.num_attributes(); ++i) {
    const std::string& name = domain.attribute(i).name;
    const table::Column* col = t.FindColumn(name);
    if (col == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("discrete table: the table has no column \"", name, "\""));
    }
    if (col->type() != table::DataType::kInt64) {
      return absl::InvalidArgumentError(
          absl::StrCat("discrete table: column \"", name, "\" must hold integer codes"));
    }
    if (col->null_count() > 0) {
      return absl::InvalidArgumentError(absl::StrCat("discrete table: column \"", name, "\" has nulls"));
    }
    std::span<const int64_t> values = col->int64_values();
    auto& out = codes[i];
    out.resize(values.size());
    const int64_t size = domain.size(i);
    for (size_t r = 0; r < values.size(); ++r) {
      if (values[r] < 0 || values[r] >= size) {
        return absl::InvalidArgumentError(absl::StrCat("discrete table: column \"", name, "\" row ", r + 1,
                                                       ": code ", values[r], " outside [0, ", size, ")"));
      }
      out[r] = static_cast<int32_t>(values[r]);
    }
  }
  return Create(domain, std::move(codes));
}

namespace internal {

void CountInto(const DiscreteTable& t, std::span<const int> attrs, std::span<double> out) {
  const int64_t n = t.num_rows();
  // Counting in 32-bit integers first is faster than incrementing doubles (no store-to-load latency chain
  // on the FP unit); Marginal() admits fewer than 2^32 rows, so the counts fit.
  std::vector<uint32_t> counts(out.size(), 0);
  if (attrs.size() == 1) {
    const int32_t* a = t.column(attrs[0]).data();
    for (int64_t r = 0; r < n; ++r) ++counts[a[r]];
  } else if (attrs.size() == 2) {
    const int32_t* a = t.column(attrs[0]).data();
    const int32_t* b = t.column(attrs[1]).data();
    const int64_t sb = t.domain().size(attrs[1]);
    for (int64_t r = 0; r < n; ++r) ++counts[a[r] * sb + b[r]];
  } else if (attrs.size() == 3) {
    const int32_t* a = t.column(attrs[0]).data();
    const int32_t* b = t.column(attrs[1]).data();
    const int32_t* c = t.column(attrs[2]).data();
    const int64_t sc = t.domain().size(attrs[2]);
    const int64_t sbc = t.domain().size(attrs[1]) * sc;
    for (int64_t r = 0; r < n; ++r) ++counts[a[r] * sbc + b[r] * sc + c[r]];
  } else if (attrs.empty()) {
    counts[0] = static_cast<uint32_t>(n);
  } else {
    std::vector<int64_t> cell(n, 0);
    for (int a : attrs) {
      const int32_t* col = t.column(a).data();
      const int64_t s = t.domain().size(a);
      for (int64_t r = 0; r < n; ++r) cell[r] = cell[r] * s + col[r];
    }
    for (int64_t r = 0; r < n; ++r) ++counts[cell[r]];
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts[i];
}

}  // namespace internal

absl::StatusOr<std::vector<double>> DiscreteTable::Marginal(std::span<const int> attrs) const {
  VEIL_ASSIGN_OR_RETURN(int64_t cells, domain_.MarginalCells(attrs));
  if (num_rows_ >= (int64_t{1} << 32)) {
    return absl::InvalidArgumentError("marginal: at most 2^32 - 1 rows are supported");
  }
  std::vector<double> out(cells, 0.0);
  internal::CountInto(*this, attrs, out);
  return out;
}

absl::StatusOr<table::Table> DiscreteTable::ToTable() const {
  std::vector<table::Field> fields;
  std::vector<table::Column> columns;
  for (int i = 0; i < num_attributes(); ++i) {
    fields.push_back({domain_.attribute(i).name, table::DataType::kInt64, false});
    std::vector<int64_t> values(codes_[i].begin(), codes_[i].end());
    VEIL_ASSIGN_OR_RETURN(table::Column col, table::Column::FromInt64s(std::move(values)));
    columns.push_back(std::move(col));
  }
  VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
  return table::Table::Make(std::move(schema), std::move(columns));
}

}  // namespace veil::synth
