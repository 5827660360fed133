// Mondrian multidimensional partitioning for k-anonymity (and distinct l-diversity): LeFevre, DeWitt and
// Ramakrishnan, "Mondrian Multidimensional K-Anonymity", ICDE 2006, strict partitioning (Section 4,
// Algorithm 1 with the "widest normalized range" dimension choice), with hierarchies for categorical
// attributes as in LeFevre et al.'s categorical extension and in ARX's / Gong's "basic Mondrian".
//
//   anon::MondrianOptions opt;
//   opt.k = 5;
//   opt.hierarchies["occupation"] = rows;  // ARX CSV rows: value, level 1, level 2, ...
//   VEIL_ASSIGN_OR_RETURN(anon::MondrianResult m, anon::Mondrian(table, quasi, opt));
//   VEIL_ASSIGN_OR_RETURN(table::Table out, anon::ApplyMondrian(table, m));
//
// Algorithm. Start with one partition holding every record. Repeatedly, for a partition, rank the QIs by
// their normalized range in it (widest first; ties by the order of `quasi_identifiers`) and take the first QI
// that has an allowable cut; cut there and recurse into the parts; a partition with no allowable cut on any
// QI becomes an equivalence class. A cut is allowable when every part has >= k records and, with l > 1, >= l
// distinct values of the sensitive column (distinct l-diversity; Machanavajjhala et al., ICDE 2006). Strict:
// parts never overlap, so every record is in exactly one class and every class has >= k records (and l
// distinct sensitive values). No record is suppressed.
//
// Numeric QIs (columns of type int64, double, date, timestamp) are cut at the median: the records with
// value <= m and those with value > m, m the partition's median value (the lower median for an even count).
// When many records share the median value, that cut may leave one side with < k records; the cut just
// below the run of equal values (< m and >= m) is then tried too, and the more balanced allowable one is
// taken. Normalized range: (max - min) / (max - min over the whole table). The generalized value is the
// partition's [min-max] ("[25-34]"; "25" when min = max; dates and timestamps as "[2024-01-01, 2024-03-02]",
// their text having dashes of its own). A hierarchy given for a numeric QI is not used:
// the median cuts are finer than any interval hierarchy.
//
// Categorical QIs (string and bool columns) are cut top-down along their generalization hierarchy (ARX's CSV
// form): a partition holds the node that is the lowest common ancestor of its values, and a cut splits it
// into one part per child node present (a multi-way cut, allowable only if every part is). Normalized range:
// the number of hierarchy leaves below the partition's node / the number of leaves of the whole hierarchy.
// The generalized value is that node's label (the original value when the partition has only one).
// Why hierarchies rather than an ordering of the values: an order on categories (alphabetical or by
// frequency) is arbitrary, so median cuts along it group unrelated values ("Adm-clerical" with
// "Armed-Forces"); a hierarchy's nodes are the groupings the data owner considers meaningful, the same
// generalizations the full-domain search uses, so both algorithms' outputs read alike and are scored by the
// same utility metrics. Missing values: a null (or empty) cell of a categorical QI is the value "", a
// category of its own (the flat hierarchy lists it; a given hierarchy needs a row for it); a null in a
// numeric QI is an error (median cuts cannot place it). A categorical QI with no hierarchy gets the flat one
// (every value -> "*"): it is cut into its single values when every value is frequent enough, else kept whole
// as "*". When the hierarchy's top level has more than one label, a root "*" is added above it.
//
// Cost: O(q n log n) time for n records and q QIs on integer-encoded columns, partitioned in place; the text
// of the values is looked at only to encode them and to write the result.
//
// Errors never contain data values; they name columns and 1-based rows (of the table's records, or of a
// hierarchy's rows, i.e. its file's lines). Thread safety: the functions are thread-safe.
#ifndef VEIL_ANON_MONDRIAN_H_
#define VEIL_ANON_MONDRIAN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/anon/hierarchy.h"
#include "veil/anon/utility.h"
#include "veil/table/table.h"

namespace veil::anon {

struct MondrianOptions {
  // Every class has at least k records. Must be >= 1 and <= the number of records.
  int64_t k = 2;
  // Distinct l-diversity on `sensitive` when l > 1: every class has at least l distinct sensitive values
  // (null is one value). 0 and 1 mean no l-diversity. `sensitive` must then name a column that is not a QI.
  int64_t l = 0;
  std::string sensitive;
  // Generalization hierarchies of categorical QIs, by column name, in ARX's CSV form: one row per original
  // value, row[0] the value (its text, Column::FormatValue), row[i] its generalization at level i; every row
  // has the same number of levels. Used for string and bool QIs; QIs of other types and names that are not
  // QIs are ignored.
  std::map<std::string, std::vector<std::vector<std::string>>, std::less<>> hierarchies;
};

// One QI as Mondrian saw it.
struct MondrianAttribute {
  std::string name;
  bool numeric = false;
  // Numeric QIs: the smallest and largest value in the table (dates as days since 1970-01-01, timestamps as
  // microseconds since the epoch).
  double min = 0;
  double max = 0;
  // Categorical QIs: the number of hierarchy leaves (original values the hierarchy lists; for the flat
  // hierarchy, the distinct values in the table) and the height of the hierarchy's top (its root "*"
  // included when one was added).
  int64_t leaves = 0;
  int height = 0;
};

// A class's generalized value of one QI.
struct MondrianValue {
  std::string text;  // what ApplyMondrian writes: "[25-34]", "25", or a hierarchy node's label
  // Numeric QIs: the smallest and largest original value in the class (units as MondrianAttribute::min).
  double low = 0;
  double high = 0;
  // Categorical QIs: the hierarchy level of the node (0 = an original value) and the number of hierarchy
  // leaves below it (1 for an original value). ARX's generalized loss of the value is (leaves - 1) /
  // (MondrianAttribute::leaves - 1) for these and (high - low) / (max - min) for numeric ones.
  int level = 0;
  int64_t leaves = 1;
};

struct MondrianClass {
  int64_t size = 0;                   // records in the class (>= k)
  std::vector<MondrianValue> values;  // one per QI, in the order of MondrianResult::attributes
};

struct MondrianResult {
  std::vector<MondrianAttribute> attributes;  // the QIs, in the order given
  std::vector<MondrianClass> classes;         // the equivalence classes
  std::vector<int32_t> class_of;              // class_of[row] indexes `classes`, for every input row
};

// Partitions `table` on the columns named in `quasi_identifiers` as described above.
// Errors: InvalidArgument for an empty or repeated QI list, a name that is not a column, k < 1, a table
// with fewer than k records (or fewer than l distinct sensitive values), a sensitive column that is missing
// or is a QI, a null in a numeric QI or a null the categorical QI's hierarchy has no "" row for (naming
// column and row: "column 'q', row 2: empty value; ..."), a categorical value the QI's hierarchy does not
// list (naming column and row), a malformed hierarchy (rows of different lengths, a value listed twice, a
// node with two different parents; naming the hierarchy's column and row).
absl::StatusOr<MondrianResult> Mondrian(const table::Table& table,
                                        std::span<const std::string> quasi_identifiers,
                                        const MondrianOptions& options);

// `table` with each QI column replaced by its records' generalized text (a non-nullable string column of
// the same name), the other columns unchanged. Errors: InvalidArgument if `result` does not fit `table`
// (row count, a QI column missing).
absl::StatusOr<table::Table> ApplyMondrian(const table::Table& table, const MondrianResult& result);

// The GeneralizedTable of a Mondrian result (utility.h), so that it is scored with the same metrics as a
// full-domain result (ScoreGeneralized). `encoded` is `typed` encoded against the QIs' hierarchies
// (EncodeTable, same QIs in the same order as `result.attributes`); `typed` is the table Mondrian ran on.
// Cells: a numeric class value [low, high] covers every hierarchy leaf whose value lies in it (a leaf's
// value as Mondrian saw it, taken from a record holding it; leaves absent from the data by parsing their
// text; leaves with neither are in no numeric cell); a categorical one covers the leaves below its hierarchy
// node (all leaves for Mondrian's added root). O((leaves + classes) log leaves) per QI.
// Errors: InvalidArgument if the shapes differ (QI count, rows); Internal if a categorical class value is
// not a node of the encoded hierarchy.
absl::StatusOr<GeneralizedTable> MondrianGeneralizedTable(const EncodedTable& encoded,
                                                          const MondrianResult& result,
                                                          const table::Table& typed);

}  // namespace veil::anon

#endif  // VEIL_ANON_MONDRIAN_H_
