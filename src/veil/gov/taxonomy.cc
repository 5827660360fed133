#include "veil/gov/taxonomy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace veil::gov {
namespace {

struct BuiltinKey {
  const char* key;
  Special special;
  const char* description;
};

// Data categories. "user" is personal data; "system" is data about systems that is not about a person.
// The special categories of Art. 9(1) and the criminal data of Art. 10 are whole branches, so that anything a
// workspace adds below them inherits the status.
constexpr BuiltinKey kCategories[] = {
    {"user", Special::kNone,
     "Personal data: any information relating to an identified or identifiable person"},
    {"user.name", Special::kNone, "Names: first, last, full, maiden names"},
    {"user.contact", Special::kNone, "Contact details"},
    {"user.contact.email", Special::kNone, "E-mail addresses"},
    {"user.contact.phone", Special::kNone, "Telephone and fax numbers"},
    {"user.contact.address", Special::kNone, "Postal addresses"},
    {"user.contact.address.postal_code", Special::kNone, "Postal and ZIP codes"},
    {"user.identifier", Special::kNone, "Identifiers assigned to a person"},
    {"user.identifier.account", Special::kNone, "Account, customer, patient and record numbers, user names"},
    {"user.identifier.government", Special::kNone,
     "Government identifiers: social security, tax, passport, driving licence, health service numbers"},
    {"user.identifier.device", Special::kNone, "Device and network identifiers: IP and MAC addresses"},
    {"user.authentication", Special::kNone, "Credentials: password hashes, security questions, tokens"},
    {"user.financial", Special::kNone, "Financial data"},
    {"user.financial.bank_account", Special::kNone, "Bank account numbers and IBANs"},
    {"user.financial.card", Special::kNone, "Payment card numbers"},
    {"user.financial.income", Special::kNone, "Income, salary and wealth"},
    {"user.financial.credit", Special::kNone, "Credit history, scores and debts"},
    {"user.demographic", Special::kNone, "Demographic attributes"},
    {"user.demographic.age", Special::kNone, "Age or age range"},
    {"user.demographic.date_of_birth", Special::kNone, "Date of birth"},
    {"user.demographic.sex", Special::kNone, "Sex or gender"},
    {"user.demographic.marital_status", Special::kNone, "Marital or family status"},
    {"user.demographic.nationality", Special::kNone, "Nationality and citizenship"},
    {"user.demographic.education", Special::kNone, "Education level and history"},
    {"user.employment", Special::kNone, "Employment: employer, occupation, job title, work history"},
    {"user.location", Special::kNone, "Location: city, region, country"},
    {"user.location.precise", Special::kNone, "Precise location: coordinates, places visited"},
    {"user.event_date", Special::kNone, "Dates of events in a person's life: admissions, purchases, visits"},
    {"user.behavior", Special::kNone, "Behaviour and activity"},
    {"user.behavior.browsing", Special::kNone, "Web browsing: URLs and domains visited"},
    {"user.behavior.purchase", Special::kNone, "Purchases and transactions"},
    {"user.content", Special::kNone, "Free text written by or about the person: notes, messages, comments"},
    {"user.inferred", Special::kNone, "Inferences: scores, segments, predictions about the person"},
    {"user.racial_ethnic_origin", Special::kArt9, "Racial or ethnic origin (Art. 9(1))"},
    {"user.political_opinion", Special::kArt9, "Political opinions (Art. 9(1))"},
    {"user.religious_belief", Special::kArt9, "Religious or philosophical beliefs (Art. 9(1))"},
    {"user.trade_union", Special::kArt9, "Trade union membership (Art. 9(1))"},
    {"user.genetic", Special::kArt9, "Genetic data (Art. 4(13), 9(1))"},
    {"user.biometric", Special::kArt9, "Biometric data for uniquely identifying a person (Art. 4(14), 9(1))"},
    {"user.health", Special::kArt9, "Data concerning health (Art. 4(15), 9(1))"},
    {"user.health.diagnosis", Special::kArt9, "Diagnoses and conditions"},
    {"user.health.treatment", Special::kArt9, "Treatments, prescriptions, procedures"},
    {"user.health.care_episode", Special::kArt9, "Admissions, stays and visits of health care"},
    {"user.sexual_orientation", Special::kArt9, "Sex life or sexual orientation (Art. 9(1))"},
    {"user.criminal", Special::kArt10, "Criminal convictions and offences (Art. 10)"},
    {"system", Special::kNone, "Data about systems and operations that relates to no person"},
    {"system.operations", Special::kNone, "Operational data: configuration, logs without personal data"},
};

// Data uses: the purposes a dataset is declared for and an operation states (gate.h).
constexpr BuiltinKey kUses[] = {
    {"essential", Special::kNone, "Providing the service the person asked for"},
    {"essential.service", Special::kNone, "Operating the service and its features"},
    {"essential.service.payment", Special::kNone, "Processing payments"},
    {"essential.service.support", Special::kNone, "Customer support"},
    {"care", Special::kNone, "Providing health or social care to the person"},
    {"care.treatment", Special::kNone, "Diagnosis and treatment"},
    {"care.billing", Special::kNone, "Billing of care"},
    {"analytics", Special::kNone, "Analysing use and outcomes"},
    {"analytics.reporting", Special::kNone, "Aggregate reporting and statistics"},
    {"research", Special::kNone, "Scientific or historical research"},
    {"research.cohort", Special::kNone, "Cohort and observational studies"},
    {"research.clinical", Special::kNone, "Clinical research"},
    {"marketing", Special::kNone, "Marketing"},
    {"marketing.advertising", Special::kNone, "Advertising, including targeted advertising"},
    {"marketing.direct", Special::kNone,
     "Direct marketing to the person (Art. 21(2): objection is absolute)"},
    {"marketing.profiling", Special::kNone, "Profiling for marketing segments"},
    {"personalize", Special::kNone, "Personalising content and recommendations"},
    {"improve", Special::kNone, "Improving the service"},
    {"train_ai_system", Special::kNone, "Training, testing and validating AI and machine-learning systems"},
    {"automated_decision", Special::kNone,
     "Decisions based solely on automated processing that affect the person (Art. 22)"},
    {"automated_decision.credit", Special::kNone, "Credit decisions"},
    {"automated_decision.recruitment", Special::kNone, "Recruitment and hiring decisions"},
    {"security", Special::kNone, "Security of systems and data"},
    {"security.fraud_detection", Special::kNone, "Detecting and preventing fraud"},
    {"legal", Special::kNone, "Compliance with legal obligations"},
    {"legal.claims", Special::kNone, "Establishment, exercise or defence of legal claims"},
    {"employment", Special::kNone, "Managing employment: payroll, HR, performance"},
};

constexpr BuiltinKey kSubjects[] = {
    {"customer", Special::kNone, "Customers of the organisation"},
    {"prospect", Special::kNone, "Prospective customers"},
    {"patient", Special::kNone, "Patients receiving care"},
    {"employee", Special::kNone, "Employees and workers"},
    {"applicant", Special::kNone, "Job applicants"},
    {"contractor", Special::kNone, "Contractors and suppliers' staff"},
    {"student", Special::kNone, "Students and pupils"},
    {"child", Special::kNone, "Children (Art. 8: consent of the holder of parental responsibility)"},
    {"citizen", Special::kNone, "Members of the public, citizens, residents"},
    {"user", Special::kNone, "Users of an online service"},
    {"visitor", Special::kNone, "Visitors of premises or websites"},
    {"research_participant", Special::kNone, "Participants in research studies"},
};

int Index(TaxonomyKind k) { return static_cast<int>(k); }

int Strength(Special s) { return s == Special::kNone ? 0 : s == Special::kArt10 ? 1 : 2; }

}  // namespace

const char* TaxonomyKindName(TaxonomyKind kind) {
  switch (kind) {
    case TaxonomyKind::kCategory:
      return "category";
    case TaxonomyKind::kUse:
      return "use";
    case TaxonomyKind::kSubject:
      return "subject";
  }
  return "?";
}

std::optional<TaxonomyKind> ParseTaxonomyKind(std::string_view name) {
  for (TaxonomyKind k : {TaxonomyKind::kCategory, TaxonomyKind::kUse, TaxonomyKind::kSubject}) {
    if (name == TaxonomyKindName(k)) return k;
  }
  return std::nullopt;
}

const char* SpecialName(Special s) {
  switch (s) {
    case Special::kNone:
      return "none";
    case Special::kArt9:
      return "art9";
    case Special::kArt10:
      return "art10";
  }
  return "?";
}

std::optional<Special> ParseSpecial(std::string_view name) {
  for (Special s : {Special::kNone, Special::kArt9, Special::kArt10}) {
    if (name == SpecialName(s)) return s;
  }
  return std::nullopt;
}

absl::Status ValidateTaxonomyKey(std::string_view key) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid taxonomy key \"", std::string(key.substr(0, 80)), "\": ", std::string(why)));
  };
  if (key.empty() || key.size() > 128) return bad("it must have 1 to 128 characters");
  bool segment_start = true;
  for (char c : key) {
    if (c == '.') {
      if (segment_start) return bad("a segment is empty");
      segment_start = true;
      continue;
    }
    if (segment_start && !absl::ascii_islower(c))
      return bad("each dot-separated segment must start with a lower-case letter");
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_')
      return bad(
          "use lower-case letters, digits and '_' in dot-separated segments (e.g. user.contact.email)");
    segment_start = false;
  }
  if (segment_start) return bad("it ends with a dot");
  return absl::OkStatus();
}

std::string_view ParentKey(std::string_view key) {
  const size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : key.substr(0, dot);
}

bool KeyCovers(std::string_view ancestor, std::string_view key) {
  if (ancestor.empty()) return false;
  return key == ancestor || (key.size() > ancestor.size() && key.substr(0, ancestor.size()) == ancestor &&
                             key[ancestor.size()] == '.');
}

Taxonomy Taxonomy::Builtin() {
  Taxonomy t;
  const auto load = [&](TaxonomyKind kind, const auto& list) {
    for (const BuiltinKey& b : list) {
      TaxonomyEntry e;
      e.kind = kind;
      e.key = b.key;
      e.description = b.description;
      e.special = b.special;
      e.builtin = true;
      t.entries_[Index(kind)].emplace(e.key, std::move(e));
    }
  };
  load(TaxonomyKind::kCategory, kCategories);
  load(TaxonomyKind::kUse, kUses);
  load(TaxonomyKind::kSubject, kSubjects);
  return t;
}

absl::Status Taxonomy::Add(TaxonomyEntry entry) {
  if (absl::Status s = ValidateTaxonomyKey(entry.key); !s.ok()) return s;
  if (entry.description.empty() || entry.description.size() > 512)
    return absl::InvalidArgumentError("a taxonomy key's description must have 1 to 512 bytes");
  for (unsigned char c : entry.description) {
    if (c < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError("a taxonomy key's description must not contain control characters");
  }
  auto& map = entries_[Index(entry.kind)];
  if (map.count(entry.key) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(TaxonomyKindName(entry.kind), " \"", entry.key, "\" is already in the taxonomy"));
  }
  const std::string_view parent = ParentKey(entry.key);
  if (!parent.empty() && map.find(parent) == map.end()) {
    return absl::InvalidArgumentError(absl::StrCat("the parent \"", std::string(parent), "\" of ",
                                                   TaxonomyKindName(entry.kind), " \"", entry.key,
                                                   "\" is not in the taxonomy; add it first"));
  }
  if (entry.kind != TaxonomyKind::kCategory && entry.special != Special::kNone)
    return absl::InvalidArgumentError("only data categories can be special categories");
  if (entry.kind == TaxonomyKind::kCategory && !parent.empty()) {
    const Special inherited = SpecialOf(parent);
    if (inherited != Special::kNone && entry.special != Special::kNone && entry.special != inherited) {
      return absl::InvalidArgumentError(absl::StrCat("\"", entry.key, "\" is below \"", std::string(parent),
                                                     "\", which is ", SpecialName(inherited),
                                                     "; it cannot be ", SpecialName(entry.special)));
    }
  }
  entry.builtin = false;
  map.emplace(entry.key, std::move(entry));
  return absl::OkStatus();
}

const TaxonomyEntry* Taxonomy::Find(TaxonomyKind kind, std::string_view key) const {
  const auto& map = entries_[Index(kind)];
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

const TaxonomyEntry* Taxonomy::FindNearest(TaxonomyKind kind, std::string_view key) const {
  for (std::string_view k = key; !k.empty(); k = ParentKey(k)) {
    if (const TaxonomyEntry* e = Find(kind, k)) return e;
  }
  return nullptr;
}

Special Taxonomy::SpecialOf(std::string_view category) const {
  Special strongest = Special::kNone;
  for (std::string_view k = category; !k.empty(); k = ParentKey(k)) {
    if (const TaxonomyEntry* e = Find(TaxonomyKind::kCategory, k);
        e && Strength(e->special) > Strength(strongest))
      strongest = e->special;
  }
  return strongest;
}

std::vector<const TaxonomyEntry*> Taxonomy::Entries(TaxonomyKind kind) const {
  std::vector<const TaxonomyEntry*> out;
  for (const auto& [key, e] : entries_[Index(kind)]) out.push_back(&e);
  return out;
}

std::optional<std::string> CategoryForClassifierLabel(std::string_view label, std::string_view column_name) {
  struct Map {
    std::string_view label;
    std::string_view category;
  };
  static constexpr Map kMap[] = {
      {"EMAIL_ADDRESS", "user.contact.email"},
      {"PHONE_NUMBER", "user.contact.phone"},
      {"CREDIT_CARD", "user.financial.card"},
      {"IBAN_CODE", "user.financial.bank_account"},
      {"US_SSN", "user.identifier.government"},
      {"US_ITIN", "user.identifier.government"},
      {"US_PASSPORT", "user.identifier.government"},
      {"US_DRIVER_LICENSE", "user.identifier.government"},
      {"UK_NHS", "user.identifier.government"},
      {"IP_ADDRESS", "user.identifier.device"},
      {"MAC_ADDRESS", "user.identifier.device"},
      {"URL", "user.behavior.browsing"},
      {"DOMAIN_NAME", "user.behavior.browsing"},
      {"ZIP_CODE", "user.contact.address.postal_code"},
      {"AGE", "user.demographic.age"},
      {"PERSON", "user.name"},
      {"STREET_ADDRESS", "user.contact.address"},
      {"LOCATION", "user.location"},
      {"identifier", "user.identifier.account"},
      {"sex", "user.demographic.sex"},
      {"race", "user.racial_ethnic_origin"},
      {"marital_status", "user.demographic.marital_status"},
      {"occupation", "user.employment"},
      {"nationality", "user.demographic.nationality"},
      {"education", "user.demographic.education"},
  };
  if (label == "DATE_TIME") {
    // The classifier has one type for every date; the header tells a date of birth from other dates.
    const std::string lower = absl::AsciiStrToLower(std::string(column_name));
    const bool birth = absl::StrContains(lower, "birth") || lower == "dob" ||
                       absl::StrContains(lower, "_dob") || absl::StartsWith(lower, "dob");
    return std::string(birth ? "user.demographic.date_of_birth" : "user.event_date");
  }
  for (const Map& m : kMap) {
    if (m.label == label) return std::string(m.category);
  }
  return std::nullopt;
}

}  // namespace veil::gov
