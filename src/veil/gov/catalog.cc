#include "veil/gov/catalog.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/store/sqlite.h"

namespace veil::gov {
namespace {

struct BasisRow {
  LegalBasis basis;
  const char* name;
  const char* article;
};
constexpr BasisRow kBases[] = {
    {LegalBasis::kConsent, "consent", "Art. 6(1)(a)"},
    {LegalBasis::kContract, "contract", "Art. 6(1)(b)"},
    {LegalBasis::kLegalObligation, "legal_obligation", "Art. 6(1)(c)"},
    {LegalBasis::kVitalInterests, "vital_interests", "Art. 6(1)(d)"},
    {LegalBasis::kPublicTask, "public_task", "Art. 6(1)(e)"},
    {LegalBasis::kLegitimateInterests, "legitimate_interests", "Art. 6(1)(f)"},
};

struct SpecialRow {
  SpecialBasis basis;
  const char* name;
  const char* article;
};
constexpr SpecialRow kSpecialBases[] = {
    {SpecialBasis::kNone, "", ""},
    {SpecialBasis::kExplicitConsent, "explicit_consent", "Art. 9(2)(a)"},
    {SpecialBasis::kEmployment, "employment", "Art. 9(2)(b)"},
    {SpecialBasis::kVitalInterests, "vital_interests", "Art. 9(2)(c)"},
    {SpecialBasis::kNotForProfit, "not_for_profit", "Art. 9(2)(d)"},
    {SpecialBasis::kMadePublic, "made_public", "Art. 9(2)(e)"},
    {SpecialBasis::kLegalClaims, "legal_claims", "Art. 9(2)(f)"},
    {SpecialBasis::kSubstantialPublicInterest, "substantial_public_interest", "Art. 9(2)(g)"},
    {SpecialBasis::kHealthCare, "health_care", "Art. 9(2)(h)"},
    {SpecialBasis::kPublicHealth, "public_health", "Art. 9(2)(i)"},
    {SpecialBasis::kResearch, "research", "Art. 9(2)(j)"},
    {SpecialBasis::kOfficialAuthority, "official_authority", "Art. 10"},
    {SpecialBasis::kAuthorisedByLaw, "authorised_by_law", "Art. 10"},
};

constexpr const char* kSafeguards[] = {"adequacy", "scc", "bcr", "derogation", "other"};
constexpr const char* kRoles[] = {"direct_identifier", "quasi_identifier", "free_text", "none"};

nlohmann::json StringList(const std::vector<std::string>& v) { return nlohmann::json(v); }

absl::StatusOr<std::vector<std::string>> ParseStringList(const std::string& text, std::string_view what) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto damaged = [&] {
    return absl::DataLossError(
        absl::StrCat("workspace.db: the ", std::string(what), " of a declaration is damaged"));
  };
  if (!doc.is_array()) return damaged();
  std::vector<std::string> out;
  for (const nlohmann::json& v : doc) {
    if (!v.is_string()) return damaged();
    out.push_back(v.get<std::string>());
  }
  return out;
}

using base::Rfc3339;

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

absl::Status ValidateText(std::string_view what_view, std::string_view text, size_t max_bytes,
                          bool allow_empty) {
  const std::string what(what_view);
  if (!allow_empty && text.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (text.size() > max_bytes)
    return absl::InvalidArgumentError(absl::StrCat(what, " is longer than ", max_bytes, " bytes"));
  if (!base::IsValidUtf8(text)) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError(absl::StrCat(what, " must not contain control characters"));
  }
  return absl::OkStatus();
}

const char* LegalBasisName(LegalBasis basis) {
  for (const BasisRow& r : kBases) {
    if (r.basis == basis) return r.name;
  }
  return "?";
}

std::optional<LegalBasis> ParseLegalBasis(std::string_view name) {
  for (const BasisRow& r : kBases) {
    if (name == r.name) return r.basis;
  }
  return std::nullopt;
}

const char* LegalBasisArticle(LegalBasis basis) {
  for (const BasisRow& r : kBases) {
    if (r.basis == basis) return r.article;
  }
  return "?";
}

const char* SpecialBasisName(SpecialBasis basis) {
  for (const SpecialRow& r : kSpecialBases) {
    if (r.basis == basis) return r.name;
  }
  return "?";
}

std::optional<SpecialBasis> ParseSpecialBasis(std::string_view name) {
  for (const SpecialRow& r : kSpecialBases) {
    if (name == r.name) return r.basis;
  }
  return std::nullopt;
}

const char* SpecialBasisArticle(SpecialBasis basis) {
  for (const SpecialRow& r : kSpecialBases) {
    if (r.basis == basis) return r.article;
  }
  return "?";
}

bool IsArticle10Basis(SpecialBasis basis) {
  return basis == SpecialBasis::kOfficialAuthority || basis == SpecialBasis::kAuthorisedByLaw;
}

bool NeedsConsent(const Declaration& d) {
  return d.basis == LegalBasis::kConsent || d.special_basis == SpecialBasis::kExplicitConsent;
}

absl::StatusOr<Transfer> ParseTransfer(std::string_view text) {
  const size_t colon = text.rfind(':');
  const std::string accepted = absl::StrJoin(kSafeguards, ", ");
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a transfer is DESTINATION:SAFEGUARD (e.g. US:scc), not \"",
                     std::string(text.substr(0, 80)), "\"; safeguards: ", accepted));
  }
  Transfer t{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  VEIL_RETURN_IF_ERROR(ValidateText("a transfer's destination", t.to, 128, false));
  if (std::find(std::begin(kSafeguards), std::end(kSafeguards), t.safeguard) == std::end(kSafeguards)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown transfer safeguard \"", t.safeguard.substr(0, 40), "\"; one of ", accepted));
  }
  return t;
}

nlohmann::ordered_json DeclarationToJson(const Declaration& d) {
  nlohmann::ordered_json transfers = nlohmann::ordered_json::array();
  for (const Transfer& t : d.transfers) transfers.push_back({{"to", t.to}, {"safeguard", t.safeguard}});
  return {{"purpose", d.purpose},
          {"legal_basis", LegalBasisName(d.basis)},
          {"legal_basis_article", LegalBasisArticle(d.basis)},
          {"special_basis", d.special_basis == SpecialBasis::kNone ? nlohmann::ordered_json(nullptr)
                                                                   : SpecialBasisName(d.special_basis)},
          {"special_basis_article", d.special_basis == SpecialBasis::kNone
                                        ? nlohmann::ordered_json(nullptr)
                                        : SpecialBasisArticle(d.special_basis)},
          {"subject_types", d.subject_types},
          {"recipients", d.recipients},
          {"transfers", transfers},
          {"retention", d.retention},
          {"automated_decisions", d.automated_decisions},
          {"description", d.description},
          {"declared_by", d.declared_by},
          {"declared_at", Rfc3339(d.declared_at)}};
}

absl::StatusOr<std::vector<Declaration>> LoadDeclarations(store::Workspace& ws, std::string_view dataset) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare(
          "SELECT p.purpose, p.legal_basis, p.special_basis, p.subject_types, p.recipients, p.transfers, "
          "p.retention, p.automated_decisions, p.description, p.declared_by, p.declared_ns FROM "
          "processing_declaration p JOIN dataset d ON d.id = p.dataset_id WHERE d.name = ?1 ORDER BY "
          "p.purpose"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  std::vector<Declaration> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Declaration d;
    d.dataset = dataset;
    d.purpose = st.ColumnText(0);
    const auto damaged = [&] {
      return absl::DataLossError(absl::StrCat("workspace.db: the declaration of dataset \"", d.dataset,
                                              "\" for \"", d.purpose, "\" is damaged"));
    };
    const std::optional<LegalBasis> basis = ParseLegalBasis(st.ColumnText(1));
    const std::optional<SpecialBasis> special = ParseSpecialBasis(st.ColumnText(2));
    if (!basis || !special) return damaged();
    d.basis = *basis;
    d.special_basis = *special;
    VEIL_ASSIGN_OR_RETURN(d.subject_types, ParseStringList(st.ColumnText(3), "subject types"));
    VEIL_ASSIGN_OR_RETURN(d.recipients, ParseStringList(st.ColumnText(4), "recipients"));
    const nlohmann::json transfers = nlohmann::json::parse(st.ColumnText(5), nullptr, false);
    if (!transfers.is_array()) return damaged();
    for (const nlohmann::json& t : transfers) {
      if (!t.is_object() || !t.contains("to") || !t["to"].is_string() || !t.contains("safeguard") ||
          !t["safeguard"].is_string())
        return damaged();
      d.transfers.push_back({t["to"].get<std::string>(), t["safeguard"].get<std::string>()});
    }
    d.retention = st.ColumnText(6);
    d.automated_decisions = st.ColumnInt64(7) != 0;
    d.description = st.ColumnText(8);
    d.declared_by = st.ColumnText(9);
    d.declared_at = absl::FromUnixNanos(st.ColumnInt64(10));
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::optional<Declaration>> DeclarationFor(store::Workspace& ws, std::string_view dataset,
                                                          std::string_view purpose) {
  VEIL_ASSIGN_OR_RETURN(std::vector<Declaration> all, LoadDeclarations(ws, dataset));
  std::optional<Declaration> best;
  for (Declaration& d : all) {
    if (KeyCovers(d.purpose, purpose) && (!best || d.purpose.size() > best->purpose.size()))
      best = std::move(d);
  }
  return best;
}

absl::StatusOr<Taxonomy> LoadTaxonomy(store::Workspace& ws) {
  Taxonomy t = Taxonomy::Builtin();
  // Parents before children: key order within a kind puts "a" before "a.b".
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare("SELECT kind, key, description, special, added_by, added_ns FROM "
                            "taxonomy_key ORDER BY kind, key"));
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    TaxonomyEntry e;
    const std::optional<TaxonomyKind> kind = ParseTaxonomyKind(st.ColumnText(0));
    const std::optional<Special> special = ParseSpecial(st.ColumnText(3));
    if (!kind || !special) return absl::DataLossError("workspace.db: a taxonomy addition is damaged");
    e.kind = *kind;
    e.key = st.ColumnText(1);
    e.description = st.ColumnText(2);
    e.special = *special;
    e.added_by = st.ColumnText(4);
    e.added_at = absl::FromUnixNanos(st.ColumnInt64(5));
    if (absl::Status s = t.Add(std::move(e)); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("workspace.db: a taxonomy addition does not fit: ", s.message()));
    }
  }
  return t;
}

absl::StatusOr<DataMap> BuildDataMap(store::Workspace& ws, const Taxonomy& taxonomy,
                                     std::optional<std::string_view> dataset) {
  std::vector<store::DatasetInfo> infos;
  if (dataset.has_value()) {
    VEIL_ASSIGN_OR_RETURN(store::DatasetInfo info, ws.GetDataset(*dataset));
    infos.push_back(std::move(info));
  } else {
    VEIL_ASSIGN_OR_RETURN(infos, ws.ListDatasets());
  }
  DataMap map;
  for (store::DatasetInfo& info : infos) {
    MappedDataset m;
    VEIL_ASSIGN_OR_RETURN(std::vector<store::ColumnAnnotation> annotations, ws.Annotations(info.name));
    VEIL_ASSIGN_OR_RETURN(m.declarations, LoadDeclarations(ws, info.name));
    int unclassified = 0, unconfirmed = 0;
    for (const table::Field& f : info.schema.fields()) {
      MappedColumn c;
      c.name = f.name;
      c.type = table::DataTypeName(f.type);
      c.subject_column = f.name == info.subject_column;
      for (const store::ColumnAnnotation& a : annotations) {
        if (a.column == f.name) c.annotation = a;
      }
      if (!c.annotation.has_value()) {
        ++unclassified;
      } else {
        if (!c.annotation->confirmed) ++unconfirmed;
        for (const std::string& cat : c.annotation->categories) {
          m.categories.push_back(cat);
          const Special s = taxonomy.SpecialOf(cat);
          if (s != Special::kNone) m.special.push_back(cat);
          if (s == Special::kArt9 || (s == Special::kArt10 && c.special == Special::kNone)) c.special = s;
        }
      }
      m.columns.push_back(std::move(c));
    }
    SortUnique(m.categories);
    SortUnique(m.special);
    bool art9 = false, art10 = false;
    for (const std::string& cat : m.special) {
      (taxonomy.SpecialOf(cat) == Special::kArt9 ? art9 : art10) = true;
    }
    // Findings, in the order a privacy officer would fix them.
    if (info.external.has_value() && annotations.empty()) {
      m.findings.push_back(
          "attached dataset: its columns were not classified (annotate them with veil catalog annotate)");
    } else if (unclassified > 0) {
      m.findings.push_back(absl::StrCat(unclassified, " column(s) have no data categories"));
    }
    if (unconfirmed > 0) {
      m.findings.push_back(absl::StrCat(unconfirmed,
                                        " column(s) were classified automatically and are not confirmed "
                                        "(veil catalog annotate ... --confirm)"));
    }
    for (const std::string& p : info.purposes) {
      const bool declared = std::any_of(m.declarations.begin(), m.declarations.end(),
                                        [&](const Declaration& d) { return KeyCovers(d.purpose, p); });
      if (!declared) {
        m.findings.push_back(absl::StrCat("purpose \"", p,
                                          "\" has no processing declaration (legal basis, recipients, "
                                          "retention): veil catalog declare"));
      }
    }
    for (const Declaration& d : m.declarations) {
      m.subject_types.insert(m.subject_types.end(), d.subject_types.begin(), d.subject_types.end());
      if (taxonomy.FindNearest(TaxonomyKind::kUse, d.purpose) == nullptr) {
        m.findings.push_back(absl::StrCat("purpose \"", d.purpose, "\" is not a use in the taxonomy"));
      }
      if (art9 && (d.special_basis == SpecialBasis::kNone || IsArticle10Basis(d.special_basis))) {
        m.findings.push_back(absl::StrCat("holds special categories (Art. 9) but the declaration for \"",
                                          d.purpose, "\" names no Art. 9(2) condition"));
      }
      if (art10 && !art9 && !IsArticle10Basis(d.special_basis)) {
        m.findings.push_back(absl::StrCat("holds criminal-offence data but the declaration for \"", d.purpose,
                                          "\" names no Art. 10 basis"));
      }
      if (d.subject_types.empty()) {
        m.findings.push_back(
            absl::StrCat("the declaration for \"", d.purpose, "\" names no data subject type"));
      }
    }
    SortUnique(m.subject_types);
    m.info = std::move(info);
    map.datasets.push_back(std::move(m));
  }
  return map;
}

nlohmann::ordered_json DataMapToJson(const DataMap& map) {
  nlohmann::ordered_json datasets = nlohmann::ordered_json::array();
  for (const MappedDataset& m : map.datasets) {
    nlohmann::ordered_json columns = nlohmann::ordered_json::array();
    for (const MappedColumn& c : m.columns) {
      nlohmann::ordered_json col = {{"name", c.name}, {"type", c.type}, {"subject_column", c.subject_column}};
      if (c.annotation.has_value()) {
        const store::ColumnAnnotation& a = *c.annotation;
        col["categories"] = a.categories;
        col["role"] = a.role;
        col["source"] = a.source;
        col["confidence"] = a.confidence;
        col["confirmed"] = a.confirmed;
        col["evidence"] = a.evidence;
      } else {
        col["categories"] = nullptr;
        col["role"] = nullptr;
        col["source"] = nullptr;
        col["confidence"] = nullptr;
        col["confirmed"] = false;
        col["evidence"] = nullptr;
      }
      col["special"] = c.special == Special::kNone ? nlohmann::ordered_json(nullptr) : SpecialName(c.special);
      columns.push_back(std::move(col));
    }
    nlohmann::ordered_json declarations = nlohmann::ordered_json::array();
    for (const Declaration& d : m.declarations) declarations.push_back(DeclarationToJson(d));
    const bool attached = m.info.external.has_value();
    datasets.push_back(
        {{"name", m.info.name},
         {"kind", m.info.kind},
         {"rows", attached ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m.info.rows)},
         {"subjects", attached ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m.info.subjects)},
         {"subject_column", m.info.subject_column},
         {"subject_types", m.subject_types},
         {"purposes", m.info.purposes},
         {"columns", columns},
         {"categories", m.categories},
         {"special_categories", m.special},
         {"declarations", declarations},
         {"findings", m.findings}});
  }
  return {{"datasets", datasets}};
}

namespace {

// A DOT string literal.
std::string Dot(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string DataMapToDot(const DataMap& map) {
  std::string out =
      "digraph veil_data_map {\n"
      "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, nodesep=0.25, ranksep=0.9, "
      "label=\"Veil data map: subjects -> datasets -> categories; datasets -> purposes -> recipients and "
      "transfers\", labelloc=t];\n"
      "  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  std::set<std::string> nodes;
  const auto node = [&](const std::string& id, const std::string& label, const std::string& attrs) {
    if (nodes.insert(id).second)
      absl::StrAppend(&out, "  ", Dot(id), " [label=", Dot(label), ", ", attrs, "];\n");
  };
  const auto edge = [&](const std::string& from, const std::string& to, const std::string& label) {
    absl::StrAppend(&out, "  ", Dot(from), " -> ", Dot(to));
    if (!label.empty()) absl::StrAppend(&out, " [label=", Dot(label), "]");
    out += ";\n";
  };
  for (const MappedDataset& m : map.datasets) {
    const std::string ds = "dataset:" + m.info.name;
    const std::string rows = m.info.external.has_value()
                                 ? std::string("attached (") + m.info.kind + ")"
                                 : absl::StrCat(m.info.subjects, " subjects, ", m.info.rows, " rows");
    node(ds, absl::StrCat(m.info.name, "\n", rows), "shape=cylinder, style=filled, fillcolor=\"#dfe9f7\"");
    for (const std::string& t : m.subject_types) {
      node("subject:" + t, t, "shape=ellipse, style=filled, fillcolor=\"#eeeeee\"");
      edge("subject:" + t, ds, "about");
    }
    std::set<std::string> special(m.special.begin(), m.special.end());
    for (const std::string& cat : m.categories) {
      const bool sp = special.count(cat) > 0;
      node("category:" + cat, sp ? cat + "\n(special category)" : cat,
           sp ? "shape=note, style=filled, fillcolor=\"#fbe0dc\", color=\"#b3261e\""
              : "shape=note, style=filled, fillcolor=\"#fffbe6\"");
      edge(ds, "category:" + cat, "");
    }
    for (const Declaration& d : m.declarations) {
      const std::string p = "purpose:" + d.purpose;
      node(p, d.purpose, "shape=box, style=\"rounded,filled\", fillcolor=\"#e3f4e1\"");
      std::string label = absl::StrCat(LegalBasisName(d.basis), " (", LegalBasisArticle(d.basis), ")");
      if (d.special_basis != SpecialBasis::kNone)
        absl::StrAppend(&label, "\n", SpecialBasisName(d.special_basis), " (",
                        SpecialBasisArticle(d.special_basis), ")");
      if (d.automated_decisions) absl::StrAppend(&label, "\nautomated decisions (Art. 22)");
      edge(ds, p, label);
      for (const std::string& r : d.recipients) {
        node("recipient:" + r, r, "shape=house, style=filled, fillcolor=\"#f3e8fd\"");
        edge(p, "recipient:" + r, "disclosed to");
      }
      for (const Transfer& t : d.transfers) {
        node("transfer:" + t.to, t.to, "shape=doubleoctagon, style=filled, fillcolor=\"#fde7c8\"");
        edge(p, "transfer:" + t.to, absl::StrCat("transfer (", t.safeguard, ")"));
      }
    }
    for (const std::string& p : m.info.purposes) {
      const bool declared = std::any_of(m.declarations.begin(), m.declarations.end(),
                                        [&](const Declaration& d) { return d.purpose == p; });
      if (declared) continue;
      node("purpose:" + p, p, "shape=box, style=\"rounded,dashed\"");
      edge(ds, "purpose:" + p, "no declaration");
    }
  }
  out += "}\n";
  return out;
}

// --- The gated operations ---

absl::StatusOr<DataMap> Catalog::Map(std::optional<std::string_view> dataset) {
  const nlohmann::ordered_json params =
      dataset.has_value() ? nlohmann::ordered_json{{"dataset", *dataset}} : nlohmann::ordered_json::object();
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kListDatasets, dataset.value_or(""), "", params).status());
  VEIL_ASSIGN_OR_RETURN(Taxonomy taxonomy, LoadTaxonomy(session_.workspace()));
  return BuildDataMap(session_.workspace(), taxonomy, dataset);
}

absl::StatusOr<Taxonomy> Catalog::GetTaxonomy() {
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kListDatasets, "", "", nlohmann::ordered_json::object()).status());
  return LoadTaxonomy(session_.workspace());
}

absl::StatusOr<store::ColumnAnnotation> Catalog::Annotate(std::string_view dataset, std::string_view column,
                                                          const AnnotateRequest& request) {
  if (!request.categories.has_value() && !request.role.has_value() && !request.confirm) {
    return absl::InvalidArgumentError(
        "nothing to annotate: give --category (or --not-personal), --role or --confirm");
  }
  VEIL_RETURN_IF_ERROR(ValidateText("the note", request.note, 256, true));
  nlohmann::ordered_json params = {{"dataset", dataset}, {"column", column}, {"confirm", request.confirm}};
  if (request.categories.has_value()) params["categories"] = *request.categories;
  if (request.role.has_value()) params["role"] = *request.role;
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kCatalogAnnotate, dataset, "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, ws.GetDataset(dataset));
  if (!info.schema.FindField(column)) {
    return absl::InvalidArgumentError(absl::StrCat("dataset \"", info.name, "\" has no column \"",
                                                   std::string(column.substr(0, 80)), "\""));
  }
  VEIL_ASSIGN_OR_RETURN(Taxonomy taxonomy, LoadTaxonomy(ws));
  VEIL_ASSIGN_OR_RETURN(std::vector<store::ColumnAnnotation> all, ws.Annotations(dataset));
  std::optional<store::ColumnAnnotation> current;
  for (store::ColumnAnnotation& a : all) {
    if (a.column == column) current = std::move(a);
  }
  store::ColumnAnnotation next;
  if (current.has_value()) {
    next = *current;
  } else {
    if (request.confirm && !request.categories.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column \"", std::string(column),
                       "\" has no categories to confirm; give them with --category "
                       "(or --not-personal)"));
    }
    next.column = column;
  }
  if (request.categories.has_value()) {
    std::vector<std::string> cats = *request.categories;
    for (const std::string& c : cats) {
      VEIL_RETURN_IF_ERROR(ValidateTaxonomyKey(c));
      if (taxonomy.Find(TaxonomyKind::kCategory, c) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", c,
                         "\" is not a data category of the taxonomy (veil catalog "
                         "taxonomy --kind category; add one with veil catalog "
                         "taxonomy add category KEY)"));
      }
    }
    SortUnique(cats);
    next.categories = std::move(cats);
    next.source = "user";
    next.confidence = 1;
    if (!request.role.has_value() && next.categories.empty()) next.role = "none";
  }
  if (request.role.has_value()) {
    if (std::find(std::begin(kRoles), std::end(kRoles), *request.role) == std::end(kRoles)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown role \"", request.role->substr(0, 40),
                                                     "\"; one of ", absl::StrJoin(kRoles, ", ")));
    }
    next.role = *request.role;
  }
  if (!request.note.empty()) {
    next.evidence = request.note;
  } else if (request.categories.has_value()) {
    next.evidence = "set by a person";
  }
  next.confirmed = true;
  next.set_by = session_.actor();
  next.set_at = absl::FromUnixNanos(absl::ToUnixNanos(ws.env().Now()));
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_RETURN_IF_ERROR(ws.PutAnnotation(dataset, next));
  const nlohmann::ordered_json result = {{"column", next.column},
                                         {"categories", next.categories},
                                         {"role", next.role},
                                         {"source", next.source},
                                         {"confirmed", next.confirmed}};
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kCatalogAnnotate, dataset, "", decision, params,
                                       crypto::Sha256(result.dump()), {}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return next;
}

absl::StatusOr<Declaration> Catalog::Declare(Declaration d) {
  VEIL_RETURN_IF_ERROR(store::ValidatePurpose(d.purpose));
  VEIL_RETURN_IF_ERROR(ValidateTaxonomyKey(d.purpose));
  SortUnique(d.subject_types);
  for (const std::string& r : d.recipients) VEIL_RETURN_IF_ERROR(ValidateText("a recipient", r, 128, false));
  VEIL_RETURN_IF_ERROR(ValidateText("the retention", d.retention, 256, true));
  VEIL_RETURN_IF_ERROR(ValidateText("the description", d.description, 1024, true));
  nlohmann::ordered_json params = DeclarationToJson(d);
  params.erase("declared_by");
  params.erase("declared_at");
  params["dataset"] = d.dataset;
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kCatalogDeclare, d.dataset, d.purpose, params));
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, ws.GetDataset(d.dataset));
  VEIL_ASSIGN_OR_RETURN(Taxonomy taxonomy, LoadTaxonomy(ws));
  if (taxonomy.FindNearest(TaxonomyKind::kUse, d.purpose) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("purpose \"", d.purpose,
                     "\" is not a use in the taxonomy, nor below one (veil catalog "
                     "taxonomy --kind use; add it with veil catalog taxonomy add "
                     "use KEY)"));
  }
  for (const std::string& t : d.subject_types) {
    if (taxonomy.Find(TaxonomyKind::kSubject, t) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", t.substr(0, 80),
                       "\" is not a data subject type of the taxonomy (veil catalog "
                       "taxonomy --kind subject)"));
    }
  }
  d.dataset = info.name;
  d.declared_by = session_.actor();
  d.declared_at = absl::FromUnixNanos(absl::ToUnixNanos(ws.env().Now()));
  nlohmann::json transfers = nlohmann::json::array();
  for (const Transfer& t : d.transfers) transfers.push_back({{"to", t.to}, {"safeguard", t.safeguard}});
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  {
    // Declaring a purpose makes it one of the dataset's purposes (the gate's purpose limitation).
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT OR IGNORE INTO dataset_purpose(dataset_id, purpose) SELECT id, ?2 "
                   "FROM dataset WHERE name = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, d.dataset));
    VEIL_RETURN_IF_ERROR(st.Bind(2, d.purpose));
    VEIL_RETURN_IF_ERROR(st.Run());
  }
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare(
            "INSERT OR REPLACE INTO processing_declaration(dataset_id, purpose, legal_basis, special_basis, "
            "subject_types, recipients, transfers, retention, automated_decisions, description, "
            "declared_by, declared_ns) SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 FROM "
            "dataset WHERE name = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, d.dataset));
    VEIL_RETURN_IF_ERROR(st.Bind(2, d.purpose));
    VEIL_RETURN_IF_ERROR(st.Bind(3, LegalBasisName(d.basis)));
    VEIL_RETURN_IF_ERROR(st.Bind(4, SpecialBasisName(d.special_basis)));
    VEIL_RETURN_IF_ERROR(st.Bind(5, StringList(d.subject_types).dump()));
    VEIL_RETURN_IF_ERROR(st.Bind(6, StringList(d.recipients).dump()));
    VEIL_RETURN_IF_ERROR(st.Bind(7, transfers.dump()));
    VEIL_RETURN_IF_ERROR(st.Bind(8, d.retention));
    VEIL_RETURN_IF_ERROR(st.Bind(9, int64_t{d.automated_decisions ? 1 : 0}));
    VEIL_RETURN_IF_ERROR(st.Bind(10, d.description));
    VEIL_RETURN_IF_ERROR(st.Bind(11, d.declared_by));
    VEIL_RETURN_IF_ERROR(st.Bind(12, absl::ToUnixNanos(d.declared_at)));
    VEIL_RETURN_IF_ERROR(st.Run());
  }
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kCatalogDeclare, d.dataset, d.purpose, decision, params,
                                       crypto::Sha256(DeclarationToJson(d).dump()), {}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return d;
}

absl::Status Catalog::Undeclare(std::string_view dataset, std::string_view purpose) {
  const nlohmann::ordered_json params = {{"dataset", dataset}, {"purpose", purpose}, {"remove", true}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kCatalogDeclare, dataset, purpose, params));
  store::Database& db = session_.workspace().metadata();
  VEIL_RETURN_IF_ERROR(session_.workspace().GetDataset(dataset).status());
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("DELETE FROM processing_declaration WHERE purpose = ?2 AND dataset_id = "
                                   "(SELECT id FROM dataset WHERE name = ?1)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(2, purpose));
  VEIL_RETURN_IF_ERROR(st.Run());
  if (db.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("dataset \"", std::string(dataset),
                                            "\" has no declaration for \"",
                                            std::string(purpose.substr(0, 80)), "\""));
  }
  VEIL_RETURN_IF_ERROR(
      session_.Record(Operation::kCatalogDeclare, dataset, purpose, decision, params, std::nullopt, {}));
  return txn.Commit();
}

absl::StatusOr<TaxonomyEntry> Catalog::AddTaxonomyKey(TaxonomyEntry entry) {
  const nlohmann::ordered_json params = {{"kind", TaxonomyKindName(entry.kind)},
                                         {"key", entry.key},
                                         {"description", entry.description},
                                         {"special", SpecialName(entry.special)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(Operation::kTaxonomyAdd, "", "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(Taxonomy taxonomy, LoadTaxonomy(ws));
  entry.added_by = session_.actor();
  entry.added_at = absl::FromUnixNanos(absl::ToUnixNanos(ws.env().Now()));
  VEIL_RETURN_IF_ERROR(taxonomy.Add(entry));
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("INSERT INTO taxonomy_key(kind, key, description, special, added_by, added_ns) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, TaxonomyKindName(entry.kind)));
  VEIL_RETURN_IF_ERROR(st.Bind(2, entry.key));
  VEIL_RETURN_IF_ERROR(st.Bind(3, entry.description));
  VEIL_RETURN_IF_ERROR(st.Bind(4, SpecialName(entry.special)));
  VEIL_RETURN_IF_ERROR(st.Bind(5, entry.added_by));
  VEIL_RETURN_IF_ERROR(st.Bind(6, absl::ToUnixNanos(entry.added_at)));
  VEIL_RETURN_IF_ERROR(st.Run());
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kTaxonomyAdd, "", "", decision, params, std::nullopt, {}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  entry.builtin = false;
  return entry;
}

}  // namespace veil::gov
