#include "veil/fl/config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/fl/certs.h"
#include "veil/fl/messages.h"

namespace veil::fl {
namespace {

using Json = nlohmann::ordered_json;

// Typed access to a JSON object with errors naming the field's path ("secure_aggregation.threshold").
class Fields {
 public:
  Fields(const Json& j, std::string where, std::string prefix)
      : j_(j), where_(std::move(where)), prefix_(std::move(prefix)) {}

  absl::Status Bad(std::string_view key, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(where_, ": \"", prefix_, std::string(key), "\" ", std::string(what)));
  }
  bool Has(std::string_view key) const { return j_.contains(key); }
  // Keys of the object that are not in `known`: a misspelt option must not be ignored silently.
  absl::Status OnlyKnown(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : j_.items()) {
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::vector<std::string> names(known.begin(), known.end());
        return absl::InvalidArgumentError(absl::StrCat(where_, ": unknown setting \"", prefix_, k,
                                                       "\" (accepted: ", absl::StrJoin(names, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }
  absl::Status Number(std::string_view key, double& out, double lo, double hi) const {
    if (!Has(key)) return absl::OkStatus();
    const Json& v = j_.at(std::string(key));
    if (!v.is_number()) return Bad(key, "must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
      return Bad(key, absl::StrCat("must be in [", lo, ", ", hi, "]"));
    out = d;
    return absl::OkStatus();
  }
  template <typename Int>
  absl::Status Integer(std::string_view key, Int& out, int64_t lo, int64_t hi) const {
    if (!Has(key)) return absl::OkStatus();
    const Json& v = j_.at(std::string(key));
    if (!v.is_number_integer()) return Bad(key, "must be an integer");
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return Bad(key, absl::StrCat("must be in [", lo, ", ", hi, "]"));
    out = static_cast<Int>(i);
    return absl::OkStatus();
  }
  absl::Status Seconds(std::string_view key, absl::Duration& out) const {
    double s = absl::ToDoubleSeconds(out);
    VEIL_RETURN_IF_ERROR(Number(key, s, 0.001, 86400));
    out = absl::Seconds(s);
    return absl::OkStatus();
  }
  absl::Status String(std::string_view key, std::string& out) const {
    if (!Has(key)) return absl::OkStatus();
    const Json& v = j_.at(std::string(key));
    if (!v.is_string()) return Bad(key, "must be a string");
    out = v.get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Bool(std::string_view key, bool& out) const {
    if (!Has(key)) return absl::OkStatus();
    const Json& v = j_.at(std::string(key));
    if (!v.is_boolean()) return Bad(key, "must be true or false");
    out = v.get<bool>();
    return absl::OkStatus();
  }
  absl::StatusOr<Fields> Object(std::string_view key) const {
    const Json& v = j_.at(std::string(key));
    if (!v.is_object()) return Bad(key, "must be an object");
    return Fields(v, where_, absl::StrCat(prefix_, std::string(key), "."));
  }

 private:
  const Json& j_;
  std::string where_;
  std::string prefix_;
};

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string_view OptimizerName(ml::Optimizer o) { return o == ml::Optimizer::kSgd ? "sgd" : "adam"; }

absl::StatusOr<ml::Optimizer> ParseOptimizer(std::string_view s) {
  if (s == "sgd") return ml::Optimizer::kSgd;
  if (s == "adam") return ml::Optimizer::kAdam;
  return absl::InvalidArgumentError(
      absl::StrCat("optimizer must be \"sgd\" or \"adam\", not \"", std::string(s), "\""));
}

Json LocalToJson(const LocalTrainingOptions& l) {
  return Json{{"epochs", l.epochs},
              {"batch_size", l.batch_size},
              {"learning_rate", l.learning_rate},
              {"optimizer", std::string(OptimizerName(l.optimizer))}};
}

absl::Status ParseLocal(const Fields& f, LocalTrainingOptions& l) {
  VEIL_RETURN_IF_ERROR(f.OnlyKnown({"epochs", "batch_size", "learning_rate", "optimizer"}));
  VEIL_RETURN_IF_ERROR(f.Integer("epochs", l.epochs, 1, 1000));
  VEIL_RETURN_IF_ERROR(f.Integer("batch_size", l.batch_size, 1, 1 << 20));
  VEIL_RETURN_IF_ERROR(f.Number("learning_rate", l.learning_rate, 1e-12, 1e6));
  std::string opt(OptimizerName(l.optimizer));
  VEIL_RETURN_IF_ERROR(f.String("optimizer", opt));
  absl::StatusOr<ml::Optimizer> o = ParseOptimizer(opt);
  if (!o.ok()) return f.Bad("optimizer", "must be \"sgd\" or \"adam\"");
  l.optimizer = *o;
  return absl::OkStatus();
}

Json DpOptionsToJson(const DpFedAvgOptions& o) {
  return Json{{"noise_multiplier", o.noise_multiplier},
              {"clip_norm", o.clip_norm},
              {"adaptive_clipping", o.adaptive_clipping},
              {"target_quantile", o.target_quantile},
              {"clip_learning_rate", o.clip_learning_rate},
              {"clipped_count_stddev", o.clipped_count_stddev},
              {"clients_per_round", o.clients_per_round},
              {"total_clients", o.total_clients},
              {"delta", o.delta}};
}

absl::Status DpOptionsFromJson(const Fields& f, DpFedAvgOptions& o) {
  VEIL_RETURN_IF_ERROR(f.Number("noise_multiplier", o.noise_multiplier, 0, 1e6));
  VEIL_RETURN_IF_ERROR(f.Number("clip_norm", o.clip_norm, 0, 1e12));
  VEIL_RETURN_IF_ERROR(f.Bool("adaptive_clipping", o.adaptive_clipping));
  VEIL_RETURN_IF_ERROR(f.Number("target_quantile", o.target_quantile, 0, 1));
  VEIL_RETURN_IF_ERROR(f.Number("clip_learning_rate", o.clip_learning_rate, 0, 1e6));
  VEIL_RETURN_IF_ERROR(f.Number("clipped_count_stddev", o.clipped_count_stddev, 0, 1e12));
  VEIL_RETURN_IF_ERROR(f.Integer("clients_per_round", o.clients_per_round, 0, kSecAggMaxClients));
  VEIL_RETURN_IF_ERROR(f.Integer("total_clients", o.total_clients, 0, int64_t{1} << 40));
  VEIL_RETURN_IF_ERROR(f.Number("delta", o.delta, 0, 1));
  return absl::OkStatus();
}

// Adaptive clipping under secure aggregation reads the clipped count B from the sum's coordinate
// sum_k float(C_t) b_k by rounding its quotient by C_t, exact while n (1/s + C_t 2^-24) < C_t / 2 for the n
// sites of the round (stochastic rounding moves each term by < 1/s, the float cast by <= C_t 2^-24). The
// quantizer takes the largest power-of-two scale s with ceil(C_t s) <= b = floor((2^(ring_bits-1) - 1) / n),
// so C_t s is in (b / 2, b] depending on C_t's mantissa, and C_t changes every round: the count is exact for
// every C_t iff 2n / b + n 2^-24 <= 1/2. (Only a clip norm so small that the scale hits its 2^30 cap escapes
// this; the coordinator checks each round.) The condition only gets harder as n grows.
bool AdaptiveCountIsExact(uint32_t ring_bits, int64_t n) {
  const int64_t max_signed = (int64_t{1} << (ring_bits - 1)) - 1;
  const int64_t b = max_signed / n;
  if (b < 1) return false;
  return 2.0 * static_cast<double>(n) / static_cast<double>(b) + static_cast<double>(n) * 0x1p-24 <= 0.5;
}

// The smallest ring of at least `from` bits (at most 32) that keeps the count exact for n sites, if any.
std::optional<uint32_t> SmallestExactRing(uint32_t from, int64_t n) {
  for (uint32_t bits = from; bits <= 32; ++bits) {
    if (AdaptiveCountIsExact(bits, n)) return bits;
  }
  return std::nullopt;
}

// The most sites `ring_bits` allows: a binary search, since the condition only gets harder as n grows.
int64_t MostExactSites(uint32_t ring_bits) {
  int64_t lo = 0, hi = int64_t{1} << 31;  // AdaptiveCountIsExact(ring_bits, lo) or lo == 0; never hi
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (AdaptiveCountIsExact(ring_bits, mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace

std::string_view DpModeName(DpMode mode) {
  switch (mode) {
    case DpMode::kNone:
      return "none";
    case DpMode::kCentral:
      return "central";
    case DpMode::kDistributed:
      return "distributed";
  }
  return "none";
}

ml::ModelConfig ModelSpec::ModelConfig() const {
  ml::ModelConfig c;
  c.task = kind == "linreg" ? ml::Task::kRegression
                            : (classes.size() > 2 ? ml::Task::kMulticlass : ml::Task::kBinary);
  c.num_inputs = pipeline.num_features();
  c.num_classes = std::max<int>(2, static_cast<int>(classes.size()));
  c.hidden = kind == "mlp" ? hidden : std::vector<int>{};
  return c;
}

absl::StatusOr<LabeledData> ModelSpec::Encode(const table::Table& t) const {
  const std::optional<int> col = t.schema().FindField(target);
  if (!col.has_value())
    return absl::InvalidArgumentError(absl::StrCat("the data has no target column \"", target, "\""));
  LabeledData out;
  std::vector<int64_t> keep;
  if (kind == "linreg") {
    const table::DataType type = t.schema().field(*col).type;
    if (type != table::DataType::kInt64 && type != table::DataType::kDouble)
      return absl::InvalidArgumentError(
          absl::StrCat("linreg needs a numeric target; \"", target, "\" is not int64 or double"));
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (!t.IsNull(r, *col)) keep.push_back(r);
    }
    VEIL_ASSIGN_OR_RETURN(const table::Table rows, t.Take(keep));
    VEIL_ASSIGN_OR_RETURN(out.y.values, ml::EncodeRegressionTarget(rows, target));
    VEIL_ASSIGN_OR_RETURN(out.x, pipeline.Transform(rows));
  } else {
    absl::flat_hash_map<std::string, int> index;
    for (size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<int>(i);
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (t.IsNull(r, *col)) continue;
      auto it = index.find(t.FormatValue(r, *col));
      if (it == index.end()) continue;
      keep.push_back(r);
      out.y.classes.push_back(it->second);
    }
    VEIL_ASSIGN_OR_RETURN(const table::Table rows, t.Take(keep));
    VEIL_ASSIGN_OR_RETURN(out.x, pipeline.Transform(rows));
  }
  out.skipped = t.num_rows() - static_cast<int64_t>(keep.size());
  return out;
}

Json ModelSpec::ToJson() const {
  return Json{{"kind", kind},
              {"target", target},
              {"classes", classes},
              {"hidden", hidden},
              {"pipeline", pipeline.ToJson()}};
}

absl::StatusOr<ModelSpec> ModelSpec::FromJson(const Json& j) {
  const auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("round plan: model: ", std::string(what)));
  };
  if (!j.is_object()) return bad("not an object");
  ModelSpec m;
  if (!j.contains("kind") || !j["kind"].is_string()) return bad("kind");
  m.kind = j["kind"].get<std::string>();
  if (m.kind != "logreg" && m.kind != "linreg" && m.kind != "mlp")
    return bad("kind must be logreg, linreg or mlp");
  if (!j.contains("target") || !j["target"].is_string()) return bad("target");
  m.target = j["target"].get<std::string>();
  if (!j.contains("classes") || !j["classes"].is_array()) return bad("classes");
  for (const auto& c : j["classes"]) {
    if (!c.is_string()) return bad("classes");
    m.classes.push_back(c.get<std::string>());
  }
  if (!j.contains("hidden") || !j["hidden"].is_array()) return bad("hidden");
  for (const auto& h : j["hidden"]) {
    if (!h.is_number_integer() || h.get<int64_t>() < 1 || h.get<int64_t>() > 4096) return bad("hidden");
    m.hidden.push_back(h.get<int>());
  }
  if (!j.contains("pipeline") || !j["pipeline"].is_string()) return bad("pipeline");
  VEIL_ASSIGN_OR_RETURN(m.pipeline, ml::FeaturePipeline::FromJson(j["pipeline"].get<std::string>()));
  if (m.kind != "linreg" && m.classes.size() < 2) return bad("a classifier needs at least two classes");
  return m;
}

int64_t RoundPlan::ContributionLength(int64_t num_params) const {
  // One coordinate more: the FedAvg weight w_k riding in the secure sum without DP (SecAggWeightedInput, so
  // the example count never leaves the site), or C_t b_k with adaptive clipping.
  const bool weight = secure && dp == DpMode::kNone;
  const bool clipped_bit = dp == DpMode::kCentral && central.adaptive_clipping;
  return num_params + (weight || clipped_bit ? 1 : 0);
}

Json RoundPlan::ToJson() const {
  Json j = {{"version", 1},
            {"round", round},
            {"rounds", rounds},
            {"model", model.ToJson()},
            {"local", LocalToJson(local)},
            {"proximal_mu", proximal_mu},
            {"secure", secure},
            {"dp", std::string(DpModeName(dp))},
            {"max_examples", max_examples},
            {"clip", clip},
            {"seeded", seeded}};
  if (dp == DpMode::kCentral) {
    j["central"] = DpOptionsToJson(central);
    j["clip_norm"] = clip_norm;
  }
  if (dp == DpMode::kDistributed) {
    j["distributed"] = {{"sigma", distributed.sigma}, {"min_clients", distributed.min_clients}};
    j["clip_norm"] = clip_norm;
    j["l2_sensitivity"] = l2_sensitivity;
    j["delta"] = delta;
  }
  return j;
}

absl::StatusOr<RoundPlan> RoundPlan::FromJson(std::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("round plan: not a JSON object");
  const Fields f(j, "round plan", "");
  int version = 0;
  VEIL_RETURN_IF_ERROR(f.Integer("version", version, 0, 1000));
  if (version != 1) return f.Bad("version", "must be 1");
  RoundPlan p;
  VEIL_RETURN_IF_ERROR(f.Integer("round", p.round, 0, int64_t{1} << 40));
  VEIL_RETURN_IF_ERROR(f.Integer("rounds", p.rounds, 1, int64_t{1} << 40));
  if (!j.contains("model")) return f.Bad("model", "is missing");
  VEIL_ASSIGN_OR_RETURN(p.model, ModelSpec::FromJson(j["model"]));
  if (!j.contains("local")) return f.Bad("local", "is missing");
  VEIL_ASSIGN_OR_RETURN(const Fields local, f.Object("local"));
  VEIL_RETURN_IF_ERROR(ParseLocal(local, p.local));
  VEIL_RETURN_IF_ERROR(f.Number("proximal_mu", p.proximal_mu, 0, 1e6));
  VEIL_RETURN_IF_ERROR(f.Bool("secure", p.secure));
  std::string dp = "none";
  VEIL_RETURN_IF_ERROR(f.String("dp", dp));
  if (dp == "none") {
    p.dp = DpMode::kNone;
  } else if (dp == "central") {
    p.dp = DpMode::kCentral;
  } else if (dp == "distributed") {
    p.dp = DpMode::kDistributed;
  } else {
    return f.Bad("dp", "must be none, central or distributed");
  }
  VEIL_RETURN_IF_ERROR(f.Integer("max_examples", p.max_examples, 0, int64_t{1} << 50));
  VEIL_RETURN_IF_ERROR(f.Number("clip", p.clip, 1e-30, 1e30));
  VEIL_RETURN_IF_ERROR(f.Bool("seeded", p.seeded));
  if (p.dp == DpMode::kCentral) {
    if (!j.contains("central")) return f.Bad("central", "is missing");
    VEIL_ASSIGN_OR_RETURN(const Fields c, f.Object("central"));
    VEIL_RETURN_IF_ERROR(DpOptionsFromJson(c, p.central));
    VEIL_RETURN_IF_ERROR(p.central.Validate());
    VEIL_RETURN_IF_ERROR(f.Number("clip_norm", p.clip_norm, 1e-30, 1e30));
  }
  if (p.dp == DpMode::kDistributed) {
    if (!p.secure) return f.Bad("dp", "distributed DP needs secure aggregation");
    if (!j.contains("distributed")) return f.Bad("distributed", "is missing");
    VEIL_ASSIGN_OR_RETURN(const Fields d, f.Object("distributed"));
    VEIL_RETURN_IF_ERROR(d.Number("sigma", p.distributed.sigma, 1e-30, 1e30));
    VEIL_RETURN_IF_ERROR(d.Integer("min_clients", p.distributed.min_clients, 1, kSecAggMaxClients));
    VEIL_RETURN_IF_ERROR(f.Number("clip_norm", p.clip_norm, 1e-30, 1e30));
    VEIL_RETURN_IF_ERROR(f.Number("l2_sensitivity", p.l2_sensitivity, 1e-30, 1e30));
    VEIL_RETURN_IF_ERROR(f.Number("delta", p.delta, 1e-300, 0.5));
  }
  if (p.round >= static_cast<uint64_t>(p.rounds)) return f.Bad("round", "is past the last round");
  return p;
}

absl::StatusOr<CoordinatorConfig> ParseCoordinatorConfig(std::string_view text, std::string_view where,
                                                         const std::string& base_dir) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": not valid JSON"));
  if (!j.is_object())
    return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": not a JSON object"));
  const Fields f(j, std::string(where), "");
  VEIL_RETURN_IF_ERROR(
      f.OnlyKnown({"listen", "rounds", "clients_per_round", "min_clients", "sites", "deadlines", "strategy",
                   "local", "model", "secure_aggregation", "dp", "checkpoint_dir", "output", "registry",
                   "evaluation", "transport", "seed"}));
  CoordinatorConfig c;
  VEIL_RETURN_IF_ERROR(f.String("listen", c.listen));
  if (c.listen.empty() || c.listen.find(':') == std::string::npos)
    return f.Bad("listen", "must be HOST:PORT (e.g. \"0.0.0.0:7443\")");
  VEIL_RETURN_IF_ERROR(f.Integer("rounds", c.rounds, 1, 100000));
  VEIL_RETURN_IF_ERROR(f.Integer("clients_per_round", c.clients_per_round, 1, kSecAggMaxClients));
  VEIL_RETURN_IF_ERROR(f.Integer("min_clients", c.min_clients, 1, kSecAggMaxClients));
  if (c.min_clients > c.clients_per_round) return f.Bad("min_clients", "must not exceed clients_per_round");
  if (f.Has("sites")) {
    if (!j["sites"].is_array()) return f.Bad("sites", "must be an array of site names");
    for (const auto& s : j["sites"]) {
      if (!s.is_string()) return f.Bad("sites", "must be an array of site names");
      VEIL_RETURN_IF_ERROR(ValidateSiteName(s.get<std::string>()));
      c.sites.push_back(s.get<std::string>());
    }
  }
  if (f.Has("deadlines")) {
    VEIL_ASSIGN_OR_RETURN(const Fields d, f.Object("deadlines"));
    VEIL_RETURN_IF_ERROR(
        d.OnlyKnown({"join", "train", "share_keys", "masked_input", "consistency", "unmask"}));
    VEIL_RETURN_IF_ERROR(d.Seconds("join", c.deadlines.join));
    VEIL_RETURN_IF_ERROR(d.Seconds("train", c.deadlines.train));
    VEIL_RETURN_IF_ERROR(d.Seconds("share_keys", c.deadlines.share_keys));
    VEIL_RETURN_IF_ERROR(d.Seconds("masked_input", c.deadlines.masked_input));
    VEIL_RETURN_IF_ERROR(d.Seconds("consistency", c.deadlines.consistency));
    VEIL_RETURN_IF_ERROR(d.Seconds("unmask", c.deadlines.unmask));
  }
  if (f.Has("strategy")) {
    VEIL_ASSIGN_OR_RETURN(const Fields s, f.Object("strategy"));
    VEIL_RETURN_IF_ERROR(
        s.OnlyKnown({"name", "server_learning_rate", "proximal_mu", "beta1", "beta2", "tau"}));
    std::string name = "fedavg";
    VEIL_RETURN_IF_ERROR(s.String("name", name));
    absl::StatusOr<StrategyKind> kind = ParseStrategyKind(name);
    if (!kind.ok()) return s.Bad("name", std::string(kind.status().message()));
    c.strategy.kind = *kind;
    VEIL_RETURN_IF_ERROR(s.Number("server_learning_rate", c.strategy.server_learning_rate, 0, 1e6));
    VEIL_RETURN_IF_ERROR(s.Number("proximal_mu", c.strategy.proximal_mu, 0, 1e6));
    VEIL_RETURN_IF_ERROR(s.Number("beta1", c.strategy.beta1, 0, 1));
    VEIL_RETURN_IF_ERROR(s.Number("beta2", c.strategy.beta2, 0, 1));
    VEIL_RETURN_IF_ERROR(s.Number("tau", c.strategy.tau, 0, 1e6));
  }
  {
    absl::Status s = c.strategy.Validate();
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": strategy: ", s.message()));
  }
  if (f.Has("local")) {
    VEIL_ASSIGN_OR_RETURN(const Fields l, f.Object("local"));
    VEIL_RETURN_IF_ERROR(ParseLocal(l, c.local));
  }

  // The model: kind, target, and its public metadata (a file or inline).
  if (!f.Has("model")) return f.Bad("model", "is required: {\"kind\", \"target\", \"metadata\"}");
  {
    VEIL_ASSIGN_OR_RETURN(const Fields m, f.Object("model"));
    VEIL_RETURN_IF_ERROR(m.OnlyKnown({"kind", "target", "metadata", "hidden", "features"}));
    VEIL_RETURN_IF_ERROR(m.String("kind", c.model.kind));
    if (c.model.kind != "logreg" && c.model.kind != "linreg" && c.model.kind != "mlp")
      return m.Bad("kind", "must be logreg, linreg or mlp");
    VEIL_RETURN_IF_ERROR(m.String("target", c.model.target));
    if (c.model.target.empty()) return m.Bad("target", "is required (the column to predict)");
    const Json& mj = j["model"];
    if (c.model.kind == "mlp") {
      c.model.hidden = {16};
      if (mj.contains("hidden")) {
        c.model.hidden.clear();
        if (!mj["hidden"].is_array() || mj["hidden"].empty() || mj["hidden"].size() > 2)
          return m.Bad("hidden", "must list one or two layer widths");
        for (const auto& h : mj["hidden"]) {
          if (!h.is_number_integer() || h.get<int64_t>() < 1 || h.get<int64_t>() > 4096)
            return m.Bad("hidden", "widths must be integers in [1, 4096]");
          c.model.hidden.push_back(h.get<int>());
        }
      }
    }
    if (!mj.contains("metadata"))
      return m.Bad("metadata", "is required: the public metadata (file or object)");
    std::string meta_text;  // the file's text, or the inline object's
    std::string meta_where;
    if (mj["metadata"].is_string()) {
      const std::string path = Resolve(base_dir, mj["metadata"].get<std::string>());
      VEIL_ASSIGN_OR_RETURN(meta_text, ReadSmallFile(path));
      meta_where = path;
    } else {
      meta_text = mj["metadata"].dump();
      meta_where = absl::StrCat(std::string(where), ": model.metadata");
    }
    VEIL_ASSIGN_OR_RETURN(ml::PublicMetadata meta, ml::ParsePublicMetadata(meta_text, meta_where));
    std::vector<ml::ColumnSpec> columns = std::move(meta.columns);
    if (mj.contains("features")) {
      if (!mj["features"].is_array()) return m.Bad("features", "must be an array of column names");
      std::vector<ml::ColumnSpec> chosen;
      for (const auto& name : mj["features"]) {
        if (!name.is_string()) return m.Bad("features", "must be an array of column names");
        auto it = std::find_if(columns.begin(), columns.end(),
                               [&](const ml::ColumnSpec& s) { return s.name == name.get<std::string>(); });
        if (it == columns.end())
          return m.Bad("features", absl::StrCat("names \"", name.get<std::string>(),
                                                "\", which the metadata does not declare"));
        chosen.push_back(*it);
      }
      columns = std::move(chosen);
    }
    for (const ml::ColumnSpec& s : columns) {
      if (s.name == c.model.target)
        return absl::InvalidArgumentError(
            absl::StrCat(meta_where, ": the target \"", s.name, "\" cannot also be a feature"));
    }
    VEIL_ASSIGN_OR_RETURN(c.model.pipeline, ml::PublicFeaturePipeline(std::move(columns)));
    c.model.classes = std::move(meta.classes);
    if (c.model.kind != "linreg" && c.model.classes.size() < 2)
      return absl::InvalidArgumentError(absl::StrCat(
          meta_where,
          ": a classifier needs the target's classes declared: \"target\": {\"classes\": [...]}"));
  }

  bool ring_bits_set = false;  // secure_aggregation.ring_bits given in the file (else the default)
  if (f.Has("secure_aggregation")) {
    VEIL_ASSIGN_OR_RETURN(const Fields s, f.Object("secure_aggregation"));
    ring_bits_set = s.Has("ring_bits");
    VEIL_RETURN_IF_ERROR(
        s.OnlyKnown({"enabled", "threat_model", "threshold", "degree", "ring_bits", "clip", "max_examples"}));
    VEIL_RETURN_IF_ERROR(s.Bool("enabled", c.secagg.enabled));
    std::string threat = "active";
    VEIL_RETURN_IF_ERROR(s.String("threat_model", threat));
    if (threat == "active") {
      c.secagg.threat_model = SecAggThreatModel::kActive;
    } else if (threat == "semi-honest") {
      c.secagg.threat_model = SecAggThreatModel::kSemiHonest;
    } else {
      return s.Bad("threat_model", "must be \"active\" or \"semi-honest\"");
    }
    VEIL_RETURN_IF_ERROR(s.Integer("threshold", c.secagg.threshold, 0, kSecAggMaxClients));
    VEIL_RETURN_IF_ERROR(s.Integer("degree", c.secagg.degree, 0, kSecAggMaxClients));
    if (c.secagg.degree % 2 != 0) return s.Bad("degree", "must be even (0 for the complete graph)");
    VEIL_RETURN_IF_ERROR(s.Integer("ring_bits", c.secagg.ring_bits, kSecAggMinRingBits, 32));
    VEIL_RETURN_IF_ERROR(s.Number("clip", c.secagg.clip, 1e-9, 1e9));
    VEIL_RETURN_IF_ERROR(s.Integer("max_examples", c.secagg.max_examples, 1, int64_t{1} << 40));
  }
  if (f.Has("dp")) {
    VEIL_ASSIGN_OR_RETURN(const Fields d, f.Object("dp"));
    VEIL_RETURN_IF_ERROR(
        d.OnlyKnown({"mode", "noise_multiplier", "clip_norm", "adaptive", "target_quantile",
                     "clip_learning_rate", "clipped_count_stddev", "delta", "total_clients"}));
    std::string mode = "none";
    VEIL_RETURN_IF_ERROR(d.String("mode", mode));
    if (mode == "none") {
      c.dp.mode = DpMode::kNone;
    } else if (mode == "central") {
      c.dp.mode = DpMode::kCentral;
    } else if (mode == "distributed") {
      c.dp.mode = DpMode::kDistributed;
    } else {
      return d.Bad("mode", "must be \"none\", \"central\" (DP-FedAvg) or \"distributed\"");
    }
    DpFedAvgOptions& o = c.dp.central;
    VEIL_RETURN_IF_ERROR(d.Number("noise_multiplier", o.noise_multiplier, 1e-6, 1e6));
    VEIL_RETURN_IF_ERROR(d.Number("clip_norm", o.clip_norm, 1e-12, 1e12));
    VEIL_RETURN_IF_ERROR(d.Bool("adaptive", o.adaptive_clipping));
    VEIL_RETURN_IF_ERROR(d.Number("target_quantile", o.target_quantile, 0, 1));
    VEIL_RETURN_IF_ERROR(d.Number("clip_learning_rate", o.clip_learning_rate, 0, 1e3));
    VEIL_RETURN_IF_ERROR(d.Number("clipped_count_stddev", o.clipped_count_stddev, 0, 1e9));
    VEIL_RETURN_IF_ERROR(d.Number("delta", o.delta, 1e-300, 0.5));
    o.total_clients = 0;
    VEIL_RETURN_IF_ERROR(d.Integer("total_clients", o.total_clients, 0, int64_t{1} << 40));
    c.dp.noise_multiplier = o.noise_multiplier;
    c.dp.clip_norm = o.clip_norm;
    c.dp.delta = o.delta;
    if (c.dp.mode == DpMode::kCentral) {
      o.clients_per_round = c.clients_per_round;
      if (o.total_clients == 0)
        o.total_clients = c.sites.empty() ? c.clients_per_round : static_cast<int64_t>(c.sites.size());
      if (o.total_clients < o.clients_per_round)
        return d.Bad("total_clients", "must be at least clients_per_round");
      // Poisson sampling draws indices below total_clients; with listed sites each index names one.
      if (!c.sites.empty() && o.total_clients > static_cast<int64_t>(c.sites.size()))
        return d.Bad("total_clients",
                     absl::StrCat("must not exceed the ", c.sites.size(),
                                  " sites listed in \"sites\" (each sampled index is one of them)"));
      absl::Status s = o.Validate();
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": dp: ", s.message()));
    }
    if (c.dp.mode == DpMode::kDistributed) {
      if (!c.secagg.enabled)
        return d.Bad("mode", "\"distributed\" needs secure aggregation (the noise is added inside it)");
      if (o.adaptive_clipping)
        return d.Bad("adaptive",
                     "is not available with distributed DP (the clipped count would need its "
                     "own noise inside the secure sum)");
    }
  }
  if (c.secagg.enabled && c.dp.mode == DpMode::kNone && c.secagg.clip < 1)
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(where),
        ": \"secure_aggregation.clip\" must be at least 1 without DP (each site's FedAvg weight, up to 1, "
        "is summed beside its update and must not be clipped)"));
  if (c.secagg.enabled && c.dp.mode == DpMode::kCentral && c.dp.central.adaptive_clipping) {
    // A round includes at most total_clients sites (Poisson sampling over them).
    const int64_t n = c.dp.central.total_clients;
    // The default ring grows to the smallest one that keeps the count exact (24 bits: up to 1,448 sites);
    // a ring the file names is kept, and refused below if too small.
    const std::optional<uint32_t> fits = SmallestExactRing(c.secagg.ring_bits, n);
    if (!ring_bits_set) c.secagg.ring_bits = fits.value_or(32);  // the largest, when none fits
    if (!AdaptiveCountIsExact(c.secagg.ring_bits, n)) {
      const int64_t most = MostExactSites(c.secagg.ring_bits);
      const std::string raise = fits.has_value() ? absl::StrCat("raise it to ", *fits, " or more, or ") : "";
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(where),
                       ": \"dp.adaptive\" with secure aggregation reads the clipped count exactly from "
                       "the secure sum only for up to ",
                       most, " sites per round in \"secure_aggregation.ring_bits\" = ", c.secagg.ring_bits,
                       " (2n / floor((2^(ring_bits-1) - 1) / n) + n 2^-24 <= 1/2), and a round may "
                       "include \"dp.total_clients\" = ",
                       n, " sites (default: the listed sites, else clients_per_round): ", raise,
                       "lower dp.total_clients (and clients_per_round) to at most ", most));
    }
  }
  if (c.secagg.enabled && c.min_clients < 3)
    return f.Bad("min_clients", "must be at least 3 with secure aggregation (the protocol needs 3 parties)");

  VEIL_RETURN_IF_ERROR(f.String("checkpoint_dir", c.checkpoint_dir));
  c.checkpoint_dir = Resolve(base_dir, c.checkpoint_dir);
  VEIL_RETURN_IF_ERROR(f.String("output", c.output));
  c.output = Resolve(base_dir, c.output);
  if (f.Has("registry")) {
    VEIL_ASSIGN_OR_RETURN(const Fields r, f.Object("registry"));
    VEIL_RETURN_IF_ERROR(r.OnlyKnown({"workspace", "name", "dataset", "purpose"}));
    RegistryTarget t;
    VEIL_RETURN_IF_ERROR(r.String("workspace", t.workspace));
    VEIL_RETURN_IF_ERROR(r.String("name", t.name));
    VEIL_RETURN_IF_ERROR(r.String("dataset", t.dataset));
    VEIL_RETURN_IF_ERROR(r.String("purpose", t.purpose));
    if (t.workspace.empty() || t.name.empty() || t.dataset.empty() || t.purpose.empty())
      return r.Bad("", "needs workspace, name, dataset and purpose");
    t.workspace = Resolve(base_dir, t.workspace);
    c.registry = std::move(t);
  }
  if (f.Has("evaluation")) {
    VEIL_ASSIGN_OR_RETURN(const Fields e, f.Object("evaluation"));
    VEIL_RETURN_IF_ERROR(e.OnlyKnown({"csv"}));
    VEIL_RETURN_IF_ERROR(e.String("csv", c.evaluation_csv));
    c.evaluation_csv = Resolve(base_dir, c.evaluation_csv);
  }
  if (f.Has("transport")) {
    VEIL_ASSIGN_OR_RETURN(const Fields t, f.Object("transport"));
    VEIL_RETURN_IF_ERROR(t.OnlyKnown({"max_payload_mib", "keepalive_seconds", "keepalive_timeout_seconds",
                                      "call_timeout_seconds", "poll_seconds", "finish_grace_seconds"}));
    double mib = static_cast<double>(c.transport.max_payload_bytes) / (1 << 20);
    VEIL_RETURN_IF_ERROR(t.Number("max_payload_mib", mib, 1, 16384));
    c.transport.max_payload_bytes = static_cast<uint64_t>(mib * (1 << 20));
    VEIL_RETURN_IF_ERROR(t.Seconds("keepalive_seconds", c.transport.keepalive_time));
    VEIL_RETURN_IF_ERROR(t.Seconds("keepalive_timeout_seconds", c.transport.keepalive_timeout));
    VEIL_RETURN_IF_ERROR(t.Seconds("call_timeout_seconds", c.transport.call_timeout));
    VEIL_RETURN_IF_ERROR(t.Seconds("poll_seconds", c.transport.poll));
    VEIL_RETURN_IF_ERROR(t.Seconds("finish_grace_seconds", c.finish_grace));
    absl::Status s = c.transport.Validate();
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": ", s.message()));
  }
  if (f.Has("seed")) {
    uint64_t seed = 0;
    VEIL_RETURN_IF_ERROR(f.Integer("seed", seed, 0, std::numeric_limits<int64_t>::max()));
    c.seed = seed;
  }

  // The digest: everything that changes the model (not where files go, not the transport or deadlines,
  // which change who takes part but are checked by the run itself).
  Json canonical = {{"rounds", c.rounds},
                    {"clients_per_round", c.clients_per_round},
                    {"min_clients", c.min_clients},
                    {"strategy", j.value("strategy", Json::object())},
                    {"local", LocalToJson(c.local)},
                    {"model", c.model.ToJson()},
                    {"secure_aggregation", j.value("secure_aggregation", Json::object())},
                    {"dp", j.value("dp", Json::object())},
                    {"seed", c.seed.has_value() ? Json(*c.seed) : Json(nullptr)}};
  c.digest = base::HexEncode(crypto::Sha256(canonical.dump()));
  return c;
}

}  // namespace veil::fl
