// The taxonomy of the data map (issue 11, item 1): what kinds of personal data a workspace holds (data
// categories), what it is used for (data uses, the purposes of the gate), and about whom (data subject
// types). Each is a dotted lower-case key ("user.contact.email", "marketing.advertising", "patient") whose
// parent is the key without its last segment: "user.contact" is the parent of "user.contact.email", and a key
// inherits what its ancestors say about it. Today that is one property: whether a category is a special
// category of personal data (GDPR Art. 9(1): racial or ethnic origin, political opinions, religious or
// philosophical beliefs, trade union membership, genetic, biometric, health, sex life or sexual orientation)
// or data relating to criminal convictions and offences (Art. 10). A child of a special category is special;
// a user cannot declare it otherwise.
//
// The built-in lists (BuiltinTaxonomy) are Veil's own, organised in the spirit of Ethyca Fides' taxonomy
// (categories under "user" and "system", uses such as "marketing.advertising" and "train_ai_system"), with
// the GDPR's special categories as their own branches so that inheritance marks them. A workspace extends
// them with `veil catalog taxonomy add` (catalog.h keeps the additions in workspace.db).
//
// Thread safety: a Taxonomy is a value; const methods are thread-safe.
#ifndef VEIL_GOV_TAXONOMY_H_
#define VEIL_GOV_TAXONOMY_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace veil::gov {

enum class TaxonomyKind { kCategory, kUse, kSubject };

// "category", "use", "subject".
const char* TaxonomyKindName(TaxonomyKind kind);
std::optional<TaxonomyKind> ParseTaxonomyKind(std::string_view name);

// What the GDPR says of a data category.
enum class Special {
  kNone,   // ordinary personal data (or not personal data at all, under "system")
  kArt9,   // a special category (Art. 9(1)): processing needs an Art. 9(2) condition besides an Art. 6 basis
  kArt10,  // personal data relating to criminal convictions and offences (Art. 10)
};

// "none", "art9", "art10".
const char* SpecialName(Special s);
std::optional<Special> ParseSpecial(std::string_view name);

struct TaxonomyEntry {
  TaxonomyKind kind = TaxonomyKind::kCategory;
  std::string key;
  std::string description;
  Special special = Special::kNone;  // as declared on this key (see Taxonomy::SpecialOf for the inherited)
  bool builtin = true;
  std::string added_by;  // user additions
  absl::Time added_at;
};

// Keys: 1 to 128 characters, dot-separated segments of [a-z0-9_] each starting with a letter
// ("user.contact.email", "train_ai_system"). Errors: InvalidArgument saying what is wrong.
absl::Status ValidateTaxonomyKey(std::string_view key);

// The key without its last segment ("user.contact" for "user.contact.email"); "" for a top-level key.
std::string_view ParentKey(std::string_view key);

// True if `key` is `ancestor` or below it ("user.contact.email" under "user.contact"). The gate's purpose
// rule (gate.h PurposeCovers) is the same relation.
bool KeyCovers(std::string_view ancestor, std::string_view key);

class Taxonomy {
 public:
  // Veil's built-in lists.
  static Taxonomy Builtin();

  // Adds a user key. Its parent must be in the taxonomy (a top-level key has none), and a key below a
  // special category inherits that status (declaring it kNone is fine: the inherited status applies; a
  // different special status is an error). Errors: InvalidArgument (bad key, unknown parent, a description
  // that is empty, longer than 512 bytes or has control characters, a conflicting special status);
  // AlreadyExists.
  absl::Status Add(TaxonomyEntry entry);

  // The entry of exactly this key, or null.
  const TaxonomyEntry* Find(TaxonomyKind kind, std::string_view key) const;
  // The entry of the key or of its nearest ancestor in the taxonomy, or null: a purpose
  // "research.cohort_2026" is a use under "research" even if nobody added it.
  const TaxonomyEntry* FindNearest(TaxonomyKind kind, std::string_view key) const;
  // The special status of a category key, inherited from its ancestors (the strongest on the path).
  Special SpecialOf(std::string_view category) const;

  // Every entry of a kind, in key order.
  std::vector<const TaxonomyEntry*> Entries(TaxonomyKind kind) const;

 private:
  std::map<std::string, TaxonomyEntry, std::less<>> entries_[3];  // by kind, key order
};

// The data category that a PII classifier result names (pii::ColumnClassification::category: an entity name
// such as "EMAIL_ADDRESS" or a category such as "sex"), given the column's header (to tell a date of birth
// from another date). nullopt when the classifier found no personal data or names something unknown.
std::optional<std::string> CategoryForClassifierLabel(std::string_view label, std::string_view column_name);

}  // namespace veil::gov

#endif  // VEIL_GOV_TAXONOMY_H_
