#include "veil/he/scoring.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/he/evaluator.h"
#include "veil/he/serialize.h"

namespace veil::he {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr char kModelFormat[] = "veil-linear-model";
constexpr char kQueryFormat[] = "veil-he-query";
constexpr char kScoresFormat[] = "veil-he-scores";
constexpr char kKeySetFormat[] = "veil-he-keyset";
constexpr char kQueryMagic[8] = {'V', 'E', 'I', 'L', 'H', 'E', 'Q', '1'};
constexpr char kScoresMagic[8] = {'V', 'E', 'I', 'L', 'H', 'E', 'R', '1'};
// The root mean square of the query values over a ciphertext's slots that the error estimate assumes
// (standardized features have about 1).
constexpr double kAssumedQueryRms = 8;
// Per-coefficient noise standard deviation of a seeded secret-key encryption (centered binomial, eta = 21)
// together with the encoder's rounding (1/12).
constexpr double kQueryNoiseStddev = 3.25;

absl::Status FieldError(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

bool IsFinite(double v) { return std::isfinite(v); }

size_t NextPowerOfTwo(size_t v) { return std::bit_ceil(std::max<size_t>(v, 1)); }

// ---- JSON helpers (no exception leaves this file) ----

absl::StatusOr<double> NumberAt(const Json& j, absl::string_view where) {
  if (!j.is_number()) return FieldError(where, "must be a number");
  const double v = j.get<double>();
  if (!IsFinite(v)) return FieldError(where, "must be finite");
  return v;
}

absl::StatusOr<std::vector<double>> NumberArray(const Json& j, absl::string_view where, size_t expected) {
  if (!j.is_array()) return FieldError(where, "must be an array of numbers");
  if (j.size() != expected) {
    return FieldError(where, absl::StrCat("has ", j.size(), " entries; there are ", expected, " features"));
  }
  std::vector<double> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    VEIL_ASSIGN_OR_RETURN(double v, NumberAt(j[i], absl::StrCat(where, "[", i, "]")));
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<Json> ParseJsonText(std::string_view text, absl::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON (at byte ", e.byte, ")"));
  } catch (const Json::out_of_range& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": a number out of range (", e.what(), ")"));
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON"));
  }
}

absl::Status CheckNames(const std::vector<std::string>& names, absl::string_view where) {
  if (names.empty()) return FieldError(where, "no features");
  if (names.size() > kMaxScoringFeatures) {
    return FieldError(where, absl::StrCat(names.size(), " features; at most ", kMaxScoringFeatures));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) return FieldError(absl::StrCat(where, "[", i, "]"), "an empty feature name");
    if (!seen.insert(names[i]).second) {
      return FieldError(absl::StrCat(where, "[", i, "]"),
                        absl::StrCat("feature \"", names[i], "\" repeated"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> NameArray(const Json& j, absl::string_view where) {
  if (!j.is_array()) return FieldError(where, "must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return FieldError(absl::StrCat(where, "[", i, "]"), "must be a string");
    out.push_back(j[i].get<std::string>());
  }
  VEIL_RETURN_IF_ERROR(CheckNames(out, where));
  return out;
}

absl::Status CheckTransform(const std::vector<double>& means, const std::vector<double>& scales,
                            size_t features, absl::string_view where) {
  if (means.empty() && scales.empty()) return absl::OkStatus();
  if (means.size() != features || scales.size() != features) {
    return FieldError(where,
                      absl::StrCat("means and scales must have one entry per feature (", features, ")"));
  }
  for (size_t i = 0; i < features; ++i) {
    if (!IsFinite(means[i])) return FieldError(absl::StrCat(where, ".means[", i, "]"), "must be finite");
    if (!IsFinite(scales[i]) || scales[i] <= 0) {
      return FieldError(absl::StrCat(where, ".scales[", i, "]"), "must be finite and > 0");
    }
  }
  return absl::OkStatus();
}

// ---- Binary container ----

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetLe(std::span<const uint8_t> b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
  return v;
}

std::vector<uint8_t> Container(const char (&magic)[8], const std::string& header,
                               const std::vector<std::vector<uint8_t>>& items) {
  std::vector<uint8_t> out(magic, magic + 8);
  PutU32(out, static_cast<uint32_t>(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  PutU32(out, static_cast<uint32_t>(items.size()));
  for (const auto& item : items) {
    PutU64(out, item.size());
    out.insert(out.end(), item.begin(), item.end());
  }
  const crypto::Sha256Digest digest = crypto::Sha256(std::span<const uint8_t>(out));
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

struct ContainerView {
  std::string header;
  std::vector<std::span<const uint8_t>> items;
};

absl::StatusOr<ContainerView> OpenContainer(const char (&magic)[8], std::span<const uint8_t> bytes,
                                            absl::string_view what) {
  constexpr size_t kMin = 8 + 4 + 4 + 32;
  if (bytes.size() < 8 || std::memcmp(bytes.data(), magic, 8) != 0) {
    if (bytes.size() >= 6 && std::memcmp(bytes.data(), "VEILHE", 6) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": a Veil HE file of another kind (expected ", std::string(magic, 8), ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a ", what, " file (bad magic)"));
  }
  if (bytes.size() < kMin) return absl::DataLossError(absl::StrCat(what, ": truncated"));
  const std::span<const uint8_t> body = bytes.first(bytes.size() - 32);
  const crypto::Sha256Digest digest = crypto::Sha256(body);
  if (std::memcmp(digest.data(), bytes.data() + body.size(), 32) != 0) {
    return absl::DataLossError(
        absl::StrCat(what, ": checksum mismatch (the file is truncated or was altered)"));
  }
  ContainerView view;
  size_t at = 8;
  const uint64_t header_len = GetLe(body, at, 4);
  at += 4;
  if (header_len > body.size() - at || body.size() - at - header_len < 4) {
    return absl::DataLossError(absl::StrCat(what, ": header length beyond the end"));
  }
  view.header.assign(reinterpret_cast<const char*>(body.data() + at), header_len);
  at += header_len;
  const uint64_t count = GetLe(body, at, 4);
  at += 4;
  for (uint64_t i = 0; i < count; ++i) {
    if (body.size() - at < 8)
      return absl::DataLossError(absl::StrCat(what, ": ciphertext ", i, " truncated"));
    const uint64_t len = GetLe(body, at, 8);
    at += 8;
    if (len > body.size() - at) {
      return absl::DataLossError(absl::StrCat(what, ": ciphertext ", i, " length beyond the end"));
    }
    view.items.push_back(body.subspan(at, len));
    at += len;
  }
  if (at != body.size())
    return absl::DataLossError(absl::StrCat(what, ": trailing bytes after the ciphertexts"));
  return view;
}

absl::StatusOr<KeySetId> KeyIdFromJson(const Json& j, absl::string_view where) {
  if (!j.is_string()) return FieldError(where, "must be a hex string");
  const std::string s = j.get<std::string>();
  if (s.size() != 64) return FieldError(where, "must have 64 hex digits");
  KeySetId id{};
  for (size_t i = 0; i < 32; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return FieldError(where, "must be lowercase hex");
    id[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return id;
}

absl::StatusOr<size_t> CountAt(const Json& j, absl::string_view where) {
  if (!j.is_number_unsigned() || j.get<uint64_t>() == 0 || j.get<uint64_t>() > (uint64_t{1} << 40)) {
    return FieldError(where, "must be a positive integer");
  }
  return static_cast<size_t>(j.get<uint64_t>());
}

absl::Status CheckKeys(const Json& j, std::initializer_list<absl::string_view> allowed,
                       absl::string_view what) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, ": must be a JSON object"));
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": unknown field \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFormat(const Json& j, absl::string_view format, absl::string_view what) {
  if (!j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != format) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": \"format\" must be \"", format, "\""));
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": \"version\" must be 1"));
  }
  return absl::OkStatus();
}

// Checks a parsed ciphertext's shape for scoring.
absl::Status CheckCiphertext(const Ciphertext& ct, int level, absl::string_view what, size_t index) {
  if (ct.parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ciphertext ", index, " has ", ct.parts.size(), " parts; expected 2"));
  }
  if (ct.level != level) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ciphertext ", index, " is at level ", ct.level, "; expected ", level));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Model.

absl::Status ValidateLinearModel(const LinearModel& model) {
  VEIL_RETURN_IF_ERROR(CheckNames(model.feature_names, "features"));
  const size_t f = model.feature_names.size();
  if (model.weights.size() != f) {
    return FieldError("weights",
                      absl::StrCat("has ", model.weights.size(), " entries; there are ", f, " features"));
  }
  for (size_t i = 0; i < f; ++i) {
    if (!IsFinite(model.weights[i])) return FieldError(absl::StrCat("weights[", i, "]"), "must be finite");
  }
  if (!IsFinite(model.bias)) return FieldError("bias", "must be finite");
  return CheckTransform(model.means, model.scales, f, "standardization");
}

absl::StatusOr<LinearModel> ParseLinearModelJson(std::string_view json) {
  VEIL_ASSIGN_OR_RETURN(Json j, ParseJsonText(json, "model"));
  VEIL_RETURN_IF_ERROR(CheckKeys(
      j, {"format", "version", "kind", "features", "weights", "bias", "standardization", "metadata"},
      "model"));
  VEIL_RETURN_IF_ERROR(CheckFormat(j, kModelFormat, "model"));
  LinearModel model;
  if (!j.contains("kind") || !j["kind"].is_string())
    return FieldError("kind", "must be \"linear\" or \"logistic\"");
  const std::string kind = j["kind"].get<std::string>();
  if (kind == "linear") {
    model.kind = LinearModel::Kind::kLinear;
  } else if (kind == "logistic") {
    model.kind = LinearModel::Kind::kLogistic;
  } else {
    return FieldError("kind", "must be \"linear\" or \"logistic\"");
  }
  if (!j.contains("features")) return FieldError("features", "missing");
  VEIL_ASSIGN_OR_RETURN(model.feature_names, NameArray(j["features"], "features"));
  const size_t f = model.feature_names.size();
  if (!j.contains("weights")) return FieldError("weights", "missing");
  VEIL_ASSIGN_OR_RETURN(model.weights, NumberArray(j["weights"], "weights", f));
  if (!j.contains("bias")) return FieldError("bias", "missing");
  VEIL_ASSIGN_OR_RETURN(model.bias, NumberAt(j["bias"], "bias"));
  if (j.contains("standardization") && !j["standardization"].is_null()) {
    const Json& s = j["standardization"];
    VEIL_RETURN_IF_ERROR(CheckKeys(s, {"means", "scales"}, "standardization"));
    if (!s.contains("means")) return FieldError("standardization.means", "missing");
    if (!s.contains("scales")) return FieldError("standardization.scales", "missing");
    VEIL_ASSIGN_OR_RETURN(model.means, NumberArray(s["means"], "standardization.means", f));
    VEIL_ASSIGN_OR_RETURN(model.scales, NumberArray(s["scales"], "standardization.scales", f));
  }
  VEIL_RETURN_IF_ERROR(ValidateLinearModel(model));
  return model;
}

std::string LinearModelToJson(const LinearModel& model) {
  OrderedJson j = {{"format", kModelFormat},
                   {"version", 1},
                   {"kind", model.kind == LinearModel::Kind::kLogistic ? "logistic" : "linear"},
                   {"features", model.feature_names},
                   {"weights", model.weights},
                   {"bias", model.bias}};
  if (!model.means.empty()) j["standardization"] = {{"means", model.means}, {"scales", model.scales}};
  return j.dump(2) + "\n";
}

double PlainLogit(const LinearModel& model, std::span<const double> features) {
  double sum = model.bias;
  for (size_t i = 0; i < features.size(); ++i) {
    const double x = model.means.empty() ? features[i] : (features[i] - model.means[i]) / model.scales[i];
    sum += model.weights[i] * x;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------------------
// Parameters and layout.

absl::StatusOr<CkksParameters> MakeScoringParameters(const ScoringParameterOptions& options) {
  const size_t n = options.poly_degree;
  if (options.probability) {
    if (n != 16384 && n != 32768) {
      return absl::InvalidArgumentError(
          absl::StrCat("N = ", n, ": probability key sets need N = 16384 or 32768 (the sigmoid's depth)"));
    }
    std::vector<int> bits = {61};
    for (int i = 0; i < 7; ++i) bits.push_back(37);
    bits.push_back(49);
    return CkksParametersBuilder()
        .SetPolyDegree(n)
        .SetCiphertextPrimeBits(bits)
        .SetSpecialPrimeBits({61})
        .Build();
  }
  if (n != 8192 && n != 16384 && n != 32768) {
    return absl::InvalidArgumentError(
        absl::StrCat("N = ", n, ": scoring key sets use N = 8192, 16384 or 32768"));
  }
  return CkksParametersBuilder()
      .SetPolyDegree(n)
      .SetCiphertextPrimeBits({61, 49})
      .SetSpecialPrimeBits({49})
      .Build();
}

absl::StatusOr<ScoringLayout> MakeScoringLayout(const CkksContext& ctx, size_t features) {
  if (features == 0) return absl::InvalidArgumentError("scoring layout: no features");
  if (features > kMaxScoringFeatures || NextPowerOfTwo(features) > ctx.slot_count()) {
    return absl::InvalidArgumentError(absl::StrCat("scoring layout: ", features, " features; at most ",
                                                   std::min(kMaxScoringFeatures, ctx.slot_count()),
                                                   " at N = ", ctx.n()));
  }
  ScoringLayout layout;
  layout.features = features;
  layout.padded_features = NextPowerOfTwo(features);
  layout.records_per_ciphertext = ctx.slot_count() / layout.padded_features;
  return layout;
}

std::vector<int64_t> ScoringRotationSteps(const CkksContext& ctx, size_t max_features) {
  const size_t p = std::min(NextPowerOfTwo(max_features), ctx.slot_count());
  std::vector<int64_t> steps;
  for (size_t block = 1; block < p; block *= 2)
    steps.push_back(static_cast<int64_t>(ctx.slot_count() / p * block));
  return steps;
}

KeySetId MakeKeySetId(const CkksContext& ctx, const PublicKey& pk) {
  return crypto::Sha256(std::span<const uint8_t>(SerializePublicKey(ctx, pk)));
}

std::string KeySetIdHex(const KeySetId& id) { return base::HexEncode(id); }

std::string KeySetManifestToJson(const KeySetManifest& manifest) {
  OrderedJson j = {{"format", kKeySetFormat},
                   {"version", 1},
                   {"key_id", KeySetIdHex(manifest.key_id)},
                   {"poly_degree", manifest.poly_degree},
                   {"modulus_bits", manifest.modulus_bits},
                   {"probability", manifest.probability},
                   {"max_features", manifest.max_features},
                   {"files", OrderedJson::object()}};
  for (const auto& [name, digest] : manifest.files) j["files"][name] = digest;
  return j.dump(2) + "\n";
}

absl::StatusOr<KeySetManifest> ParseKeySetManifest(std::string_view json) {
  VEIL_ASSIGN_OR_RETURN(Json j, ParseJsonText(json, "key-set manifest"));
  VEIL_RETURN_IF_ERROR(CheckKeys(
      j,
      {"format", "version", "key_id", "poly_degree", "modulus_bits", "probability", "max_features", "files"},
      "key-set manifest"));
  VEIL_RETURN_IF_ERROR(CheckFormat(j, kKeySetFormat, "key-set manifest"));
  KeySetManifest m;
  VEIL_ASSIGN_OR_RETURN(m.key_id, KeyIdFromJson(j.value("key_id", Json()), "key-set manifest: key_id"));
  VEIL_ASSIGN_OR_RETURN(m.poly_degree,
                        CountAt(j.value("poly_degree", Json()), "key-set manifest: poly_degree"));
  VEIL_ASSIGN_OR_RETURN(m.modulus_bits,
                        NumberAt(j.value("modulus_bits", Json()), "key-set manifest: modulus_bits"));
  VEIL_ASSIGN_OR_RETURN(m.max_features,
                        CountAt(j.value("max_features", Json()), "key-set manifest: max_features"));
  const Json probability = j.value("probability", Json());
  if (!probability.is_boolean()) return FieldError("key-set manifest: probability", "must be true or false");
  m.probability = probability.get<bool>();
  const Json files = j.value("files", Json());
  if (!files.is_object()) return FieldError("key-set manifest: files", "must be an object");
  for (const auto& [name, digest] : files.items()) {
    const std::string where = absl::StrCat("key-set manifest: files[\"", name, "\"]");
    if (name.empty() || name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos) {
      return FieldError(where, "must be a file name without a path");
    }
    if (!digest.is_string()) return FieldError(where, "must be a SHA-256 in hex");
    // The same 64-digit lowercase hex check as key IDs.
    if (!KeyIdFromJson(digest, where).ok()) return FieldError(where, "must be a SHA-256 in hex");
    m.files.emplace_back(name, digest.get<std::string>());
  }
  std::vector<std::string> required = {"params", "public_key", "galois_keys"};
  if (m.probability) required.push_back("relin_keys");
  for (const std::string& name : required) {
    if (!files.contains(name)) {
      return FieldError("key-set manifest: files", absl::StrCat("does not list \"", name, "\""));
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Query.

absl::StatusOr<EncryptedQuery> EncryptQuery(const CkksContext& ctx, const SecretKey& sk,
                                            const KeySetId& key_id,
                                            const std::vector<std::string>& feature_names,
                                            const std::vector<double>& means,
                                            const std::vector<double>& scales,
                                            const std::vector<std::vector<double>>& records,
                                            base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckNames(feature_names, "features"));
  VEIL_RETURN_IF_ERROR(CheckTransform(means, scales, feature_names.size(), "transform"));
  if (records.empty()) return absl::InvalidArgumentError("no records to encrypt");
  VEIL_ASSIGN_OR_RETURN(ScoringLayout layout, MakeScoringLayout(ctx, feature_names.size()));
  const size_t f_count = feature_names.size(), r_per = layout.records_per_ciphertext;
  EncryptedQuery query;
  query.header = {key_id, feature_names, means, scales, records.size(), r_per};
  const int level = ctx.max_level();
  const double scale = kQueryScale;
  std::vector<double> slots(ctx.slot_count());
  for (size_t first = 0; first < records.size(); first += r_per) {
    std::fill(slots.begin(), slots.end(), 0.0);
    for (size_t r = 0; r < r_per && first + r < records.size(); ++r) {
      const std::vector<double>& rec = records[first + r];
      if (rec.size() != f_count) {
        return absl::InvalidArgumentError(
            absl::StrCat("record ", first + r, " has ", rec.size(), " values; expected ", f_count));
      }
      for (size_t f = 0; f < f_count; ++f) {
        double x = rec[f];
        if (!means.empty()) x = (x - means[f]) / scales[f];
        if (!IsFinite(x)) {
          return absl::InvalidArgumentError(absl::StrCat("record ", first + r, ", feature \"",
                                                         feature_names[f], "\": not a finite number"));
        }
        if (std::abs(x) > kMaxQueryValue) {
          return absl::InvalidArgumentError(absl::StrCat(
              "record ", first + r, ", feature \"", feature_names[f],
              "\": ", means.empty() ? "the value" : "the standardized value", " is above ", kMaxQueryValue,
              " in magnitude, more than the encrypted scoring's precision allows; standardize the features "
              "(encrypt with the model, whose standardization then applies) or rescale the column"));
        }
        slots[f * r_per + r] = x;
      }
    }
    VEIL_ASSIGN_OR_RETURN(Plaintext pt, ctx.Encode(std::span<const double>(slots), scale, level));
    VEIL_ASSIGN_OR_RETURN(SeededCiphertext ct, EncryptSymmetric(ctx, sk, pt, rng));
    query.ciphertexts.push_back(std::move(ct));
  }
  return query;
}

absl::StatusOr<std::vector<uint8_t>> SerializeQuery(const CkksContext& ctx, const EncryptedQuery& query) {
  const QueryHeader& h = query.header;
  OrderedJson j = {{"format", kQueryFormat},
                   {"version", 1},
                   {"key_id", KeySetIdHex(h.key_id)},
                   {"records", h.records},
                   {"records_per_ciphertext", h.records_per_ciphertext},
                   {"features", h.feature_names}};
  if (!h.means.empty()) j["transform"] = {{"means", h.means}, {"scales", h.scales}};
  std::vector<std::vector<uint8_t>> items;
  for (const SeededCiphertext& ct : query.ciphertexts) {
    VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, SerializeSeededCiphertext(ctx, ct));
    items.push_back(std::move(bytes));
  }
  return Container(kQueryMagic, j.dump(), items);
}

absl::StatusOr<ParsedQuery> ParseQuery(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(ContainerView view, OpenContainer(kQueryMagic, bytes, "query"));
  VEIL_ASSIGN_OR_RETURN(Json j, ParseJsonText(view.header, "query header"));
  VEIL_RETURN_IF_ERROR(CheckKeys(
      j, {"format", "version", "key_id", "records", "records_per_ciphertext", "features", "transform"},
      "query header"));
  VEIL_RETURN_IF_ERROR(CheckFormat(j, kQueryFormat, "query header"));
  ParsedQuery q;
  QueryHeader& h = q.header;
  VEIL_ASSIGN_OR_RETURN(h.key_id, KeyIdFromJson(j.value("key_id", Json()), "query header: key_id"));
  VEIL_ASSIGN_OR_RETURN(h.records, CountAt(j.value("records", Json()), "query header: records"));
  VEIL_ASSIGN_OR_RETURN(h.records_per_ciphertext, CountAt(j.value("records_per_ciphertext", Json()),
                                                          "query header: records_per_ciphertext"));
  VEIL_ASSIGN_OR_RETURN(h.feature_names, NameArray(j.value("features", Json()), "query header: features"));
  if (j.contains("transform")) {
    const Json& t = j["transform"];
    VEIL_RETURN_IF_ERROR(CheckKeys(t, {"means", "scales"}, "query header: transform"));
    VEIL_ASSIGN_OR_RETURN(h.means, NumberArray(t.value("means", Json()), "query header: transform.means",
                                               h.feature_names.size()));
    VEIL_ASSIGN_OR_RETURN(h.scales, NumberArray(t.value("scales", Json()), "query header: transform.scales",
                                                h.feature_names.size()));
    VEIL_RETURN_IF_ERROR(
        CheckTransform(h.means, h.scales, h.feature_names.size(), "query header: transform"));
  }
  VEIL_ASSIGN_OR_RETURN(ScoringLayout layout, MakeScoringLayout(ctx, h.feature_names.size()));
  if (layout.records_per_ciphertext != h.records_per_ciphertext) {
    return absl::InvalidArgumentError(absl::StrCat("query header: records_per_ciphertext is ",
                                                   h.records_per_ciphertext, "; these parameters pack ",
                                                   layout.records_per_ciphertext));
  }
  const size_t expected = (h.records + h.records_per_ciphertext - 1) / h.records_per_ciphertext;
  if (view.items.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("query: ", view.items.size(), " ciphertexts for ",
                                                   h.records, " records; expected ", expected));
  }
  for (size_t i = 0; i < view.items.size(); ++i) {
    absl::StatusOr<Ciphertext> ct = ParseCiphertext(ctx, view.items[i]);
    if (!ct.ok()) {
      return absl::Status(ct.status().code(),
                          absl::StrCat("query: ciphertext ", i, ": ", ct.status().message()));
    }
    VEIL_RETURN_IF_ERROR(CheckCiphertext(*ct, ctx.max_level(), "query", i));
    q.ciphertexts.push_back(*std::move(ct));
  }
  return q;
}

// ---------------------------------------------------------------------------------------------------------
// Scoring.

absl::StatusOr<EncryptedScores> ScoreQuery(const CkksContext& ctx, const ScoringKeys& keys,
                                           const LinearModel& model, const ParsedQuery& query,
                                           const ScoreOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateLinearModel(model));
  const QueryHeader& h = query.header;
  VEIL_ASSIGN_OR_RETURN(ScoringLayout layout, MakeScoringLayout(ctx, h.feature_names.size()));
  const size_t r_per = layout.records_per_ciphertext;
  if (r_per != h.records_per_ciphertext) return absl::InvalidArgumentError("query: layout does not match");

  // Effective weights on the query's values x' = (x - m_q) / s_q:
  //   w_f (x - M_f) / S_f = (w_f s_q / S_f) x' + w_f (m_q - M_f) / S_f.
  std::vector<double> w_eff(h.feature_names.size(), 0.0);
  double bias = model.bias;
  std::vector<std::string> missing;
  for (size_t mi = 0; mi < model.feature_names.size(); ++mi) {
    const auto it = std::find(h.feature_names.begin(), h.feature_names.end(), model.feature_names[mi]);
    if (it == h.feature_names.end()) {
      missing.push_back(model.feature_names[mi]);
      continue;
    }
    const size_t qi = static_cast<size_t>(it - h.feature_names.begin());
    const double big_m = model.means.empty() ? 0 : model.means[mi];
    const double big_s = model.scales.empty() ? 1 : model.scales[mi];
    const double m_q = h.means.empty() ? 0 : h.means[qi];
    const double s_q = h.scales.empty() ? 1 : h.scales[qi];
    w_eff[qi] = model.weights[mi] * s_q / big_s;
    bias += model.weights[mi] * (m_q - big_m) / big_s;
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the query lacks the model's features ", absl::StrJoin(missing, ", "),
                     " (encrypt with the model so that its features are taken in its order)"));
  }
  double norm2 = 0;
  for (size_t f = 0; f < w_eff.size(); ++f) {
    if (!IsFinite(w_eff[f]) || std::abs(w_eff[f]) > kMaxEffectiveWeight) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "feature \"%s\": its weight on the query's values is %g, above %g in magnitude (standardize the "
          "feature, in the model and when encrypting)",
          h.feature_names[f], w_eff[f], kMaxEffectiveWeight));
    }
    norm2 += w_eff[f] * w_eff[f];
  }
  if (!IsFinite(bias) || std::abs(bias) > kMaxEffectiveWeight) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the bias on the query's values is %g, above %g in magnitude (standardize the features)", bias,
        kMaxEffectiveWeight));
  }

  const int top = ctx.max_level();
  if (top < 1)
    return absl::FailedPreconditionError("scoring needs parameters with at least 2 ciphertext primes");
  std::optional<ChebyshevApproximation> sigmoid;
  if (options.probability) {
    if (model.kind != LinearModel::Kind::kLogistic) {
      return absl::InvalidArgumentError("a probability needs a logistic model (\"kind\": \"logistic\")");
    }
    if (!keys.relin.has_value()) {
      return absl::FailedPreconditionError(
          "the keys have no relinearization key: a probability needs a key set generated for it "
          "(veil he keygen --probability)");
    }
    if (!(options.interval > 0) || !IsFinite(options.interval)) {
      return absl::InvalidArgumentError("the sigmoid's interval must be finite and > 0");
    }
    const int needed = 2 + ChebyshevDepth(options.degree);
    if (top < needed) {
      return absl::FailedPreconditionError(
          absl::StrCat("a probability with a degree-", options.degree, " sigmoid needs ", needed + 1,
                       " ciphertext primes; these keys have ", top + 1, " (veil he keygen --probability)"));
    }
    VEIL_ASSIGN_OR_RETURN(sigmoid,
                          FitChebyshev(Sigmoid, -options.interval, options.interval, options.degree));
  }

  EncryptedScores out;
  out.header.key_id = h.key_id;
  out.header.records = h.records;
  out.header.records_per_ciphertext = r_per;
  // Error estimate of a logit ciphertext per coefficient (scoring.h; 8 standard deviations):
  //   the query's noise times the weights (after the rescale, times S / query scale), the weights' encoding
  //   rounding times the query values, summed over the P rotations, and the rescale's rounding.
  const double n = static_cast<double>(ctx.n()), p = static_cast<double>(layout.padded_features);
  const double q_top = static_cast<double>(ctx.params().ciphertext_primes()[top]);
  if (!query.ciphertexts.empty()) {
    const double in_scale = query.ciphertexts[0].scale;
    const double fresh = kQueryNoiseStddev * kLogitScale / in_scale * std::sqrt(norm2);
    const double rounding = std::sqrt(1.0 / 12) * kAssumedQueryRms * std::sqrt(p) * in_scale / q_top;
    const double rescale = std::sqrt((1 + 2 * n / 3) / 12);
    // Key switching at the top level (keyswitch.h): sum_j d_j e_j / P with d_j uniform below q_j, for each
    // of the P - 1 rotated copies, divided by q_top by the rescale.
    double q2 = 0;
    for (int i = 0; i <= top; ++i)
      q2 += std::pow(static_cast<double>(ctx.params().ciphertext_primes()[i]), 2);
    double special = 1;
    for (uint64_t sp : ctx.params().special_primes()) special *= static_cast<double>(sp);
    const double ks = std::sqrt(p - 1) * std::sqrt(n / 12 * q2) * kQueryNoiseStddev / special / q_top;
    out.header.error_bound_bits =
        std::log2(8 * std::sqrt(fresh * fresh + rounding * rounding + rescale * rescale + ks * ks + 1));
  }
  if (sigmoid.has_value()) {
    out.header.has_probability = true;
    out.header.interval = options.interval;
    out.header.degree = options.degree;
    out.header.fit_error = sigmoid->max_error;
  }

  // The weights, one plaintext for every ciphertext (all at the top level with the same scale).
  std::optional<Plaintext> weights;
  std::vector<double> slots(ctx.slot_count(), 0.0);
  for (size_t f = 0; f < w_eff.size(); ++f) {
    std::fill(slots.begin() + f * r_per, slots.begin() + (f + 1) * r_per, w_eff[f]);
  }
  Ciphertext tmp;
  for (size_t i = 0; i < query.ciphertexts.size(); ++i) {
    const Ciphertext& in = query.ciphertexts[i];
    VEIL_RETURN_IF_ERROR(CheckCiphertext(in, top, "query", i));
    const double w_scale = kLogitScale * q_top / in.scale;
    if (!weights.has_value() || weights->scale != w_scale) {
      if (!(w_scale >= 0x1p40 && w_scale <= 0x1p60)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("query: ciphertext %d has scale 2^%.2f; expected about 2^%.2f (the top prime)", i,
                            std::log2(in.scale), std::log2(q_top)));
      }
      VEIL_ASSIGN_OR_RETURN(weights, ctx.Encode(std::span<const double>(slots), w_scale, top));
    }
    Ciphertext acc = in;
    VEIL_RETURN_IF_ERROR(MultiplyPlainInplace(ctx, *weights, &acc));
    // Rotate-and-sum over the P feature blocks at the top level, before the rescale, which divides the
    // key-switching errors by q_top.
    for (size_t block = 1; block < layout.padded_features; block *= 2) {
      tmp = acc;
      VEIL_RETURN_IF_ERROR(RotateInplace(ctx, keys.galois, static_cast<int64_t>(block * r_per), &tmp));
      VEIL_RETURN_IF_ERROR(AddInplace(ctx, tmp, &acc));
    }
    VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, &acc));
    VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx, bias, &acc));
    if (sigmoid.has_value()) {
      Ciphertext z = acc;
      VEIL_RETURN_IF_ERROR(MatchLevelAndScale(ctx, z.level - 1, kProbabilityScale, &z));
      VEIL_ASSIGN_OR_RETURN(Ciphertext prob, EvaluateChebyshev(ctx, *keys.relin, z, *sigmoid));
      VEIL_RETURN_IF_ERROR(DropToLevelInplace(ctx, 0, &prob));
      out.probabilities.push_back(std::move(prob));
    }
    VEIL_RETURN_IF_ERROR(DropToLevelInplace(ctx, 0, &acc));
    out.logits.push_back(std::move(acc));
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> SerializeScores(const CkksContext& ctx, const EncryptedScores& scores) {
  const ScoresHeader& h = scores.header;
  OrderedJson j = {{"format", kScoresFormat},
                   {"version", 1},
                   {"key_id", KeySetIdHex(h.key_id)},
                   {"records", h.records},
                   {"records_per_ciphertext", h.records_per_ciphertext},
                   {"error_bound_bits", h.error_bound_bits}};
  if (h.has_probability) {
    j["probability"] = {{"interval", h.interval}, {"degree", h.degree}, {"fit_error", h.fit_error}};
  }
  std::vector<std::vector<uint8_t>> items;
  for (const auto* list : {&scores.logits, &scores.probabilities}) {
    for (const Ciphertext& ct : *list) {
      VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, SerializeCiphertext(ctx, ct));
      items.push_back(std::move(bytes));
    }
  }
  return Container(kScoresMagic, j.dump(), items);
}

absl::StatusOr<EncryptedScores> ParseScores(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(ContainerView view, OpenContainer(kScoresMagic, bytes, "scores"));
  VEIL_ASSIGN_OR_RETURN(Json j, ParseJsonText(view.header, "scores header"));
  VEIL_RETURN_IF_ERROR(CheckKeys(
      j,
      {"format", "version", "key_id", "records", "records_per_ciphertext", "error_bound_bits", "probability"},
      "scores header"));
  VEIL_RETURN_IF_ERROR(CheckFormat(j, kScoresFormat, "scores header"));
  EncryptedScores s;
  ScoresHeader& h = s.header;
  VEIL_ASSIGN_OR_RETURN(h.key_id, KeyIdFromJson(j.value("key_id", Json()), "scores header: key_id"));
  VEIL_ASSIGN_OR_RETURN(h.records, CountAt(j.value("records", Json()), "scores header: records"));
  VEIL_ASSIGN_OR_RETURN(h.records_per_ciphertext, CountAt(j.value("records_per_ciphertext", Json()),
                                                          "scores header: records_per_ciphertext"));
  if (!std::has_single_bit(h.records_per_ciphertext) || h.records_per_ciphertext > ctx.slot_count()) {
    return FieldError("scores header: records_per_ciphertext", "must be a power of two up to N/2");
  }
  VEIL_ASSIGN_OR_RETURN(h.error_bound_bits,
                        NumberAt(j.value("error_bound_bits", Json()), "scores header: error_bound_bits"));
  if (h.error_bound_bits < 0 || h.error_bound_bits > 60) {
    return FieldError("scores header: error_bound_bits", "must be in [0, 60]");
  }
  if (j.contains("probability") && !j["probability"].is_null()) {
    const Json& p = j["probability"];
    VEIL_RETURN_IF_ERROR(CheckKeys(p, {"interval", "degree", "fit_error"}, "scores header: probability"));
    h.has_probability = true;
    VEIL_ASSIGN_OR_RETURN(h.interval,
                          NumberAt(p.value("interval", Json()), "scores header: probability.interval"));
    VEIL_ASSIGN_OR_RETURN(double degree,
                          NumberAt(p.value("degree", Json()), "scores header: probability.degree"));
    VEIL_ASSIGN_OR_RETURN(h.fit_error,
                          NumberAt(p.value("fit_error", Json()), "scores header: probability.fit_error"));
    if (!(h.interval > 0)) return FieldError("scores header: probability.interval", "must be > 0");
    // FitChebyshev's degrees; checked before the conversion (a double outside int's range is undefined).
    if (!(degree >= 1 && degree <= 255 && degree == std::floor(degree))) {
      return FieldError("scores header: probability.degree", "must be an integer in [1, 255]");
    }
    if (!(h.fit_error >= 0)) return FieldError("scores header: probability.fit_error", "must be >= 0");
    h.degree = static_cast<int>(degree);
  }
  const size_t per_list = (h.records + h.records_per_ciphertext - 1) / h.records_per_ciphertext;
  const size_t expected = per_list * (h.has_probability ? 2 : 1);
  if (view.items.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("scores: ", view.items.size(), " ciphertexts for ",
                                                   h.records, " records; expected ", expected));
  }
  for (size_t i = 0; i < view.items.size(); ++i) {
    absl::StatusOr<Ciphertext> ct = ParseCiphertext(ctx, view.items[i]);
    if (!ct.ok()) {
      return absl::Status(ct.status().code(),
                          absl::StrCat("scores: ciphertext ", i, ": ", ct.status().message()));
    }
    VEIL_RETURN_IF_ERROR(CheckCiphertext(*ct, 0, "scores", i));
    (i < per_list ? s.logits : s.probabilities).push_back(*std::move(ct));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Decryption.

absl::StatusOr<DecryptedScores> DecryptScores(const CkksContext& ctx, const SecretKey& sk,
                                              const KeySetId& key_id, const EncryptedScores& scores,
                                              const DecryptScoresOptions& options) {
  const ScoresHeader& h = scores.header;
  if (h.key_id != key_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the scores were computed for key set ", KeySetIdHex(h.key_id).substr(0, 16),
                     "..., not for this key set ", KeySetIdHex(key_id).substr(0, 16), "... (wrong keys)"));
  }
  if (options.probability && !h.has_probability) {
    return absl::FailedPreconditionError(
        "the scores hold no probability: the server must score with --probability (a logistic model and a "
        "probability key set)");
  }
  if (options.probability && !options.key_owner_only) {
    return absl::FailedPreconditionError(
        "the probability computed under encryption has a CKKS error (about 1e-7) too large for noise "
        "flooding "
        "to hide (it would need 2^-38), so it may only be decrypted for the key owner's eyes: pass "
        "--key-owner-only (and do not share the values), or decrypt the logit, which is flooded and can be "
        "shared, and apply the sigmoid yourself");
  }
  const std::vector<Ciphertext>& list = options.probability ? scores.probabilities : scores.logits;
  DecryptOptions dopts = options.key_owner_only ? KeyOwnerOnly() : DecryptOptions{};
  dopts.error_bound_bits = std::max(h.error_bound_bits, 0.0);
  dopts.rng = options.rng;
  DecryptedScores out;
  out.flooded = !options.key_owner_only;
  out.values.reserve(h.records);
  for (size_t c = 0; c < list.size(); ++c) {
    VEIL_ASSIGN_OR_RETURN(Plaintext pt, Decrypt(ctx, sk, list[c], dopts));
    VEIL_ASSIGN_OR_RETURN(std::vector<std::complex<double>> slots, ctx.Decode(pt));
    if (out.flooded) out.flooding_stddev = FloodingSlotStddev(ctx, dopts, list[c].scale);
    for (size_t r = 0; r < h.records_per_ciphertext && out.values.size() < h.records; ++r) {
      out.values.push_back(slots[r].real());
    }
  }
  return out;
}

}  // namespace veil::he
