// Re-identification risk of a table under the prosecutor, journalist and marketer attacker models.
//
//   VEIL_ASSIGN_OR_RETURN(anon::RiskReport r, anon::AssessRisk(table, {"age", "zip", "sex"}));
//   if (r.prosecutor.highest > 0.2) ...
//
// Definitions (El Emam, "Guide to the De-Identification of Personal Health Information", CRC Press 2013,
// ch. 13-15; El Emam and Dankar, "Protecting Privacy Using k-Anonymity", JAMIA 15(5), 2008; ARX's
// RiskModelSampleRisks and RiskModelPopulationUniqueness). The records that share their quasi-identifier (QI)
// values form an equivalence class. Let the sample (the table assessed) have n records in J classes, f_j the
// size of class j, and for record r let j(r) be its class. A population table, when given, is the larger set
// of people the sample was drawn from; F_j is the number of population records with class j's QI values.
//
//   Prosecutor (the attacker knows the target is in the sample):
//     risk(r)          = 1 / f_j(r)
//     highest          = max_r risk(r) = 1 / min_j f_j
//     average          = (1/n) sum_r risk(r) = J / n            (ARX: 1 / average class size)
//     records at risk  = |{r : risk(r) > T}| / n                (strictly above the threshold T)
//     sample uniques   = |{r : f_j(r) = 1}| / n
//   Journalist (the attacker knows the target is in the population; only with a population table):
//     risk(r)          = 1 / F_j(r)
//     highest          = 1 / min_j F_j                          (over the classes present in the sample)
//     average          = (1/n) sum_r risk(r) = (1/n) sum_j f_j / F_j
//     records at risk  = |{r : risk(r) > T}| / n
//   Marketer (the attacker re-identifies as many records as possible; the expected fraction correct):
//     with a population      (1/n) sum_j f_j / F_j              (equals the journalist average)
//     without a population   J / n                              (equals the prosecutor average)
//
// Suppressed records. A record whose every QI value is "*" (kSuppressed, as ARX and `veil anon kanon
// --suppressed keep-star` write suppressed records) is excluded from n, from the classes and from every
// figure above, unless RiskOptions::suppressed_form_a_class is set (then they are one class of their own);
// RiskReport::suppressed counts them. A "*" in only some QIs is an ordinary (generalized) value. With n = 0
// every risk is 0 (as in ARX).
//
// Population. The population must contain the sample: every sample class must occur in the population at
// least f_j times (F_j >= f_j). A sample combination the population lacks, or has fewer times than the
// sample, is an error (InvalidArgument naming the first such sample record by its
// 1-based data row), not a silent
// fallback to the prosecutor figures: it means the two files do not describe the same people (or were
// generalized differently), and any journalist figure computed from them would understate the risk.
// Suppressed population records ("*" in every QI) are ignored too.
//
// Values. Table inputs are compared by their text (Column::FormatValue), so a sample and a population whose
// columns were inferred with different types (int64 "39" and string "39") still match; null is a value of
// its own, equal only to null (not to the text "NULL").
//
// Errors never contain data values: they name columns and 1-based data rows (row 1 = the first record) only.
//
// Thread safety: all functions are thread-safe (no shared state).
#ifndef VEIL_ANON_RISK_H_
#define VEIL_ANON_RISK_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/table/table.h"

namespace veil::anon {

// The value ARX and `veil anon kanon` write in every QI of a suppressed record.
inline constexpr std::string_view kSuppressed = "*";

struct RiskOptions {
  // T of "records at risk": a record is at risk when its risk exceeds T (strictly), i.e. for the
  // prosecutor when its class has fewer than 1/T records. Must be in [0, 1]. Default 0.2: records in
  // classes smaller than 5, El Emam's threshold for data released to the public.
  double threshold = 0.2;
  // How records with "*" in every QI (suppressed records) count. false (default, ARX's risk analysis): they
  // are left out of n and of every figure. true: they are released rows like any other, and together they
  // form one equivalence class (an attacker sees a class of "*" rows); RiskReport::suppressed still counts
  // them, and they are in records, classes and every figure. Use true to assess a file that still holds its
  // suppressed rows (`veil anon kanon --suppressed keep-star`): a small '*' class is a real risk.
  bool suppressed_form_a_class = false;
};

struct ProsecutorRisk {
  double highest = 0;          // 1 / min_j f_j
  double average = 0;          // J / n
  double records_at_risk = 0;  // fraction of the n records with 1 / f_j(r) > T
  double sample_uniques = 0;   // fraction of the n records alone in their class
  int64_t smallest_class = 0;  // min_j f_j (0 when n = 0)
};

struct JournalistRisk {
  double highest = 0;                     // 1 / min_j F_j over the sample's classes
  double average = 0;                     // (1/n) sum_j f_j / F_j
  double records_at_risk = 0;             // fraction of the n records with 1 / F_j(r) > T
  int64_t smallest_population_class = 0;  // min_j F_j over the sample's classes (0 when n = 0)
  int64_t population_records = 0;         // population records, suppressed ones excluded
};

struct RiskReport {
  int64_t records = 0;     // n: the sample's records that are not suppressed
  int64_t suppressed = 0;  // sample records with "*" in every QI (excluded from everything else, unless
                           // RiskOptions::suppressed_form_a_class)
  int64_t classes = 0;     // J: equivalence classes among the n records
  double threshold = 0;    // T used for "records at risk"
  ProsecutorRisk prosecutor;
  std::optional<JournalistRisk> journalist;  // set when a population was given
  double marketer = 0;                       // (1/n) sum_j f_j / F_j with a population, J / n without
};

// The risk of `sample` with the columns named in `quasi_identifiers` as QIs, and the journalist figures
// when `population` is not null (it must have columns of the same names; other columns are ignored).
// Errors: InvalidArgument for an empty or repeated QI list, a QI that is not a column of the sample ("no
// column "x" in the sample") or of the population, a threshold outside [0, 1], and a population that does
// not contain the sample (above).
absl::StatusOr<RiskReport> AssessRisk(const table::Table& sample,
                                      std::span<const std::string> quasi_identifiers,
                                      const RiskOptions& options = {},
                                      const table::Table* population = nullptr);

// The same on rows of QI values held as text (row r's QIs are sample[r][0..q-1]; every row, population rows
// included, must have the same number q >= 1 of values). Errors: InvalidArgument for rows of different
// widths (naming the row), a threshold outside [0, 1], and a population that does not contain the sample.
absl::StatusOr<RiskReport> AssessRiskOfRows(
    std::span<const std::vector<std::string>> sample, const RiskOptions& options = {},
    const std::vector<std::vector<std::string>>* population = nullptr);

// The same from equivalence class sizes already counted (for callers that group integer-encoded records
// themselves, as the k-anonymity search does): sample_class_sizes[j] = f_j, and either no population sizes
// or population_class_sizes[j] = F_j for the same j. `suppressed` is copied into the report.
// Errors: InvalidArgument if a size is < 1, the two spans differ in length (when the second is not empty),
// some F_j < f_j (naming j), or the threshold is outside [0, 1].
absl::StatusOr<RiskReport> RiskFromClassSizes(std::span<const int64_t> sample_class_sizes,
                                              std::span<const int64_t> population_class_sizes,
                                              int64_t suppressed, const RiskOptions& options = {});

}  // namespace veil::anon

#endif  // VEIL_ANON_RISK_H_
