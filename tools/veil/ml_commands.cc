// veil train --dataset NAME --target COL --model logreg|linreg|mlp [--epsilon E --delta D --metadata
// PUBLIC.json]
//            [--test FILE.csv] [--purpose P] [--features a,b] -o MODEL
// veil evaluate --model M (--dataset D --purpose P | FILE.csv)
// veil fairness --model M --dataset D --protected sex,race --purpose P
// veil decide --model M INPUT.csv [--top K] [--subject-column C] [--purpose P]
// veil model list | show M | export M -o MODEL.json
//
// Machine learning on workspace datasets (src/veil/ml, docs/ml.md sections 11-14). Every command goes through
// the gate (gov::Session); models live in the workspace's registry (store/model_registry.h) with their card.
//
// Training. With --epsilon (DP-SGD): the feature pipeline comes from PUBLIC METADATA only (--metadata:
// category lists, numeric bounds, the target's classes), the cost is planned from the parameters and the
// catalog's public subject count (ml::PlanDpSgd), reserved in the dataset's budget through
// Session::RunCharged before any row is read, and the training runs on one row per subject; a refusal (no
// budget, too little left, purpose, role) exits 3 and is audited. Without --epsilon: non-private training,
// operation train.nonprivate (owner only, declared purpose: the model may memorise records), audited through
// Session::RunAudited. Either way the model is evaluated on --test FILE or on a held-out 20% split and
// registered as NAME version k.
//
// Decisions. `decide` scores each row of INPUT.csv, explains it (exact contributions for linear models,
// integrated gradients for the MLP) and appends one audit entry per decision naming the subject only by its
// keyed pseudonym (store::Workspace::Pseudonym), with hashes of the input and of the decision record; no
// value of the input is audited.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/session.h"
#include "veil/ml/explain.h"
#include "veil/ml/fairness.h"
#include "veil/ml/features.h"
#include "veil/ml/metrics.h"
#include "veil/ml/model.h"
#include "veil/ml/train.h"
#include "veil/store/model_registry.h"
#include "veil/table/csv_reader.h"
#include "veil/table/table.h"

namespace veil::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr double kHeldOutFraction = 0.2;
constexpr char kPayloadFormat[] = "veil-registered-model";

std::string Sha256Hex(std::string_view bytes) { return base::HexEncode(crypto::Sha256(bytes)); }

Json ParseOrdered(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// --- A registered model: what the sealed payload holds.
struct LoadedModel {
  store::ModelVersionInfo info;
  ml::FeaturePipeline pipeline;
  ml::Model model;
  std::vector<std::string> classes;  // classification: class names, index = class id
  std::string target;
};

std::string MakePayload(const ml::FeaturePipeline& pipeline, const ml::Model& model,
                        const std::vector<std::string>& classes, const std::string& target) {
  const Json doc = {
      {"format", kPayloadFormat},      {"version", 1},           {"target", target}, {"classes", classes},
      {"pipeline", pipeline.ToJson()}, {"model", model.ToJson()}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<LoadedModel> LoadModel(gov::Session& session, const std::string& ref_text) {
  VEIL_ASSIGN_OR_RETURN(const store::ModelRef ref, store::ParseModelRef(ref_text));
  VEIL_ASSIGN_OR_RETURN(store::StoredModel stored, session.GetModel(ref));
  const Json doc = ParseOrdered(stored.payload);
  // Name and version copied: stored.info is moved into the result below.
  const auto damaged = [name = stored.info.name, version = stored.info.version](const std::string& what) {
    return absl::DataLossError(
        absl::StrCat("model \"", name, "\" version ", version, ": the stored model is damaged (", what, ")"));
  };
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kPayloadFormat)
    return damaged("not a registered model");
  if (!doc.contains("pipeline") || !doc["pipeline"].is_string() || !doc.contains("model") ||
      !doc["model"].is_string() || !doc.contains("classes") || !doc["classes"].is_array())
    return damaged("fields");
  LoadedModel m;
  m.info = std::move(stored.info);
  absl::StatusOr<ml::FeaturePipeline> pipeline =
      ml::FeaturePipeline::FromJson(doc["pipeline"].get<std::string>());
  if (!pipeline.ok()) return damaged("pipeline");
  m.pipeline = *std::move(pipeline);
  absl::StatusOr<ml::Model> model = ml::Model::FromJson(doc["model"].get<std::string>());
  // Model::FromJson's messages name fields and sizes only (a pipeline's may quote a category: not shown).
  if (!model.ok()) return damaged(std::string(model.status().message()));
  m.model = *std::move(model);
  for (const auto& c : doc["classes"]) {
    if (!c.is_string()) return damaged("classes");
    m.classes.push_back(c.get<std::string>());
  }
  // The parts must fit together before anything indexes one with the other (a class id, a feature).
  if (const absl::Status st = ml::CheckModelParts(m.model, m.pipeline, m.classes); !st.ok())
    return damaged(std::string(st.message()));
  m.target = doc.value("target", "");
  return m;
}

// --- The public metadata file (DP training, optional otherwise): ml::ParsePublicMetadata's format, whose
// columns must exist in the dataset and not be the target.
// ml::PublicMetadata with the file's SHA-256 (recorded in the audit entry and the model card).
struct PublicMetadata : ml::PublicMetadata {
  std::string sha256;
};

absl::StatusOr<PublicMetadata> ReadMetadata(const std::string& path, const table::Schema& schema,
                                            const std::string& target) {
  VEIL_ASSIGN_OR_RETURN(const std::string text, ReadTextInput(path));
  VEIL_ASSIGN_OR_RETURN(ml::PublicMetadata parsed, ml::ParsePublicMetadata(text, InputName(path)));
  for (const ml::ColumnSpec& c : parsed.columns) {
    const std::string where = absl::StrCat(InputName(path), ": column \"", Shorten(c.name, 64), "\": ");
    if (!schema.FindField(c.name).has_value())
      return absl::InvalidArgumentError(where + "the dataset has no such column");
    if (c.name == target)
      return absl::InvalidArgumentError(where + "is the target; declare its classes under \"target\"");
  }
  PublicMetadata meta;
  static_cast<ml::PublicMetadata&>(meta) = std::move(parsed);
  meta.sha256 = Sha256Hex(text);
  return meta;
}

// Class ids of `target` in `t`, -1 for a null or a value not among `classes` (such rows are left out,
// record by record, never an error that would depend on the data).
std::vector<int> ClassIds(const table::Table& t, int col, const std::vector<std::string>& classes) {
  absl::flat_hash_map<std::string, int> index;
  for (size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<int>(i);
  std::vector<int> ids(t.num_rows(), -1);
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    if (t.IsNull(r, col)) continue;
    auto it = index.find(t.FormatValue(r, col));
    if (it != index.end()) ids[r] = it->second;
  }
  return ids;
}

// The rows of `t` whose target is usable, with their targets.
struct Labeled {
  table::Table table;
  ml::Targets y;
  int64_t dropped = 0;
};

absl::StatusOr<Labeled> Label(const table::Table& t, const std::string& target, ml::Task task,
                              const std::vector<std::string>& classes) {
  const std::optional<int> col = t.schema().FindField(target);
  if (!col.has_value())
    return absl::InvalidArgumentError(absl::StrCat("the data has no target column \"", target, "\""));
  std::vector<int64_t> keep;
  Labeled out;
  if (task == ml::Task::kRegression) {
    const table::DataType type = t.schema().field(*col).type;
    if (type != table::DataType::kInt64 && type != table::DataType::kDouble)
      return absl::InvalidArgumentError(
          absl::StrCat("linreg needs a numeric target; \"", target, "\" is not int64 or double"));
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (!t.IsNull(r, *col)) keep.push_back(r);
    }
    VEIL_ASSIGN_OR_RETURN(out.table, t.Take(keep));
    VEIL_ASSIGN_OR_RETURN(out.y.values, ml::EncodeRegressionTarget(out.table, target));
  } else {
    const std::vector<int> ids = ClassIds(t, *col, classes);
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (ids[r] >= 0) {
        keep.push_back(r);
        out.y.classes.push_back(ids[r]);
      }
    }
    VEIL_ASSIGN_OR_RETURN(out.table, t.Take(keep));
  }
  out.dropped = t.num_rows() - static_cast<int64_t>(keep.size());
  return out;
}

// Metrics of the predictions `p` of `model` on labeled rows.
absl::StatusOr<Json> MetricsOf(const ml::Model& model, const ml::Matrix& p, const Labeled& data,
                               const std::vector<std::string>& classes) {
  if (model.task() == ml::Task::kBinary) {
    std::vector<double> scores(p.data(), p.data() + p.rows());
    VEIL_ASSIGN_OR_RETURN(const ml::BinaryMetrics r, ml::EvaluateBinary(scores, data.y.classes));
    Json calibration = Json::array();
    for (const ml::CalibrationBin& b : r.calibration) {
      calibration.push_back({{"lower", b.lower},
                             {"upper", b.upper},
                             {"count", b.count},
                             {"mean_score", b.mean_score},
                             {"positive_rate", b.positive_rate}});
    }
    Json out = {{"task", "binary"},
                {"n", r.n},
                {"positive_class", classes.size() > 1 ? classes[1] : ""},
                {"accuracy", r.accuracy},
                {"auc", r.auc},
                {"log_loss", r.log_loss},
                {"precision", r.precision},
                {"recall", r.recall},
                {"f1", r.f1},
                {"threshold", r.threshold},
                {"confusion", {{"tp", r.tp}, {"fp", r.fp}, {"tn", r.tn}, {"fn", r.fn}}},
                {"ece", r.ece},
                {"calibration", calibration}};
    // AUC is undefined (NaN) when one class only is present; JSON has no NaN, so it is left out.
    if (!std::isfinite(r.auc)) out.erase("auc");
    return out;
  }
  if (model.task() == ml::Task::kMulticlass) {
    VEIL_ASSIGN_OR_RETURN(const ml::MulticlassMetrics r, ml::EvaluateMulticlass(p, data.y.classes));
    return Json{{"task", "multiclass"},     {"n", r.n},
                {"accuracy", r.accuracy},   {"log_loss", r.log_loss},
                {"confusion", r.confusion}, {"precision", r.precision},
                {"recall", r.recall},       {"classes", classes}};
  }
  std::vector<double> pred(p.data(), p.data() + p.rows());
  std::vector<double> truth(data.y.values.data(), data.y.values.data() + data.y.values.size());
  VEIL_ASSIGN_OR_RETURN(const ml::RegressionMetrics r, ml::EvaluateRegression(pred, truth));
  return Json{{"task", "regression"}, {"n", r.n}, {"rmse", r.rmse}, {"mae", r.mae}, {"r2", r.r2}};
}

// Metrics of `m` on labeled rows, as the card stores them.
absl::StatusOr<Json> Metrics(const ml::Model& model, const ml::FeaturePipeline& pipeline, const Labeled& data,
                             const std::vector<std::string>& classes) {
  if (data.table.num_rows() == 0) return absl::InvalidArgumentError("no labeled rows to evaluate on");
  std::vector<std::vector<int>> unknown;
  VEIL_ASSIGN_OR_RETURN(const ml::Matrix x, pipeline.Transform(data.table, &unknown));
  const ml::Matrix p = model.Predict(x);
  // Rows holding a category the model never saw (scored as no category of that column): a count only.
  int64_t unknown_rows = 0;
  for (const auto& u : unknown) unknown_rows += u.empty() ? 0 : 1;
  VEIL_ASSIGN_OR_RETURN(Json out, MetricsOf(model, p, data, classes));
  if (unknown_rows > 0) out["unknown_category_rows"] = unknown_rows;
  return out;
}

// A number of a metrics object, or `fallback` when it is absent or not a number (e.g. an AUC left out
// because the data held one class only).
double Num(const Json& m, const char* key, double fallback = 0.0) {
  const auto it = m.find(key);
  return it != m.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string MetricsLine(const Json& m) {
  if (!m.is_object() || !m.contains("n")) return "none";
  const std::string task = m.value("task", "");
  if (task == "binary") {
    return absl::StrFormat(
        "accuracy %.4f  AUC %s  log loss %.4f  precision %.4f  recall %.4f  ECE %.4f  (n %s)",
        Num(m, "accuracy"),
        m.contains("auc") && m["auc"].is_number() ? absl::StrFormat("%.4f", Num(m, "auc")) : "n/a",
        Num(m, "log_loss"), Num(m, "precision"), Num(m, "recall"), Num(m, "ece"),
        WithThousands(m.value("n", int64_t{0})));
  }
  if (task == "multiclass") {
    return absl::StrFormat("accuracy %.4f  log loss %.4f  (n %s)", Num(m, "accuracy"), Num(m, "log_loss"),
                           WithThousands(m.value("n", int64_t{0})));
  }
  return absl::StrFormat("RMSE %s  MAE %s  R^2 %.4f  (n %s)", FormatNumber(Num(m, "rmse")),
                         FormatNumber(Num(m, "mae")), Num(m, "r2"), WithThousands(m.value("n", int64_t{0})));
}

// Whether a card's model was trained without DP (then export and decide are for owners only).
bool NonPrivate(const Json& card) {
  const auto it = card.find("privacy");
  return it == card.end() || !it->is_object() || it->value("mode", "") != "dp-sgd";
}

Json PipelineSummary(const ml::FeaturePipeline& p) {
  Json cols = Json::array();
  for (const ml::ColumnSpec& c : p.columns()) {
    Json j = {{"name", c.name},
              {"kind", std::string(ml::ColumnKindName(c.kind))},
              {"missing", std::string(ml::MissingPolicyName(c.missing))}};
    if (c.kind == ml::ColumnKind::kCategorical) {
      j["categories"] = c.categories.size();
    } else {
      if (c.lower.has_value()) j["bounds"] = {*c.lower, *c.upper};
      j["transform"] = std::string(ml::NumericTransformName(c.transform));
    }
    cols.push_back(std::move(j));
  }
  return cols;
}

// --- veil train

struct TrainArgs {
  std::string dataset;
  std::string target;
  std::string kind = "logreg";
  std::optional<double> epsilon;
  std::optional<double> delta;
  std::string metadata;
  std::string test;
  std::string purpose;
  std::string output;
  std::vector<std::string> features;
  std::vector<int> hidden = {16};
  std::optional<int> epochs;
  std::optional<int> batch_size;
  std::optional<double> learning_rate;
  double clip = 1;
};

// What the training run produces inside the gate, released once audited (and charged).
struct TrainOutput {
  std::string payload;
  Json metrics;
  Json training;
  Json features;
  std::string feature_source;
  std::optional<ml::DpSgdPlan> plan;
  std::vector<std::string> classes;
  double seconds = 0;
};

absl::Status ValidateTrainArgs(const TrainArgs& a) {
  if (a.dataset.empty()) return absl::InvalidArgumentError("--dataset NAME is required");
  if (a.target.empty()) return absl::InvalidArgumentError("--target COLUMN is required");
  if (a.output.empty())
    return absl::InvalidArgumentError("-o MODEL (the model's name in the registry) is required");
  VEIL_RETURN_IF_ERROR(store::ValidateModelName(a.output));
  if (a.kind != "logreg" && a.kind != "linreg" && a.kind != "mlp")
    return absl::InvalidArgumentError(
        absl::StrCat("--model must be logreg, linreg or mlp, not \"", Shorten(a.kind, 40), "\""));
  if (a.epsilon.has_value() != a.delta.has_value())
    return absl::InvalidArgumentError("DP-SGD needs both --epsilon and --delta");
  if (a.epsilon.has_value()) {
    if (!(*a.epsilon > 0) || !std::isfinite(*a.epsilon))
      return absl::InvalidArgumentError("--epsilon must be > 0");
    if (!(*a.delta > 0 && *a.delta < 1)) return absl::InvalidArgumentError("--delta must be in (0, 1)");
    if (a.metadata.empty())
      return absl::InvalidArgumentError(
          "DP-SGD needs --metadata PUBLIC.json: the category lists, numeric bounds and target classes "
          "declared "
          "public (nothing may be read from the data without being charged); see docs/ml.md");
  }
  if (a.epochs.has_value() && (*a.epochs < 1 || *a.epochs > 1000))
    return absl::InvalidArgumentError("--epochs must be in [1, 1000]");
  if (a.batch_size.has_value() && *a.batch_size < 1)
    return absl::InvalidArgumentError("--batch-size must be >= 1");
  if (a.learning_rate.has_value() && !(*a.learning_rate > 0))
    return absl::InvalidArgumentError("--learning-rate must be > 0");
  if (!(a.clip > 0) || !std::isfinite(a.clip)) return absl::InvalidArgumentError("--clip must be > 0");
  if (a.kind == "mlp" && (a.hidden.empty() || a.hidden.size() > 2))
    return absl::InvalidArgumentError(
        "--hidden takes one or two layer widths (e.g. --hidden 16 or --hidden 32,16)");
  return absl::OkStatus();
}

void PrintTrainSummary(const TrainArgs& a, const store::ModelVersionInfo& info, const TrainOutput& out,
                       const gov::ChargeReceipt* receipt, uint64_t audit_seq, const GlobalOptions& g) {
  if (g.json) {
    Json doc = {{"model", info.name},     {"version", info.version}, {"dataset", a.dataset},
                {"purpose", a.purpose},   {"kind", a.kind},          {"target", a.target},
                {"metrics", out.metrics}, {"seconds", out.seconds},  {"audit_seq", audit_seq}};
    if (receipt != nullptr) {
      doc["privacy"] = info.card["privacy"];
      doc["charge"] = {
          {"id", receipt->charge_id}, {"epsilon", receipt->cost.epsilon}, {"delta", receipt->cost.delta}};
      doc["budget"] = {{"total", store::EpsilonDeltaToJson(receipt->total)},
                       {"spent", store::EpsilonDeltaToJson(receipt->spent)},
                       {"remaining", store::EpsilonDeltaToJson(receipt->remaining)}};
    } else {
      doc["privacy"] = {{"mode", "non-private"}};
    }
    PrintJson(doc);
    return;
  }
  if (g.quiet) return;
  std::cout << "Trained " << a.kind << " \"" << info.name << "\" version " << info.version << " on dataset \""
            << a.dataset << "\" (target " << a.target << ", " << out.features.size() << " columns, "
            << FormatElapsed(absl::Seconds(out.seconds)) << "); audit entry #" << audit_seq << "\n";
  if (receipt != nullptr) {
    const ml::DpSgdPlan& p = *out.plan;
    std::cout << absl::StrFormat(
        "  DP-SGD: epsilon %s, delta %s (noise multiplier %.4f, sampling rate %.5f, %d steps, clip %s)\n",
        FormatNumber(p.cost.epsilon), FormatNumber(p.cost.delta), p.noise_multiplier, p.sampling_rate,
        p.steps, FormatNumber(p.clip_norm));
    std::cout << "  Charged to dataset \"" << a.dataset << "\"; remaining: epsilon "
              << FormatNumber(receipt->remaining.epsilon) << ", delta "
              << FormatNumber(receipt->remaining.delta) << "\n";
    if (p.diverged)
      std::cout << "  WARNING: training diverged; the model was reset to zero (constant). Lower the learning "
                   "rate\n";
  } else {
    std::cout << "  Non-private: no privacy guarantee for the people in the training data\n";
  }
  if (!a.test.empty()) {
    std::cout << "  Test file: " << MetricsLine(out.metrics) << "\n";
  } else if (receipt == nullptr) {
    std::cout << "  Held-out 20%: " << MetricsLine(out.metrics) << "\n";
  } else {
    std::cout << "  No metrics: DP training uses every subject; pass --test FILE to evaluate\n";
  }
}

absl::Status RunTrain(const TrainArgs& a, const GlobalOptions& g) {
  VEIL_RETURN_IF_ERROR(ValidateTrainArgs(a));
  const bool dp = a.epsilon.has_value();
  ProgressBar progress(g);
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, session->GetDataset(a.dataset));
  if (info.external.has_value())
    return absl::UnimplementedError("veil train reads ingested datasets only, not attached ones");
  const std::optional<int> target_field = info.schema.FindField(a.target);
  if (!target_field.has_value())
    return absl::InvalidArgumentError(
        absl::StrCat("dataset \"", a.dataset, "\" has no column \"", a.target, "\""));
  if (a.target == info.subject_column)
    return absl::InvalidArgumentError("the target cannot be the dataset's subject column");

  // Everything decided from the parameters, the schema and public metadata, before any row is read.
  std::optional<PublicMetadata> meta;
  if (!a.metadata.empty()) {
    VEIL_ASSIGN_OR_RETURN(meta, ReadMetadata(a.metadata, info.schema, a.target));
    for (const ml::ColumnSpec& c : meta->columns) {
      if (c.name == info.subject_column)
        return absl::InvalidArgumentError(
            absl::StrCat(a.metadata, ": the subject column \"", c.name, "\" cannot be a feature"));
    }
  }
  std::vector<std::string> inputs = a.features;
  if (inputs.empty()) {
    if (meta.has_value()) {
      for (const ml::ColumnSpec& c : meta->columns) inputs.push_back(c.name);
    } else {
      for (const table::Field& f : info.schema.fields()) {
        if (f.name != a.target && f.name != info.subject_column) inputs.push_back(f.name);
      }
    }
  }
  for (const std::string& f : inputs) {
    if (!info.schema.FindField(f).has_value())
      return absl::InvalidArgumentError(
          absl::StrCat("--features: dataset \"", a.dataset, "\" has no column \"", f, "\""));
    if (f == a.target || f == info.subject_column)
      return absl::InvalidArgumentError(
          absl::StrCat("--features: \"", f, "\" is the target or the subject column"));
  }
  std::optional<ml::FeaturePipeline> public_pipeline;
  if (meta.has_value()) {
    std::vector<ml::ColumnSpec> specs;
    for (const std::string& f : inputs) {
      auto it = std::find_if(meta->columns.begin(), meta->columns.end(),
                             [&](const ml::ColumnSpec& c) { return c.name == f; });
      if (it == meta->columns.end())
        return absl::InvalidArgumentError(absl::StrCat(
            a.metadata, ": feature \"", f, "\" is not declared (every input needs its public metadata)"));
      // DP: nothing the run does on the rows may fail or overflow on a value. Bounds clip every numeric
      // input (a declared mean/scale alone leaves (x - mean) / scale unbounded: one record could make the
      // noise or the parameters non-finite), and a null must be imputed, not an error.
      if (dp && it->kind == ml::ColumnKind::kNumeric && !(it->lower.has_value() && it->upper.has_value()))
        return absl::InvalidArgumentError(absl::StrCat(
            a.metadata, ": numeric feature \"", f, "\" needs public bounds (lower, upper) for DP training"));
      if (dp && it->missing == ml::MissingPolicy::kError)
        return absl::InvalidArgumentError(absl::StrCat(
            a.metadata, ": feature \"", f, "\" has missing policy \"error\", which DP training cannot use"));
      specs.push_back(*it);
    }
    VEIL_ASSIGN_OR_RETURN(public_pipeline, ml::PublicFeaturePipeline(std::move(specs)));
  }
  const bool classify = a.kind != "linreg";
  if (dp && classify && (!meta.has_value() || meta->classes.empty()))
    return absl::InvalidArgumentError(absl::StrCat(
        a.metadata,
        ": DP classification needs the target's classes declared: \"target\": {\"classes\": [...]}"));

  // The test file, read and checked before anything is charged.
  std::optional<table::Table> test_table;
  if (!a.test.empty()) {
    VEIL_ASSIGN_OR_RETURN(table::Table t, table::ReadCsv(crypto::DefaultEnv(), a.test));
    if (!t.schema().FindField(a.target).has_value())
      return absl::InvalidArgumentError(absl::StrCat(a.test, ": no target column \"", a.target, "\""));
    for (const std::string& f : inputs) {
      if (!t.schema().FindField(f).has_value())
        return absl::InvalidArgumentError(
            absl::StrCat(a.test, ": no column \"", f, "\" (a feature of the model)"));
    }
    test_table = std::move(t);
  }

  ml::TrainOptions options;
  options.epochs = a.epochs.value_or(dp ? 10 : 8);
  options.learning_rate = a.learning_rate.value_or(dp ? 0.05 : 0.01);
  if (!dp) options.decay = 0.5;
  const std::vector<int> hidden = a.kind == "mlp" ? a.hidden : std::vector<int>{};

  // DP: the plan, from public facts only (the catalog's subject count is public, as in `veil datasets`).
  std::optional<ml::DpSgdPlan> plan;
  int64_t public_train_records = 0;
  if (dp) {
    const int64_t subjects = info.subjects;
    // DP training holds nothing out: exact metrics on held-out subjects would be a non-private release.
    // Metrics come only from an analyst's own --test file.
    public_train_records = subjects;
    if (public_train_records < 10)
      return absl::InvalidArgumentError(
          absl::StrCat("dataset \"", a.dataset, "\" has too few subjects for DP-SGD"));
    options.batch_size = a.batch_size.value_or(static_cast<int>(
        std::clamp<int64_t>(public_train_records / 16, std::min<int64_t>(64, public_train_records), 1024)));
    const int num_outputs = classify && meta->classes.size() > 2 ? static_cast<int>(meta->classes.size()) : 1;
    int64_t params = 0;
    int in = public_pipeline->num_features();
    for (int h : hidden) {
      params += static_cast<int64_t>(h) * in + h;
      in = h;
    }
    params += static_cast<int64_t>(num_outputs) * in + num_outputs;
    VEIL_ASSIGN_OR_RETURN(plan, ml::PlanDpSgd(public_train_records, params, options,
                                              {.epsilon = *a.epsilon,
                                               .delta = *a.delta,
                                               .clip_norm = a.clip,
                                               .noise_multiplier = std::nullopt}));
  } else {
    options.batch_size = a.batch_size.value_or(128);
  }

  Json params = {{"model", a.output},
                 {"kind", a.kind},
                 {"target", a.target},
                 {"features", inputs},
                 {"epochs", options.epochs},
                 {"batch_size", options.batch_size},
                 {"learning_rate", options.learning_rate},
                 {"hidden", hidden}};
  if (dp) {
    params["epsilon"] = *a.epsilon;
    params["delta"] = *a.delta;
    params["clip"] = a.clip;
  }
  if (meta.has_value()) params["metadata_sha256"] = meta->sha256;
  if (test_table.has_value()) params["test_rows"] = test_table->num_rows();

  // The run: on the dataset's rows, inside the gate.
  const auto run =
      [&](const store::DatasetContents& data) -> absl::StatusOr<gov::ChargedResult<TrainOutput>> {
    const absl::Time start = absl::Now();
    TrainOutput out;
    base::RandomSource& rng = crypto::SecureRandom();
    progress.Update(0.02, "reading");
    table::Table rows = data.table;
    if (dp) {
      VEIL_ASSIGN_OR_RETURN(rows, table::FirstRowPerKey(data.table, info.subject_column));
    }
    table::Table train_rows = rows, held_rows;
    if (!dp && !test_table.has_value()) {
      VEIL_ASSIGN_OR_RETURN(const ml::Split split,
                            ml::TrainTestSplit(rows.num_rows(), kHeldOutFraction, rng));
      VEIL_ASSIGN_OR_RETURN(train_rows, rows.Take(split.train));
      VEIL_ASSIGN_OR_RETURN(held_rows, rows.Take(split.test));
    }
    const ml::Task task = !classify ? ml::Task::kRegression : ml::Task::kBinary;
    std::vector<std::string> classes;
    if (classify) {
      if (meta.has_value() && !meta->classes.empty()) {
        classes = meta->classes;
      } else {
        VEIL_ASSIGN_OR_RETURN(classes, ml::DistinctValues(train_rows, a.target));
        if (classes.size() < 2)
          return absl::InvalidArgumentError(
              absl::StrCat("the target \"", a.target, "\" has fewer than two classes"));
        if (classes.size() > 100)
          return absl::InvalidArgumentError(
              absl::StrCat("the target \"", a.target, "\" has more than 100 classes"));
      }
    }
    const ml::Task real_task = classify && classes.size() > 2 ? ml::Task::kMulticlass : task;
    VEIL_ASSIGN_OR_RETURN(Labeled train, Label(train_rows, a.target, real_task, classes));
    ml::FeaturePipeline pipeline;
    if (public_pipeline.has_value()) {
      pipeline = *public_pipeline;
      out.feature_source =
          absl::StrCat("public metadata (", a.metadata, ", sha256 ", meta->sha256.substr(0, 16), ")");
    } else {
      VEIL_ASSIGN_OR_RETURN(pipeline, ml::FitFeaturePipeline(train.table, {.columns = inputs}));
      out.feature_source = "fitted on the training rows (non-private)";
    }
    progress.Update(0.05, "encoding");
    VEIL_ASSIGN_OR_RETURN(const ml::Matrix x, pipeline.Transform(train.table));
    ml::ModelConfig config{.task = real_task,
                           .num_inputs = pipeline.num_features(),
                           .num_classes = std::max<int>(2, static_cast<int>(classes.size())),
                           .hidden = hidden};
    VEIL_ASSIGN_OR_RETURN(ml::Model model, ml::Model::Create(config));
    VEIL_RETURN_IF_ERROR(model.InitializeRandom(rng));
    ml::TrainOptions o = options;
    o.progress = [&](int epoch, int epochs, double) {
      progress.Update(0.05 + 0.85 * epoch / std::max(1, epochs), absl::StrCat("epoch ", epoch, "/", epochs));
    };
    if (dp) {
      VEIL_ASSIGN_OR_RETURN(out.plan, ml::TrainDpSgd(model, x, train.y, o,
                                                     {.epsilon = *a.epsilon,
                                                      .delta = *a.delta,
                                                      .clip_norm = a.clip,
                                                      .noise_multiplier = plan->noise_multiplier},
                                                     rng, public_train_records));
    } else {
      if (o.batch_size > x.rows()) o.batch_size = static_cast<int>(std::max<int64_t>(1, x.rows()));
      VEIL_RETURN_IF_ERROR(ml::Train(model, x, train.y, o, rng));
    }
    progress.Update(0.93, "evaluating");
    if (dp && !test_table.has_value()) {
      out.metrics = {{"on", "none: DP training evaluates only on a --test file"}};
    } else {
      VEIL_ASSIGN_OR_RETURN(Labeled test, Label(test_table.has_value() ? *test_table : held_rows, a.target,
                                                real_task, classes));
      VEIL_ASSIGN_OR_RETURN(out.metrics, Metrics(model, pipeline, test, classes));
      out.metrics["on"] =
          test_table.has_value()
              ? absl::StrCat(
                    "test file ", a.test, " (sha256 ",
                    Sha256Hex(crypto::DefaultEnv().ReadFileToString(a.test).value_or("")).substr(0, 16), ")")
              : absl::StrCat("held-out ", static_cast<int>(kHeldOutFraction * 100), "% of dataset ",
                             a.dataset);
    }
    out.training = {{"optimizer", "adam"},        {"epochs", o.epochs},
                    {"batch_size", o.batch_size}, {"learning_rate", o.learning_rate},
                    {"hidden", hidden},           {"features_encoded", pipeline.num_features()}};
    out.features = PipelineSummary(pipeline);
    out.classes = classes;
    out.payload = MakePayload(pipeline, model, classes, a.target);
    out.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    progress.Done();
    const crypto::Sha256Digest hash = crypto::Sha256(out.payload);
    return gov::ChargedResult<TrainOutput>{std::move(out), hash};
  };

  TrainOutput out;
  std::optional<gov::ChargeReceipt> receipt;
  uint64_t audit_seq = 0;
  if (dp) {
    gov::ChargeRequest charge;
    charge.epsilon = plan->cost.epsilon;
    charge.delta = plan->cost.delta;
    charge.privacy_unit_column = info.subject_column;
    charge.description = Shorten(absl::StrCat("DP-SGD ", a.kind, " \"", a.output, "\" predicting ", a.target,
                                              " from ", inputs.size(), " columns, ", plan->steps, " steps"),
                                 store::kMaxChargeDescriptionBytes);
    VEIL_ASSIGN_OR_RETURN(
        gov::Charged<TrainOutput> r,
        session->RunCharged<TrainOutput>(gov::Operation::kTrain, a.dataset, a.purpose, charge, params, run));
    out = std::move(r.value);
    receipt = r.receipt;
    audit_seq = r.receipt.audit_seq;
  } else {
    VEIL_ASSIGN_OR_RETURN(gov::Audited<TrainOutput> r,
                          session->RunAudited<TrainOutput>(gov::Operation::kTrainNonPrivate, a.dataset,
                                                           a.purpose, params, run));
    out = std::move(r.value);
    audit_seq = r.audit_seq;
  }
  progress.Done();

  // The card.
  Json privacy;
  if (dp) {
    const ml::DpSgdPlan& p = *out.plan;
    privacy = {{"mode", "dp-sgd"},
               {"epsilon", p.cost.epsilon},
               {"delta", p.cost.delta},
               {"noise_multiplier", p.noise_multiplier},
               {"sampling_rate", p.sampling_rate},
               {"steps", p.steps},
               {"clip_norm", p.clip_norm},
               {"noise_sigma", p.noise_sigma},
               {"rdp_order", p.rdp_order},
               {"diverged", p.diverged},
               {"records", p.num_records},
               {"unit", absl::StrCat("one row per subject (", info.subject_column, ")")},
               {"charge_id", receipt->charge_id},
               {"audit_seq", receipt->audit_seq}};
  } else {
    privacy = {{"mode", "non-private"}, {"audit_seq", audit_seq}};
  }
  Json card = {{"dataset", a.dataset},
               {"subject_column", info.subject_column},
               {"purpose", a.purpose},
               {"target", a.target},
               {"kind", a.kind},
               {"task", classify ? (out.classes.size() > 2 ? "multiclass" : "binary") : "regression"},
               {"classes", out.classes},
               {"features", {{"source", out.feature_source}, {"columns", out.features}}},
               {"training", out.training},
               {"privacy", privacy},
               {"metrics", out.metrics},
               {"evaluations", Json::array()},
               {"fairness", nullptr}};
  VEIL_ASSIGN_OR_RETURN(const store::ModelVersionInfo registered,
                        session->RegisterModel(dp ? gov::Operation::kTrain : gov::Operation::kTrainNonPrivate,
                                               a.output, a.dataset, a.purpose, card, out.payload));
  PrintTrainSummary(a, registered, out, receipt ? &*receipt : nullptr, audit_seq, g);
  return absl::OkStatus();
}

// --- veil model list / show / export

Json CardJson(const store::ModelVersionInfo& info) {
  Json doc = {{"name", info.name},
              {"version", info.version},
              {"created_at", FormatUtc(info.created_at)},
              {"created_by", info.created_by}};
  for (const auto& [k, v] : info.card.items()) doc[k] = v;
  return doc;
}

std::string PrivacyShort(const Json& card) {
  const Json p = card.value("privacy", Json::object());
  if (p.value("mode", "") == "dp-sgd")
    return absl::StrCat("eps ", FormatNumber(p.value("epsilon", 0.0)), ", delta ",
                        FormatNumber(p.value("delta", 0.0)));
  return "non-private";
}

absl::Status RunModelList(const GlobalOptions& g) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const std::vector<store::ModelVersionInfo> models, session->ListModels());
  if (g.json) {
    Json arr = Json::array();
    for (const auto& m : models) arr.push_back(CardJson(m));
    PrintJson({{"models", arr}});
    return absl::OkStatus();
  }
  if (g.quiet) return absl::OkStatus();
  if (models.empty()) {
    std::cout << "No models yet. Train one with: veil train --dataset NAME --target COLUMN --model logreg "
                 "--purpose P -o MODEL\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : models) {
    const Json metrics = m.card.value("metrics", Json::object());
    std::string quality = "-";
    if (metrics.contains("accuracy"))
      quality = absl::StrFormat("accuracy %.4f", metrics.value("accuracy", 0.0));
    if (metrics.contains("rmse")) quality = absl::StrCat("RMSE ", FormatNumber(metrics.value("rmse", 0.0)));
    rows.push_back({m.name, absl::StrCat(m.version), m.card.value("kind", "?"), m.card.value("dataset", ""),
                    m.card.value("target", ""), PrivacyShort(m.card), quality, m.created_by,
                    FormatUtc(m.created_at)});
  }
  PrintTable({"model", "version", "kind", "dataset", "target", "privacy", "quality", "by", "created"}, rows,
             {false, true});
  return absl::OkStatus();
}

std::string FairnessLines(const Json& fairness) {
  std::string out;
  if (!fairness.is_object()) return out;
  for (const auto& a : fairness.value("attributes", Json::array())) {
    absl::StrAppend(&out, "    ", a.value("verdict_line", ""), "\n");
  }
  return out;
}

absl::Status RunModelShow(const std::string& ref_text, const GlobalOptions& g) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const store::ModelRef ref, store::ParseModelRef(ref_text));
  VEIL_ASSIGN_OR_RETURN(const std::vector<store::ModelVersionInfo> versions,
                        session->ModelVersions(ref.name));
  const store::ModelVersionInfo* info = &versions.back();
  if (ref.version.has_value()) {
    info = nullptr;
    for (const auto& v : versions) {
      if (v.version == *ref.version) info = &v;
    }
    if (info == nullptr)
      return absl::NotFoundError(absl::StrCat("model \"", ref.name, "\" has no version ", *ref.version));
  }
  const Json card = CardJson(*info);
  if (g.json) {
    Json doc = card;
    doc["versions"] = versions.size();
    PrintJson(doc);
    return absl::OkStatus();
  }
  if (g.quiet) return absl::OkStatus();
  const Json& c = info->card;
  std::cout << "Model card: " << info->name << " version " << info->version << " (of " << versions.size()
            << ")\n";
  std::cout << "  created     " << FormatUtc(info->created_at) << " by " << info->created_by << "\n";
  std::cout << "  dataset     " << c.value("dataset", "") << " (subject column "
            << c.value("subject_column", "") << ")\n";
  std::cout << "  purpose     " << c.value("purpose", "") << "\n";
  std::cout << "  model       " << c.value("kind", "") << ", " << c.value("task", "") << ", target "
            << c.value("target", "");
  const Json classes = c.value("classes", Json::array());
  if (!classes.empty()) {
    std::vector<std::string> names;
    for (const auto& x : classes) names.push_back(x.get<std::string>());
    std::cout << " (classes " << absl::StrJoin(names, ", ") << ")";
  }
  std::cout << "\n";
  const Json features = c.value("features", Json::object());
  std::vector<std::string> cols;
  for (const auto& f : features.value("columns", Json::array())) cols.push_back(f.value("name", ""));
  std::cout << "  features    " << cols.size() << " columns (" << Shorten(absl::StrJoin(cols, ", "), 200)
            << "), " << c.value("training", Json::object()).value("features_encoded", 0) << " encoded; "
            << features.value("source", "") << "\n";
  const Json p = c.value("privacy", Json::object());
  if (p.value("mode", "") == "dp-sgd") {
    std::cout << absl::StrFormat(
        "  privacy     DP-SGD: epsilon %s, delta %s; noise multiplier %.4f, sampling rate %.5f, %d steps, "
        "clip %s; "
        "%s; charge #%d (audit entry #%d)\n",
        FormatNumber(p.value("epsilon", 0.0)), FormatNumber(p.value("delta", 0.0)),
        p.value("noise_multiplier", 0.0), p.value("sampling_rate", 0.0), p.value("steps", int64_t{0}),
        FormatNumber(p.value("clip_norm", 0.0)), p.value("unit", ""), p.value("charge_id", int64_t{0}),
        p.value("audit_seq", int64_t{0}));
  } else {
    std::cout << "  privacy     non-private (no guarantee for the people in the training data; audit entry #"
              << p.value("audit_seq", int64_t{0}) << ")\n";
  }
  const Json m = c.value("metrics", Json::object());
  std::cout << "  metrics     " << MetricsLine(m) << "\n              on " << m.value("on", "") << "\n";
  for (const auto& e : c.value("evaluations", Json::array())) {
    std::cout << "  evaluated   " << MetricsLine(e.value("metrics", Json::object())) << "\n              on "
              << e.value("on", "") << ", " << e.value("at", "") << " by " << e.value("by", "") << "\n";
  }
  const Json fairness = c.value("fairness", Json());
  if (fairness.is_object()) {
    std::cout << "  fairness    on " << fairness.value("on", "") << ", " << fairness.value("at", "") << "\n"
              << FairnessLines(fairness);
  } else {
    std::cout << "  fairness    not audited yet (veil fairness --model " << info->name
              << " --dataset D --protected COLUMNS)\n";
  }
  return absl::OkStatus();
}

absl::Status RunModelExport(const std::string& ref_text, const std::string& output, const GlobalOptions& g) {
  if (output.empty()) return absl::InvalidArgumentError("-o MODEL.json is required");
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const LoadedModel m, LoadModel(*session, ref_text));
  if (m.model.kind() == "mlp")
    return absl::InvalidArgumentError(
        absl::StrCat("model \"", m.info.name,
                     "\" is an MLP: the encrypted-scoring format (veil-linear-model) holds linear and "
                     "logistic models only; train a logreg or linreg to score under HE"));
  if (m.model.task() == ml::Task::kMulticlass)
    return absl::InvalidArgumentError(absl::StrCat(
        "model \"", m.info.name, "\" is a multinomial model: the encrypted-scoring format holds one logit"));
  const Json params = {{"model", m.info.name}, {"version", m.info.version}, {"format", "veil-linear-model"}};
  VEIL_ASSIGN_OR_RETURN(
      const gov::GateDecision decision,
      session->Authorize(gov::Operation::kModelExport, m.info.dataset, "", params, NonPrivate(m.info.card)));
  VEIL_ASSIGN_OR_RETURN(const std::string json, ml::ExportLinearModelJson(m.model, m.pipeline, m.classes));
  VEIL_RETURN_IF_ERROR(session->Record(gov::Operation::kModelExport, m.info.dataset, "", decision, params,
                                       crypto::Sha256(json), {}));
  VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(output, json));
  if (g.json) {
    PrintJson({{"model", m.info.name},
               {"version", m.info.version},
               {"output", output},
               {"format", "veil-linear-model"},
               {"features", m.pipeline.num_features()},
               {"sha256", Sha256Hex(json)}});
  } else if (!g.quiet) {
    std::cout << "Exported \"" << m.info.name << "\" version " << m.info.version << " (" << m.model.kind()
              << ", " << m.pipeline.num_features() << " features) to " << output
              << " in the encrypted-scoring format (veil he score --model " << output << ")\n";
  }
  return absl::OkStatus();
}

// --- veil evaluate / veil fairness

struct EvalArgs {
  std::string model;
  std::string dataset;
  std::string file;
  std::string purpose;
  std::vector<std::string> protected_columns;
};

absl::Status RunEvaluate(const EvalArgs& a, const GlobalOptions& g) {
  if (a.model.empty()) return absl::InvalidArgumentError("--model NAME is required");
  if (a.dataset.empty() == a.file.empty())
    return absl::InvalidArgumentError("give either --dataset NAME or a CSV file, not both");
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const LoadedModel m, LoadModel(*session, a.model));
  const ml::Task task = m.model.task();
  Json metrics;
  if (!a.file.empty()) {
    VEIL_ASSIGN_OR_RETURN(const table::Table t, table::ReadCsv(crypto::DefaultEnv(), a.file));
    VEIL_ASSIGN_OR_RETURN(const Labeled data, Label(t, m.target, task, m.classes));
    VEIL_ASSIGN_OR_RETURN(metrics, Metrics(m.model, m.pipeline, data, m.classes));
    metrics["on"] = absl::StrCat("file ", a.file);
    metrics["dropped_rows"] = data.dropped;
  } else {
    const Json params = {{"model", m.info.name}, {"version", m.info.version}, {"dataset", a.dataset}};
    VEIL_ASSIGN_OR_RETURN(
        gov::Audited<Json> r,
        session->RunAudited<Json>(
            gov::Operation::kModelEvaluate, a.dataset, a.purpose, params,
            [&](const store::DatasetContents& data) -> absl::StatusOr<gov::ChargedResult<Json>> {
              VEIL_ASSIGN_OR_RETURN(const Labeled l, Label(data.table, m.target, task, m.classes));
              VEIL_ASSIGN_OR_RETURN(Json out, Metrics(m.model, m.pipeline, l, m.classes));
              const crypto::Sha256Digest h = crypto::Sha256(out.dump());
              return gov::ChargedResult<Json>{std::move(out), h};
            }));
    metrics = std::move(r.value);
    metrics["on"] = absl::StrCat("all rows of dataset ", a.dataset);
    Json card = m.info.card;
    Json entry = {{"on", metrics["on"]},
                  {"at", FormatUtc(absl::Now())},
                  {"by", session->actor()},
                  {"audit_seq", r.audit_seq},
                  {"metrics", metrics}};
    if (!card.contains("evaluations") || !card["evaluations"].is_array()) card["evaluations"] = Json::array();
    card["evaluations"].push_back(std::move(entry));
    VEIL_RETURN_IF_ERROR(session
                             ->UpdateModelCard(gov::Operation::kModelEvaluate, a.dataset, a.purpose,
                                               m.info.name, m.info.version, card)
                             .status());
  }
  if (g.json) {
    PrintJson({{"model", m.info.name}, {"version", m.info.version}, {"metrics", metrics}});
  } else if (!g.quiet) {
    std::cout << "Model \"" << m.info.name << "\" version " << m.info.version << " on "
              << metrics.value("on", "") << ":\n  " << MetricsLine(metrics) << "\n";
    if (metrics.contains("confusion") && metrics["confusion"].is_object()) {
      const Json& c = metrics["confusion"];
      std::cout << "  confusion (positive = " << metrics.value("positive_class", "") << "): TP "
                << c.value("tp", 0) << "  FP " << c.value("fp", 0) << "  TN " << c.value("tn", 0) << "  FN "
                << c.value("fn", 0) << "\n";
    }
    if (metrics.contains("unknown_category_rows"))
      std::cout << "  " << WithThousands(metrics.value("unknown_category_rows", int64_t{0}))
                << " row(s) held a category the model never saw (scored as no category of that column)\n";
    if (!a.dataset.empty()) std::cout << "  Stored in the model card.\n";
  }
  return absl::OkStatus();
}

// `for_card`: the copy stored in the model card, which model.read opens to analysts and auditors, keeps only
// the groups that were compared (at least FairnessOptions::min_group_size records): a smaller group's value
// and rates would tell them about a handful of people (a group of one: that person's label and decision).
// The groups left out are counted in "suppressed_groups".
Json AuditJson(const ml::AttributeAudit& a, bool for_card) {
  Json groups = Json::array();
  int64_t suppressed = 0;
  for (const ml::GroupRates& gr : a.groups) {
    if (for_card && !gr.compared) {
      ++suppressed;
      continue;
    }
    groups.push_back({{"group", gr.group},
                      {"count", gr.count},
                      {"positives", gr.positives},
                      {"selected", gr.selected},
                      {"selection_rate", gr.selection_rate},
                      {"tpr", gr.tpr},
                      {"fpr", gr.fpr},
                      {"compared", gr.compared}});
  }
  Json out = {{"attribute", a.attribute},
              {"groups", groups},
              {"demographic_parity_difference", a.demographic_parity_difference},
              {"disparate_impact_ratio", a.disparate_impact_ratio},
              {"equal_opportunity_difference", a.equal_opportunity_difference},
              {"fpr_difference", a.fpr_difference},
              {"verdict", a.verdict},
              {"verdict_line", a.verdict_line}};
  if (for_card) out["suppressed_groups"] = suppressed;
  return out;
}

Json AuditsJson(const std::vector<ml::AttributeAudit>& audits, bool for_card) {
  Json out = Json::array();
  for (const ml::AttributeAudit& au : audits) out.push_back(AuditJson(au, for_card));
  return out;
}

struct FairnessRun {
  Json released;  // rows, threshold, every group of every attribute (what the result hash covers)
  std::vector<ml::AttributeAudit> audits;
};

absl::Status RunFairness(const EvalArgs& a, const GlobalOptions& g) {
  if (a.model.empty()) return absl::InvalidArgumentError("--model NAME is required");
  if (a.dataset.empty()) return absl::InvalidArgumentError("--dataset NAME is required");
  if (a.protected_columns.empty())
    return absl::InvalidArgumentError("--protected COLUMNS is required (e.g. --protected sex,race)");
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const LoadedModel m, LoadModel(*session, a.model));
  if (m.model.task() != ml::Task::kBinary)
    return absl::InvalidArgumentError(
        absl::StrCat("model \"", m.info.name,
                     "\" is not a binary classifier: the fairness audit compares selection "
                     "rates of a yes/no decision"));
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, session->GetDataset(a.dataset));
  for (const std::string& c : a.protected_columns) {
    if (!info.schema.FindField(c).has_value())
      return absl::InvalidArgumentError(
          absl::StrCat("--protected: dataset \"", a.dataset, "\" has no column \"", c, "\""));
  }
  const Json params = {{"model", m.info.name},
                       {"version", m.info.version},
                       {"dataset", a.dataset},
                       {"protected", a.protected_columns}};
  VEIL_ASSIGN_OR_RETURN(
      gov::Audited<FairnessRun> r,
      session->RunAudited<FairnessRun>(
          gov::Operation::kModelFairness, a.dataset, a.purpose, params,
          [&](const store::DatasetContents& data) -> absl::StatusOr<gov::ChargedResult<FairnessRun>> {
            VEIL_ASSIGN_OR_RETURN(const Labeled l, Label(data.table, m.target, ml::Task::kBinary, m.classes));
            VEIL_ASSIGN_OR_RETURN(const ml::Matrix x, m.pipeline.Transform(l.table));
            const ml::Matrix p = m.model.Predict(x);
            const std::vector<double> scores(p.data(), p.data() + p.rows());
            VEIL_ASSIGN_OR_RETURN(std::vector<ml::AttributeAudit> audits,
                                  ml::AuditFairness(l.table, a.protected_columns, scores, l.y.classes));
            Json out = {{"rows", l.table.num_rows()},
                        {"threshold", 0.5},
                        {"attributes", AuditsJson(audits, /*for_card=*/false)}};
            const crypto::Sha256Digest h = crypto::Sha256(out.dump());
            return gov::ChargedResult<FairnessRun>{{std::move(out), std::move(audits)}, h};
          }));
  Json fairness = std::move(r.value.released);
  fairness["on"] = absl::StrCat("all rows of dataset ", a.dataset);
  fairness["at"] = FormatUtc(absl::Now());
  fairness["by"] = session->actor();
  fairness["audit_seq"] = r.audit_seq;
  fairness["positive_class"] = m.classes.size() > 1 ? m.classes[1] : "";
  fairness["min_group_size"] = ml::FairnessOptions().min_group_size;
  Json card = m.info.card;
  card["fairness"] = fairness;  // the owner who ran the audit sees every group, the card only compared ones
  card["fairness"]["attributes"] = AuditsJson(r.value.audits, /*for_card=*/true);
  VEIL_RETURN_IF_ERROR(session
                           ->UpdateModelCard(gov::Operation::kModelFairness, a.dataset, a.purpose,
                                             m.info.name, m.info.version, card)
                           .status());
  if (g.json) {
    PrintJson({{"model", m.info.name}, {"version", m.info.version}, {"fairness", fairness}});
    return absl::OkStatus();
  }
  if (g.quiet) return absl::OkStatus();
  std::cout << "Fairness of \"" << m.info.name << "\" version " << m.info.version << " on dataset \""
            << a.dataset << "\" (" << WithThousands(fairness.value("rows", int64_t{0}))
            << " rows; selected = predicted " << fairness.value("positive_class", "")
            << " at threshold 0.5)\n";
  for (const auto& at : fairness["attributes"]) {
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& gr : at["groups"]) {
      rows.push_back({gr.value("group", ""), WithThousands(gr.value("count", int64_t{0})),
                      absl::StrFormat("%.3f", gr.value("selection_rate", 0.0)),
                      absl::StrFormat("%.3f", gr.value("tpr", 0.0)),
                      absl::StrFormat("%.3f", gr.value("fpr", 0.0)),
                      gr.value("compared", false) ? "" : "too small, not compared"});
    }
    PrintTable({at.value("attribute", ""), "count", "selection", "TPR", "FPR", ""}, rows,
               {false, true, true, true, true});
    std::cout << at.value("verdict_line", "") << "\n";
  }
  std::cout << "\nStored in the model card (audit entry #" << r.audit_seq << ").\n";
  return absl::OkStatus();
}

// --- veil decide

struct DecideArgs {
  std::string model;
  std::string input;
  int top = 3;
  std::string subject_column;
  std::string purpose;
  double threshold = 0.5;
};

absl::Status RunDecide(const DecideArgs& a, const GlobalOptions& g) {
  if (a.model.empty()) return absl::InvalidArgumentError("--model NAME is required");
  if (a.top < 0 || a.top > 100) return absl::InvalidArgumentError("--top must be in [0, 100]");
  if (!(a.threshold >= 0 && a.threshold <= 1))
    return absl::InvalidArgumentError("--threshold must be in [0, 1]");
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g));
  VEIL_ASSIGN_OR_RETURN(const LoadedModel m, LoadModel(*session, a.model));
  VEIL_ASSIGN_OR_RETURN(const std::string text, ReadTextInput(a.input));
  table::CsvReadOptions read_options;
  read_options.num_threads = 1;
  VEIL_ASSIGN_OR_RETURN(const table::Table t,
                        table::ReadCsvFromString(text, read_options, InputName(a.input)));
  const std::string subject_column =
      a.subject_column.empty() ? m.info.card.value("subject_column", "") : a.subject_column;
  const std::optional<int> subject_field = t.schema().FindField(subject_column);
  if (subject_column.empty() || !subject_field.has_value())
    return absl::InvalidArgumentError(absl::StrCat(InputName(a.input), ": no subject column \"",
                                                   subject_column,
                                                   "\": each decision is audited under the subject's "
                                                   "pseudonym, so the input needs the column identifying the "
                                                   "person (--subject-column to name another)"));
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    if (t.IsNull(r, *subject_field))
      return absl::InvalidArgumentError(
          absl::StrCat(InputName(a.input), ": row ", r + 1, " has no subject id"));
  }
  const std::string purpose = a.purpose.empty() ? m.info.card.value("purpose", "") : a.purpose;
  const std::string input_sha = Sha256Hex(text);
  const Json params = {{"model", m.info.name},
                       {"version", m.info.version},
                       {"input_sha256", input_sha},
                       {"rows", t.num_rows()}};
  VEIL_ASSIGN_OR_RETURN(
      const gov::GateDecision decision,
      session->Authorize(gov::Operation::kDecide, m.info.dataset, purpose, params, NonPrivate(m.info.card)));
  // The subject's pseudonym is the key under which the audit log names the person (and their erasure, and
  // every other decision about them): shown to owners only. To an analyst it would be a pseudonym oracle
  // (any id in, its pseudonym out), linking a copy of the audit log, which workspace.md says links nothing
  // to a person without the master key, to the ids the analyst knows.
  VEIL_ASSIGN_OR_RETURN(const std::vector<gov::Role> roles, session->Roles());
  const bool show_pseudonym = gov::RoleFor(gov::Operation::kDecide, roles) == gov::Role::kOwner;
  // Only now, authorized, is the input transformed (its errors would otherwise answer unaudited). A
  // category the model never saw encodes as no category (all zeros): the decision is still made, and the
  // record, the output and the audit entry say which columns were unknown (never the value).
  std::vector<std::vector<int>> unknown;
  VEIL_ASSIGN_OR_RETURN(const ml::Matrix x, m.pipeline.Transform(t, &unknown));
  const ml::Matrix p = m.model.Predict(x);
  Json decisions = Json::array();
  std::vector<std::vector<std::string>> rows;
  int64_t rows_with_unknown = 0;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    std::vector<std::string> unknown_columns;
    for (int c : unknown[r]) unknown_columns.push_back(m.pipeline.columns()[c].name);
    rows_with_unknown += unknown_columns.empty() ? 0 : 1;
    VEIL_ASSIGN_OR_RETURN(const ml::Explanation e, ml::Explain(m.model, m.pipeline, x.row(r).transpose()));
    std::string label;
    double score = 0;
    if (m.model.task() == ml::Task::kBinary) {
      score = p(r, 0);
      label = m.classes[score >= a.threshold ? 1 : 0];
    } else if (m.model.task() == ml::Task::kMulticlass) {
      Eigen::Index best = 0;
      p.row(r).maxCoeff(&best);
      score = p(r, best);
      label = m.classes[best];
    } else {
      score = p(r, 0);
      label = FormatNumber(score);
    }
    Json top = Json::array();
    std::vector<std::string> top_text;
    for (size_t k = 0; k < e.by_column.size() && static_cast<int>(k) < a.top; ++k) {
      top.push_back({{"column", e.by_column[k].column}, {"contribution", e.by_column[k].contribution}});
      top_text.push_back(absl::StrFormat("%s %+.3f", e.by_column[k].column, e.by_column[k].contribution));
    }
    const std::string subject = t.FormatValue(r, *subject_field);
    const std::string pseudonym = session->Pseudonym(subject);
    Json record = {{"row", r + 1},
                   {"decision", label},
                   {"score", score},
                   {"logit", e.logit},
                   {"base", e.base},
                   {"method", e.method == ml::AttributionMethod::kExactLinear ? "exact linear contributions"
                                                                              : "integrated gradients"},
                   {"top", top},
                   {"unknown_categories", unknown_columns}};
    // The audit entry: the subject's pseudonym, the model, hashes, the names of the columns whose category
    // was unknown; no value of the input, no score.
    const std::string record_text = record.dump();
    Json row_params = {{"model", m.info.name},
                       {"version", m.info.version},
                       {"input_sha256", input_sha},
                       {"row", r + 1},
                       {"decision_sha256", Sha256Hex(record_text)}};
    // An unknown category is also said in the entry's readable text (the params are only hashed), so an
    // auditor or the subject's request sees that this decision was made on a value the model never saw.
    gov::GateDecision row_decision = decision;
    if (!unknown_columns.empty()) {
      row_params["unknown_categories"] = unknown_columns;
      row_decision.reason =
          Shorten(absl::StrCat(row_decision.reason, "; unknown category in column ",
                               absl::StrJoin(unknown_columns, ", "), " (encoded as no category)"),
                  2048);  // an entry's text field holds at most 4 KiB
    }
    VEIL_RETURN_IF_ERROR(session->Record(gov::Operation::kDecide, m.info.dataset, purpose, row_decision,
                                         row_params, crypto::Sha256(record_text), {pseudonym}));
    Json out = record;
    out["subject"] = subject;
    if (show_pseudonym) out["pseudonym"] = pseudonym;
    decisions.push_back(std::move(out));
    rows.push_back({subject, label, absl::StrFormat("%.4f", score), absl::StrJoin(top_text, ", "),
                    unknown_columns.empty()
                        ? std::string()
                        : absl::StrCat("unknown category in ", absl::StrJoin(unknown_columns, ", "))});
  }
  if (g.json) {
    PrintJson({{"model", m.info.name},
               {"version", m.info.version},
               {"purpose", purpose},
               {"attribution", m.model.kind() == "mlp" ? "integrated gradients (logit units, mean baseline)"
                                                       : "exact linear contributions (logit units)"},
               {"unknown_category_rows", rows_with_unknown},
               {"decisions", decisions}});
    return absl::OkStatus();
  }
  if (g.quiet) {
    if (rows_with_unknown > 0)
      std::cerr << "veil: warning: " << WithThousands(rows_with_unknown)
                << " decision(s) had a category the model never saw (encoded as no category; see --json)\n";
    return absl::OkStatus();
  }
  std::vector<std::string> header = {
      subject_column, "decision", "score",
      absl::StrCat("top contributions (", m.model.kind() == "mlp" ? "integrated gradients" : "exact",
                   ", log-odds)")};
  if (rows_with_unknown > 0) {
    header.push_back("note");
  } else {
    for (auto& row : rows) row.pop_back();
  }
  PrintTable(header, rows, {false, false, true, false, false});
  std::cout << WithThousands(t.num_rows()) << " decisions by \"" << m.info.name << "\" version "
            << m.info.version << ", each audited under the subject's pseudonym (purpose " << purpose << ")\n";
  if (rows_with_unknown > 0)
    std::cout << WithThousands(rows_with_unknown)
              << " of them had a category the model never saw: it was encoded as no category of that column "
                 "(all one-hot features 0), which the decision's explanation reflects; the audit entry names "
                 "the column\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterMl(CLI::App& app, Cli& cli) {
  auto train = std::make_shared<TrainArgs>();
  CLI::App* tr =
      app.add_subcommand("train", "Train a model on a dataset (DP-SGD with --epsilon) and register it");
  tr->add_option("--dataset", train->dataset, "The dataset to train on")->required();
  tr->add_option("--target", train->target, "The column to predict")->required();
  tr->add_option("--model", train->kind, "logreg (default), linreg or mlp");
  tr->add_option("--epsilon", train->epsilon, "DP-SGD: the run's epsilon (charged to the dataset's budget)");
  tr->add_option("--delta", train->delta, "DP-SGD: the run's delta");
  tr->add_option("--metadata", train->metadata,
                 "Public metadata (JSON): category lists, numeric bounds, target classes; required for DP");
  tr->add_option("--test", train->test, "A test CSV file (default: a held-out 20% of the dataset)");
  tr->add_option("--purpose", train->purpose, "Why: one of the dataset's declared purposes");
  tr->add_option("--features", train->features, "Input columns (default: all but the target and subject)")
      ->delimiter(',');
  tr->add_option("--hidden", train->hidden, "MLP hidden layer widths (default 16)")->delimiter(',');
  tr->add_option("--epochs", train->epochs, "Passes over the data (default 10 DP, 8 non-private)");
  tr->add_option("--batch-size", train->batch_size, "Mini-batch size (DP: expected size)");
  tr->add_option("--learning-rate", train->learning_rate,
                 "Adam step size (default 0.05 DP, 0.01 non-private)");
  tr->add_option("--clip", train->clip, "DP-SGD per-example clipping norm (default 1)");
  tr->add_option("-o,--output", train->output, "The model's name in the registry")->required();
  tr->callback([train, &cli] { cli.action = [train, &cli] { return RunTrain(*train, cli.options); }; });

  auto eval = std::make_shared<EvalArgs>();
  CLI::App* ev = app.add_subcommand("evaluate", "Metrics of a registered model on a dataset or a CSV file");
  ev->add_option("--model", eval->model, "NAME or NAME@VERSION")->required();
  ev->add_option("--dataset", eval->dataset, "A dataset of the workspace (owner; stored in the card)");
  ev->add_option("--purpose", eval->purpose, "Why (with --dataset)");
  ev->add_option("file", eval->file, "A CSV file with the model's columns and target");
  ev->callback([eval, &cli] { cli.action = [eval, &cli] { return RunEvaluate(*eval, cli.options); }; });

  auto fair = std::make_shared<EvalArgs>();
  CLI::App* fa = app.add_subcommand("fairness", "Fairness audit of a binary model per protected attribute");
  fa->add_option("--model", fair->model, "NAME or NAME@VERSION")->required();
  fa->add_option("--dataset", fair->dataset, "The dataset to audit on")->required();
  fa->add_option("--protected", fair->protected_columns, "Protected attributes, e.g. sex,race")
      ->delimiter(',')
      ->required();
  fa->add_option("--purpose", fair->purpose, "Why: one of the dataset's declared purposes");
  fa->callback([fair, &cli] { cli.action = [fair, &cli] { return RunFairness(*fair, cli.options); }; });

  auto decide = std::make_shared<DecideArgs>();
  CLI::App* de =
      app.add_subcommand("decide", "Explained automated decisions, each audited under a pseudonym");
  de->add_option("--model", decide->model, "NAME or NAME@VERSION")->required();
  de->add_option("input", decide->input, "The records to decide on (CSV, - for stdin)")->required();
  de->add_option("--top", decide->top, "Contributions shown per decision (default 3)");
  de->add_option("--subject-column", decide->subject_column,
                 "The column identifying the person (default: the training dataset's subject column)");
  de->add_option("--purpose", decide->purpose, "Why (default: the model's purpose)");
  de->add_option("--threshold", decide->threshold, "Binary models: decide the positive class at score >= T");
  de->callback([decide, &cli] { cli.action = [decide, &cli] { return RunDecide(*decide, cli.options); }; });

  CLI::App* model = app.add_subcommand("model", "The model registry: list, show (the model card), export");
  model->require_subcommand(1);
  CLI::App* list = model->add_subcommand("list", "The registered models (latest versions)");
  list->callback([&cli] { cli.action = [&cli] { return RunModelList(cli.options); }; });
  auto show_ref = std::make_shared<std::string>();
  CLI::App* show = model->add_subcommand("show", "A model's card");
  show->add_option("model", *show_ref, "NAME or NAME@VERSION")->required();
  show->callback(
      [show_ref, &cli] { cli.action = [show_ref, &cli] { return RunModelShow(*show_ref, cli.options); }; });
  auto export_ref = std::make_shared<std::string>();
  auto export_out = std::make_shared<std::string>();
  CLI::App* exp = model->add_subcommand("export", "Write a linear model in the encrypted-scoring format");
  exp->add_option("model", *export_ref, "NAME or NAME@VERSION")->required();
  exp->add_option("-o,--output", *export_out, "MODEL.json")->required();
  exp->callback([export_ref, export_out, &cli] {
    cli.action = [export_ref, export_out, &cli] {
      return RunModelExport(*export_ref, *export_out, cli.options);
    };
  });
}

}  // namespace veil::cli
