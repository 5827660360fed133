// The model registry of a workspace (issue 9, item 6): trained models, each version with its model card, in
// workspace.db (table `model`, schema version 4; docs/ml.md "Model registry").
//
//   model(name, version, created_ns, created_by, dataset, card, sealed)
//
// - `card` is the model card as JSON text: what the model is for and how it was made (data set, purpose,
//   target, kind, features, privacy cost, metrics, fairness). It holds no personal data (the caller's
//   duty: only aggregate figures and column names), so it is readable for listing.
// - `sealed` is the model itself (an opaque payload: the ml module's pipeline and parameters, as JSON),
//   sealed with AES-256-GCM under a key derived from the master key (Workspace::DeriveKey("model registry
//   v1")). Its associated data ("veil model v2") binds the workspace id, the name, the version, the dataset,
//   the creation time and creator and the SHA-256 of the card (List and Versions check it too), so
//   a payload moved to another name or version, or a card altered in the database, fails to open (DataLoss).
//   A model's parameters are derived from personal data (a non-private model can memorise records), so they
//   are kept encrypted at rest like the vault.
//
// Versions. Put of an existing name adds version max + 1; versions are never overwritten or removed, so a
// decision audited under (name, version) can always be traced to the model that made it. UpdateCard rewrites
// one version's card (evaluation and fairness results are appended) and re-seals its payload for the new
// card.
//
// Atomicity: each mutating method is one SQLite transaction, which runs `before_commit` last (gov appends an
// audit entry there; its error abandons the change). A crash leaves either the old or the new state.
//
// Thread safety: as the Workspace (not thread-safe).
#ifndef VEIL_STORE_MODEL_REGISTRY_H_
#define VEIL_STORE_MODEL_REGISTRY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/store/workspace.h"

namespace veil::store {

// Model names follow the dataset-name rule (ValidateDatasetName): 1 to 64 characters from [A-Za-z0-9_.-],
// starting with a letter or digit. Errors: InvalidArgument.
absl::Status ValidateModelName(std::string_view name);

// "NAME" or "NAME@VERSION" (VERSION >= 1). Errors: InvalidArgument.
struct ModelRef {
  std::string name;
  std::optional<int64_t> version;  // nullopt: the latest
};
absl::StatusOr<ModelRef> ParseModelRef(std::string_view text);

// One version of a model, without its payload.
struct ModelVersionInfo {
  std::string name;
  int64_t version = 0;
  absl::Time created_at;
  std::string created_by;
  std::string dataset;  // "" if trained outside the workspace
  nlohmann::ordered_json card;
};

// One version with its payload, opened.
struct StoredModel {
  ModelVersionInfo info;
  std::string payload;
};

class ModelRegistry {
 public:
  // The registry of `workspace` (which must outlive it).
  explicit ModelRegistry(Workspace& workspace) : ws_(&workspace) {}

  // Stores a new version of model `name` (1 if the name is new) with its card and sealed payload.
  // `card` must be a JSON object. Errors: InvalidArgument for a bad name or card; the hook's error; SQLite's
  // and the AEAD's. Nothing is stored on error.
  absl::StatusOr<ModelVersionInfo> Put(
      std::string_view name, std::string_view dataset, std::string_view created_by,
      const nlohmann::ordered_json& card, std::string_view payload,
      absl::FunctionRef<absl::Status(const ModelVersionInfo&)> before_commit);

  // The latest version of every model, in name order. Each listed version's seal is checked (as Get does),
  // so a card, creator or time edited in workspace.db is never shown. Errors: DataLoss as Get's.
  absl::StatusOr<std::vector<ModelVersionInfo>> List();
  // Every version of one model, oldest first, each seal checked. Errors: NotFound naming the model;
  // DataLoss as Get's.
  absl::StatusOr<std::vector<ModelVersionInfo>> Versions(std::string_view name);

  // One version (the latest if unset), its card checked and its payload opened. Errors: NotFound naming the
  // model (and version); DataLoss if the card or the payload was altered, or the payload was sealed for
  // another name, version or workspace.
  absl::StatusOr<StoredModel> Get(const ModelRef& ref);

  // Replaces one version's card (a JSON object) and re-seals its payload for it. Errors: those of Get; the
  // hook's; InvalidArgument for a card that is not an object.
  absl::StatusOr<ModelVersionInfo> UpdateCard(
      std::string_view name, int64_t version, const nlohmann::ordered_json& card,
      absl::FunctionRef<absl::Status(const ModelVersionInfo&)> before_commit);

 private:
  absl::Status VerifyAll(const std::vector<ModelVersionInfo>& infos);
  absl::StatusOr<std::vector<uint8_t>> Seal(const ModelVersionInfo& info, const std::string& card_text,
                                            std::string_view payload);
  Workspace* ws_;
};

}  // namespace veil::store

#endif  // VEIL_STORE_MODEL_REGISTRY_H_
