#include "veil/pii/classifier.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "veil/base/absl_compat.h"

namespace veil::pii {
namespace {
// Debian's Abseil does not alias absl::string_view to std::string_view.
using base::ToAbsl;
}  // namespace

namespace internal {
namespace {

using R = ColumnRole;
using E = EntityType;

struct Synonym {
  std::string_view name;  // normalized: lowercase words joined by "_"
  std::optional<EntityType> entity;
  std::string_view category;  // "" for an entity: its name is used
  ColumnRole role;            // kNone: a blocker ("company_name" is not a person's name)
};

// Header synonyms. Whole-name matches weigh kWholeWeight, matches of one to three consecutive words of the
// name kWordWeight (the longest such match wins, so "user_name" beats "name").
constexpr Synonym kSynonyms[] = {
    // Contact details and online identifiers.
    {"email", E::kEmailAddress, "", R::kDirectIdentifier},
    {"e_mail", E::kEmailAddress, "", R::kDirectIdentifier},
    {"email_address", E::kEmailAddress, "", R::kDirectIdentifier},
    {"mail", E::kEmailAddress, "", R::kDirectIdentifier},
    {"phone", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"phone_number", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"telephone", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"tel", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"mobile", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"cell", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"fax", E::kPhoneNumber, "", R::kDirectIdentifier},
    {"ip", E::kIpAddress, "", R::kDirectIdentifier},
    {"ip_address", E::kIpAddress, "", R::kDirectIdentifier},
    {"ipv4", E::kIpAddress, "", R::kDirectIdentifier},
    {"ipv6", E::kIpAddress, "", R::kDirectIdentifier},
    {"mac", E::kMacAddress, "", R::kDirectIdentifier},
    {"mac_address", E::kMacAddress, "", R::kDirectIdentifier},
    {"url", E::kUrl, "", R::kQuasiIdentifier},
    {"website", E::kUrl, "", R::kQuasiIdentifier},
    {"homepage", E::kUrl, "", R::kQuasiIdentifier},
    {"domain", E::kDomainName, "", R::kQuasiIdentifier},
    // Government and financial identifiers.
    {"ssn", E::kUsSsn, "", R::kDirectIdentifier},
    {"social_security", E::kUsSsn, "", R::kDirectIdentifier},
    {"social_security_number", E::kUsSsn, "", R::kDirectIdentifier},
    {"itin", E::kUsItin, "", R::kDirectIdentifier},
    {"passport", E::kUsPassport, "", R::kDirectIdentifier},
    {"passport_number", E::kUsPassport, "", R::kDirectIdentifier},
    {"driver_license", E::kUsDriverLicense, "", R::kDirectIdentifier},
    {"drivers_license", E::kUsDriverLicense, "", R::kDirectIdentifier},
    {"driving_licence", E::kUsDriverLicense, "", R::kDirectIdentifier},
    {"licence_number", E::kUsDriverLicense, "", R::kDirectIdentifier},
    {"license_number", E::kUsDriverLicense, "", R::kDirectIdentifier},
    {"nhs", E::kUkNhs, "", R::kDirectIdentifier},
    {"nhs_number", E::kUkNhs, "", R::kDirectIdentifier},
    {"credit_card", E::kCreditCard, "", R::kDirectIdentifier},
    {"card_number", E::kCreditCard, "", R::kDirectIdentifier},
    {"cc_number", E::kCreditCard, "", R::kDirectIdentifier},
    {"pan", E::kCreditCard, "", R::kDirectIdentifier},
    {"iban", E::kIbanCode, "", R::kDirectIdentifier},
    // Names.
    {"name", E::kPerson, "", R::kDirectIdentifier},
    {"full_name", E::kPerson, "", R::kDirectIdentifier},
    {"first_name", E::kPerson, "", R::kDirectIdentifier},
    {"firstname", E::kPerson, "", R::kDirectIdentifier},
    {"given_name", E::kPerson, "", R::kDirectIdentifier},
    {"forename", E::kPerson, "", R::kDirectIdentifier},
    {"last_name", E::kPerson, "", R::kDirectIdentifier},
    {"lastname", E::kPerson, "", R::kDirectIdentifier},
    {"surname", E::kPerson, "", R::kDirectIdentifier},
    {"family_name", E::kPerson, "", R::kDirectIdentifier},
    {"middle_name", E::kPerson, "", R::kDirectIdentifier},
    {"maiden_name", E::kPerson, "", R::kDirectIdentifier},
    {"company_name", std::nullopt, "", R::kNone},
    {"file_name", std::nullopt, "", R::kNone},
    {"filename", std::nullopt, "", R::kNone},
    {"product_name", std::nullopt, "", R::kNone},
    {"host_name", std::nullopt, "", R::kNone},
    {"hostname", std::nullopt, "", R::kNone},
    {"org_name", std::nullopt, "", R::kNone},
    // Record identifiers (no entity type: they identify within the data set).
    {"id", std::nullopt, "identifier", R::kDirectIdentifier},
    {"patient_id", std::nullopt, "identifier", R::kDirectIdentifier},
    {"customer_id", std::nullopt, "identifier", R::kDirectIdentifier},
    {"user_id", std::nullopt, "identifier", R::kDirectIdentifier},
    {"username", std::nullopt, "identifier", R::kDirectIdentifier},
    {"user_name", std::nullopt, "identifier", R::kDirectIdentifier},
    {"login", std::nullopt, "identifier", R::kDirectIdentifier},
    {"mrn", std::nullopt, "identifier", R::kDirectIdentifier},
    {"medical_record_number", std::nullopt, "identifier", R::kDirectIdentifier},
    {"account_number", std::nullopt, "identifier", R::kDirectIdentifier},
    {"employee_id", std::nullopt, "identifier", R::kDirectIdentifier},
    // Addresses and places.
    {"address", E::kStreetAddress, "", R::kDirectIdentifier},
    {"addr", E::kStreetAddress, "", R::kDirectIdentifier},
    {"street", E::kStreetAddress, "", R::kDirectIdentifier},
    {"street_address", E::kStreetAddress, "", R::kDirectIdentifier},
    {"address_line", E::kStreetAddress, "", R::kDirectIdentifier},
    {"zip", E::kZipCode, "", R::kQuasiIdentifier},
    {"zipcode", E::kZipCode, "", R::kQuasiIdentifier},
    {"zip_code", E::kZipCode, "", R::kQuasiIdentifier},
    {"postcode", E::kZipCode, "", R::kQuasiIdentifier},
    {"postal_code", E::kZipCode, "", R::kQuasiIdentifier},
    {"plz", E::kZipCode, "", R::kQuasiIdentifier},
    {"city", E::kLocation, "", R::kQuasiIdentifier},
    {"town", E::kLocation, "", R::kQuasiIdentifier},
    {"state", E::kLocation, "", R::kQuasiIdentifier},
    {"county", E::kLocation, "", R::kQuasiIdentifier},
    {"country", E::kLocation, "", R::kQuasiIdentifier},
    {"native_country", E::kLocation, "", R::kQuasiIdentifier},
    {"birthplace", E::kLocation, "", R::kQuasiIdentifier},
    {"place_of_birth", E::kLocation, "", R::kQuasiIdentifier},
    // Dates and age.
    {"dob", E::kDateTime, "", R::kQuasiIdentifier},
    {"birth", E::kDateTime, "", R::kQuasiIdentifier},
    {"birthday", E::kDateTime, "", R::kQuasiIdentifier},
    {"birthdate", E::kDateTime, "", R::kQuasiIdentifier},
    {"birth_date", E::kDateTime, "", R::kQuasiIdentifier},
    {"date_of_birth", E::kDateTime, "", R::kQuasiIdentifier},
    {"date", E::kDateTime, "", R::kQuasiIdentifier},
    {"admitted", E::kDateTime, "", R::kQuasiIdentifier},
    {"admission", E::kDateTime, "", R::kQuasiIdentifier},
    {"discharged", E::kDateTime, "", R::kQuasiIdentifier},
    {"discharge", E::kDateTime, "", R::kQuasiIdentifier},
    {"age", E::kAge, "", R::kQuasiIdentifier},
    // Demographic quasi-identifiers without an entity type.
    {"sex", std::nullopt, "sex", R::kQuasiIdentifier},
    {"gender", std::nullopt, "sex", R::kQuasiIdentifier},
    {"race", std::nullopt, "race", R::kQuasiIdentifier},
    {"ethnicity", std::nullopt, "race", R::kQuasiIdentifier},
    {"marital_status", std::nullopt, "marital_status", R::kQuasiIdentifier},
    {"marital", std::nullopt, "marital_status", R::kQuasiIdentifier},
    {"occupation", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"job", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"job_title", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"profession", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"workclass", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"employer", std::nullopt, "occupation", R::kQuasiIdentifier},
    {"nationality", std::nullopt, "nationality", R::kQuasiIdentifier},
    {"citizenship", std::nullopt, "nationality", R::kQuasiIdentifier},
    {"education", std::nullopt, "education", R::kQuasiIdentifier},
};

constexpr double kWholeWeight = 0.6;
constexpr double kWordWeight = 0.4;

const Synonym* FindSynonym(std::string_view name) {
  for (const Synonym& s : kSynonyms) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

HeaderMatch ToMatch(const Synonym& s, double weight) {
  HeaderMatch m;
  if (s.role == R::kNone) return m;  // a blocker
  m.entity = s.entity;
  m.category = s.entity.has_value() ? EntityName(*s.entity) : s.category;
  m.role = s.role;
  m.weight = weight;
  m.synonym = s.name;
  return m;
}

}  // namespace

std::string NormalizeHeader(std::string_view header) {
  std::string out;
  auto separate = [&out] {
    if (!out.empty() && out.back() != '_') out += '_';
  };
  for (size_t i = 0; i < header.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(header[i]);
    if (std::isalnum(c)) {
      // A lowercase-to-uppercase step starts a word: "firstName" -> "first_name".
      if (std::isupper(c) && i > 0 && std::islower(static_cast<unsigned char>(header[i - 1]))) separate();
      out += static_cast<char>(std::tolower(c));
    } else {
      separate();
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

HeaderMatch MatchHeader(std::string_view header) {
  const std::string norm = NormalizeHeader(header);
  if (norm.empty()) return {};
  if (const Synonym* s = FindSynonym(norm)) return ToMatch(*s, kWholeWeight);
  const std::vector<std::string> words = absl::StrSplit(norm, '_');
  for (size_t len = std::min<size_t>(3, words.size()); len >= 1; --len) {
    for (size_t i = 0; i + len <= words.size(); ++i) {
      const std::string gram = absl::StrJoin(words.begin() + i, words.begin() + i + len, "_");
      if (const Synonym* s = FindSynonym(gram)) return ToMatch(*s, kWordWeight);
    }
  }
  return {};
}

}  // namespace internal

namespace {

// Types the analyzer recognizes in a value on its own (no context needed): a header naming one of them whose
// values show none is contradicted.
bool SelfEvident(EntityType t) {
  switch (t) {
    case EntityType::kEmailAddress:
    case EntityType::kCreditCard:
    case EntityType::kIbanCode:
    case EntityType::kIpAddress:
    case EntityType::kMacAddress:
    case EntityType::kUrl:
    case EntityType::kUkNhs:
      return true;
    default:
      return false;
  }
}

ColumnRole RoleOf(EntityType t) {
  switch (t) {
    case EntityType::kDateTime:
    case EntityType::kZipCode:
    case EntityType::kAge:
    case EntityType::kLocation:
    case EntityType::kUrl:
    case EntityType::kDomainName:
      return ColumnRole::kQuasiIdentifier;
    default:
      return ColumnRole::kDirectIdentifier;
  }
}

// What the analyzer says of one value.
struct ValueVerdict {
  int covering = -1;   // the type of a span covering most of the value, or -1
  int contained = -1;  // else the type of the longest span in it, or -1
};

// `context` ("zip code: ", or "") is put before the value so that recognizers that need a context word (a
// ZIP code, an age) see the header as a reader of the table does; only spans over the value itself count.
ValueVerdict Judge(std::string_view context, std::string_view value, const Analyzer& analyzer,
                   double min_coverage, std::string& buffer) {
  buffer.assign(context);
  buffer.append(value);
  size_t b = context.size(), e = buffer.size();
  while (b < e && std::isspace(static_cast<unsigned char>(buffer[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(buffer[e - 1]))) --e;
  ValueVerdict v;
  if (b == e) return v;
  const std::vector<Span> spans = analyzer.Analyze(buffer);
  size_t best_len = 0;
  for (const Span& s : spans) {
    const size_t lo = std::max(s.begin, b), hi = std::min(s.end, e);
    const size_t len = hi > lo ? hi - lo : 0;
    if (len > best_len) {
      best_len = len;
      v.contained = static_cast<int>(s.type);
    }
  }
  if (best_len > 0 && static_cast<double>(best_len) >= min_coverage * static_cast<double>(e - b)) {
    v.covering = v.contained;
    v.contained = -1;
  }
  return v;
}

std::string Quoted(std::string_view header) {
  // Headers are names, not values; still cut long ones.
  return absl::StrCat("'", ToAbsl(header.substr(0, 40)), header.size() > 40 ? "..." : "", "'");
}

}  // namespace

std::string_view ColumnRoleName(ColumnRole role) {
  switch (role) {
    case ColumnRole::kNone:
      return "none";
    case ColumnRole::kDirectIdentifier:
      return "direct_identifier";
    case ColumnRole::kQuasiIdentifier:
      return "quasi_identifier";
    case ColumnRole::kFreeText:
      return "free_text";
  }
  return "none";
}

absl::StatusOr<std::vector<ColumnClassification>> ClassifyTable(const table::Table& table,
                                                                const Analyzer& analyzer,
                                                                const ClassifyOptions& options) {
  if (options.sample_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("sample_size ", options.sample_size, " is below 1"));
  }
  for (double f : {options.min_value_coverage, options.min_value_fraction, options.min_free_text_fraction,
                   options.min_confidence}) {
    if (!(f >= 0 && f <= 1))
      return absl::InvalidArgumentError(absl::StrCat("option value ", f, " is not in [0, 1]"));
  }
  std::vector<ColumnClassification> out;
  const int64_t n = table.num_rows();
  const int64_t k = std::min(n, options.sample_size);
  for (int c = 0; c < table.num_columns(); ++c) {
    const table::Column& col = table.column(c);
    ColumnClassification cc;
    cc.column = c;
    cc.name = table.schema().field(c).name;

    // Value evidence on evenly spaced rows; a distinct string is analyzed once.
    std::array<int64_t, kEntityTypeCount> covering{};
    std::array<int64_t, kEntityTypeCount> contained{};
    int64_t contained_any = 0;
    absl::flat_hash_map<int32_t, ValueVerdict> by_code;
    std::string context, buffer;
    const internal::HeaderMatch h = internal::MatchHeader(cc.name);
    // Context only from a header that names an entity type: a header like "patient_id" before "P00001" only
    // invites the recognizers to misread the pair.
    if (options.header_context && h.entity.has_value()) {
      context = internal::NormalizeHeader(cc.name);
      std::replace(context.begin(), context.end(), '_', ' ');
      if (!context.empty()) context += ": ";
    }
    const bool is_string = col.type() == table::DataType::kString;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t row = static_cast<int64_t>((static_cast<__int128>(i) * n) / k);
      if (col.IsNull(row)) continue;
      ++cc.sampled;
      ValueVerdict v;
      if (is_string) {
        const int32_t code = col.GetStringCode(row);
        auto it = by_code.find(code);
        if (it == by_code.end()) {
          it = by_code
                   .emplace(code,
                            Judge(context, col.GetString(row), analyzer, options.min_value_coverage, buffer))
                   .first;
        }
        v = it->second;
      } else {
        v = Judge(context, col.FormatValue(row), analyzer, options.min_value_coverage, buffer);
      }
      if (v.covering >= 0) ++covering[v.covering];
      if (v.contained >= 0) {
        ++contained[v.contained];
        ++contained_any;
      }
    }
    const auto best_it = std::max_element(covering.begin(), covering.end());
    const auto best = static_cast<EntityType>(best_it - covering.begin());
    const int64_t best_count = *best_it;
    const double f = cc.sampled > 0 ? static_cast<double>(best_count) / static_cast<double>(cc.sampled) : 0.0;
    auto values_are = [&](EntityType t) {
      return absl::StrCat(covering[static_cast<size_t>(t)], "/", cc.sampled, " sampled values are ",
                          ToAbsl(EntityName(t)));
    };

    if (best_count > 0 && f >= options.min_value_fraction) {
      cc.entity = best;
      cc.category = std::string(EntityName(best));
      cc.role = RoleOf(best);
      cc.matched = best_count;
      if (h.weight > 0 && h.entity == best) {
        cc.confidence = 1 - (1 - h.weight) * (1 - f);
        cc.role = h.role;
        cc.evidence = absl::StrCat("header ", Quoted(cc.name), "; ", values_are(best));
      } else if (h.weight > 0) {
        cc.confidence = f * (1 - h.weight / 2);
        cc.evidence =
            absl::StrCat(values_are(best), "; header ", Quoted(cc.name), " suggests ", ToAbsl(h.category));
      } else {
        cc.confidence = f;
        cc.evidence = values_are(best);
      }
    } else if (h.weight > 0) {
      cc.entity = h.entity;
      cc.category = std::string(h.category);
      cc.role = h.role;
      cc.confidence = h.weight;
      cc.evidence = absl::StrCat("header ", Quoted(cc.name));
      if (h.entity.has_value() && cc.sampled > 0) {
        const int64_t agree = covering[static_cast<size_t>(*h.entity)];
        const double fh = static_cast<double>(agree) / static_cast<double>(cc.sampled);
        cc.matched = agree;
        if (agree > 0) {
          cc.confidence = 1 - (1 - h.weight) * (1 - fh);
          absl::StrAppend(&cc.evidence, "; ", values_are(*h.entity));
        } else if (SelfEvident(*h.entity)) {
          cc.confidence = h.weight / 2;
          absl::StrAppend(&cc.evidence, ", but ", values_are(*h.entity));
        } else {
          absl::StrAppend(&cc.evidence, "; 0/", cc.sampled, " sampled values recognized as ",
                          ToAbsl(EntityName(*h.entity)));
        }
      }
    } else if (cc.sampled > 0 && static_cast<double>(contained_any) >=
                                     options.min_free_text_fraction * static_cast<double>(cc.sampled)) {
      const auto top =
          static_cast<EntityType>(std::max_element(contained.begin(), contained.end()) - contained.begin());
      const double frac = static_cast<double>(contained_any) / static_cast<double>(cc.sampled);
      cc.entity = top;
      cc.category = std::string(EntityName(top));
      cc.role = ColumnRole::kFreeText;
      cc.confidence = 0.5 + 0.5 * frac;
      cc.matched = contained_any;
      cc.evidence =
          absl::StrCat(contained_any, "/", cc.sampled, " sampled values contain personal data (most often ",
                       ToAbsl(EntityName(top)), ") among other text");
    } else if (best_count > 0) {
      cc.entity = best;
      cc.category = std::string(EntityName(best));
      cc.role = RoleOf(best);
      cc.confidence = f;
      cc.matched = best_count;
      cc.evidence = values_are(best);
    } else {
      cc.evidence = cc.sampled > 0
                        ? absl::StrCat("no header match; 0/", cc.sampled, " sampled values recognized")
                        : "no header match; no non-null values";
    }
    if (cc.confidence < options.min_confidence) {
      cc.role = ColumnRole::kNone;
      cc.entity.reset();
      cc.category.clear();
    }
    out.push_back(std::move(cc));
  }
  return out;
}

}  // namespace veil::pii
