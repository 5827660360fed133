// veil anon risk FILE.csv --quasi COLS [--population FILE] [--threshold T] [--separator C] [--json]
//   The re-identification risk of a table (anon::AssessRisk, risk.h) with COLS as quasi-identifiers: the
//   prosecutor model (highest and average risk, records at risk above T, sample uniques), the journalist
//   model when a population file is given, and the marketer model. Records with "*" in every quasi-identifier
//   (suppressed by `veil anon kanon --suppressed keep-star` or ARX) are left out and counted, or with
//   --suppressed-class counted as one class. The file is read as `veil anon kanon` reads it
//   (anon_cli_util.h: every cell as text, an empty cell the missing value, no null tokens). Reads the files
//   locally; nothing goes to a workspace and no value is printed.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/veil/anon_cli_util.h"
#include "tools/veil/cli.h"
#include "veil/anon/risk.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/table/csv_reader.h"

namespace veil::cli {
namespace {

struct RiskArgs {
  std::string file;
  std::vector<std::string> quasi;
  std::string population;
  double threshold = anon::RiskOptions().threshold;
  std::string delimiter = ",";
  bool suppressed_class = false;
};

// The error of `status` with `prefix` in front of its message (the file it is about), code unchanged.
std::string Percent(double fraction) { return absl::StrFormat("%.2f%%", 100 * fraction); }

absl::Status RunRisk(const RiskArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::vector<std::string> quasi, anon_cli::ParseColumnNames(args.quasi, "--quasi"));
  VEIL_ASSIGN_OR_RETURN(const char delimiter, anon_cli::ParseSeparator(args.delimiter, "--delimiter"));
  // Read as `veil anon kanon` reads (anon_cli_util.h): the same file gives the same classes.
  VEIL_ASSIGN_OR_RETURN(std::string sample_text, ReadTextInput(args.file));
  VEIL_ASSIGN_OR_RETURN(table::Table sample, anon_cli::ReadAnonCsv(sample_text, delimiter, args.file));
  sample_text.clear();
  std::optional<table::Table> population;
  if (!args.population.empty()) {
    VEIL_ASSIGN_OR_RETURN(std::string population_text, ReadTextInput(args.population));
    VEIL_ASSIGN_OR_RETURN(population, anon_cli::ReadAnonCsv(population_text, delimiter, args.population));
    // Name the file whose columns are missing (AssessRisk says "the population").
    for (const std::string& name : quasi) {
      if (population->FindColumn(name) == nullptr && sample.FindColumn(name) != nullptr) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: no quasi-identifier column \"%s\" in the population", args.population, name));
      }
    }
  }
  anon::RiskOptions risk_options;
  risk_options.threshold = args.threshold;
  risk_options.suppressed_form_a_class = args.suppressed_class;
  absl::StatusOr<anon::RiskReport> report =
      anon::AssessRisk(sample, quasi, risk_options, population.has_value() ? &*population : nullptr);
  if (!report.ok()) return WithPrefix(report.status(), args.file);
  const anon::RiskReport& r = *report;

  if (global.json) {
    nlohmann::ordered_json doc = {{"file", args.file},
                                  {"quasi_identifiers", quasi},
                                  {"records", r.records},
                                  {"suppressed", r.suppressed},
                                  {"classes", r.classes},
                                  {"threshold", r.threshold},
                                  {"prosecutor",
                                   {{"highest", r.prosecutor.highest},
                                    {"average", r.prosecutor.average},
                                    {"records_at_risk", r.prosecutor.records_at_risk},
                                    {"sample_uniques", r.prosecutor.sample_uniques},
                                    {"smallest_class", r.prosecutor.smallest_class}}}};
    if (r.journalist.has_value()) {
      doc["population"] = args.population;
      doc["journalist"] = {{"highest", r.journalist->highest},
                           {"average", r.journalist->average},
                           {"records_at_risk", r.journalist->records_at_risk},
                           {"smallest_population_class", r.journalist->smallest_population_class},
                           {"population_records", r.journalist->population_records}};
    } else {
      doc["population"] = nullptr;
      doc["journalist"] = nullptr;
    }
    doc["marketer"] = r.marketer;
    PrintJson(doc);
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  std::cout << args.file << ": " << WithThousands(r.records) << " records";
  if (r.suppressed > 0) std::cout << " (and " << WithThousands(r.suppressed) << " suppressed, left out)";
  std::cout << ", " << WithThousands(r.classes) << " equivalence classes on " << absl::StrJoin(quasi, ", ")
            << "; smallest class " << WithThousands(r.prosecutor.smallest_class) << "\n";
  if (r.journalist.has_value()) {
    std::cout << "population " << args.population << ": " << WithThousands(r.journalist->population_records)
              << " records; smallest population class of a sample record "
              << WithThousands(r.journalist->smallest_population_class) << "\n";
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"prosecutor", FormatNumber(r.prosecutor.highest), FormatNumber(r.prosecutor.average),
                  Percent(r.prosecutor.records_at_risk), Percent(r.prosecutor.sample_uniques)});
  if (r.journalist.has_value()) {
    rows.push_back({"journalist", FormatNumber(r.journalist->highest), FormatNumber(r.journalist->average),
                    Percent(r.journalist->records_at_risk), "-"});
  }
  rows.push_back({"marketer", "-", FormatNumber(r.marketer), "-", "-"});
  PrintTable({"model", "highest risk", "average risk",
              absl::StrCat("records at risk (> ", FormatNumber(r.threshold), ")"), "sample uniques"},
             rows, {false, true, true, true, true});
  return absl::OkStatus();
}

}  // namespace

void RegisterAnonRisk(CLI::App& anon, Cli& cli) {
  auto args = std::make_shared<RiskArgs>();
  CLI::App* cmd = anon.add_subcommand(
      "risk",
      "Re-identification risk of a CSV file: prosecutor, journalist (with a population) and marketer");
  cmd->add_option("file", args->file, "The CSV file")->required();
  cmd->add_option("--quasi,-q", args->quasi, "Quasi-identifier columns (comma-separated or repeated)")
      ->required();
  cmd->add_option("--population", args->population,
                  "A CSV file of the population the sample was drawn from (same quasi-identifier columns)");
  cmd->add_option("--threshold", args->threshold, "Records at risk: those whose risk exceeds this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--delimiter,--separator", args->delimiter,
                  "Field separator (default ',', \\t for tab; ARX's files use ';')");
  cmd->add_flag("--suppressed-class", args->suppressed_class,
                "Count the records with '*' in every quasi-identifier as one class (they are released rows, "
                "as `veil anon kanon --suppressed keep-star` writes them) instead of leaving them out");
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunRisk(*args, cli.options); }; });
}

}  // namespace veil::cli
