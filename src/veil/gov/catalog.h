// The data map (issue 11, item 1): what personal data each dataset holds, about whom, for which purposes, on
// which legal basis, shared with whom, kept how long. It is built from three things:
//
//   - column annotations: the data categories of each column (taxonomy.h keys) and its re-identification
//     role, set by the PII classifier at ingest (with its confidence and evidence) and confirmed or
//     overridden by a person (`veil catalog annotate`);
//   - processing declarations, one per dataset and purpose (`veil catalog declare`): the purpose's legal
//     basis (GDPR Art. 6(1)), the condition for special categories (Art. 9(2)) or criminal data (Art. 10)
//     where the dataset holds them, the data subject types, recipients, transfers outside the EEA with their
//     safeguard (Art. 44-49), the envisaged retention, and whether the purpose makes decisions based solely
//     on automated processing (Art. 22);
//   - the taxonomy, built in and extended by the workspace (`veil catalog taxonomy add`).
//
// The declarations are policy, not only paperwork: the gate reads the legal basis of the purpose an operation
// states (DeclarationFor) and, where it is consent, uses only the rows of subjects who consented (consent.h).
//
// Who may do what: reading the map is the catalog operation (`datasets`: owner, analyst, auditor; not
// audited); annotating, declaring and extending the taxonomy are owner operations, audited, their entry
// written before the change commits.
//
// Thread safety: as the Session (not thread-safe).
#ifndef VEIL_GOV_CATALOG_H_
#define VEIL_GOV_CATALOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/gov/session.h"
#include "veil/gov/taxonomy.h"
#include "veil/store/workspace.h"

namespace veil::gov {

// The lawful bases of Art. 6(1).
enum class LegalBasis {
  kConsent,              // (a) the data subject has given consent for the purpose
  kContract,             // (b) necessary for a contract with the data subject
  kLegalObligation,      // (c) necessary for compliance with a legal obligation
  kVitalInterests,       // (d) necessary to protect someone's vital interests
  kPublicTask,           // (e) a task in the public interest or official authority
  kLegitimateInterests,  // (f) the legitimate interests of the controller or a third party
};

// "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests".
const char* LegalBasisName(LegalBasis basis);
std::optional<LegalBasis> ParseLegalBasis(std::string_view name);
// "Art. 6(1)(a)" ...
const char* LegalBasisArticle(LegalBasis basis);

// The conditions of Art. 9(2) for special categories, and of Art. 10 for criminal data.
enum class SpecialBasis {
  kNone,
  kExplicitConsent,            // 9(2)(a)
  kEmployment,                 // 9(2)(b) employment, social security and social protection law
  kVitalInterests,             // 9(2)(c) vital interests, the subject incapable of giving consent
  kNotForProfit,               // 9(2)(d) a not-for-profit body, about its members
  kMadePublic,                 // 9(2)(e) manifestly made public by the data subject
  kLegalClaims,                // 9(2)(f) legal claims or courts acting in their judicial capacity
  kSubstantialPublicInterest,  // 9(2)(g)
  kHealthCare,                 // 9(2)(h) preventive or occupational medicine, care, treatment
  kPublicHealth,               // 9(2)(i)
  kResearch,                   // 9(2)(j) archiving, scientific or historical research, statistics
  kOfficialAuthority,          // Art. 10: under the control of official authority
  kAuthorisedByLaw,            // Art. 10: authorised by Union or Member State law with safeguards
};

// "", "explicit_consent", "employment", "vital_interests", "not_for_profit", "made_public", "legal_claims",
// "substantial_public_interest", "health_care", "public_health", "research", "official_authority",
// "authorised_by_law".
const char* SpecialBasisName(SpecialBasis basis);
std::optional<SpecialBasis> ParseSpecialBasis(std::string_view name);
// "Art. 9(2)(a)" ... "Art. 10"; "" for kNone.
const char* SpecialBasisArticle(SpecialBasis basis);
// Whether the condition is one of Art. 10 (criminal data) rather than Art. 9(2).
bool IsArticle10Basis(SpecialBasis basis);

// A transfer of personal data to a third country or an international organisation (Chapter V).
struct Transfer {
  std::string to;         // where: an ISO 3166 country code ("US") or an organisation's name
  std::string safeguard;  // "adequacy" (Art. 45), "scc" (46(2)(c)), "bcr" (47), "derogation" (49), "other"
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

// Parses "US:scc". Errors: InvalidArgument naming the accepted safeguards.
absl::StatusOr<Transfer> ParseTransfer(std::string_view text);

// One processing activity: a dataset used for a purpose.
struct Declaration {
  std::string dataset;
  std::string purpose;  // a dotted key; a use in the taxonomy or below one
  LegalBasis basis = LegalBasis::kLegitimateInterests;
  SpecialBasis special_basis = SpecialBasis::kNone;
  std::vector<std::string> subject_types;  // taxonomy subject keys
  std::vector<std::string> recipients;     // who receives the data (organisations, services), may be empty
  std::vector<Transfer> transfers;
  std::string retention;             // the envisaged time limit in words ("10 years after the last visit")
  bool automated_decisions = false;  // decisions based solely on automated processing (Art. 22)
  std::string description;
  std::string declared_by;
  absl::Time declared_at;
};

// Whether subjects must have consented for their rows to be used under this declaration: the Art. 6 basis is
// consent, or the Art. 9 condition is explicit consent.
bool NeedsConsent(const Declaration& d);

// What `veil catalog annotate` changes about a column.
struct AnnotateRequest {
  std::optional<std::vector<std::string>> categories;  // replace the categories ([]: no personal data)
  std::optional<std::string> role;  // "direct_identifier", "quasi_identifier", "free_text" or "none"
  bool confirm = false;             // confirm the classifier's categories as they are
  std::string note;                 // why, in words (no personal data); kept as the evidence
};

// A column of the map.
struct MappedColumn {
  std::string name;
  std::string type;
  bool subject_column = false;
  std::optional<store::ColumnAnnotation> annotation;  // nullopt: never classified or annotated
  Special special = Special::kNone;                   // the strongest status among its categories
};

// A dataset of the map.
struct MappedDataset {
  store::DatasetInfo info;
  std::vector<MappedColumn> columns;       // schema order
  std::vector<Declaration> declarations;   // purpose order
  std::vector<std::string> categories;     // every category its columns hold, sorted
  std::vector<std::string> special;        // of them, the special ones (Art. 9 or 10)
  std::vector<std::string> subject_types;  // union of its declarations'
  // What is missing or inconsistent, in words: a declared purpose without a declaration, special categories
  // without an Art. 9 condition, columns not classified or not confirmed, purposes outside the taxonomy.
  std::vector<std::string> findings;
};

struct DataMap {
  std::vector<MappedDataset> datasets;  // name order
};

// The declarations of a dataset (purpose order), read without the gate (for the Session and the reports).
absl::StatusOr<std::vector<Declaration>> LoadDeclarations(store::Workspace& ws, std::string_view dataset);
// The declaration that governs `purpose` on `dataset`: the one of the most specific declared purpose that
// covers it ("research" governs "research.cohort" unless "research.cohort" has its own), or nullopt.
absl::StatusOr<std::optional<Declaration>> DeclarationFor(store::Workspace& ws, std::string_view dataset,
                                                          std::string_view purpose);
// The built-in taxonomy with the workspace's additions.
absl::StatusOr<Taxonomy> LoadTaxonomy(store::Workspace& ws);
// The map of every dataset (or of one), without the gate.
absl::StatusOr<DataMap> BuildDataMap(store::Workspace& ws, const Taxonomy& taxonomy,
                                     std::optional<std::string_view> dataset = std::nullopt);

// `veil catalog --json`: {"datasets": [{"name", "kind", "rows", "subjects", "subject_column",
// "subject_types", "purposes", "columns": [{"name", "type", "subject_column", "categories", "role", "source",
// "confidence", "confirmed", "evidence", "special"}], "categories", "special_categories", "declarations":
// [{"purpose", "legal_basis", "legal_basis_article", "special_basis", "special_basis_article",
// "subject_types", "recipients", "transfers": [{"to", "safeguard"}], "retention", "automated_decisions",
// "description", "declared_by", "declared_at"}], "findings"}]}.
nlohmann::ordered_json DataMapToJson(const DataMap& map);
nlohmann::ordered_json DeclarationToJson(const Declaration& d);
// The map as a Graphviz graph (left to right): subject types -> datasets -> categories held; datasets ->
// purposes (with their basis) -> recipients and transfers. Special categories are drawn in red.
std::string DataMapToDot(const DataMap& map);

// A short text a person typed (recipient, description, note, a report's controller): at most `max_bytes`,
// valid UTF-8, no control characters, and not empty unless `allow_empty`. The error names `what`.
absl::Status ValidateText(std::string_view what, std::string_view text, size_t max_bytes, bool allow_empty);

// The gated, audited catalog operations of a session.
class Catalog {
 public:
  explicit Catalog(Session& session) : session_(session) {}

  // The map (catalog read: owner, analyst, auditor; not audited). Errors: PermissionDenied (audited);
  // NotFound for an unknown dataset.
  absl::StatusOr<DataMap> Map(std::optional<std::string_view> dataset = std::nullopt);
  absl::StatusOr<Taxonomy> GetTaxonomy();

  // Sets or confirms a column's annotation (catalog.annotate: owner; audited before it commits).
  // Errors: PermissionDenied (audited); NotFound (dataset); InvalidArgument (an unknown column or category,
  // a bad role, nothing to change, confirming a column that has no annotation, a note over 256 bytes).
  absl::StatusOr<store::ColumnAnnotation> Annotate(std::string_view dataset, std::string_view column,
                                                   const AnnotateRequest& request);

  // Records (or replaces) the declaration of d.dataset for d.purpose (catalog.declare: owner; audited). The
  // purpose becomes one of the dataset's declared purposes if it was not. Errors: PermissionDenied
  // (audited); NotFound (dataset); InvalidArgument (a purpose outside the uses of the taxonomy, an unknown
  // subject type, a special basis given for a dataset without special categories is accepted, but a
  // missing one is a finding, not an error; bad texts).
  absl::StatusOr<Declaration> Declare(Declaration d);
  // Removes a declaration (the purpose stays declared for the gate). Errors: as Declare; NotFound.
  absl::Status Undeclare(std::string_view dataset, std::string_view purpose);

  // Adds a key to the workspace's taxonomy (taxonomy.add: owner; audited). Errors: Taxonomy::Add's.
  absl::StatusOr<TaxonomyEntry> AddTaxonomyKey(TaxonomyEntry entry);

 private:
  Session& session_;
};

}  // namespace veil::gov

#endif  // VEIL_GOV_CATALOG_H_
