#include "veil/store/model_registry.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/sha256.h"
#include "veil/store/sqlite.h"

namespace veil::store {
namespace {

constexpr char kKeyLabel[] = "model registry v1";

// The AEAD's associated data: everything the payload must stay bound to.
std::string Aad(const std::string& workspace_id, const ModelVersionInfo& info, const std::string& card_text) {
  // Every field shown with the model is bound: the names are validated (no newline), the card is hashed.
  return absl::StrCat("veil model v2\n", workspace_id, "\n", info.name, "\n", info.version, "\n",
                      info.dataset, "\n", absl::ToUnixNanos(info.created_at), "\n",
                      base::HexEncode(crypto::Sha256(info.created_by)), "\n",
                      base::HexEncode(crypto::Sha256(card_text)));
}

absl::StatusOr<nlohmann::ordered_json> ParseCard(const std::string& text, std::string_view name,
                                                 int64_t version) {
  nlohmann::ordered_json card = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (card.is_discarded() || !card.is_object()) {
    return absl::DataLossError(absl::StrCat("workspace.db: the card of model \"", std::string(name),
                                            "\" version ", version, " is not a JSON object"));
  }
  return card;
}

std::string CardText(const nlohmann::ordered_json& card) {
  return card.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

constexpr char kColumns[] = "name, version, created_ns, created_by, dataset, card";

absl::StatusOr<ModelVersionInfo> InfoFromRow(Statement& st) {
  ModelVersionInfo info;
  info.name = st.ColumnText(0);
  info.version = st.ColumnInt64(1);
  info.created_at = absl::FromUnixNanos(st.ColumnInt64(2));
  info.created_by = st.ColumnText(3);
  info.dataset = st.ColumnText(4);
  VEIL_ASSIGN_OR_RETURN(info.card, ParseCard(st.ColumnText(5), info.name, info.version));
  return info;
}

}  // namespace

absl::Status ValidateModelName(std::string_view name) {
  absl::Status s = ValidateDatasetName(name);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid model name \"", std::string(name.substr(0, 80)),
                   "\": use 1 to 64 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit"));
}

absl::StatusOr<ModelRef> ParseModelRef(std::string_view text) {
  ModelRef ref;
  const size_t at = text.rfind('@');
  ref.name = std::string(text.substr(0, at));
  VEIL_RETURN_IF_ERROR(ValidateModelName(ref.name));
  if (at != std::string_view::npos) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(std::string(text.substr(at + 1)), &v) || v < 1) {
      return absl::InvalidArgumentError(absl::StrCat("invalid model version in \"",
                                                     std::string(text.substr(0, 100)),
                                                     "\": write NAME or NAME@VERSION with VERSION >= 1"));
    }
    ref.version = v;
  }
  return ref;
}

absl::StatusOr<std::vector<uint8_t>> ModelRegistry::Seal(const ModelVersionInfo& info,
                                                         const std::string& card_text,
                                                         std::string_view payload) {
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, ws_->DeriveKey(kKeyLabel));
  return crypto::Seal(key, base::AsBytes(payload), base::AsBytes(Aad(ws_->id(), info, card_text)),
                      ws_->env().random());
}

absl::StatusOr<ModelVersionInfo> ModelRegistry::Put(
    std::string_view name, std::string_view dataset, std::string_view created_by,
    const nlohmann::ordered_json& card, std::string_view payload,
    absl::FunctionRef<absl::Status(const ModelVersionInfo&)> before_commit) {
  VEIL_RETURN_IF_ERROR(ValidateModelName(name));
  if (!card.is_object()) return absl::InvalidArgumentError("a model card must be a JSON object");
  Database& db = ws_->metadata();
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(Statement max,
                        db.Prepare("SELECT COALESCE(MAX(version), 0) FROM model WHERE name = ?1"));
  VEIL_RETURN_IF_ERROR(max.Bind(1, name));
  VEIL_RETURN_IF_ERROR(max.Step().status());
  ModelVersionInfo info;
  info.name = std::string(name);
  info.version = max.ColumnInt64(0) + 1;
  info.created_at = ws_->env().Now();
  info.created_by = std::string(created_by);
  info.dataset = std::string(dataset);
  info.card = card;
  const std::string card_text = CardText(card);
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, Seal(info, card_text, payload));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("INSERT INTO model(name, version, created_ns, created_by, "
                                   "dataset, card, sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  VEIL_RETURN_IF_ERROR(st.Bind(2, info.version));
  VEIL_RETURN_IF_ERROR(st.Bind(3, absl::ToUnixNanos(info.created_at)));
  VEIL_RETURN_IF_ERROR(st.Bind(4, created_by));
  VEIL_RETURN_IF_ERROR(st.Bind(5, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(6, card_text));
  VEIL_RETURN_IF_ERROR(st.BindBlob(7, sealed));
  VEIL_RETURN_IF_ERROR(st.Run());
  VEIL_RETURN_IF_ERROR(before_commit(info));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return info;
}

absl::Status ModelRegistry::VerifyAll(const std::vector<ModelVersionInfo>& infos) {
  for (const ModelVersionInfo& info : infos) {
    VEIL_RETURN_IF_ERROR(Get({info.name, info.version}).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ModelVersionInfo>> ModelRegistry::List() {
  VEIL_ASSIGN_OR_RETURN(Statement st, ws_->metadata().Prepare(absl::StrCat(
                                          "SELECT ", kColumns,
                                          " FROM model m WHERE version = (SELECT MAX(version) FROM model "
                                          "WHERE name = m.name) ORDER BY name")));
  std::vector<ModelVersionInfo> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(ModelVersionInfo info, InfoFromRow(st));
    out.push_back(std::move(info));
  }
  VEIL_RETURN_IF_ERROR(VerifyAll(out));
  return out;
}

absl::StatusOr<std::vector<ModelVersionInfo>> ModelRegistry::Versions(std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(
      Statement st, ws_->metadata().Prepare(
                        absl::StrCat("SELECT ", kColumns, " FROM model WHERE name = ?1 ORDER BY version")));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  std::vector<ModelVersionInfo> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(ModelVersionInfo info, InfoFromRow(st));
    out.push_back(std::move(info));
  }
  if (out.empty()) {
    return absl::NotFoundError(absl::StrCat("no model \"", std::string(name.substr(0, 80)),
                                            "\" in the workspace (see `veil model list`)"));
  }
  VEIL_RETURN_IF_ERROR(VerifyAll(out));
  return out;
}

absl::StatusOr<StoredModel> ModelRegistry::Get(const ModelRef& ref) {
  VEIL_RETURN_IF_ERROR(ValidateModelName(ref.name));
  Database& db = ws_->metadata();
  VEIL_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare(absl::StrCat("SELECT ", kColumns, ", sealed FROM model WHERE name = ?1 AND ",
                              ref.version.has_value()
                                  ? "version = ?2"
                                  : "version = (SELECT MAX(version) FROM model WHERE name = ?1)")));
  VEIL_RETURN_IF_ERROR(st.Bind(1, ref.name));
  if (ref.version.has_value()) VEIL_RETURN_IF_ERROR(st.Bind(2, *ref.version));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return absl::NotFoundError(
        ref.version.has_value()
            ? absl::StrCat("model \"", ref.name, "\" has no version ", *ref.version,
                           " (see `veil model show ", ref.name, "`)")
            : absl::StrCat("no model \"", ref.name, "\" in the workspace (see `veil model list`)"));
  }
  StoredModel out;
  VEIL_ASSIGN_OR_RETURN(out.info, InfoFromRow(st));
  const std::string card_text = st.ColumnText(5);
  const std::vector<uint8_t> sealed = st.ColumnBlob(6);
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, ws_->DeriveKey(kKeyLabel));
  absl::StatusOr<std::vector<uint8_t>> plain =
      crypto::Open(key, sealed, base::AsBytes(Aad(ws_->id(), out.info, card_text)));
  if (!plain.ok()) {
    return absl::DataLossError(absl::StrCat("model \"", out.info.name, "\" version ", out.info.version,
                                            ": the sealed model does not open for its card (workspace.db was "
                                            "altered, or the model was sealed elsewhere)"));
  }
  out.payload.assign(plain->begin(), plain->end());
  return out;
}

absl::StatusOr<ModelVersionInfo> ModelRegistry::UpdateCard(
    std::string_view name, int64_t version, const nlohmann::ordered_json& card,
    absl::FunctionRef<absl::Status(const ModelVersionInfo&)> before_commit) {
  if (!card.is_object()) return absl::InvalidArgumentError("a model card must be a JSON object");
  Database& db = ws_->metadata();
  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(StoredModel current, Get({std::string(name), version}));
  ModelVersionInfo info = current.info;
  info.card = card;
  const std::string card_text = CardText(card);
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, Seal(info, card_text, current.payload));
  VEIL_ASSIGN_OR_RETURN(
      Statement st, db.Prepare("UPDATE model SET card = ?3, sealed = ?4 WHERE name = ?1 AND version = ?2"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  VEIL_RETURN_IF_ERROR(st.Bind(2, version));
  VEIL_RETURN_IF_ERROR(st.Bind(3, card_text));
  VEIL_RETURN_IF_ERROR(st.BindBlob(4, sealed));
  VEIL_RETURN_IF_ERROR(st.Run());
  VEIL_RETURN_IF_ERROR(before_commit(info));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return info;
}

}  // namespace veil::store
