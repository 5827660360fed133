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
  std::string delimiter = ",";
  bool no_header = false;
  std::vector<std::string> nulls;
  std::vector<std::string> types;
  bool strict = false;
  int top = 3;
  int threads = 0;
};

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, marking the cut with "…".
std::string Shorten(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

// Display width of UTF-8 text: one column per code point (good enough for the Latin and CJK-free data the
// table shows; a wide character merely misaligns its own row).
size_t Width(std::string_view s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string Pad(std::string_view s, size_t width, bool right_align = false) {
  const size_t w = Width(s);
  std::string fill(w < width ? width - w : 0, ' ');
  return right_align ? fill + std::string(s) : std::string(s) + fill;
}

absl::StatusOr<table::CsvReadOptions> MakeReadOptions(const InspectArgs& args) {
  table::CsvReadOptions options;
  std::string delimiter = args.delimiter;
  if (delimiter == "\\t" || delimiter == "tab") delimiter = "\t";
  if (delimiter.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--delimiter must be one character (or \\t), not '", Shorten(args.delimiter, 10), "'"));
  }
  options.delimiter = delimiter[0];
  options.has_header = !args.no_header;
  if (!args.nulls.empty()) options.null_tokens = args.nulls;
  options.trim_whitespace = !args.strict;
  options.num_threads = args.threads;
  for (const std::string& spec : args.types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type expects COLUMN=TYPE, not '", Shorten(spec, 40), "'"));
    }
    const std::string type_name = spec.substr(eq + 1);
    std::optional<table::DataType> type = table::ParseDataType(type_name);
    if (!type.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type ", Shorten(spec, 40), ": unknown type '", Shorten(type_name, 20),
                       "' (one of int64, double, bool, string, date, timestamp)"));
    }
    options.column_types[spec.substr(0, eq)] = *type;
  }
  return options;
}

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

std::string FormatElapsed(absl::Duration d) {
  const double ms = absl::ToDoubleMilliseconds(d);
  return ms < 1000 ? absl::StrFormat("%.1f ms", ms) : absl::StrFormat("%.2f s", ms / 1000);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < 1024 * 1024) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
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
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    widths[c] = Width(header[c]);
    for (const auto& row : rows) widths[c] = std::max(widths[c], Width(row[c]));
  }
  // Numbers right-aligned, text left-aligned; the last column is not padded.
  const std::vector<bool> right = {true, false, false, true, true, false, false, true, false};
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&line, c == 0 ? "" : "  ",
                      c + 1 == row.size() ? row[c] : Pad(row[c], widths[c], right[c]));
    }
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

absl::Status RunInspect(const InspectArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(table::CsvReadOptions options, MakeReadOptions(args));
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
  cmd->add_option("--delimiter,-d", args->delimiter, "Field delimiter (one character, or \\t)")
      ->capture_default_str();
  cmd->add_flag("--no-header", args->no_header, "The first line is data; columns are named column_1, ...");
  cmd->add_option("--null", args->nulls,
                  "A token that means null (repeatable; default: the empty field and '?')");
  cmd->add_option("--type", args->types,
                  "Declare a column's type: COLUMN=TYPE (repeatable; TYPE is one of "
                  "int64, double, bool, string, date, timestamp)");
  cmd->add_flag("--strict", args->strict, "Strict RFC 4180: spaces around fields are data, not trimmed");
  cmd->add_option("--top", args->top, "How many most frequent values to show per column")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--threads", args->threads, "Parsing threads (0 = one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunInspect(*args, cli.options); }; });
}

}  // namespace veil::cli
