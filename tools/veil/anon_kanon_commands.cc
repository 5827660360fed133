// veil anon kanon FILE.csv --quasi COLS --k K [--hierarchies DIR] [--interval COL=W1,W2,...]
//     [--bounds COL=B1,B2,...[:B1,...]] [--date COL]
//     [--l L --sensitive COL [--l-diversity distinct|entropy]] [--suppression S [--suppressed
//     remove|keep-star]]
//     [--algorithm optimal|mondrian] [--metric nue|loss|discernibility|aecs] [--separator C]
//     [--hierarchy-separator C] -o OUT.csv [--json]
//
// Anonymizes a CSV file (src/veil/anon/kanon.h, mondrian.h) and writes the result atomically (a temporary
// file beside OUT renamed over it: no half-written output on error). Hierarchies: for each QI column COL, the
// file DIR/<prefix>_hierarchy_COL.csv (ARX's naming) or DIR/COL.csv; else --interval COL=5,10,20 (numeric
// intervals of those widths, then '*') or --date COL (day, month, year, decade, '*'). An empty cell in a QI
// is the missing value: a leaf of its own ("" in a hierarchy file; its own branch up to '*' in the built-in
// ones). The file is read as anon_cli_util.h says (the same way as `veil anon risk`).
//
// Suppressed records (--suppressed): by default (remove) they are left out of the output: suppression means
// the record is not released, and the risk after is that of the released rows. With keep-star they are
// written with '*' in every QI column (as ARX); those rows are one class an attacker sees, so the risk after
// counts them as one class, the report gives its size and sensitive diversity, and a warning says when it
// violates k or l (the search, as ARX's, does not require it to satisfy the model). The utility metrics are
// ARX's either way (computed as ARX does, with the suppressed records). The report (a table, or one JSON
// document with --json) gives the transformation (level per QI, with its name), the search statistics, the
// utility metrics, the suppressed records and classes, and the prosecutor re-identification risk of the input
// and of the output. Errors: bad options, files or values exit 2 naming what and where (never a data value).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/veil/anon_cli_util.h"
#include "tools/veil/cli.h"
#include "veil/anon/hierarchy.h"
#include "veil/anon/kanon.h"
#include "veil/anon/mondrian.h"
#include "veil/anon/risk.h"
#include "veil/anon/utility.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/table/csv_reader.h"
#include "veil/table/csv_writer.h"

namespace veil::cli {
namespace {

struct KanonArgs {
  std::string file;
  std::vector<std::string> quasi;
  std::string hierarchies;
  std::vector<std::string> intervals;
  std::vector<std::string> bounds;
  std::vector<std::string> dates;
  int64_t k = 2;
  double l = 0;
  std::string sensitive;
  std::string l_diversity = "distinct";
  double suppression = 0;
  std::string algorithm = "optimal";
  std::string metric = "nue";
  std::string separator = ",";
  std::string hierarchy_separator = ";";
  std::string suppressed = "remove";
  std::string output;
};

// The rows of `t` whose `drop` flag is 0 (all columns kept as they are: strings).
absl::StatusOr<table::Table> KeepRows(const table::Table& t, const std::vector<uint8_t>& drop) {
  table::TableBuilder b(t.schema());
  for (int c = 0; c < t.num_columns(); ++c) {
    for (int64_t r = 0; r < t.num_rows(); ++r) {
      if (drop[static_cast<size_t>(r)] != 0) continue;
      if (t.IsNull(r, c)) {
        b.column(c).AppendNull();
      } else {
        b.column(c).AppendString(t.FormatValue(r, c));
      }
    }
  }
  return b.Finish();
}

// The class of the suppressed records when they are kept as '*' rows: its size and sensitive diversity.
struct StarClass {
  int64_t size = 0;
  int64_t distinct = 0;  // distinct sensitive values (0 without a sensitive column)
  double entropy_l = 0;  // exp(entropy) of the sensitive values (0 without a sensitive column)
  bool violates_k = false;
  bool violates_l = false;
};

struct LoadedHierarchy {
  anon::Hierarchy hierarchy;
  std::vector<std::string> level_names;
  bool from_file = false;
};

// The values of column `col` as text, in row order (null: ""), so that the built-in hierarchies' errors
// name the data row.
std::vector<std::string> ColumnValues(const table::Table& t, int col) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(t.num_rows()));
  for (int64_t r = 0; r < t.num_rows(); ++r)
    out.push_back(t.IsNull(r, col) ? std::string() : t.FormatValue(r, col));
  return out;
}

// Distinct values of column `col` as text (null: "").
std::vector<std::string> DistinctValues(const table::Table& t, int col) {
  std::vector<std::string> out;
  absl::flat_hash_map<std::string, int> seen;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    std::string v = t.IsNull(r, col) ? std::string() : t.FormatValue(r, col);
    if (seen.emplace(v, 1).second) out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::map<std::string, LoadedHierarchy>> LoadHierarchies(const KanonArgs& args,
                                                                       const table::Table& t, char hsep,
                                                                       bool flat_fallback) {
  base::Env& env = crypto::DefaultEnv();
  std::map<std::string, std::vector<double>> intervals;
  for (const std::string& spec : args.intervals) {
    std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--interval: expected COL=W1,W2,..., got '", spec, "'"));
    }
    std::vector<double> widths;
    for (absl::string_view w : absl::StrSplit(parts[1], ',')) {
      double x;
      if (!absl::SimpleAtod(w, &x)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--interval ", parts[0], ": width '", std::string(w), "' is not a number"));
      }
      widths.push_back(x);
    }
    intervals[parts[0]] = std::move(widths);
  }
  std::map<std::string, std::vector<std::vector<double>>> bounds;
  for (const std::string& spec : args.bounds) {
    std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bounds: expected COL=B1,B2,...[:B1,...], got '", spec, "'"));
    }
    std::vector<std::vector<double>> levels;
    for (absl::string_view level : absl::StrSplit(parts[1], ':')) {
      std::vector<double> cuts;
      for (absl::string_view b : absl::StrSplit(level, ',')) {
        double x;
        if (!absl::SimpleAtod(b, &x)) {
          return absl::InvalidArgumentError(
              absl::StrCat("--bounds ", parts[0], ": bound '", std::string(b), "' is not a number"));
        }
        cuts.push_back(x);
      }
      levels.push_back(std::move(cuts));
    }
    bounds[parts[0]] = std::move(levels);
  }
  std::vector<std::string> files;
  if (!args.hierarchies.empty()) {
    auto listed = env.ListDir(args.hierarchies);
    if (!listed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--hierarchies: cannot list directory '",
                                                     args.hierarchies, "': ", listed.status().message()));
    }
    files = *std::move(listed);
  }
  std::map<std::string, LoadedHierarchy> out;
  for (const std::string& col : args.quasi) {
    std::optional<int> index = t.schema().FindField(col);
    if (!index)
      return absl::InvalidArgumentError(absl::StrCat("--quasi: no column '", col, "' in ", args.file));
    std::vector<std::string> matches;
    const std::string suffix = "_hierarchy_" + col + ".csv";
    for (const std::string& f : files) {
      if (f == col + ".csv" ||
          (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)) {
        matches.push_back(f);
      }
    }
    if (matches.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("--hierarchies: several hierarchy files for column '",
                                                     col, "' in ", args.hierarchies, ": ",
                                                     absl::StrJoin(matches, ", ")));
    }
    LoadedHierarchy lh;
    if (matches.size() == 1) {
      VEIL_ASSIGN_OR_RETURN(lh.hierarchy,
                            anon::Hierarchy::ReadArxCsv(env, args.hierarchies + "/" + matches[0], hsep));
      lh.from_file = true;
      lh.level_names.push_back("original");
      // A level is named by the generalization of the hierarchy's first value there (hierarchy text, not
      // data).
      for (int l = 1; l < lh.hierarchy.num_levels(); ++l) {
        const std::string& label = lh.hierarchy.Label(0, l);
        lh.level_names.push_back(label == "*" ? std::string("*") : absl::StrCat("e.g. ", label));
      }
    } else if (intervals.contains(col)) {
      const auto& widths = intervals[col];
      VEIL_ASSIGN_OR_RETURN(lh.hierarchy, anon::MakeIntervalHierarchy(ColumnValues(t, *index), widths, col));
      lh.level_names.push_back("original");
      for (double w : widths) lh.level_names.push_back(absl::StrCat("width ", FormatNumber(w)));
      lh.level_names.push_back("*");
    } else if (bounds.contains(col)) {
      VEIL_ASSIGN_OR_RETURN(lh.hierarchy,
                            anon::MakeBoundsHierarchy(ColumnValues(t, *index), bounds[col], col));
      lh.level_names.push_back("original");
      for (const auto& level : bounds[col])
        lh.level_names.push_back(absl::StrCat(level.size(), " cut points"));
      lh.level_names.push_back("*");
    } else if (std::find(args.dates.begin(), args.dates.end(), col) != args.dates.end()) {
      VEIL_ASSIGN_OR_RETURN(lh.hierarchy, anon::MakeDateHierarchy(ColumnValues(t, *index), col));
      lh.level_names = {"day", "month", "year", "decade", "*"};
    } else if (flat_fallback) {
      std::vector<std::vector<std::string>> rows;
      for (std::string& v : DistinctValues(t, *index)) rows.push_back({std::move(v), "*"});
      VEIL_ASSIGN_OR_RETURN(lh.hierarchy, anon::Hierarchy::FromRows(std::move(rows), col));
      lh.level_names = {"original", "*"};
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("no hierarchy for quasi-identifier '", col, "': looked for <prefix>_hierarchy_", col,
                       ".csv and ", col, ".csv in ",
                       args.hierarchies.empty() ? std::string("(no --hierarchies DIR)") : args.hierarchies,
                       "; give --interval ", col, "=W1,W2,... or --date ", col));
    }
    out[col] = std::move(lh);
  }
  for (const auto& [col, w] : intervals) {
    if (std::find(args.quasi.begin(), args.quasi.end(), col) == args.quasi.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--interval: '", col, "' is not a --quasi column"));
    }
  }
  for (const auto& [col, b] : bounds) {
    if (std::find(args.quasi.begin(), args.quasi.end(), col) == args.quasi.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--bounds: '", col, "' is not a --quasi column"));
    }
  }
  return out;
}

nlohmann::ordered_json RiskJson(const anon::RiskReport& r) {
  nlohmann::ordered_json j;
  j["records"] = r.records;
  j["suppressed"] = r.suppressed;
  j["classes"] = r.classes;
  j["highest"] = r.prosecutor.highest;
  j["average"] = r.prosecutor.average;
  j["records_at_risk"] = r.prosecutor.records_at_risk;
  j["sample_uniques"] = r.prosecutor.sample_uniques;
  j["threshold"] = r.threshold;
  return j;
}

nlohmann::ordered_json UtilityJson(const anon::UtilityMetrics& u) {
  nlohmann::ordered_json j;
  j["non_uniform_entropy"] = u.non_uniform_entropy;
  j["loss"] = u.loss;
  j["discernibility"] = u.discernibility;
  j["average_class_size"] = u.average_class_size;
  j["classes"] = u.num_classes;
  j["suppressed"] = u.suppressed;
  return j;
}

absl::Status RunKanon(const KanonArgs& raw_args, const GlobalOptions& options) {
  const absl::Time start = absl::Now();
  KanonArgs args = raw_args;
  VEIL_ASSIGN_OR_RETURN(args.quasi, anon_cli::ParseColumnNames(raw_args.quasi, "--quasi"));
  if (args.quasi.empty()) return absl::InvalidArgumentError("--quasi: no column given");
  if (args.suppressed != "remove" && args.suppressed != "keep-star") {
    return absl::InvalidArgumentError(
        absl::StrCat("--suppressed: expected remove or keep-star, got '", args.suppressed, "'"));
  }
  if (!args.sensitive.empty() && args.l <= 0) {
    return absl::InvalidArgumentError(
        "--sensitive needs --l L (the sensitive column is only used by l-diversity; without --l it would be "
        "ignored)");
  }
  if (args.algorithm != "optimal" && args.algorithm != "mondrian") {
    return absl::InvalidArgumentError(
        absl::StrCat("--algorithm: expected optimal or mondrian, got '", args.algorithm, "'"));
  }
  VEIL_ASSIGN_OR_RETURN(anon::Metric metric, anon::ParseMetric(args.metric));
  VEIL_ASSIGN_OR_RETURN(char sep, anon_cli::ParseSeparator(args.separator, "--separator"));
  VEIL_ASSIGN_OR_RETURN(char hsep,
                        anon_cli::ParseSeparator(args.hierarchy_separator, "--hierarchy-separator"));
  anon::PrivacyModel model;
  model.k = args.k;
  model.suppression_limit = args.suppression;
  if (args.l > 0) {
    if (args.sensitive.empty()) return absl::InvalidArgumentError("--l needs --sensitive COL");
    if (args.l_diversity == "distinct") {
      model.l_diversity = anon::LDiversity::kDistinct;
    } else if (args.l_diversity == "entropy") {
      model.l_diversity = anon::LDiversity::kEntropy;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--l-diversity: expected distinct or entropy, got '", args.l_diversity, "'"));
    }
    model.l = args.l;
  }
  // Read every column as text (values are matched against hierarchies by their text, and written back as
  // they were). A first pass finds the column names.
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(std::string data, ReadTextInput(args.file));
  table::Table inferred;
  VEIL_ASSIGN_OR_RETURN(table::Table input, anon_cli::ReadAnonCsv(data, sep, args.file, &inferred));
  data.clear();

  const bool mondrian = args.algorithm == "mondrian";
  VEIL_ASSIGN_OR_RETURN(auto loaded, LoadHierarchies(args, input, hsep, mondrian));
  std::vector<anon::Hierarchy> hierarchies;
  for (const std::string& col : args.quasi) hierarchies.push_back(loaded[col].hierarchy);
  VEIL_ASSIGN_OR_RETURN(
      anon::EncodedTable encoded,
      anon::EncodeTable(input, args.quasi, std::move(hierarchies),
                        model.l_diversity != anon::LDiversity::kNone ? args.sensitive : ""));
  VEIL_RETURN_IF_ERROR(anon::ValidatePrivacyModel(model, encoded));

  VEIL_ASSIGN_OR_RETURN(anon::RiskReport risk_before, anon::AssessRisk(input, args.quasi));

  table::Table output;
  anon::UtilityMetrics utility;
  std::optional<anon::SearchResult> search;
  int64_t mondrian_classes = 0;
  const bool keep_star = args.suppressed == "keep-star";
  std::optional<StarClass> star;  // keep-star with suppressed records
  int64_t removed = 0;            // remove: suppressed records left out of the output
  if (!mondrian) {
    anon::SearchOptions so;
    so.model = model;
    so.metric = metric;
    VEIL_ASSIGN_OR_RETURN(anon::SearchResult r, anon::OptimalSearch(encoded, so));
    if (!r.found) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "no transformation satisfies the privacy model within the suppression limit %g (not even the most "
          "general one); allow more suppression or lower k/l",
          model.suppression_limit));
    }
    VEIL_ASSIGN_OR_RETURN(output, anon::ApplyFullDomain(input, encoded, r.levels, r.suppressed));
    for (uint8_t s : r.suppressed) removed += s != 0;
    if (!keep_star) {
      // Suppression means the record is not released.
      VEIL_ASSIGN_OR_RETURN(output, KeepRows(output, r.suppressed));
    } else if (removed > 0) {
      // The '*' rows are released and form one class: is it k-anonymous and l-diverse?
      StarClass sc;
      sc.size = removed;
      sc.violates_k = sc.size < model.k;
      if (encoded.sensitive.has_value()) {
        absl::flat_hash_map<int32_t, int64_t> counts;
        for (int64_t i = 0; i < encoded.num_rows; ++i) {
          if (r.suppressed[static_cast<size_t>(i)] != 0) ++counts[encoded.sensitive->value[i]];
        }
        sc.distinct = static_cast<int64_t>(counts.size());
        double h = 0;
        for (const auto& [v, c] : counts) {
          const double p = static_cast<double>(c) / static_cast<double>(sc.size);
          h -= p * std::log(p);
        }
        sc.entropy_l = std::exp(h);
        if (model.l_diversity == anon::LDiversity::kDistinct) {
          sc.violates_l = static_cast<double>(sc.distinct) < model.l;
        } else if (model.l_diversity == anon::LDiversity::kEntropy) {
          sc.violates_l = h < std::log(model.l) - 1e-12;
        }
      }
      star = sc;
    }
    if (keep_star) removed = 0;
    utility = r.utility;
    search = std::move(r);
  } else {
    if (model.l_diversity == anon::LDiversity::kEntropy) {
      return absl::InvalidArgumentError("--algorithm mondrian supports distinct l-diversity only");
    }
    if (model.suppression_limit > 0 && !options.quiet && !options.json) {
      std::cerr << "veil: note: Mondrian suppresses no records; --suppression is ignored\n";
    }
    anon::MondrianOptions mo;
    mo.k = model.k;
    if (model.l_diversity == anon::LDiversity::kDistinct) {
      mo.l = static_cast<int64_t>(std::ceil(model.l));
      mo.sensitive = args.sensitive;
    }
    // Mondrian cuts numeric columns at medians: give it the columns with their inferred types.
    for (const std::string& col : args.quasi) {
      if (loaded[col].from_file) mo.hierarchies[col] = loaded[col].hierarchy.rows();
    }
    VEIL_ASSIGN_OR_RETURN(anon::MondrianResult m, anon::Mondrian(inferred, args.quasi, mo));
    VEIL_ASSIGN_OR_RETURN(table::Table generalized, anon::ApplyMondrian(inferred, m));
    // Written back as text, other columns as they were read.
    std::vector<table::Field> fields;
    for (const table::Field& f : input.schema().fields())
      fields.push_back({f.name, table::DataType::kString, true});
    VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
    table::TableBuilder b(schema);
    for (int c = 0; c < input.num_columns(); ++c) {
      const bool is_qi =
          std::find(args.quasi.begin(), args.quasi.end(), input.schema().field(c).name) != args.quasi.end();
      const table::Table& src = is_qi ? generalized : input;
      for (int64_t r = 0; r < input.num_rows(); ++r) {
        if (src.IsNull(r, c)) {
          b.column(c).AppendNull();
        } else {
          b.column(c).AppendString(src.FormatValue(r, c));
        }
      }
    }
    VEIL_ASSIGN_OR_RETURN(output, b.Finish());
    VEIL_ASSIGN_OR_RETURN(anon::GeneralizedTable g, anon::MondrianGeneralizedTable(encoded, m, inferred));
    VEIL_ASSIGN_OR_RETURN(utility, anon::ScoreGeneralized(encoded, g));
    mondrian_classes = static_cast<int64_t>(m.classes.size());
  }
  // The risk of what is released: without the removed records, or with the '*' rows as one class.
  anon::RiskOptions after_options;
  after_options.suppressed_form_a_class = keep_star;
  VEIL_ASSIGN_OR_RETURN(anon::RiskReport risk_after, anon::AssessRisk(output, args.quasi, after_options));

  table::CsvWriteOptions write;
  write.delimiter = sep;
  write.null_tokens = {""};
  VEIL_ASSIGN_OR_RETURN(std::string csv, table::WriteCsvToString(output, write));
  VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(args.output, csv));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  if (options.json) {
    nlohmann::ordered_json doc;
    doc["input"] = args.file;
    doc["output"] = args.output;
    doc["records"] = input.num_rows();
    doc["algorithm"] = args.algorithm;
    nlohmann::ordered_json jm;
    jm["k"] = model.k;
    if (model.l_diversity != anon::LDiversity::kNone) {
      jm["l"] = model.l;
      jm["l_diversity"] = args.l_diversity;
      jm["sensitive"] = args.sensitive;
    }
    jm["suppression_limit"] = model.suppression_limit;
    doc["model"] = jm;
    nlohmann::ordered_json js;
    js["mode"] = args.suppressed;
    js["records"] = utility.suppressed;
    js["removed_from_output"] = removed;
    if (star.has_value()) {
      js["star_class"] = {{"size", star->size}, {"violates_k", star->violates_k}};
      if (encoded.sensitive.has_value()) {
        js["star_class"]["distinct_sensitive"] = star->distinct;
        js["star_class"]["entropy_l"] = star->entropy_l;
        js["star_class"]["violates_l"] = star->violates_l;
      }
    }
    doc["suppressed"] = js;
    doc["metric"] = std::string(anon::MetricName(metric));
    if (search) {
      nlohmann::ordered_json tr = nlohmann::ordered_json::array();
      for (size_t q = 0; q < args.quasi.size(); ++q) {
        const int l = search->levels[q];
        tr.push_back({{"column", args.quasi[q]},
                      {"level", l},
                      {"max_level", encoded.qis[q].num_levels() - 1},
                      {"level_name", loaded[args.quasi[q]].level_names[l]}});
      }
      doc["transformation"] = tr;
      doc["information_loss"] = search->information_loss;
      const anon::SearchStats& s = search->stats;
      doc["search"] = {{"lattice_nodes", s.lattice_nodes},
                       {"nodes_checked", s.nodes_checked},
                       {"rollups", s.rollups},
                       {"tagged_anonymous", s.tagged_anonymous},
                       {"tagged_non_anonymous", s.tagged_non_anonymous},
                       {"pruned_by_bound", s.pruned_by_bound},
                       {"seconds", s.seconds}};
    } else {
      doc["mondrian"] = {{"classes", mondrian_classes}};
    }
    doc["utility"] = UtilityJson(utility);
    doc["risk"] = {{"before", RiskJson(risk_before)}, {"after", RiskJson(risk_after)}};
    if (star.has_value() && (star->violates_k || star->violates_l)) {
      std::cerr << "veil: warning: the " << star->size
                << " suppressed records kept as '*' rows form a class that violates the model (see "
                   "suppressed.star_class)\n";
    }
    doc["seconds"] = seconds;
    PrintJson(doc);
    return absl::OkStatus();
  }
  if (options.quiet) return absl::OkStatus();
  std::cout << absl::StrFormat("%s: %s records, %d quasi-identifiers, %s -> %s\n", args.file,
                               WithThousands(input.num_rows()), args.quasi.size(), args.algorithm,
                               args.output);
  std::string model_text = absl::StrCat("k=", model.k);
  if (model.l_diversity != anon::LDiversity::kNone) {
    absl::StrAppend(&model_text, ", ", args.l_diversity, " l=", FormatNumber(model.l), " on ",
                    args.sensitive);
  }
  absl::StrAppend(&model_text, ", suppression limit ", FormatNumber(100 * model.suppression_limit), "%");
  std::cout << "model: " << model_text << "\n\n";
  if (search) {
    std::vector<std::vector<std::string>> rows;
    for (size_t q = 0; q < args.quasi.size(); ++q) {
      const int l = search->levels[q];
      rows.push_back({args.quasi[q], absl::StrCat(l, "/", encoded.qis[q].num_levels() - 1),
                      loaded[args.quasi[q]].level_names[l]});
    }
    PrintTable({"column", "level", "name"}, rows, {false, true, false});
    const anon::SearchStats& s = search->stats;
    std::cout << absl::StrFormat(
        "\nsearch: %s lattice nodes, %s checked (%s rolled up), %s tagged by monotonicity, %s pruned by "
        "bound, "
        "%s\n",
        WithThousands(s.lattice_nodes), WithThousands(s.nodes_checked), WithThousands(s.rollups),
        WithThousands(s.tagged_anonymous + s.tagged_non_anonymous), WithThousands(s.pruned_by_bound),
        FormatElapsed(absl::Seconds(s.seconds)));
  } else {
    std::cout << absl::StrFormat("mondrian: %s classes\n", WithThousands(mondrian_classes));
  }
  std::cout << "\n";
  PrintTable({"utility", "value"},
             {{"non-uniform entropy", FormatNumber(utility.non_uniform_entropy)},
              {"loss (0..1)", FormatNumber(utility.loss)},
              {"discernibility", FormatNumber(utility.discernibility)},
              {"average class size", FormatNumber(utility.average_class_size)},
              {"equivalence classes", WithThousands(utility.num_classes)},
              {"suppressed records", WithThousands(utility.suppressed)}},
             {false, true});
  std::cout << "\n";
  auto pct = [](double x) { return absl::StrCat(FormatNumber(100 * x), "%"); };
  PrintTable({"prosecutor risk", "before", "after"},
             {{"highest", pct(risk_before.prosecutor.highest), pct(risk_after.prosecutor.highest)},
              {"average", pct(risk_before.prosecutor.average), pct(risk_after.prosecutor.average)},
              {absl::StrCat("records at risk (>", FormatNumber(100 * risk_before.threshold), "%)"),
               pct(risk_before.prosecutor.records_at_risk), pct(risk_after.prosecutor.records_at_risk)},
              {"sample uniques", pct(risk_before.prosecutor.sample_uniques),
               pct(risk_after.prosecutor.sample_uniques)}},
             {false, true, true});
  if (removed > 0) {
    std::cout << absl::StrFormat(
        "\nsuppressed: %s records removed from the output (not released; --suppressed keep-star writes them "
        "as '*' rows instead)\n",
        WithThousands(removed));
  }
  if (star.has_value()) {
    std::string l_text;
    if (encoded.sensitive.has_value()) {
      l_text = absl::StrCat(", ", star->distinct, " distinct ", args.sensitive, " values (entropy l ",
                            FormatNumber(star->entropy_l), ")");
    }
    std::cout << absl::StrFormat(
        "\nsuppressed: %s records written as '*' rows: one class of %s%s, counted in the risk after\n",
        WithThousands(star->size), WithThousands(star->size), l_text);
    if (star->violates_k || star->violates_l) {
      std::cerr << "veil: warning: the '*' class of " << star->size << " records violates "
                << (star->violates_k ? absl::StrCat("k=", model.k) : std::string())
                << (star->violates_k && star->violates_l ? " and " : "")
                << (star->violates_l ? absl::StrCat("l=", FormatNumber(model.l)) : std::string())
                << ": anyone can see which records were suppressed and what they share; use --suppressed "
                   "remove (the default) to leave them out\n";
    }
  }
  std::cout << absl::StrFormat("\ntotal %s\n", FormatElapsed(absl::Seconds(seconds)));
  return absl::OkStatus();
}

}  // namespace

void RegisterAnonKanon(CLI::App& anon, Cli& cli) {
  auto args = std::make_shared<KanonArgs>();
  CLI::App* cmd = anon.add_subcommand(
      "kanon",
      "Anonymize a CSV file: k-anonymity / l-diversity by generalization (ARX-compatible) or Mondrian");
  cmd->add_option("file", args->file, "The CSV file (or - for standard input)")->required();
  cmd->add_option("--quasi", args->quasi, "Quasi-identifier columns (comma-separated or repeated)")
      ->required();
  cmd->add_option("--hierarchies", args->hierarchies,
                  "Directory of ARX hierarchy files (<prefix>_hierarchy_<column>.csv or <column>.csv)");
  cmd->add_option("--interval", args->intervals,
                  "Built-in numeric hierarchy COL=W1,W2,... (interval widths, each a multiple of the last)");
  cmd->add_option(
      "--bounds", args->bounds,
      "Built-in numeric hierarchy COL=B1,B2,...[:B1,...] (cut points per level, coarser levels drop "
      "cut points)");
  cmd->add_option("--date", args->dates, "Built-in date hierarchy for COL (day, month, year, decade, *)");
  cmd->add_option("--k", args->k, "k of k-anonymity (default 2)");
  cmd->add_option("--l", args->l, "l of l-diversity (needs --sensitive)");
  cmd->add_option("--sensitive", args->sensitive, "The sensitive column for l-diversity");
  cmd->add_option("--l-diversity", args->l_diversity, "distinct (default) or entropy");
  cmd->add_option("--suppression", args->suppression,
                  "Fraction of records that may be suppressed, 0..1 (default 0); see --suppressed");
  cmd->add_option("--suppressed", args->suppressed,
                  "What happens to suppressed records: remove (default: left out of the output, not "
                  "released) or keep-star (written with '*' in every QI, as ARX; they form one class, "
                  "counted in the risk after, and a warning says if it violates k or l)");
  cmd->add_option("--algorithm", args->algorithm,
                  "optimal (default, full-domain lattice search) or mondrian");
  cmd->add_option(
      "--metric", args->metric,
      "Information loss to minimize: nue (default, ARX non-uniform entropy), loss, discernibility, "
      "aecs");
  cmd->add_option("--separator", args->separator, "Field separator of the CSV file (default ',')");
  cmd->add_option("--hierarchy-separator", args->hierarchy_separator,
                  "Field separator of the hierarchy files (default ';', as ARX)");
  cmd->add_option("-o,--output", args->output, "Where to write the anonymized CSV")->required();
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunKanon(*args, cli.options); }; });
}

}  // namespace veil::cli
