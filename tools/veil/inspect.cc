// veil inspect FILE.csv: the inferred schema, row count and per-column statistics of a CSV file.
//
// This is the data owner's first look at a file before it goes into a workspace. It reads the file locally
// and prints exact statistics (not differentially private): it is for the owner of the data, not for release.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/table/column_stats.h"
#include "veil/table/csv_reader.h"

namespace veil::cli {
namespace {

struct InspectArgs {
  std::string file;
  CsvArgs csv;
  int top = 3;
};

nlohmann::ordered_json StatsToJson(const table::ColumnStats& s, int index) {
  auto optional_json = [](const auto& v) -> nlohmann::ordered_json {
    return v.has_value() ? nlohmann::ordered_json(*v) : nullptr;
  };
  nlohmann::ordered_json top = nlohmann::ordered_json::array();
  for (const table::ValueCount& vc : s.top_values) top.push_back({{"value", vc.value}, {"count", vc.count}});
  return {{"index", index},
          {"name", s.name},
          {"type", std::string(table::DataTypeName(s.type))},
          {"nulls", s.null_count},
          {"distinct", s.distinct_count},
          {"min", optional_json(s.min)},
          {"max", optional_json(s.max)},
          {"mean", optional_json(s.mean)},
          {"top", top}};
}

void PrintText(const InspectArgs& args, const table::Table& t, const std::vector<table::ColumnStats>& stats,
               uint64_t bytes, absl::Duration elapsed) {
  std::cout << args.file << ": " << WithThousands(t.num_rows()) << " rows, " << t.num_columns()
            << " columns (" << FormatBytes(bytes) << ", read in " << FormatElapsed(elapsed) << ")\n\n";
  const std::vector<std::string> header = {"#",   "column", "type", "nulls",     "distinct",
                                           "min", "max",    "mean", "top values"};
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < stats.size(); ++i) {
    const table::ColumnStats& s = stats[i];
    std::string top;
    if (s.distinct_count > 1 && s.distinct_count == s.row_count - s.null_count) {
      top = "(every value distinct)";  // a key or identifier: listing values seen once says nothing
    } else {
      for (const table::ValueCount& vc : s.top_values) {
        absl::StrAppend(&top, top.empty() ? "" : ", ", Shorten(vc.value, 18), " (", WithThousands(vc.count),
                        ")");
      }
    }
    std::string nulls = WithThousands(s.null_count);
    if (s.null_count > 0 && s.row_count > 0) {
      absl::StrAppend(&nulls, absl::StrFormat(" (%.1f%%)", 100.0 * s.null_count / s.row_count));
    }
    rows.push_back({absl::StrCat(i + 1), Shorten(s.name, 24), std::string(table::DataTypeName(s.type)), nulls,
                    WithThousands(s.distinct_count), Shorten(s.min.value_or(""), 22),
                    Shorten(s.max.value_or(""), 22),
                    s.mean.has_value() ? absl::StrFormat("%.6g", *s.mean) : "", top});
  }
  // Numbers right-aligned, text left-aligned.
  PrintTable(header, rows, {true, false, false, true, true, false, false, true, false});
}

absl::Status RunInspect(const InspectArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(table::CsvReadOptions options, MakeReadOptions(args.csv));
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(uint64_t bytes, env.GetFileSize(args.file));
  const absl::Time start = absl::Now();
  VEIL_ASSIGN_OR_RETURN(table::Table t, table::ReadCsv(env, args.file, options));
  const absl::Duration elapsed = absl::Now() - start;
  const std::vector<table::ColumnStats> stats = table::ComputeTableStats(t, {.top_k = args.top});

  if (global.json) {
    nlohmann::ordered_json columns = nlohmann::ordered_json::array();
    for (size_t i = 0; i < stats.size(); ++i)
      columns.push_back(StatsToJson(stats[i], static_cast<int>(i) + 1));
    PrintJson({{"file", args.file}, {"bytes", bytes}, {"rows", t.num_rows()}, {"columns", columns}});
  } else if (!global.quiet) {
    PrintText(args, t, stats, bytes, elapsed);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterInspect(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show the inferred schema, row count and per-column statistics of a CSV file");
  cmd->add_option("file", args->file, "The CSV file")->required();
  AddCsvOptions(cmd, args->csv);
  cmd->add_option("--top", args->top, "How many most frequent values to show per column")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunInspect(*args, cli.options); }; });
}

}  // namespace veil::cli
