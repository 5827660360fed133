// Column classification: which columns of a table hold which kind of personal data (data mapping).
//
// Two kinds of evidence are combined per column:
//   1. The header name, normalized (lowercase, camelCase and punctuation split into words joined by "_") and
//      looked up in a list of synonyms ("email", "e_mail", "tel", "dob", "surname", "postcode", ...). A whole
//      name match ("zip_code") weighs more than a word match ("home_zip").
//   2. A deterministic sample of up to `sample_size` non-null values (evenly spaced rows), each run through
//      the Analyzer, after the header's words as context when the header names an entity type ("zip: 62701";
//      `header_context`). A value counts for
//      a type when one span of that type covers at least `min_value_coverage` of its (trimmed) bytes; a value
//      with spans that cover less is free text that contains personal data. A distinct value is analyzed once
//      (string columns are dictionary-encoded).
// The type with most values wins when at least `min_value_fraction` of the sample has it; the confidence is
// then the fraction, raised by a header that agrees (noisy-or: 1 - (1 - h)(1 - f)) and lowered when the
// header names another type. Without value evidence the header decides, with its own weight; a header that
// names a type the analyzer recognizes in isolation (an email, a card number) whose sampled values show
// none of it is halved. Columns below `min_confidence` are reported as not personal.
//
// Each column also gets a role: a direct identifier (names, contact details, account and document numbers,
// record ids), a quasi-identifier (age, sex, ZIP code, dates such as the date of birth, location, race,
// marital status, occupation, nationality... the attributes linkage attacks join on: Sweeney 2002,
// "k-anonymity"), or free text containing personal data. The evidence is explained in words, e.g.
// "header 'email'; 98/100 sampled values are EMAIL_ADDRESS".
//
// Thread safety: ClassifyTable is const on its inputs and may run concurrently.
#ifndef VEIL_PII_CLASSIFIER_H_
#define VEIL_PII_CLASSIFIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/entity.h"
#include "veil/table/table.h"

namespace veil::pii {

enum class ColumnRole : uint8_t {
  kNone,              // no personal data found
  kDirectIdentifier,  // identifies a person on its own: name, email, phone, SSN, card, record id, ...
  kQuasiIdentifier,   // identifies in combination: age, sex, ZIP, dates, location, race, occupation, ...
  kFreeText,          // text that contains personal data among other words (notes, comments)
};

// "none", "direct_identifier", "quasi_identifier", "free_text".
std::string_view ColumnRoleName(ColumnRole role);

struct ClassifyOptions {
  // Non-null values sampled per column (evenly spaced rows; all of them when the column has fewer). >= 1.
  int64_t sample_size = 100;
  // When the header names an entity type, analyze each value after the header's words ("zip: 62701",
  // "age: 39"), as a reader sees it, so that recognizers that need a context word can fire; only spans over
  // the value count. Off (or another header): values alone.
  bool header_context = true;
  // A span must cover this fraction of a value's trimmed bytes for the value to count as that type.
  double min_value_coverage = 0.8;
  // The share of sampled values a type needs to be the column's type on value evidence alone.
  double min_value_fraction = 0.5;
  // The share of sampled values with (non-covering) spans for a column to be free text with personal data.
  double min_free_text_fraction = 0.1;
  // Columns whose combined confidence is lower are reported as kNone.
  double min_confidence = 0.3;
};

struct ColumnClassification {
  int column = 0;    // index in the table
  std::string name;  // header
  ColumnRole role = ColumnRole::kNone;
  // The kind of personal data, if it has an entity type (a record id or "sex" has none: see `category`).
  std::optional<EntityType> entity;
  // A short name for what the column holds: the entity name ("EMAIL_ADDRESS"), or a category without an
  // entity type ("identifier", "sex", "race", "marital_status", "occupation", "nationality", "education"),
  // or "" for kNone.
  std::string category;
  double confidence = 0;  // in [0, 1]
  std::string evidence;   // in words; never contains a value
  int64_t sampled = 0;    // non-null values examined
  int64_t matched = 0;    // of them, values of `entity` (covering spans) or, for free text, values with spans
};

// Classifies every column of `table`. Errors: InvalidArgument for bad options.
absl::StatusOr<std::vector<ColumnClassification>> ClassifyTable(const table::Table& table,
                                                                const Analyzer& analyzer,
                                                                const ClassifyOptions& options = {});

namespace internal {

// "firstName" -> "first_name", "E-Mail Address" -> "e_mail_address", "ZIP" -> "zip".
std::string NormalizeHeader(std::string_view header);

struct HeaderMatch {
  std::optional<EntityType> entity;
  std::string_view category;  // the entity name or a category ("identifier", "sex", ...)
  ColumnRole role = ColumnRole::kNone;
  double weight = 0;  // 0 when nothing matched
  std::string_view synonym;
};
// The header evidence for a column name.
HeaderMatch MatchHeader(std::string_view header);

}  // namespace internal
}  // namespace veil::pii

#endif  // VEIL_PII_CLASSIFIER_H_
