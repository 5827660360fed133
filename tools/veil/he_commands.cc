// veil he keygen -o KEYDIR [--n N] [--probability] [--max-features M] [--force]
// veil he encrypt FEATURES.csv --keys KEYDIR [--model MODEL.json] -o Q.bin
// veil he score Q.bin --model MODEL.json --keys KEYDIR/public -o R.bin [--probability]
// veil he decrypt R.bin --keys KEYDIR -o SCORES.csv [--probability] [--key-owner-only]
//
// Encrypted scoring of a linear or logistic model (src/veil/he/scoring.h, docs/he.md sections 7-8): the
// customer makes a key set and encrypts their feature records; the bank scores them with only the public part
// of the key set and the model; the customer decrypts one score per record, in input order.
//
// Key directory: KEYDIR/secret (mode 0600: magic "VEILHESK", the 32-byte key-set ID, the serialized ternary
// secret key) and KEYDIR/public/ (params, public_key, galois_keys, relin_keys for probability key sets, and
// keyset.json: the key-set ID, SHA-256 of each file, N, the feature limit). The key-set ID is SHA-256 of the
// public_key file; queries and results carry it, so files of another key set are refused (exit 4). `score`
// refuses a directory that holds a secret key (exit 3): the server must get only KEYDIR/public.
//
// FEATURES.csv: a header of names, then one record per line, numbers only (RFC 4180 quoting allowed). With
// --model, the model's features are taken by name (other columns, e.g. an identifier, are not encrypted) and
// its standardization is applied before encryption; without it every column is a feature. Errors name the
// file, line and column, never the value. Outputs are written atomically. Exit codes as tools/veil/cli.h: 2
// bad input, 3 refused, 4 integrity (truncated or altered file, wrong keys), 1 other failures.
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/constant_time.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"
#include "veil/he/scoring.h"
#include "veil/he/serialize.h"
#include "veil/table/csv_parser.h"

namespace veil::cli {
namespace {

using he::CkksContext;
using he::KeySetId;

constexpr char kSecretMagic[8] = {'V', 'E', 'I', 'L', 'H', 'E', 'S', 'K'};

std::string Join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string_view AsText(const std::vector<uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string Sha256Hex(std::span<const uint8_t> data) { return base::HexEncode(crypto::Sha256(data)); }

// The error of `status` with `prefix` in front, code unchanged.
// Files of another key set or parameter set: an integrity failure for the user (exit 4, cli.h).
absl::Status AsIntegrity(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kFailedPrecondition) return absl::DataLossError(status.message());
  return status;
}

// ---- Key directories ----

struct PublicDir {
  std::unique_ptr<CkksContext> ctx;
  KeySetId key_id{};
  bool probability = false;
  size_t max_features = 0;
};

// Reads KEYDIR/public (or the public directory itself): params, the manifest, the key-set ID (checked against
// the public_key file).
absl::StatusOr<PublicDir> LoadPublicDir(const std::string& dir) {
  base::Env& env = crypto::DefaultEnv();
  const std::string manifest_path = Join(dir, "keyset.json");
  if (!env.FileExists(manifest_path)) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": not a key directory (no keyset.json; make one with veil he keygen)"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string manifest_text, env.ReadFileToString(manifest_path));
  absl::StatusOr<he::KeySetManifest> manifest = he::ParseKeySetManifest(manifest_text);
  if (!manifest.ok()) return WithPrefix(manifest.status(), manifest_path);
  // Every file listed must match its SHA-256 (a file copied from another key set would compute garbage).
  for (const auto& [name, digest] : manifest->files) {
    VEIL_ASSIGN_OR_RETURN(std::string content, env.ReadFileToString(Join(dir, name)));
    if (Sha256Hex(Bytes(content)) != digest) {
      return absl::DataLossError(
          absl::StrCat(Join(dir, name), ": does not match keyset.json (altered, or from another key set)"));
    }
  }
  PublicDir out;
  VEIL_ASSIGN_OR_RETURN(std::string params_bytes, env.ReadFileToString(Join(dir, "params")));
  absl::StatusOr<he::CkksParameters> params = he::ParseParameters(Bytes(params_bytes));
  if (!params.ok()) return WithPrefix(params.status(), Join(dir, "params"));
  VEIL_ASSIGN_OR_RETURN(CkksContext ctx, CkksContext::Create(*params));
  out.ctx = std::make_unique<CkksContext>(std::move(ctx));
  VEIL_ASSIGN_OR_RETURN(std::string pk_bytes, env.ReadFileToString(Join(dir, "public_key")));
  out.key_id = crypto::Sha256(Bytes(pk_bytes));
  if (out.key_id != manifest->key_id) {
    return absl::DataLossError(
        absl::StrCat(Join(dir, "public_key"), ": does not match keyset.json's key_id"));
  }
  out.probability = manifest->probability;
  out.max_features = manifest->max_features;
  return out;
}

// Reads KEYDIR/secret into a SecretKey (checking it belongs to the key set of KEYDIR/public).
absl::StatusOr<he::SecretKey> LoadSecret(const std::string& keydir, const PublicDir& pub) {
  const std::string path = Join(keydir, "secret");
  base::Env& env = crypto::DefaultEnv();
  if (!env.FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(
        keydir, ": no secret key (", path, "); --keys names the whole key directory made by veil he keygen"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string raw, env.ReadFileToString(path));
  base::SecretBytes bytes(Bytes(raw));
  OPENSSL_cleanse(raw.data(), raw.size());
  if (bytes.size() < 40 || std::memcmp(bytes.data(), kSecretMagic, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a Veil HE secret key file"));
  }
  if (!crypto::ConstantTimeEquals(bytes.span().subspan(8, 32), std::span<const uint8_t>(pub.key_id))) {
    return absl::DataLossError(
        absl::StrCat(path, ": belongs to another key set than ", Join(keydir, "public")));
  }
  absl::StatusOr<he::SecretKey> sk = he::ParseSecretKey(*pub.ctx, bytes.span().subspan(40));
  if (!sk.ok()) return AsIntegrity(WithPrefix(sk.status(), path));
  return sk;
}

// The server's side must not hold a secret key.
absl::Status RefuseSecrets(const std::string& dir) {
  base::Env& env = crypto::DefaultEnv();
  if (env.FileExists(Join(dir, "secret")) || env.FileExists(Join(dir, "public"))) {
    return absl::PermissionDeniedError(absl::StrCat(
        dir, " holds a secret key: the server must get only the public directory (--keys KEYDIR/public)"));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<std::string> names, env.ListDir(dir));
  for (const std::string& name : names) {
    absl::StatusOr<std::string> content = env.ReadFileToString(Join(dir, name));
    if (!content.ok()) continue;  // directories
    const bool secret_file = content->size() >= 8 && std::memcmp(content->data(), kSecretMagic, 8) == 0;
    const bool secret_object =
        content->size() >= 9 && std::memcmp(content->data(), "VEILHE", 6) == 0 &&
        static_cast<uint8_t>((*content)[8]) == static_cast<uint8_t>(he::ObjectKind::kSecretKey);
    OPENSSL_cleanse(content->data(), content->size());
    if (secret_file || secret_object) {
      return absl::PermissionDeniedError(
          absl::StrCat(Join(dir, name), " is a secret key: the server must get only the public key files"));
    }
  }
  return absl::OkStatus();
}

// ---- CSV ----

struct FeatureCsv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // raw fields
  std::vector<size_t> lines;                   // 1-based line of each row
};

// Reads FEATURES.csv with the table module's record scanner (RFC 4180 quoting, CRLF, fields trimmed).
absl::StatusOr<FeatureCsv> ReadFeatureCsv(const std::string& file) {
  VEIL_ASSIGN_OR_RETURN(std::string text, ReadTextInput(file));
  const std::string name = InputName(file);
  const table::internal::CsvDialect dialect =
      table::internal::CsvDialect::Make(',', '"', /*trim=*/true, /*null_tokens=*/{});
  std::string_view rest(text);
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // UTF-8 byte order mark
  FeatureCsv csv;
  bool have_header = false;
  size_t line = 1;
  std::vector<std::string> fields;
  while (!rest.empty()) {
    size_t consumed = 0;
    int64_t lines = 0;
    table::internal::ChunkError error;
    if (!table::internal::ReadRecordFields(rest, dialect, &fields, &consumed, &lines, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", line + static_cast<size_t>(error.line), ":",
                                                     error.column + 1, ": ", error.message));
    }
    if (consumed == 0) break;
    const size_t record_line = line;
    rest.remove_prefix(consumed);
    line += static_cast<size_t>(lines);
    if (fields.size() <= 1 && (fields.empty() || fields[0].empty())) continue;  // blank line
    if (!have_header) {
      csv.header = fields;
      have_header = true;
      continue;
    }
    if (fields.size() != csv.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", record_line, ": ", fields.size(),
                                                     " fields; the header has ", csv.header.size()));
    }
    csv.rows.push_back(fields);
    csv.lines.push_back(record_line);
  }
  if (!have_header) return absl::InvalidArgumentError(absl::StrCat(name, ": empty (no header)"));
  if (csv.rows.empty())
    return absl::InvalidArgumentError(absl::StrCat(name, ": no records after the header"));
  return csv;
}

// ---- Output ----

absl::Status WriteOutputFile(const std::string& path, std::string_view data) {
  absl::Status s = crypto::DefaultEnv().WriteFileAtomically(path, data);
  if (!s.ok()) return WithPrefix(s, path);
  return absl::OkStatus();
}

void PrintSummary(const GlobalOptions& global, const nlohmann::ordered_json& doc, const std::string& text) {
  if (global.json) {
    PrintJson(doc);
  } else if (!global.quiet) {
    std::cout << text;
  }
}

// ---- keygen ----

struct KeygenArgs {
  std::string output;
  size_t n = 0;  // 0: 8192, or 16384 with --probability
  bool probability = false;
  size_t max_features = 256;
  bool force = false;
};

absl::Status RunKeygen(const KeygenArgs& args, const GlobalOptions& global) {
  base::Env& env = crypto::DefaultEnv();
  const std::string secret_path = Join(args.output, "secret"), pub = Join(args.output, "public");
  if (env.FileExists(secret_path) && !args.force) {
    return absl::AlreadyExistsError(
        absl::StrCat(secret_path,
                     " exists: a key set is there already (--force replaces it, and then the old "
                     "key set's queries and results cannot be decrypted any more)"));
  }
  he::ScoringParameterOptions po;
  po.probability = args.probability;
  po.poly_degree = args.n != 0 ? args.n : (args.probability ? 16384 : 8192);
  VEIL_ASSIGN_OR_RETURN(he::CkksParameters params, he::MakeScoringParameters(po));
  VEIL_ASSIGN_OR_RETURN(CkksContext ctx, CkksContext::Create(params));
  if (args.max_features == 0 || args.max_features > std::min(he::kMaxScoringFeatures, ctx.slot_count())) {
    return absl::InvalidArgumentError(absl::StrCat("--max-features must be in [1, ",
                                                   std::min(he::kMaxScoringFeatures, ctx.slot_count()), "]"));
  }
  const absl::Time start = absl::Now();
  base::RandomSource& rng = crypto::SecureRandom();
  VEIL_ASSIGN_OR_RETURN(he::SecretKey sk, he::GenerateSecretKey(ctx, rng));
  VEIL_ASSIGN_OR_RETURN(he::PublicKey pk, he::GeneratePublicKey(ctx, sk, rng));
  const std::vector<int64_t> steps = he::ScoringRotationSteps(ctx, args.max_features);
  VEIL_ASSIGN_OR_RETURN(he::GaloisKeys gk,
                        he::GenerateGaloisKeys(ctx, sk, rng, steps, /*conjugation=*/false));
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  files.emplace_back("params", he::SerializeParameters(params));
  files.emplace_back("public_key", he::SerializePublicKey(ctx, pk));
  files.emplace_back("galois_keys", he::SerializeGaloisKeys(ctx, gk));
  if (args.probability) {
    VEIL_ASSIGN_OR_RETURN(he::RelinKeys rk, he::GenerateRelinKeys(ctx, sk, rng));
    files.emplace_back("relin_keys", he::SerializeRelinKeys(ctx, rk));
  }
  const KeySetId key_id = crypto::Sha256(std::span<const uint8_t>(files[1].second));
  he::KeySetManifest manifest;
  manifest.key_id = key_id;
  manifest.poly_degree = ctx.n();
  manifest.modulus_bits = params.total_modulus_bits();
  manifest.probability = args.probability;
  manifest.max_features = args.max_features;
  for (const auto& [name, bytes] : files) manifest.files.emplace_back(name, Sha256Hex(bytes));

  VEIL_RETURN_IF_ERROR(env.CreateDirs(pub));
  uint64_t public_bytes = 0;
  for (const auto& [name, bytes] : files) {
    VEIL_RETURN_IF_ERROR(WriteOutputFile(Join(pub, name), AsText(bytes)));
    public_bytes += bytes.size();
  }
  VEIL_RETURN_IF_ERROR(WriteOutputFile(Join(pub, "keyset.json"), he::KeySetManifestToJson(manifest)));
  {
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes sk_bytes, he::SerializeSecretKey(ctx, sk));
    base::SecretBytes file(8 + 32 + sk_bytes.size());
    std::memcpy(file.data(), kSecretMagic, 8);
    std::memcpy(file.data() + 8, key_id.data(), 32);
    std::memcpy(file.data() + 40, sk_bytes.data(), sk_bytes.size());
    const mode_t old = ::umask(077);  // the temporary file and the key: owner only
    absl::Status s = env.WriteFileAtomically(
        secret_path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
    ::umask(old);
    if (!s.ok()) return WithPrefix(s, secret_path);
    if (::chmod(secret_path.c_str(), 0600) != 0) {
      return absl::InternalError(absl::StrCat(secret_path, ": cannot set mode 0600"));
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  nlohmann::ordered_json doc = {{"key_id", he::KeySetIdHex(key_id)},
                                {"secret", secret_path},
                                {"public", pub},
                                {"poly_degree", ctx.n()},
                                {"modulus_bits", params.total_modulus_bits()},
                                {"probability", args.probability},
                                {"max_features", args.max_features},
                                {"public_bytes", public_bytes},
                                {"seconds", seconds}};
  PrintSummary(global, doc,
               absl::StrCat("key set ", he::KeySetIdHex(key_id).substr(0, 16), " (N = ", ctx.n(), ", ",
                            absl::StrFormat("%.1f", params.total_modulus_bits()), "-bit modulus, up to ",
                            args.max_features, " features", args.probability ? ", probability" : "", ")\n",
                            "  secret: ", secret_path, " (mode 0600: keep it)\n", "  public: ", pub, "/ (",
                            FormatBytes(public_bytes), ": give it to the server)\n"));
  return absl::OkStatus();
}

// ---- encrypt ----

struct EncryptArgs {
  std::string features;
  std::string keys;
  std::string model;
  std::string output;
};

absl::Status RunEncrypt(const EncryptArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(PublicDir pub, LoadPublicDir(Join(args.keys, "public")));
  VEIL_ASSIGN_OR_RETURN(he::SecretKey sk, LoadSecret(args.keys, pub));
  std::optional<he::LinearModel> model;
  if (!args.model.empty()) {
    VEIL_ASSIGN_OR_RETURN(std::string text, ReadTextInput(args.model));
    absl::StatusOr<he::LinearModel> m = he::ParseLinearModelJson(text);
    if (!m.ok()) return WithPrefix(m.status(), InputName(args.model));
    model = *std::move(m);
  }
  VEIL_ASSIGN_OR_RETURN(FeatureCsv csv, ReadFeatureCsv(args.features));
  const std::string file = InputName(args.features);
  // Columns to encrypt, in order.
  std::vector<std::string> names;
  std::vector<size_t> columns;
  if (model.has_value()) {
    std::vector<std::string> missing;
    for (const std::string& n : model->feature_names) {
      const auto it = std::find(csv.header.begin(), csv.header.end(), n);
      if (it == csv.header.end()) {
        missing.push_back(n);
      } else {
        names.push_back(n);
        columns.push_back(static_cast<size_t>(it - csv.header.begin()));
      }
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": no column for the model's features ", absl::StrJoin(missing, ", ")));
    }
  } else {
    names = csv.header;
    for (size_t c = 0; c < names.size(); ++c) columns.push_back(c);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (names[i] == names[j]) {
        return absl::InvalidArgumentError(absl::StrCat(file, ":1: column \"", names[i], "\" appears twice"));
      }
    }
    if (names[i].empty())
      return absl::InvalidArgumentError(absl::StrCat(file, ":1:", columns[i] + 1, ": empty column name"));
  }
  std::vector<std::vector<double>> records(csv.rows.size(), std::vector<double>(names.size()));
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& field = csv.rows[r][columns[i]];
      double v = 0;
      if (field.empty() || !absl::SimpleAtod(field, &v) || !std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(file, ":", csv.lines[r], ":", columns[i] + 1, " (", names[i],
                         "): ", field.empty() ? "empty" : "not a finite number"));
      }
      const double x =
          model.has_value() && !model->means.empty() ? (v - model->means[i]) / model->scales[i] : v;
      if (std::abs(x) > he::kMaxQueryValue) {
        return absl::InvalidArgumentError(absl::StrCat(
            file, ":", csv.lines[r], ":", columns[i] + 1, " (", names[i],
            "): ", model.has_value() && !model->means.empty() ? "the standardized value" : "the value",
            " is above ", he::kMaxQueryValue,
            " in magnitude, beyond the precision of encrypted scoring: standardize the feature (a model with "
            "standardization, given with --model, is applied before encryption)"));
      }
      records[r][i] = v;
    }
  }
  const std::vector<double> means = model.has_value() ? model->means : std::vector<double>{};
  const std::vector<double> scales = model.has_value() ? model->scales : std::vector<double>{};
  absl::StatusOr<he::EncryptedQuery> query =
      he::EncryptQuery(*pub.ctx, sk, pub.key_id, names, means, scales, records, crypto::SecureRandom());
  if (!query.ok()) {
    // "record i, feature ..." -> the CSV line.
    return WithPrefix(query.status(), file);
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, he::SerializeQuery(*pub.ctx, *query));
  VEIL_RETURN_IF_ERROR(WriteOutputFile(args.output, AsText(bytes)));
  nlohmann::ordered_json doc = {{"output", args.output},
                                {"records", records.size()},
                                {"features", names},
                                {"standardized", !means.empty()},
                                {"records_per_ciphertext", query->header.records_per_ciphertext},
                                {"ciphertexts", query->ciphertexts.size()},
                                {"bytes", bytes.size()},
                                {"key_id", he::KeySetIdHex(pub.key_id)}};
  PrintSummary(
      global, doc,
      absl::StrCat(WithThousands(records.size()), " records of ", names.size(), " features",
                   means.empty() ? "" : " (standardized with the model)", " encrypted in ",
                   query->ciphertexts.size(), " ciphertext(s) of ", query->header.records_per_ciphertext,
                   " records: ", args.output, " (", FormatBytes(bytes.size()), ")\n"));
  return absl::OkStatus();
}

// ---- score ----

struct ScoreArgs {
  std::string query;
  std::string model;
  std::string keys;
  std::string output;
  bool probability = false;
  double interval = he::ScoreOptions().interval;
  int degree = he::ScoreOptions().degree;
};

absl::Status RunScore(const ScoreArgs& args, const GlobalOptions& global) {
  VEIL_RETURN_IF_ERROR(RefuseSecrets(args.keys));
  VEIL_ASSIGN_OR_RETURN(PublicDir pub, LoadPublicDir(args.keys));
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(std::string model_text, ReadTextInput(args.model));
  absl::StatusOr<he::LinearModel> model = he::ParseLinearModelJson(model_text);
  if (!model.ok()) return WithPrefix(model.status(), InputName(args.model));
  he::ScoringKeys keys;
  {
    VEIL_ASSIGN_OR_RETURN(std::string gk, env.ReadFileToString(Join(args.keys, "galois_keys")));
    absl::StatusOr<he::GaloisKeys> g = he::ParseGaloisKeys(*pub.ctx, Bytes(gk));
    if (!g.ok()) return AsIntegrity(WithPrefix(g.status(), Join(args.keys, "galois_keys")));
    keys.galois = *std::move(g);
  }
  if (args.probability) {
    if (!env.FileExists(Join(args.keys, "relin_keys"))) {
      return absl::FailedPreconditionError(
          absl::StrCat(args.keys,
                       " has no relinearization key: --probability needs a key set made with veil he keygen "
                       "--probability"));
    }
    VEIL_ASSIGN_OR_RETURN(std::string rk, env.ReadFileToString(Join(args.keys, "relin_keys")));
    absl::StatusOr<he::RelinKeys> r = he::ParseRelinKeys(*pub.ctx, Bytes(rk));
    if (!r.ok()) return AsIntegrity(WithPrefix(r.status(), Join(args.keys, "relin_keys")));
    keys.relin = *std::move(r);
  }
  VEIL_ASSIGN_OR_RETURN(std::string query_bytes, env.ReadFileToString(args.query));
  absl::StatusOr<he::ParsedQuery> query = he::ParseQuery(*pub.ctx, Bytes(query_bytes));
  if (!query.ok()) return AsIntegrity(WithPrefix(query.status(), args.query));
  if (query->header.key_id != pub.key_id) {
    return absl::DataLossError(absl::StrCat(args.query, ": encrypted for key set ",
                                            he::KeySetIdHex(query->header.key_id).substr(0, 16),
                                            "..., not for ", args.keys, " (key set ",
                                            he::KeySetIdHex(pub.key_id).substr(0, 16), "...): wrong keys"));
  }
  he::ScoreOptions so;
  so.probability = args.probability;
  so.interval = args.interval;
  so.degree = args.degree;
  const absl::Time start = absl::Now();
  absl::StatusOr<he::EncryptedScores> scores = he::ScoreQuery(*pub.ctx, keys, *model, *query, so);
  if (!scores.ok()) return WithPrefix(scores.status(), InputName(args.model));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, he::SerializeScores(*pub.ctx, *scores));
  VEIL_RETURN_IF_ERROR(WriteOutputFile(args.output, AsText(bytes)));
  const size_t cts = scores->logits.size();
  nlohmann::ordered_json doc = {{"output", args.output},
                                {"records", query->header.records},
                                {"ciphertexts", cts},
                                {"records_per_ciphertext", query->header.records_per_ciphertext},
                                {"probability", args.probability},
                                {"error_bound_bits", scores->header.error_bound_bits},
                                {"seconds", seconds},
                                {"ms_per_ciphertext", 1000 * seconds / static_cast<double>(cts)},
                                {"bytes", bytes.size()}};
  if (args.probability) {
    doc["sigmoid"] = {
        {"interval", args.interval}, {"degree", args.degree}, {"fit_error", scores->header.fit_error}};
  }
  PrintSummary(
      global, doc,
      absl::StrCat("scored ", WithThousands(query->header.records), " encrypted records (", cts,
                   " ciphertext(s)) in ", FormatElapsed(absl::Seconds(seconds)),
                   args.probability
                       ? absl::StrFormat(", with the sigmoid (degree %d on [-%g, %g], fit error %.2g)",
                                         args.degree, args.interval, args.interval, scores->header.fit_error)
                       : "",
                   ": ", args.output, " (", FormatBytes(bytes.size()), ")\n"));
  return absl::OkStatus();
}

// ---- decrypt ----

struct DecryptArgs {
  std::string input;
  std::string keys;
  std::string output;
  bool probability = false;
  bool key_owner_only = false;
};

absl::Status RunDecrypt(const DecryptArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(PublicDir pub, LoadPublicDir(Join(args.keys, "public")));
  VEIL_ASSIGN_OR_RETURN(he::SecretKey sk, LoadSecret(args.keys, pub));
  VEIL_ASSIGN_OR_RETURN(std::string bytes, crypto::DefaultEnv().ReadFileToString(args.input));
  absl::StatusOr<he::EncryptedScores> scores = he::ParseScores(*pub.ctx, Bytes(bytes));
  if (!scores.ok()) return AsIntegrity(WithPrefix(scores.status(), args.input));
  if (scores->header.key_id != pub.key_id) {
    return absl::DataLossError(absl::StrCat(args.input, ": computed for key set ",
                                            he::KeySetIdHex(scores->header.key_id).substr(0, 16),
                                            "..., not for ", args.keys, " (key set ",
                                            he::KeySetIdHex(pub.key_id).substr(0, 16), "...): wrong keys"));
  }
  he::DecryptScoresOptions o;
  o.probability = args.probability;
  o.key_owner_only = args.key_owner_only;
  absl::StatusOr<he::DecryptedScores> d = he::DecryptScores(*pub.ctx, sk, pub.key_id, *scores, o);
  if (!d.ok()) return WithPrefix(d.status(), args.input);
  const char* column = args.probability ? "probability" : "logit";
  std::string csv = absl::StrCat("record,", column, "\n");
  for (size_t r = 0; r < d->values.size(); ++r) absl::StrAppendFormat(&csv, "%d,%.6f\n", r + 1, d->values[r]);
  VEIL_RETURN_IF_ERROR(WriteOutputFile(args.output, csv));
  nlohmann::ordered_json doc = {{"output", args.output},
                                {"records", d->values.size()},
                                {"value", column},
                                {"flooded", d->flooded},
                                {"flooding_stddev", d->flooding_stddev}};
  if (args.probability) doc["fit_error"] = scores->header.fit_error;
  std::string text =
      absl::StrCat(WithThousands(d->values.size()), " ", args.probability ? "probabilities" : "logits",
                   " decrypted: ", args.output, "\n");
  if (d->flooded) {
    absl::StrAppendFormat(
        &text,
        "  noise flooding on (Li-Micciancio): standard deviation %.2g per value; the values may "
        "be shared\n",
        d->flooding_stddev);
  } else {
    absl::StrAppend(&text, "  not flooded (--key-owner-only): keep these values to yourself\n");
  }
  PrintSummary(global, doc, text);
  return absl::OkStatus();
}

}  // namespace

void RegisterHe(CLI::App& app, Cli& cli) {
  CLI::App* he = app.add_subcommand("he", "Homomorphic encryption: score a model on encrypted records");
  he->require_subcommand(1);

  auto kg = std::make_shared<KeygenArgs>();
  CLI::App* keygen =
      he->add_subcommand("keygen", "Make a key set: KEYDIR/secret (keep) and KEYDIR/public/ (give)");
  keygen->add_option("-o,--output", kg->output, "The key directory")->required();
  keygen->add_option("--n", kg->n,
                     "Ring degree N: 8192 (default), 16384 (default with --probability) or 32768");
  keygen->add_flag("--probability", kg->probability,
                   "Deep enough for the sigmoid under encryption (N >= 16384; larger keys)");
  keygen->add_option("--max-features", kg->max_features, "The largest feature count the keys support")
      ->capture_default_str();
  keygen->add_flag("--force", kg->force, "Replace an existing key set");
  keygen->callback([kg, &cli] { cli.action = [kg, &cli] { return RunKeygen(*kg, cli.options); }; });

  auto en = std::make_shared<EncryptArgs>();
  CLI::App* encrypt =
      he->add_subcommand("encrypt", "Encrypt feature records (customer side, with the secret key)");
  encrypt->add_option("features", en->features, "The features CSV file (- for stdin)")->required();
  encrypt->add_option("--keys", en->keys, "The key directory made by keygen")->required();
  encrypt->add_option("--model", en->model,
                      "The model JSON: its features are taken by name, in its order, and standardized");
  encrypt->add_option("-o,--output", en->output, "The query file (written atomically)")->required();
  encrypt->callback([en, &cli] { cli.action = [en, &cli] { return RunEncrypt(*en, cli.options); }; });

  auto sc = std::make_shared<ScoreArgs>();
  CLI::App* score = he->add_subcommand("score", "Score encrypted records (server side, public keys only)");
  score->add_option("query", sc->query, "The query file from encrypt")->required();
  score->add_option("--model", sc->model, "The model JSON")->required();
  score->add_option("--keys", sc->keys, "The PUBLIC key directory (KEYDIR/public)")->required();
  score->add_option("-o,--output", sc->output, "The result file (written atomically)")->required();
  score->add_flag(
      "--probability", sc->probability,
      "Also compute the sigmoid under encryption (logistic models, keys made with --probability)");
  score->add_option("--interval", sc->interval, "The sigmoid's approximation interval [-A, A]")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 64.0));
  score->add_option("--degree", sc->degree, "The sigmoid's Chebyshev degree")
      ->capture_default_str()
      ->check(CLI::Range(3, 15));
  score->callback([sc, &cli] { cli.action = [sc, &cli] { return RunScore(*sc, cli.options); }; });

  auto de = std::make_shared<DecryptArgs>();
  CLI::App* decrypt =
      he->add_subcommand("decrypt", "Decrypt the scores (customer side, with the secret key)");
  decrypt->add_option("scores", de->input, "The result file from score")->required();
  decrypt->add_option("--keys", de->keys, "The key directory made by keygen")->required();
  decrypt->add_option("-o,--output", de->output, "The scores CSV (record,logit or record,probability)")
      ->required();
  decrypt->add_flag(
      "--probability", de->probability,
      "The probability computed under encryption (needs --key-owner-only) instead of the logit");
  decrypt->add_flag("--key-owner-only", de->key_owner_only,
                    "No noise flooding: full precision, for your eyes only (never share these values)");
  decrypt->callback([de, &cli] { cli.action = [de, &cli] { return RunDecrypt(*de, cli.options); }; });
}

}  // namespace veil::cli
