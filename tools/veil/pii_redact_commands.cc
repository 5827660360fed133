// veil pii redact FILE|- --operator redact|replace|mask|token|ff1|pseudonym [--entities T1,T2]
//                   [--mask-chars N] [--mask-char C] [--mask-from-end] [--mapping MAP] [-o OUT]
//                   [--min-score S] [--no-dictionaries]
// veil pii restore FILE|- --mapping MAP [-o OUT]
// veil pii transform FILE.csv --policy POLICY.json -o OUT.csv
//
// redact runs the analyzer (src/veil/pii/analyzer.h) over a UTF-8 text and replaces each span with the
// operator's output (src/veil/anon/operators.h). redact, replace and mask need no workspace. token, ff1 and
// pseudonym use keys derived from the workspace (store::Workspace::DeriveKey: "pii token v1", "pii ff1 v1",
// "pii pseudonym map v1"), so they open it (--workspace, VEIL_ACTOR, VEIL_PASSPHRASE) and go through the gate
// as pii.redact (owner, analyst), audited: the entry's parameters hold the operator, the types, the counts
// per type and the input's SHA-256, never a value; its result hash is the output's SHA-256.
//
// pseudonym writes the sealed mapping (anon/pseudonymizer.h; AES-256-GCM under "pii pseudonym map v1", bound
// to the workspace id) to --mapping, atomically (temporary file, then rename). If the file exists it is
// opened and extended, so the turns of one conversation share one numbering.
//
// restore (pii.restore: owner only, audited) puts the originals back into a text that came back from an AI
// service; placeholders the map does not hold are left and reported on stderr. A map from another workspace
// or modified -> exit 4.
//
// transform applies a per-column policy (anon/table_transform.h) to a CSV file and writes the result
// atomically; token and ff1 columns use the workspace as above.
//
// Output goes to -o (atomically) or stdout. Exit codes: 2 bad input or usage, 3 refused by the gate,
// 4 a tampered or foreign mapping.
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/veil/cli.h"
#include "veil/anon/operators.h"
#include "veil/anon/pseudonymizer.h"
#include "veil/anon/table_transform.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/entity.h"
#include "veil/table/csv_reader.h"
#include "veil/table/csv_writer.h"

namespace veil::cli {
namespace {

constexpr char kTokenKeyLabel[] = "pii token v1";
constexpr char kFf1KeyLabel[] = "pii ff1 v1";
constexpr char kMapKeyLabel[] = "pii pseudonym map v1";

struct RedactArgs {
  std::string file;
  std::string op;
  std::vector<std::string> entities;
  size_t mask_chars = SIZE_MAX;
  std::string mask_char = "*";
  bool mask_from_end = false;
  std::string mapping;
  std::string output;
  double min_score = 0.5;
  bool no_dictionaries = false;
};

struct RestoreArgs {
  std::string file;
  std::string mapping;
  std::string output;
};

struct TransformArgs {
  std::string file;
  std::string policy;
  std::string output;
};

// The text to stdout, or atomically to `path`.
absl::Status WriteOutput(const std::string& path, std::string_view data) {
  if (path.empty() || path == "-") {
    std::cout << data;
    std::cout.flush();
    return std::cout ? absl::OkStatus() : absl::InternalError("cannot write to standard output");
  }
  absl::Status s = crypto::DefaultEnv().WriteFileAtomically(path, data);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("cannot write '", path, "': ", s.message()));
  return absl::OkStatus();
}

// With --json, stdout carries the JSON document: the rewritten text goes into doc["text"] when the output is
// stdout ("" or "-"), otherwise atomically to the file, named in doc["output"].
absl::Status WriteJsonOutput(const std::string& path, const std::string& text, nlohmann::ordered_json& doc) {
  if (path.empty() || path == "-") {
    doc["text"] = text;
    return absl::OkStatus();
  }
  VEIL_RETURN_IF_ERROR(WriteOutput(path, text));
  doc["output"] = path;
  return absl::OkStatus();
}

std::string Sha256Hex(std::string_view data) { return base::HexEncode(crypto::Sha256(data)); }

absl::Status CheckUtf8(std::string_view text, const std::string& file) {
  const size_t bad = base::FindInvalidUtf8(text);
  if (bad == text.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(InputName(file), ": not valid UTF-8 at byte offset ", bad));
}

nlohmann::ordered_json CountsJson(const std::array<size_t, pii::kEntityTypeCount>& counts) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (pii::EntityType t : pii::AllEntityTypes()) {
    if (counts[static_cast<size_t>(t)] > 0)
      j[std::string(pii::EntityName(t))] = counts[static_cast<size_t>(t)];
  }
  return j;
}

std::string CountsText(const std::array<size_t, pii::kEntityTypeCount>& counts) {
  std::vector<std::string> parts;
  for (pii::EntityType t : pii::AllEntityTypes()) {
    if (counts[static_cast<size_t>(t)] > 0) {
      parts.push_back(absl::StrCat(std::string(pii::EntityName(t)), " ", counts[static_cast<size_t>(t)]));
    }
  }
  return absl::StrJoin(parts, ", ");
}

// The context a pseudonym map is sealed under: the workspace's id.
std::string MapContext(gov::Session& session) {
  return absl::StrCat("veil workspace ", session.workspace().id());
}

absl::Status RunRedact(const RedactArgs& args, const GlobalOptions& options) {
  const std::vector<std::string> ops = {"redact", "replace", "mask", "token", "ff1", "pseudonym"};
  if (std::find(ops.begin(), ops.end(), args.op) == ops.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--operator: unknown operator '", args.op,
                     "' (one of redact, replace, mask, token, ff1, pseudonym)"));
  }
  const bool pseudonym = args.op == "pseudonym";
  if (pseudonym && args.mapping.empty()) {
    return absl::InvalidArgumentError(
        "--operator pseudonym needs --mapping FILE (where the sealed mapping goes)");
  }
  if (!pseudonym && !args.mapping.empty()) {
    return absl::InvalidArgumentError("--mapping is only for --operator pseudonym");
  }
  pii::AnalyzerOptions analyzer_options;
  VEIL_ASSIGN_OR_RETURN(analyzer_options.entities, pii::ParseEntityList(args.entities, "--entities"));
  analyzer_options.min_score = args.min_score;
  analyzer_options.dictionaries = !args.no_dictionaries;

  std::unique_ptr<anon::ValueOperator> op;
  if (args.op == "redact") op = std::make_unique<anon::RedactOperator>();
  if (args.op == "replace") op = std::make_unique<anon::ReplaceOperator>();
  if (args.op == "mask") {
    absl::StatusOr<std::unique_ptr<anon::MaskOperator>> mask =
        anon::MaskOperator::Create({args.mask_char, args.mask_chars, args.mask_from_end});
    if (!mask.ok()) return absl::InvalidArgumentError(absl::StrCat("--mask-char: ", mask.status().message()));
    op = *std::move(mask);
  }

  VEIL_ASSIGN_OR_RETURN(std::string text, ReadTextInput(args.file));
  VEIL_RETURN_IF_ERROR(CheckUtf8(text, args.file));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create(analyzer_options));

  // The keyed operators: the workspace, the gate, the keys.
  std::unique_ptr<gov::Session> session;
  std::optional<gov::GateDecision> decision;
  nlohmann::ordered_json params;
  anon::PseudonymMap map;
  anon::Ff1Operator* ff1 = nullptr;
  if (op == nullptr) {
    VEIL_ASSIGN_OR_RETURN(session, OpenSession(options));
    params["command"] = "pii redact";
    params["operator"] = args.op;
    params["entities"] = args.entities;
    params["input_bytes"] = text.size();
    params["input_sha256"] = Sha256Hex(text);
    VEIL_ASSIGN_OR_RETURN(gov::GateDecision d,
                          session->Authorize(gov::Operation::kPiiRedact, "", "", params));
    decision = d;
    if (args.op == "token") {
      VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, session->workspace().DeriveKey(kTokenKeyLabel));
      VEIL_ASSIGN_OR_RETURN(op, anon::TokenOperator::Create(std::move(key)));
    } else if (args.op == "ff1") {
      VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, session->workspace().DeriveKey(kFf1KeyLabel));
      VEIL_ASSIGN_OR_RETURN(std::unique_ptr<anon::Ff1Operator> f, anon::Ff1Operator::Create(key));
      ff1 = f.get();
      op = std::move(f);
    } else {
      if (crypto::DefaultEnv().FileExists(args.mapping)) {
        VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, session->workspace().DeriveKey(kMapKeyLabel));
        VEIL_ASSIGN_OR_RETURN(std::string sealed, crypto::DefaultEnv().ReadFileToString(args.mapping));
        absl::StatusOr<anon::PseudonymMap> existing =
            anon::PseudonymMap::Open(key, base::AsBytes(sealed), MapContext(*session));
        if (!existing.ok()) {
          return absl::Status(existing.status().code(),
                              absl::StrCat(args.mapping, ": ", existing.status().message()));
        }
        map = *std::move(existing);
      }
      op = std::make_unique<anon::Pseudonymizer>(map);
    }
  }

  const std::vector<pii::Span> spans = analyzer->Analyze(text);
  VEIL_ASSIGN_OR_RETURN(anon::AnonymizeResult result, anon::Anonymize(text, spans, *op));

  if (session != nullptr) {
    if (pseudonym) {
      VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, session->workspace().DeriveKey(kMapKeyLabel));
      VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed,
                            map.Seal(key, MapContext(*session), crypto::SecureRandom()));
      params["mapping_entries"] = map.size();
      params["mapping_sha256"] = base::HexEncode(crypto::Sha256(sealed));
      // The entry is durable before anything is released; then the mapping, then the text.
      params["counts"] = CountsJson(result.counts);
      VEIL_RETURN_IF_ERROR(session->Record(gov::Operation::kPiiRedact, "", "", *decision, params,
                                           crypto::Sha256(result.text), {}));
      VEIL_RETURN_IF_ERROR(WriteOutput(
          args.mapping, std::string_view(reinterpret_cast<const char*>(sealed.data()), sealed.size())));
    } else {
      params["counts"] = CountsJson(result.counts);
      VEIL_RETURN_IF_ERROR(session->Record(gov::Operation::kPiiRedact, "", "", *decision, params,
                                           crypto::Sha256(result.text), {}));
    }
  }

  if (options.json) {
    nlohmann::ordered_json doc;
    doc["file"] = args.file;
    doc["operator"] = args.op;
    doc["spans"] = spans.size();
    doc["counts"] = CountsJson(result.counts);
    if (ff1 != nullptr) {
      doc["ff1_too_short"] = ff1->small_domain_count();
      doc["ff1_invalid"] = ff1->invalid_count();
    }
    if (pseudonym) {
      doc["mapping"] = args.mapping;
      doc["mapping_entries"] = map.size();
    }
    VEIL_RETURN_IF_ERROR(WriteJsonOutput(args.output, result.text, doc));
    PrintJson(doc);
    return absl::OkStatus();
  }
  VEIL_RETURN_IF_ERROR(WriteOutput(args.output, result.text));
  if (!options.quiet) {
    const std::string counts = CountsText(result.counts);
    std::cerr << InputName(args.file) << ": " << spans.size() << " span" << (spans.size() == 1 ? "" : "s")
              << " " << (args.op == "redact" ? "removed" : "replaced") << " with " << args.op
              << (counts.empty() ? "" : " (" + counts + ")");
    if (ff1 != nullptr && ff1->small_domain_count() > 0) {
      std::cerr << "; " << ff1->small_domain_count() << " too short for FF1 replaced by <TYPE>";
    }
    if (ff1 != nullptr && ff1->invalid_count() > 0) {
      std::cerr << "; " << ff1->invalid_count()
                << " failing their type's check (IBAN mod-97, Luhn, SSN structure) replaced by <TYPE>";
    }
    if (pseudonym) std::cerr << "; mapping of " << map.size() << " values sealed in " << args.mapping;
    std::cerr << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunRestore(const RestoreArgs& args, const GlobalOptions& options) {
  VEIL_ASSIGN_OR_RETURN(std::string text, ReadTextInput(args.file));
  VEIL_RETURN_IF_ERROR(CheckUtf8(text, args.file));
  if (!crypto::DefaultEnv().FileExists(args.mapping)) {
    return absl::NotFoundError(absl::StrCat("cannot open mapping '", args.mapping, "': no such file"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string sealed, crypto::DefaultEnv().ReadFileToString(args.mapping));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(options));
  nlohmann::ordered_json params;
  params["command"] = "pii restore";
  params["input_bytes"] = text.size();
  params["input_sha256"] = Sha256Hex(text);
  params["mapping_sha256"] = Sha256Hex(sealed);
  VEIL_ASSIGN_OR_RETURN(gov::GateDecision decision,
                        session->Authorize(gov::Operation::kPiiRestore, "", "", params));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, session->workspace().DeriveKey(kMapKeyLabel));
  absl::StatusOr<anon::PseudonymMap> map =
      anon::PseudonymMap::Open(key, base::AsBytes(sealed), MapContext(*session));
  if (!map.ok()) {
    return absl::Status(map.status().code(), absl::StrCat(args.mapping, ": ", map.status().message()));
  }
  const anon::RestoreResult result = anon::Restore(text, *map);
  params["restored"] = result.restored;
  params["unknown"] = result.unknown.size();
  VEIL_RETURN_IF_ERROR(session->Record(gov::Operation::kPiiRestore, "", "", decision, params,
                                       crypto::Sha256(result.text), {}));
  if (options.json) {
    nlohmann::ordered_json doc;
    doc["file"] = args.file;
    doc["restored"] = result.restored;
    doc["unknown"] = result.unknown;
    VEIL_RETURN_IF_ERROR(WriteJsonOutput(args.output, result.text, doc));
    PrintJson(doc);
    return absl::OkStatus();
  }
  VEIL_RETURN_IF_ERROR(WriteOutput(args.output, result.text));
  if (!options.quiet) {
    std::cerr << InputName(args.file) << ": " << result.restored << " placeholder"
              << (result.restored == 1 ? "" : "s") << " restored";
    if (!result.unknown.empty()) {
      std::cerr << "; not in the mapping, left as they are: " << absl::StrJoin(result.unknown, ", ");
    }
    std::cerr << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunTransform(const TransformArgs& args, const GlobalOptions& options) {
  base::Env& env = crypto::DefaultEnv();
  if (!env.FileExists(args.policy)) {
    return absl::NotFoundError(absl::StrCat("cannot open policy '", args.policy, "': no such file"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string policy_text, env.ReadFileToString(args.policy));
  absl::StatusOr<anon::TransformPolicy> policy = anon::ParsePolicy(policy_text);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(), absl::StrCat(args.policy, ": ", policy.status().message()));
  }
  if (!env.FileExists(args.file))
    return absl::NotFoundError(absl::StrCat("cannot open '", args.file, "': no such file"));
  VEIL_ASSIGN_OR_RETURN(table::Table input, table::ReadCsv(env, args.file));

  std::unique_ptr<gov::Session> session;
  std::optional<gov::GateDecision> decision;
  nlohmann::ordered_json params;
  std::optional<base::SecretBytes> token_key, ff1_key;
  if (anon::PolicyNeedsKeys(*policy)) {
    VEIL_ASSIGN_OR_RETURN(session, OpenSession(options));
    params["command"] = "pii transform";
    params["policy_sha256"] = Sha256Hex(policy_text);
    params["rows"] = input.num_rows();
    VEIL_ASSIGN_OR_RETURN(gov::GateDecision d,
                          session->Authorize(gov::Operation::kPiiRedact, "", "", params));
    decision = d;
    VEIL_ASSIGN_OR_RETURN(token_key, session->workspace().DeriveKey(kTokenKeyLabel));
    VEIL_ASSIGN_OR_RETURN(ff1_key, session->workspace().DeriveKey(kFf1KeyLabel));
  }
  anon::TransformKeys keys;
  if (token_key.has_value()) keys.token_key = &*token_key;
  if (ff1_key.has_value()) keys.ff1_key = &*ff1_key;
  absl::StatusOr<anon::TransformResult> result = anon::TransformTable(input, *policy, keys);
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat(args.file, ": ", result.status().message()));
  }
  VEIL_ASSIGN_OR_RETURN(std::string csv, table::WriteCsvToString(result->table));
  if (session != nullptr) {
    nlohmann::ordered_json columns = nlohmann::ordered_json::object();
    for (const auto& [name, op] : result->applied) columns[name] = op;
    params["columns"] = columns;
    VEIL_RETURN_IF_ERROR(
        session->Record(gov::Operation::kPiiRedact, "", "", *decision, params, crypto::Sha256(csv), {}));
  }
  VEIL_RETURN_IF_ERROR(WriteOutput(args.output, csv));
  if (options.json) {
    nlohmann::ordered_json doc;
    doc["file"] = args.file;
    doc["output"] = args.output;
    doc["rows"] = result->table.num_rows();
    nlohmann::ordered_json columns = nlohmann::ordered_json::object();
    for (const auto& [name, op] : result->applied) columns[name] = op;
    doc["columns"] = columns;
    doc["ff1_too_short"] = result->ff1_small_domain;
    doc["ff1_invalid"] = result->ff1_invalid;
    PrintJson(doc);
  } else if (!options.quiet) {
    std::vector<std::string> parts;
    for (const auto& [name, op] : result->applied) parts.push_back(name + " " + op);
    std::cerr << args.file << ": " << WithThousands(result->table.num_rows()) << " rows -> " << args.output
              << " (" << absl::StrJoin(parts, ", ") << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPiiRedact(CLI::App& pii, Cli& cli) {
  auto redact = std::make_shared<RedactArgs>();
  CLI::App* cmd = pii.add_subcommand("redact", "Replace the personal data found in a text (UTF-8)");
  cmd->add_option("file", redact->file, "The text file, or - for standard input")->required();
  cmd->add_option("--operator", redact->op, "redact, replace, mask, token, ff1 or pseudonym")->required();
  cmd->add_option("--entities", redact->entities,
                  "Only these types, comma-separated (e.g. EMAIL_ADDRESS,US_SSN)")
      ->delimiter(',');
  cmd->add_option("--mask-chars", redact->mask_chars, "mask: how many characters (default: all)");
  cmd->add_option("--mask-char", redact->mask_char, "mask: the mask character (default *)");
  cmd->add_flag("--mask-from-end", redact->mask_from_end, "mask: the last characters instead of the first");
  cmd->add_option("--mapping", redact->mapping,
                  "pseudonym: the sealed mapping file (written atomically; extended if it exists)");
  cmd->add_option("-o,--output", redact->output, "Write the text here (atomically) instead of stdout");
  cmd->add_option("--min-score", redact->min_score, "Ignore spans scoring below this (0 to 1, default 0.5)");
  cmd->add_flag("--no-dictionaries", redact->no_dictionaries,
                "Only the pattern-and-checksum recognizers (no person, address or location dictionaries)");
  cmd->callback([redact, &cli] { cli.action = [redact, &cli] { return RunRedact(*redact, cli.options); }; });

  auto restore = std::make_shared<RestoreArgs>();
  CLI::App* rcmd = pii.add_subcommand(
      "restore", "Put the original values back into a pseudonymized text (owner only; audited)");
  rcmd->add_option("file", restore->file, "The text file, or - for standard input")->required();
  rcmd->add_option("--mapping", restore->mapping, "The sealed mapping written by redact --operator pseudonym")
      ->required();
  rcmd->add_option("-o,--output", restore->output, "Write the text here (atomically) instead of stdout");
  rcmd->callback(
      [restore, &cli] { cli.action = [restore, &cli] { return RunRestore(*restore, cli.options); }; });

  auto transform = std::make_shared<TransformArgs>();
  CLI::App* tcmd =
      pii.add_subcommand("transform", "De-identify a CSV file column by column, as a policy says");
  tcmd->add_option("file", transform->file, "The CSV file")->required();
  tcmd->add_option("--policy", transform->policy, "The policy (JSON; see docs/pii.md)")->required();
  tcmd->add_option("-o,--output", transform->output, "The output CSV file (written atomically)")->required();
  tcmd->callback([transform, &cli] {
    cli.action = [transform, &cli] { return RunTransform(*transform, cli.options); };
  });
}

}  // namespace veil::cli
