#include "veil/gov/retention.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "veil/base/hex.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/catalog.h"
#include "veil/gov/consent.h"
#include "veil/gov/taxonomy.h"
#include "veil/store/sqlite.h"
#include "veil/store/workspace.h"

namespace veil::gov {
namespace {

using base::Rfc3339;

using base::TruncatedToNanos;

// Binds a legal hold's subject at `index`: NULL for a hold on the whole dataset, else the pseudonym's 32 raw
// bytes as legal_hold stores them. A pseudonym that is not 64 hex digits is an error, never bound as zeros.
absl::Status BindHoldSubject(store::Statement& st, int index, std::string_view pseudonym) {
  if (pseudonym.empty()) return st.BindNull(index);
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  return st.BindBlob(index, raw);
}

// The subject id of a row as the workspace pseudonymises it at ingest: the value's text form.
std::string SubjectIdAt(const table::Column& column, int64_t row) {
  if (column.type() == table::DataType::kString) return std::string(column.GetString(row));
  return column.FormatValue(row);
}

// Whether the dataset holds a column of `category` or of a category below it (the data map's annotations).
absl::StatusOr<bool> HoldsCategory(store::Workspace& ws, std::string_view dataset,
                                   std::string_view category) {
  VEIL_ASSIGN_OR_RETURN(std::vector<store::ColumnAnnotation> annotations, ws.Annotations(dataset));
  for (const store::ColumnAnnotation& a : annotations) {
    for (const std::string& c : a.categories) {
      if (KeyCovers(category, c)) return true;
    }
  }
  return false;
}

// Each subject's due time in one dataset under its rules, and what is due at `now`. A column rule takes its
// dates from `read` (the dataset's rows as the caller read them) if given, else reads the vault.
absl::StatusOr<DatasetRetention> ComputeDataset(store::Workspace& ws, const store::DatasetInfo& info,
                                                std::vector<RetentionRule> rules, absl::Time now,
                                                const absl::StatusOr<store::DatasetContents>* read) {
  DatasetRetention out;
  out.dataset = info.name;
  out.rules = std::move(rules);
  VEIL_ASSIGN_OR_RETURN(out.holds, LoadLegalHolds(ws.metadata(), info.name));
  std::vector<const RetentionRule*> applying;
  for (const RetentionRule& r : out.rules) {
    if (!r.category.empty()) {
      VEIL_ASSIGN_OR_RETURN(const bool held, HoldsCategory(ws, info.name, r.category));
      if (!held) {
        out.notes.push_back(absl::StrCat("the rule for ", r.category,
                                         " applies to nothing: no column of the dataset holds it now"));
        continue;
      }
    }
    applying.push_back(&r);
  }

  // The subjects and when their rows last arrived.
  absl::flat_hash_map<std::string, absl::Time> due;  // pseudonym -> due time (absent: no date)
  std::vector<std::pair<std::string, absl::Time>> subjects;
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        ws.metadata().Prepare("SELECT s.pseudonym, s.ingested_ns FROM subject s JOIN dataset "
                              "d ON d.id = s.dataset_id WHERE d.name = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, info.name));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      subjects.emplace_back(base::HexEncode(st.ColumnBlob(0)),
                            st.IsNull(1) ? info.updated_at : absl::FromUnixNanos(st.ColumnInt64(1)));
    }
  }
  out.subjects = static_cast<int64_t>(subjects.size());
  const auto earliest = [&](const std::string& p, absl::Time t) {
    auto [it, added] = due.try_emplace(p, t);
    if (!added) it->second = std::min(it->second, t);
  };
  bool reads_rows = false;
  for (const RetentionRule* r : applying) {
    if (r->trigger == RetentionTrigger::kIngest) {
      for (const auto& [p, ingested] : subjects) earliest(p, ingested + absl::Hours(24 * r->days));
    } else {
      reads_rows = true;
    }
  }
  if (reads_rows) {
    // Column rules read the dataset: the subject's newest date in the column starts the period.
    absl::StatusOr<store::DatasetContents> own;
    if (read == nullptr) own = ws.Read(info.name);
    const absl::StatusOr<store::DatasetContents>& rows = read != nullptr ? *read : own;
    if (!rows.ok()) return rows.status();
    const store::DatasetContents& data = *rows;
    const std::optional<int> subject_col = data.table.schema().FindField(info.subject_column);
    if (!subject_col) return absl::DataLossError("the dataset's subject column is missing from its rows");
    const table::Column& ids = data.table.column(*subject_col);
    std::vector<std::string> pseudonym_of_row(data.table.num_rows());
    absl::flat_hash_map<std::string, std::string> memo;
    for (int64_t i = 0; i < data.table.num_rows(); ++i) {
      std::string id = SubjectIdAt(ids, i);
      auto it = memo.find(id);
      if (it == memo.end()) it = memo.emplace(id, ws.Pseudonym(id)).first;
      pseudonym_of_row[i] = it->second;
    }
    for (const RetentionRule* r : applying) {
      if (r->trigger != RetentionTrigger::kColumn) continue;
      const std::optional<int> col = data.table.schema().FindField(r->column);
      if (!col) {
        out.notes.push_back(absl::StrCat("the rule's column \"", r->column,
                                         "\" is no longer in the dataset: it makes nothing due"));
        continue;
      }
      const table::Column& c = data.table.column(*col);
      if (c.type() != table::DataType::kDate && c.type() != table::DataType::kTimestamp) {
        // Retyped by a replace ingest since the rule was set.
        out.notes.push_back(absl::StrCat("the rule's column \"", r->column,
                                         "\" is no longer a date or timestamp: it makes nothing due"));
        continue;
      }
      absl::flat_hash_map<std::string, absl::Time> newest;
      for (int64_t i = 0; i < data.table.num_rows(); ++i) {
        if (c.IsNull(i)) continue;
        const absl::Time t = c.type() == table::DataType::kDate
                                 ? absl::UnixEpoch() + absl::Hours(24 * int64_t{c.GetDate(i).days})
                                 : absl::FromUnixMicros(c.GetTimestamp(i).micros);
        auto [it, added] = newest.try_emplace(pseudonym_of_row[i], t);
        if (!added) it->second = std::max(it->second, t);
      }
      for (const auto& [p, t] : newest) earliest(p, t + absl::Hours(24 * r->days));
    }
  }

  bool whole_dataset_held = false;
  absl::flat_hash_set<std::string> held_subjects;
  for (const LegalHold& h : out.holds) {
    if (h.pseudonym.empty()) whole_dataset_held = true;
    held_subjects.insert(h.pseudonym);
  }
  std::map<absl::CivilDay, int64_t> upcoming;
  for (const auto& [p, ingested] : subjects) {
    auto it = due.find(p);
    if (it == due.end()) {
      ++out.undated;
      continue;
    }
    if (it->second <= now) {
      if (whole_dataset_held || held_subjects.contains(p)) {
        ++out.held;
      } else {
        out.due_pseudonyms.push_back(p);
      }
    } else {
      if (!out.next_due || it->second < *out.next_due) out.next_due = it->second;
      ++upcoming[absl::ToCivilDay(it->second, absl::UTCTimeZone())];
    }
  }
  std::sort(out.due_pseudonyms.begin(), out.due_pseudonyms.end());
  out.due = static_cast<int64_t>(out.due_pseudonyms.size());
  for (const auto& [day, n] : upcoming) {
    if (out.upcoming.size() == DatasetRetention::kUpcomingDays) break;
    out.upcoming.emplace_back(day, n);
  }
  if (out.undated > 0) {
    out.notes.push_back(absl::StrCat(out.undated,
                                     " subject(s) have no date under any rule that applies (their date "
                                     "column is empty): nothing makes them due"));
  }
  return out;
}

// ComputeDataset, with a failure kept as the dataset's error (its rules, holds and subjects still given), so
// that one dataset whose vault fails its check does not hide the others' status.
absl::StatusOr<DatasetRetention> ComputeOrFail(store::Workspace& ws, const store::DatasetInfo& info,
                                               std::vector<RetentionRule> rules, absl::Time now,
                                               const absl::StatusOr<store::DatasetContents>* read) {
  absl::StatusOr<DatasetRetention> d = ComputeDataset(ws, info, rules, now, read);
  if (d.ok()) return d;
  DatasetRetention failed;
  failed.dataset = info.name;
  failed.rules = std::move(rules);
  failed.subjects = info.subjects;
  failed.error = d.status();
  VEIL_ASSIGN_OR_RETURN(failed.holds, LoadLegalHolds(ws.metadata(), info.name));
  return failed;
}

}  // namespace

absl::StatusOr<std::vector<RetentionRule>> LoadRetentionRules(store::Database& db,
                                                              std::optional<std::string_view> dataset) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("SELECT d.name, r.category, r.days, r.trigger, r.column_name, r.set_by, r.set_ns FROM "
                 "retention_rule r JOIN dataset d ON d.id = r.dataset_id WHERE ?1 IS NULL OR d.name = ?1 "
                 "ORDER BY d.name, r.category"));
  VEIL_RETURN_IF_ERROR(dataset.has_value() ? st.Bind(1, *dataset) : st.BindNull(1));
  std::vector<RetentionRule> rules;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    RetentionRule r;
    r.dataset = st.ColumnText(0);
    r.category = st.ColumnText(1);
    r.days = st.ColumnInt64(2);
    const std::string trigger = st.ColumnText(3);
    if (trigger != "ingest" && trigger != "column")
      return absl::DataLossError("workspace.db: a retention rule names an unknown trigger");
    r.trigger = trigger == "ingest" ? RetentionTrigger::kIngest : RetentionTrigger::kColumn;
    r.column = st.ColumnText(4);
    r.set_by = st.ColumnText(5);
    r.set_at = absl::FromUnixNanos(st.ColumnInt64(6));
    rules.push_back(std::move(r));
  }
  return rules;
}

absl::StatusOr<std::vector<LegalHold>> LoadLegalHolds(store::Database& db,
                                                      std::optional<std::string_view> dataset) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare(
          "SELECT d.name, h.id, h.pseudonym, h.reason, h.placed_by, h.placed_ns FROM legal_hold h JOIN "
          "dataset d ON d.id = h.dataset_id WHERE (?1 IS NULL OR d.name = ?1) AND h.released_ns IS NULL "
          "ORDER BY d.name, h.id"));
  VEIL_RETURN_IF_ERROR(dataset.has_value() ? st.Bind(1, *dataset) : st.BindNull(1));
  std::vector<LegalHold> holds;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    LegalHold h;
    h.dataset = st.ColumnText(0);
    h.id = st.ColumnInt64(1);
    if (!st.IsNull(2)) h.pseudonym = base::HexEncode(st.ColumnBlob(2));
    h.reason = st.ColumnText(3);
    h.placed_by = st.ColumnText(4);
    h.placed_at = absl::FromUnixNanos(st.ColumnInt64(5));
    holds.push_back(std::move(h));
  }
  return holds;
}

std::string RetentionTriggerText(const RetentionRule& rule) {
  return rule.trigger == RetentionTrigger::kIngest ? "ingest" : absl::StrCat("column:", rule.column);
}

absl::Status ParseRetentionTrigger(std::string_view text, RetentionRule* rule) {
  if (text == "ingest") {
    rule->trigger = RetentionTrigger::kIngest;
    rule->column.clear();
    return absl::OkStatus();
  }
  if (text.substr(0, 7) == "column:" && text.size() > 7) {
    rule->trigger = RetentionTrigger::kColumn;
    rule->column = std::string(text.substr(7));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown retention trigger \"", std::string(text.substr(0, 40)),
      "\"; one of ingest (when the subject's rows last arrived), column:NAME (the subject's latest date in "
      "a date or timestamp column; for last activity, the column that records it)"));
}

nlohmann::ordered_json RetentionRuleToJson(const RetentionRule& r) {
  return {
      {"dataset", r.dataset},
      {"category", r.category.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.category)},
      {"days", r.days},
      {"trigger", RetentionTriggerText(r)},
      {"set_by", r.set_by},
      {"set_at", Rfc3339(r.set_at)}};
}

nlohmann::ordered_json LegalHoldToJson(const LegalHold& h) {
  return {{"id", h.id},
          {"dataset", h.dataset},
          {"subject",
           h.pseudonym.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(h.pseudonym)},
          {"reason", h.reason},
          {"placed_by", h.placed_by},
          {"placed_at", Rfc3339(h.placed_at)}};
}

absl::StatusOr<RetentionRule> Retention::Set(RetentionRule rule) {
  nlohmann::ordered_json params = {{"retention_rule",
                                    {{"dataset", rule.dataset},
                                     {"category", rule.category},
                                     {"days", rule.days},
                                     {"trigger", RetentionTriggerText(rule)}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kRetentionSet, rule.dataset, "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, ws.GetDataset(rule.dataset));
  if (info.external.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset \"", info.name, "\" is attached from ", info.external->location,
        ": its rows live there, where Veil cannot erase them; set the retention in that database"));
  }
  if (rule.days < 1 || rule.days > kMaxRetentionDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("the retention period must be 1 to ", kMaxRetentionDays, " days, not ", rule.days));
  }
  if (!rule.category.empty()) {
    VEIL_ASSIGN_OR_RETURN(Taxonomy taxonomy, LoadTaxonomy(ws));
    if (taxonomy.Find(TaxonomyKind::kCategory, rule.category) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", rule.category.substr(0, 80),
                       "\" is not a data category of the taxonomy (veil catalog taxonomy --kind category)"));
    }
    VEIL_ASSIGN_OR_RETURN(const bool held, HoldsCategory(ws, info.name, rule.category));
    if (!held) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset \"", info.name, "\" holds no column of category ", rule.category,
                       " (veil catalog ", info.name, " shows its columns' categories)"));
    }
  }
  if (rule.trigger == RetentionTrigger::kColumn) {
    const std::optional<int> col = info.schema.FindField(rule.column);
    if (!col) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset \"", info.name, "\" has no column \"", rule.column.substr(0, 80), "\""));
    }
    const table::DataType type = info.schema.field(*col).type;
    if (type != table::DataType::kDate && type != table::DataType::kTimestamp) {
      return absl::InvalidArgumentError(absl::StrCat("column \"", rule.column, "\" of dataset \"", info.name,
                                                     "\" is ", std::string(table::DataTypeName(type)),
                                                     ", not a date or timestamp: it cannot start a period"));
    }
  }
  rule.dataset = info.name;
  rule.set_by = session_.actor();
  rule.set_at = TruncatedToNanos(ws.env().Now());
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT OR REPLACE INTO retention_rule(dataset_id, category, days, trigger, column_name, "
                   "set_by, set_ns) SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM dataset WHERE name = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, rule.dataset));
    VEIL_RETURN_IF_ERROR(st.Bind(2, rule.category));
    VEIL_RETURN_IF_ERROR(st.Bind(3, rule.days));
    VEIL_RETURN_IF_ERROR(st.Bind(4, rule.trigger == RetentionTrigger::kIngest ? "ingest" : "column"));
    VEIL_RETURN_IF_ERROR(st.Bind(5, rule.column));
    VEIL_RETURN_IF_ERROR(st.Bind(6, rule.set_by));
    VEIL_RETURN_IF_ERROR(st.Bind(7, absl::ToUnixNanos(rule.set_at)));
    VEIL_RETURN_IF_ERROR(st.Run());
  }
  decision.reason += absl::StrCat("; retention rule: ", rule.days, " days from ", RetentionTriggerText(rule));
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kRetentionSet, rule.dataset, "", decision, params,
                                       crypto::Sha256(RetentionRuleToJson(rule).dump()), {}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return rule;
}

absl::Status Retention::Remove(std::string_view dataset, std::string_view category) {
  const nlohmann::ordered_json params = {
      {"retention_rule", {{"dataset", dataset}, {"category", category}, {"remove", true}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kRetentionSet, dataset, "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_RETURN_IF_ERROR(ws.GetDataset(dataset).status());
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("DELETE FROM retention_rule WHERE category = ?2 AND dataset_id = (SELECT id "
                 "FROM dataset WHERE name = ?1)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(2, category));
  VEIL_RETURN_IF_ERROR(st.Run());
  if (db.changes() == 0) {
    return absl::NotFoundError(
        absl::StrCat("dataset \"", std::string(dataset), "\" has no retention rule",
                     category.empty() ? std::string() : " for " + std::string(category.substr(0, 80))));
  }
  decision.reason += "; retention rule removed";
  VEIL_RETURN_IF_ERROR(
      session_.Record(Operation::kRetentionSet, dataset, "", decision, params, std::nullopt, {}));
  return txn.Commit();
}

absl::StatusOr<LegalHold> Retention::Hold(std::string_view dataset,
                                          std::optional<std::string_view> subject_id,
                                          std::string_view reason) {
  VEIL_RETURN_IF_ERROR(ValidateToken("the reason", reason));
  LegalHold h;
  h.dataset = std::string(dataset);
  if (subject_id.has_value()) h.pseudonym = session_.Pseudonym(*subject_id);
  h.reason = std::string(reason);
  const nlohmann::ordered_json params = {
      {"legal_hold",
       {{"dataset", dataset},
        {"subject",
         h.pseudonym.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(h.pseudonym)},
        {"reason", reason}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kRetentionHold, dataset, "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_RETURN_IF_ERROR(ws.GetDataset(dataset).status());
  VEIL_ASSIGN_OR_RETURN(std::vector<LegalHold> holds, LoadLegalHolds(ws.metadata(), dataset));
  for (const LegalHold& x : holds) {
    if (x.pseudonym == h.pseudonym) {
      return absl::AlreadyExistsError(
          absl::StrCat("a legal hold on ", h.pseudonym.empty() ? "dataset" : "this subject in dataset", " \"",
                       std::string(dataset), "\" is already in force"));
    }
  }
  h.placed_by = session_.actor();
  h.placed_at = TruncatedToNanos(ws.env().Now());
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT INTO legal_hold(dataset_id, pseudonym, reason, placed_by, placed_ns) "
                   "SELECT id, ?2, ?3, ?4, ?5 FROM dataset WHERE name = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
    VEIL_RETURN_IF_ERROR(BindHoldSubject(st, 2, h.pseudonym));
    VEIL_RETURN_IF_ERROR(st.Bind(3, h.reason));
    VEIL_RETURN_IF_ERROR(st.Bind(4, h.placed_by));
    VEIL_RETURN_IF_ERROR(st.Bind(5, absl::ToUnixNanos(h.placed_at)));
    VEIL_RETURN_IF_ERROR(st.Run());
    h.id = db.last_insert_rowid();
  }
  decision.reason += h.pseudonym.empty() ? "; legal hold placed on the dataset: no erasure by retention"
                                         : "; legal hold placed on a subject: no erasure by retention";
  std::vector<std::string> pseudonyms;
  if (!h.pseudonym.empty()) pseudonyms.push_back(h.pseudonym);
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kRetentionHold, dataset, "", decision, params,
                                       crypto::Sha256(LegalHoldToJson(h).dump()), std::move(pseudonyms)));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return h;
}

absl::StatusOr<int64_t> Retention::Release(std::string_view dataset,
                                           std::optional<std::string_view> subject_id) {
  const std::string pseudonym = subject_id.has_value() ? session_.Pseudonym(*subject_id) : "";
  const nlohmann::ordered_json params = {
      {"legal_hold",
       {{"dataset", dataset},
        {"subject", pseudonym.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(pseudonym)},
        {"release", true}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kRetentionHold, dataset, "", params));
  store::Workspace& ws = session_.workspace();
  VEIL_RETURN_IF_ERROR(ws.GetDataset(dataset).status());
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("UPDATE legal_hold SET released_ns = ?3, released_by = ?4 WHERE released_ns IS NULL AND "
                 "dataset_id = (SELECT id FROM dataset WHERE name = ?1) AND pseudonym IS ?2"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(BindHoldSubject(st, 2, pseudonym));
  VEIL_RETURN_IF_ERROR(st.Bind(3, absl::ToUnixNanos(ws.env().Now())));
  VEIL_RETURN_IF_ERROR(st.Bind(4, session_.actor()));
  VEIL_RETURN_IF_ERROR(st.Run());
  const int64_t released = db.changes();
  if (released == 0) {
    return absl::NotFoundError(absl::StrCat("no legal hold on ",
                                            pseudonym.empty() ? "dataset" : "this subject in dataset", " \"",
                                            std::string(dataset), "\" is in force"));
  }
  decision.reason += "; legal hold released";
  std::vector<std::string> pseudonyms;
  if (!pseudonym.empty()) pseudonyms.push_back(pseudonym);
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kRetentionHold, dataset, "", decision, params, std::nullopt,
                                       std::move(pseudonyms)));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return released;
}

absl::StatusOr<RetentionStatus> Retention::Compute(absl::Time now) {
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(std::vector<RetentionRule> rules, LoadRetentionRules(ws.metadata(), std::nullopt));
  RetentionStatus status;
  status.now = now;
  for (size_t i = 0; i < rules.size();) {
    size_t j = i;
    while (j < rules.size() && rules[j].dataset == rules[i].dataset) ++j;
    std::vector<RetentionRule> mine(std::make_move_iterator(rules.begin() + i),
                                    std::make_move_iterator(rules.begin() + j));
    VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, ws.GetDataset(mine.front().dataset));
    VEIL_ASSIGN_OR_RETURN(DatasetRetention d, ComputeOrFail(ws, info, std::move(mine), now, nullptr));
    status.datasets.push_back(std::move(d));
    i = j;
  }
  return status;
}

absl::StatusOr<RetentionStatus> Retention::Status() {
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kRetentionRead, "", "", {{"retention", "status"}}).status());
  return Compute(session_.workspace().env().Now());
}

absl::StatusOr<DatasetRetention> Retention::StatusOf(std::string_view dataset,
                                                     const absl::StatusOr<store::DatasetContents>* read) {
  VEIL_RETURN_IF_ERROR(
      session_
          .Authorize(Operation::kRetentionRead, dataset, "", {{"retention", "status"}, {"dataset", dataset}})
          .status());
  store::Workspace& ws = session_.workspace();
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, ws.GetDataset(dataset));
  VEIL_ASSIGN_OR_RETURN(std::vector<RetentionRule> rules, LoadRetentionRules(ws.metadata(), info.name));
  if (rules.empty()) {  // nothing is due by retention: the holds and the subjects, no date to compute
    DatasetRetention d;
    d.dataset = info.name;
    d.subjects = info.subjects;
    VEIL_ASSIGN_OR_RETURN(d.holds, LoadLegalHolds(ws.metadata(), info.name));
    return d;
  }
  return ComputeOrFail(ws, info, std::move(rules), ws.env().Now(), read);
}

absl::StatusOr<EnforceResult> Retention::Enforce(bool dry_run) {
  store::Workspace& ws = session_.workspace();
  const absl::Time now = TruncatedToNanos(ws.env().Now());
  nlohmann::ordered_json params = {{"retention", "enforce"}, {"at", Rfc3339(now)}, {"dry_run", dry_run}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kRetentionEnforce, "", "", params));
  EnforceResult result;
  result.dry_run = dry_run;
  VEIL_ASSIGN_OR_RETURN(result.status, Compute(now));
  int64_t due = 0;
  int64_t failed = 0;  // datasets whose status could not be computed: nothing erased there
  nlohmann::ordered_json erased = nlohmann::ordered_json::array();  // hashed, never written out
  nlohmann::ordered_json counts = nlohmann::ordered_json::array();
  for (const DatasetRetention& d : result.status.datasets) {
    due += d.due;
    result.held += d.held;
    failed += !d.error.ok();
    erased.push_back({{"dataset", d.dataset}, {"pseudonyms", d.due_pseudonyms}});
    counts.push_back({{"dataset", d.dataset}, {"due", d.due}, {"held", d.held}, {"computed", d.error.ok()}});
  }
  if (dry_run) return result;

  // The run's one entry, before the first erasure commits: counts only; the hash of the erased pseudonyms'
  // list lets whoever holds the master key check a claimed list against it.
  params["datasets"] = counts;
  decision.reason += absl::StrCat(
      "; retention enforcement: ", due, " subject record(s) due",
      due == 0 ? std::string(", nothing to erase") : std::string(", erased by crypto-shredding"),
      result.held > 0 ? absl::StrCat("; ", result.held, " kept under legal holds") : std::string(),
      failed > 0
          ? absl::StrCat("; ", failed, " dataset(s) whose status could not be computed, nothing erased there")
          : std::string());
  VEIL_ASSIGN_OR_RETURN(result.audit_seq, session_.RecordEntry(Operation::kRetentionEnforce, "", "", decision,
                                                               params, crypto::Sha256(erased.dump()), {}));
  // One batch per dataset: each vault file is rewritten once, and the dataset's erasures commit together.
  int64_t done = 0;
  for (const DatasetRetention& d : result.status.datasets) {
    if (d.due_pseudonyms.empty()) continue;
    absl::StatusOr<store::EraseResult> r = ws.EraseSubjects(
        d.due_pseudonyms, d.dataset, [](const store::EraseResult&) { return absl::OkStatus(); });
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("retention enforcement stopped after erasing ", done, " of ", due,
                                       " subject record(s) (audit entry #", *result.audit_seq,
                                       "); run it again to finish: ", r.status().message()));
    }
    done += d.due;
    result.erased_rows += r->rows_removed;
    result.keys_destroyed += r->keys_destroyed;
  }
  result.erased_subjects = done;
  return result;
}

}  // namespace veil::gov
