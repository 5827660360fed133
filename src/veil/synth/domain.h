// Discretized data for marginal-based synthesizers (MST, AIM; issue 8): a Domain (named attributes, each with
// a finite number of values 0 .. size-1) and a DiscreteTable (one integer code per row and attribute), plus
// marginal counting: the counts of every combination of values of a set of attributes, as a dense vector.
//
// Dense layout of a marginal over attributes (a_0, ..., a_{k-1}) (in the order given): the cell of codes
// (c_0, ..., c_{k-1}) is sum_i c_i * stride_i with stride_{k-1} = 1 and stride_i = stride_{i+1} *
// size(a_{i+1}), i.e. row-major, the last attribute varying fastest (the layout of numpy's ravel_multi_index,
// as in Private-PGM's Dataset.project(...).datavector()).
//
// Domain files: the AIM paper's datasets (github.com/ryan112358/hd-datasets) ship a JSON object
// {"attr": size, ...}; Veil's copy (../shared/data/adult/adult_aim_discretized_domain.csv) is the same as a
// CSV with header "attribute,size" and one line per attribute. ParseDomainCsv reads that form.
//
// Mixed tables (numbers, dates, strings) are discretized into a DiscreteTable by a separate step (still to be
// written for issue 8: public or DP bounds, binning, rare-category merging, decoding back to typed values).
//
// Thread safety: Domain and DiscreteTable are immutable values once built; concurrent reads are safe.
#ifndef VEIL_SYNTH_DOMAIN_H_
#define VEIL_SYNTH_DOMAIN_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/table/table.h"

namespace veil::synth {

// Largest accepted size of one attribute and largest number of cells of one marginal (a dense vector of
// doubles of that many cells is 2 GiB).
inline constexpr int64_t kMaxAttributeSize = int64_t{1} << 24;
inline constexpr int64_t kMaxMarginalCells = int64_t{1} << 28;

struct Attribute {
  std::string name;
  int64_t size = 0;  // number of values; codes are 0 .. size-1
};

class Domain {
 public:
  Domain() = default;
  // Errors: InvalidArgument for an empty or duplicate name or a size outside [1, kMaxAttributeSize] (the
  // message names the attribute).
  static absl::StatusOr<Domain> Create(std::vector<Attribute> attributes);

  int num_attributes() const { return static_cast<int>(attributes_.size()); }
  const Attribute& attribute(int i) const { return attributes_[i]; }
  const std::vector<Attribute>& attributes() const { return attributes_; }
  int64_t size(int i) const { return attributes_[i].size; }
  // The index of the attribute named `name`, or -1.
  int Find(std::string_view name) const;

  // The number of cells of the marginal over `attrs`. Errors: InvalidArgument for an index out of range or
  // repeated, or more than kMaxMarginalCells cells.
  absl::StatusOr<int64_t> MarginalCells(std::span<const int> attrs) const;

  friend bool operator==(const Domain& a, const Domain& b);

 private:
  std::vector<Attribute> attributes_;
};

// Parses a domain CSV: header "attribute,size", then one "name,size" line per attribute (blank lines and
// surrounding spaces ignored). Errors: InvalidArgument "<source>:<line>: ..." for a bad header, a line
// without two fields, a size that is not an integer in [1, kMaxAttributeSize], a duplicate name, or no
// attribute at all.
absl::StatusOr<Domain> ParseDomainCsv(std::string_view text, std::string_view source = "<string>");
// Reads and parses the file at `path` through `env` (I/O errors as the Env returns them).
absl::StatusOr<Domain> ReadDomainCsv(base::Env& env, const std::string& path);

class DiscreteTable {
 public:
  DiscreteTable() = default;
  // codes[i][row] is attribute i's code in `row`. Errors: InvalidArgument if codes.size() differs from the
  // number of attributes, the columns differ in length, or a code is outside [0, size) (naming attribute and
  // row).
  static absl::StatusOr<DiscreteTable> Create(Domain domain, std::vector<std::vector<int32_t>> codes);

  // A table of integer-coded columns (e.g. adult_aim_discretized.csv read by table::ReadCsv): for each
  // attribute of `domain`, the column of the same name (the table's column order does not matter; extra
  // columns are an error so that nothing is silently dropped). Errors: InvalidArgument naming the column if
  // it is missing, not int64, has a null, or holds a value outside [0, size), or if the table has a column
  // the domain does not list.
  static absl::StatusOr<DiscreteTable> FromTable(const table::Table& t, const Domain& domain);

  const Domain& domain() const { return domain_; }
  int num_attributes() const { return domain_.num_attributes(); }
  int64_t num_rows() const { return num_rows_; }
  std::span<const int32_t> column(int i) const { return codes_[i]; }
  int32_t code(int64_t row, int attr) const { return codes_[attr][row]; }

  // The counts of the marginal over `attrs` in the dense layout above (as doubles, exact below 2^53 rows).
  // Cost: one pass over the rows touching |attrs| columns. Errors: as Domain::MarginalCells.
  absl::StatusOr<std::vector<double>> Marginal(std::span<const int> attrs) const;

  // A table::Table with one int64 column per attribute (for writing with table::WriteCsv).
  absl::StatusOr<table::Table> ToTable() const;

 private:
  Domain domain_;
  std::vector<std::vector<int32_t>> codes_;
  int64_t num_rows_ = 0;
};

namespace internal {
// Adds 1 to out[cell(row)] for every row, the cell as in the dense layout. Preconditions: codes valid,
// out sized to the product of the sizes. Specialised for 1, 2 and 3 attributes.
void CountInto(const DiscreteTable& t, std::span<const int> attrs, std::span<double> out);
}  // namespace internal

}  // namespace veil::synth

#endif  // VEIL_SYNTH_DOMAIN_H_
