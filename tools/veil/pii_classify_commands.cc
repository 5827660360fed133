// veil pii classify FILE.csv [--sample K] [--json]
//   Which columns of a CSV file hold which kind of personal data (pii::ClassifyTable): from the header names
//   and a deterministic sample of K values per column run through the analyzer. One line per column: its
//   role (direct identifier, quasi-identifier, free text with personal data, none), kind, confidence and the
//   evidence in words. Reads the file locally; nothing goes to a workspace and no value is printed.
//
// veil pii eval DATASET.json [--min-score S] [--entities A,B] [--iou T] [--hard-negatives N] [--json]
//   Scores the analyzer against a labeled presidio-research dataset (pii::ParsePresidioDataset, the
//   matching rule of evaluation.h): per entity type and overall, TP/FP/FN, precision, recall, F1 and F2, and
//   a type-agnostic "any PII" line; the same at token level as presidio-research's Evaluator scores (per
//   type, and the type-agnostic "PII" line comparable with Presidio's published F2 figures); then the
//   false-positive rate on N generated hard negatives; and the wall time and MB/s of the analysis alone
//   (parsing and scoring excluded).
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/absl_compat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/classifier.h"
#include "veil/pii/evaluation.h"
#include "veil/table/csv_reader.h"

namespace veil::cli {
namespace {

using base::ToAbsl;

// --- classify --------------------------------------------------------------------------------------------

struct ClassifyArgs {
  std::string file;
  CsvArgs csv;
  int64_t sample = 100;
};

absl::Status RunClassify(const ClassifyArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(table::CsvReadOptions options, MakeReadOptions(args.csv));
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(table::Table t, table::ReadCsv(env, args.file, options));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create({}));
  pii::ClassifyOptions classify;
  classify.sample_size = args.sample;
  const absl::Time start = absl::Now();
  VEIL_ASSIGN_OR_RETURN(std::vector<pii::ColumnClassification> columns,
                        pii::ClassifyTable(t, *analyzer, classify));
  const absl::Duration elapsed = absl::Now() - start;
  int64_t examined = 0;
  for (const pii::ColumnClassification& c : columns) examined += c.sampled;
  const int64_t cells = t.num_rows() * t.num_columns();

  if (global.json) {
    nlohmann::ordered_json cols = nlohmann::ordered_json::array();
    for (const pii::ColumnClassification& c : columns) {
      cols.push_back(
          {{"index", c.column + 1},
           {"name", c.name},
           {"role", std::string(pii::ColumnRoleName(c.role))},
           {"entity", c.entity.has_value() ? nlohmann::ordered_json(std::string(pii::EntityName(*c.entity)))
                                           : nlohmann::ordered_json(nullptr)},
           {"category", c.category},
           {"confidence", c.confidence},
           {"sampled", c.sampled},
           {"matched", c.matched},
           {"evidence", c.evidence}});
    }
    PrintJson({{"file", args.file},
               {"rows", t.num_rows()},
               {"columns", cols},
               {"sample", args.sample},
               {"cells", cells},
               {"cells_examined", examined},
               {"seconds", absl::ToDoubleSeconds(elapsed)}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  std::cout << args.file << ": " << WithThousands(t.num_rows()) << " rows, " << t.num_columns()
            << " columns; up to " << WithThousands(args.sample) << " values sampled per column\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const pii::ColumnClassification& c : columns) {
    rows.push_back({absl::StrCat(c.column + 1), Shorten(c.name, 24), std::string(pii::ColumnRoleName(c.role)),
                    c.category.empty() ? "-" : c.category, absl::StrFormat("%.2f", c.confidence),
                    c.evidence});
  }
  PrintTable({"#", "column", "role", "kind", "confidence", "evidence"}, rows,
             {true, false, false, false, true, false});
  std::cout << "\nclassified in " << FormatElapsed(elapsed) << ": " << WithThousands(examined) << " of "
            << WithThousands(cells) << " cells examined\n";
  return absl::OkStatus();
}

// --- eval ------------------------------------------------------------------------------------------------

struct PiiEvalArgs {
  std::string dataset;
  double min_score = 0.5;
  std::vector<std::string> entities;
  double iou = 0.9;
  int64_t hard_negatives = 1000;
};

nlohmann::ordered_json CountsJson(const pii::Counts& c) {
  return {{"gold", c.gold()}, {"predicted", c.predicted()}, {"tp", c.tp},           {"fp", c.fp},
          {"fn", c.fn},       {"precision", c.Precision()}, {"recall", c.Recall()}, {"f1", c.F(1)},
          {"f2", c.F(2)}};
}

std::string Metric(double v) { return std::isnan(v) ? "-" : absl::StrFormat("%.3f", v); }

std::vector<std::string> CountsRow(std::string name, const pii::Counts& c) {
  return {std::move(name),     WithThousands(c.gold()), WithThousands(c.predicted()), WithThousands(c.tp),
          WithThousands(c.fp), WithThousands(c.fn),     Metric(c.Precision()),        Metric(c.Recall()),
          Metric(c.F(1)),      Metric(c.F(2))};
}

struct HardNegativeResult {
  int64_t texts = 0;
  int64_t with_fp = 0;
  int64_t spans = 0;
  uint64_t bytes = 0;
  absl::Duration elapsed;
  std::array<std::pair<int64_t, int64_t>, pii::kHardNegativeKindCount> by_kind{};  // texts, with FP
  struct Example {
    pii::HardNegativeKind kind;
    std::string text;
    pii::Span span;
  };
  std::vector<Example> examples;  // the first few
};

HardNegativeResult RunHardNegatives(const pii::Analyzer& analyzer, int64_t n) {
  HardNegativeResult r;
  const std::vector<pii::HardNegative> texts = pii::GenerateHardNegatives(static_cast<size_t>(n));
  std::vector<std::vector<pii::Span>> found(texts.size());
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < texts.size(); ++i) found[i] = analyzer.Analyze(texts[i].text);
  r.elapsed = absl::Now() - start;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto& kind = r.by_kind[static_cast<size_t>(texts[i].kind)];
    ++r.texts;
    ++kind.first;
    r.bytes += texts[i].text.size();
    if (found[i].empty()) continue;
    ++r.with_fp;
    ++kind.second;
    r.spans += static_cast<int64_t>(found[i].size());
    if (r.examples.size() < 10) r.examples.push_back({texts[i].kind, texts[i].text, found[i].front()});
  }
  return r;
}

double MbPerSecond(uint64_t bytes, absl::Duration d) {
  const double s = absl::ToDoubleSeconds(d);
  return s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0;
}

absl::Status RunEval(const PiiEvalArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::vector<pii::EntityType> entities,
                        pii::ParseEntityList(args.entities, "--entities"));
  if (!(args.iou > 0 && args.iou <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--iou ", args.iou, " is not in (0, 1]"));
  }
  VEIL_ASSIGN_OR_RETURN(std::string json, crypto::DefaultEnv().ReadFileToString(args.dataset));
  absl::StatusOr<pii::LabeledDataset> parsed = pii::ParsePresidioDataset(json);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(args.dataset, ": ", parsed.status().message()));
  }
  const pii::LabeledDataset& dataset = *parsed;

  pii::AnalyzerOptions analyzer_options;
  analyzer_options.min_score = args.min_score;
  pii::EvalOptions eval_options;
  eval_options.iou_threshold = args.iou;
  for (pii::EntityType t : entities) {
    analyzer_options.entities.push_back(t);
    eval_options.entities.push_back(pii::ScoringType(t));
    // URL is scored together with DOMAIN_NAME (evaluation.h): ask the analyzer for both.
    if (pii::ScoringType(t) == pii::EntityType::kUrl) {
      analyzer_options.entities.push_back(pii::EntityType::kUrl);
      analyzer_options.entities.push_back(pii::EntityType::kDomainName);
    }
  }
  std::sort(analyzer_options.entities.begin(), analyzer_options.entities.end());
  analyzer_options.entities.erase(
      std::unique(analyzer_options.entities.begin(), analyzer_options.entities.end()),
      analyzer_options.entities.end());
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create(analyzer_options));

  std::vector<std::vector<pii::Span>> predicted(dataset.samples.size());
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < dataset.samples.size(); ++i)
    predicted[i] = analyzer->Analyze(dataset.samples[i].text);
  const absl::Duration elapsed = absl::Now() - start;

  pii::EvalReport report;
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    absl::Status s = pii::ScoreSample(dataset.samples[i].text, dataset.samples[i].spans, predicted[i],
                                      eval_options, report);
    // The dataset was validated and the analyzer promises spans on the text: a failure here is a bug.
    if (!s.ok()) return absl::InternalError(absl::StrCat("sample ", i, ": ", s.message()));
  }
  const HardNegativeResult hn =
      args.hard_negatives > 0 ? RunHardNegatives(*analyzer, args.hard_negatives) : HardNegativeResult{};

  std::vector<pii::EntityType> shown;
  for (pii::EntityType t : pii::AllEntityTypes()) {
    const pii::Counts& c = report.per_type[static_cast<size_t>(t)];
    if (c.gold() > 0 || c.predicted() > 0) shown.push_back(t);
  }
  std::vector<pii::EntityType> token_shown;
  for (pii::EntityType t : pii::AllEntityTypes()) {
    const pii::Counts& c = report.token_per_type[static_cast<size_t>(t)];
    if (c.gold() > 0 || c.predicted() > 0) token_shown.push_back(t);
  }
  int64_t out_of_scope = 0;
  for (const auto& [name, n] : dataset.out_of_scope_by_dataset_type) out_of_scope += n;

  if (global.json) {
    nlohmann::ordered_json per_type = nlohmann::ordered_json::array();
    for (pii::EntityType t : shown) {
      nlohmann::ordered_json row = {{"entity", std::string(pii::EntityName(t))}};
      row.update(CountsJson(report.per_type[static_cast<size_t>(t)]));
      per_type.push_back(std::move(row));
    }
    nlohmann::ordered_json token_entities = nlohmann::ordered_json::array();
    for (pii::EntityType t : token_shown) {
      nlohmann::ordered_json row = {{"entity", std::string(pii::EntityName(t))}};
      row.update(CountsJson(report.token_per_type[static_cast<size_t>(t)]));
      token_entities.push_back(std::move(row));
    }
    nlohmann::ordered_json token_level = {{"tokens", report.tokens},
                                          {"entities", std::move(token_entities)},
                                          {"pii", CountsJson(report.token_pii)}};
    nlohmann::ordered_json doc = {{"dataset", args.dataset},
                                  {"samples", dataset.samples.size()},
                                  {"text_bytes", dataset.text_bytes},
                                  {"iou_threshold", args.iou},
                                  {"min_score", args.min_score},
                                  {"gold_by_dataset_type", dataset.gold_by_dataset_type},
                                  {"out_of_scope_by_dataset_type", dataset.out_of_scope_by_dataset_type},
                                  {"entities", per_type},
                                  {"overall", CountsJson(report.overall)},
                                  {"any_pii", CountsJson(report.any_pii)},
                                  {"fp_on_out_of_scope", report.fp_on_out_of_scope},
                                  {"token_level", std::move(token_level)},
                                  {"analysis",
                                   {{"seconds", absl::ToDoubleSeconds(elapsed)},
                                    {"mb_per_s", MbPerSecond(dataset.text_bytes, elapsed)}}}};
    if (args.hard_negatives > 0) {
      nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
      for (size_t k = 0; k < pii::kHardNegativeKindCount; ++k) {
        by_kind[std::string(pii::HardNegativeKindName(static_cast<pii::HardNegativeKind>(k)))] = {
            {"texts", hn.by_kind[k].first}, {"with_fp", hn.by_kind[k].second}};
      }
      nlohmann::ordered_json examples = nlohmann::ordered_json::array();
      for (const auto& e : hn.examples) {
        examples.push_back({{"kind", std::string(pii::HardNegativeKindName(e.kind))},
                            {"text", e.text},
                            {"entity", std::string(pii::EntityName(e.span.type))},
                            {"found", e.text.substr(e.span.begin, e.span.end - e.span.begin)},
                            {"recognizer", std::string(e.span.recognizer)}});
      }
      doc["hard_negatives"] = {
          {"texts", hn.texts},
          {"seed", pii::kDefaultHardNegativeSeed},
          {"texts_with_fp", hn.with_fp},
          {"fp_rate", hn.texts > 0 ? static_cast<double>(hn.with_fp) / hn.texts : 0.0},
          {"spans", hn.spans},
          {"spans_per_text", hn.texts > 0 ? static_cast<double>(hn.spans) / hn.texts : 0.0},
          {"by_kind", by_kind},
          {"examples", examples}};
    }
    PrintJson(doc);
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();

  std::vector<std::string> oos;
  for (const auto& [name, n] : dataset.out_of_scope_by_dataset_type)
    oos.push_back(absl::StrCat(name, " ", n));
  std::cout << args.dataset << ": " << WithThousands(static_cast<int64_t>(dataset.samples.size()))
            << " samples, " << FormatBytes(dataset.text_bytes) << " of text; " << WithThousands(out_of_scope)
            << " gold spans out of scope (" << (oos.empty() ? "none" : absl::StrJoin(oos, ", ")) << ")\n"
            << "a prediction matches a gold span of the same type when they overlap by >= "
            << FormatNumber(args.iou) << " of their union (code points); min score "
            << FormatNumber(args.min_score) << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (pii::EntityType t : shown)
    rows.push_back(CountsRow(std::string(pii::EntityName(t)), report.per_type[static_cast<size_t>(t)]));
  rows.push_back(CountsRow("overall", report.overall));
  rows.push_back(CountsRow("any PII (type-agnostic)", report.any_pii));
  PrintTable({"entity", "gold", "pred", "TP", "FP", "FN", "precision", "recall", "F1", "F2"}, rows,
             {false, true, true, true, true, true, true, true, true, true});
  if (report.fp_on_out_of_scope > 0) {
    std::cout << "(" << WithThousands(report.fp_on_out_of_scope)
              << " of the false positives fall on out-of-scope gold spans, e.g. a PERSON found on an "
                 "ORGANIZATION)\n";
  }
  std::cout
      << "\ntoken level, as presidio-research's Evaluator scores (" << WithThousands(report.tokens)
      << " tokens; counts are tokens; a token takes the type of the span it overlaps, else O; the PII "
         "line ignores the type and compares with Presidio's published F2 0.618 vanilla, 0.845 tuned):\n";
  rows.clear();
  for (pii::EntityType t : token_shown)
    rows.push_back(CountsRow(std::string(pii::EntityName(t)), report.token_per_type[static_cast<size_t>(t)]));
  rows.push_back(CountsRow("PII (token-level, type-agnostic)", report.token_pii));
  PrintTable({"entity", "gold", "pred", "TP", "FP", "FN", "precision", "recall", "F1", "F2"}, rows,
             {false, true, true, true, true, true, true, true, true, true});
  std::cout << "\nanalysis: " << WithThousands(static_cast<int64_t>(dataset.samples.size())) << " texts, "
            << FormatBytes(dataset.text_bytes) << " in " << FormatElapsed(elapsed) << " ("
            << absl::StrFormat("%.2f", MbPerSecond(dataset.text_bytes, elapsed)) << " MB/s, one thread)\n";
  if (args.hard_negatives > 0) {
    std::cout << "\nhard negatives: " << WithThousands(hn.texts) << " generated texts (seed "
              << absl::StrFormat("0x%016X", pii::kDefaultHardNegativeSeed) << "), "
              << WithThousands(hn.with_fp) << " with a false positive ("
              << absl::StrFormat("%.2f%%", hn.texts > 0 ? 100.0 * hn.with_fp / hn.texts : 0.0) << "), "
              << absl::StrFormat("%.4f", hn.texts > 0 ? static_cast<double>(hn.spans) / hn.texts : 0.0)
              << " spans per text; analyzed in " << FormatElapsed(hn.elapsed) << "\n";
    std::vector<std::string> kinds;
    for (size_t k = 0; k < pii::kHardNegativeKindCount; ++k) {
      kinds.push_back(absl::StrCat(ToAbsl(pii::HardNegativeKindName(static_cast<pii::HardNegativeKind>(k))),
                                   " ", hn.by_kind[k].second, "/", hn.by_kind[k].first));
    }
    std::cout << "  by kind (with FP/texts): " << absl::StrJoin(kinds, ", ") << "\n";
    for (const auto& e : hn.examples) {
      std::cout << "  " << pii::HardNegativeKindName(e.kind) << ": " << pii::EntityName(e.span.type) << " '"
                << e.text.substr(e.span.begin, e.span.end - e.span.begin) << "' in \"" << Shorten(e.text, 80)
                << "\"\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPiiClassify(CLI::App& pii, Cli& cli) {
  {
    auto args = std::make_shared<ClassifyArgs>();
    CLI::App* cmd = pii.add_subcommand(
        "classify",
        "Which columns of a CSV file hold which kind of personal data, with confidence and evidence");
    cmd->add_option("file", args->file, "The CSV file")->required();
    AddCsvOptions(cmd, args->csv);
    cmd->add_option("--sample", args->sample, "Values sampled per column (evenly spaced rows)")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunClassify(*args, cli.options); }; });
  }
  {
    auto args = std::make_shared<PiiEvalArgs>();
    CLI::App* cmd = pii.add_subcommand(
        "eval", "Score the analyzer against a labeled presidio-research JSON dataset, and on hard negatives");
    cmd->add_option("dataset", args->dataset, "The dataset (presidio-research JSON format)")->required();
    cmd->add_option("--min-score", args->min_score, "Drop spans scoring below this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--entities", args->entities,
                    "Evaluate only these types (comma-separated or repeated, e.g. EMAIL_ADDRESS,US_SSN)");
    cmd->add_option("--iou", args->iou, "Minimum overlap over union for a match")->capture_default_str();
    cmd->add_option("--hard-negatives", args->hard_negatives, "Generated hard-negative texts (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunEval(*args, cli.options); }; });
  }
}

}  // namespace veil::cli
