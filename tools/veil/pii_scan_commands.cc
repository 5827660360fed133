// veil pii scan FILE|- [--json] [--entities T1,T2] [--min-score S] [--no-dictionaries] [--show-values]
//
// Finds personal data in a UTF-8 text (src/veil/pii/analyzer.h) and prints one line per span:
//   line:column  TYPE  score  recognizer  value
// with columns counted in characters (code points) from 1. The value is masked by default (its first and last
// character), so that the scan output does not become one more copy of the personal data it found;
// --show-values prints it. --json prints one document:
//   {"file", "bytes", "spans": [{"begin", "end" (byte offsets), "line", "column", "type", "score",
//    "recognizer"[, "text"]}], "counts": {"TYPE": n, ...}}
// No workspace is needed. Errors: a missing or unreadable file (exit 2), a bad option (exit 2).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/veil/cli.h"
#include "veil/base/status_macros.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/entity.h"

namespace veil::cli {
namespace {

struct ScanArgs {
  std::string file;
  std::vector<std::string> entities;
  double min_score = 0.5;
  bool no_dictionaries = false;
  bool show_values = false;
};

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The first and last character of the value with the rest hidden ("b***m"); "***" for values of up to three
// characters. Never splits a UTF-8 sequence.
std::string Mask(std::string_view v) {
  size_t chars = 0;
  for (char c : v) chars += IsContinuation(c) ? 0 : 1;
  if (chars <= 3) return "***";
  size_t first = 1;
  while (first < v.size() && IsContinuation(v[first])) ++first;
  size_t last = v.size() - 1;
  while (last > 0 && IsContinuation(v[last])) --last;
  return std::string(v.substr(0, first)) + "***" + std::string(v.substr(last));
}

// Control characters (newlines inside an address) shown as spaces on the one line a span gets.
std::string OneLine(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

absl::Status RunScan(const ScanArgs& args, const GlobalOptions& options) {
  pii::AnalyzerOptions analyzer_options;
  VEIL_ASSIGN_OR_RETURN(analyzer_options.entities, pii::ParseEntityList(args.entities, "--entities"));
  analyzer_options.min_score = args.min_score;
  analyzer_options.dictionaries = !args.no_dictionaries;
  VEIL_ASSIGN_OR_RETURN(std::string text, ReadTextInput(args.file));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create(analyzer_options));
  const std::vector<pii::Span> spans = analyzer->Analyze(text);

  // Line and column (in code points) of each span: one forward walk, spans being sorted by begin.
  struct Position {
    size_t line, column;
  };
  std::vector<Position> positions;
  positions.reserve(spans.size());
  size_t pos = 0, line = 1, column = 1;
  for (const pii::Span& s : spans) {
    for (; pos < s.begin; ++pos) {
      if (text[pos] == '\n') {
        ++line;
        column = 1;
      } else if (!IsContinuation(text[pos])) {
        ++column;
      }
    }
    positions.push_back({line, column});
  }

  std::map<std::string_view, int64_t> counts;
  for (const pii::Span& s : spans) ++counts[pii::EntityName(s.type)];
  if (options.json) {
    nlohmann::ordered_json doc;
    doc["file"] = args.file;
    doc["bytes"] = text.size();
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < spans.size(); ++i) {
      const pii::Span& s = spans[i];
      nlohmann::ordered_json j;
      j["begin"] = s.begin;
      j["end"] = s.end;
      j["line"] = positions[i].line;
      j["column"] = positions[i].column;
      j["type"] = std::string(pii::EntityName(s.type));
      j["score"] = s.score;
      j["recognizer"] = std::string(s.recognizer);
      if (args.show_values) j["text"] = text.substr(s.begin, s.end - s.begin);
      list.push_back(std::move(j));
    }
    doc["spans"] = std::move(list);
    nlohmann::ordered_json by_type = nlohmann::ordered_json::object();
    for (const auto& [type, n] : counts) by_type[std::string(type)] = n;
    doc["counts"] = std::move(by_type);
    PrintJson(doc);
    return absl::OkStatus();
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    const pii::Span& s = spans[i];
    const std::string_view value = std::string_view(text).substr(s.begin, s.end - s.begin);
    std::cout << absl::StrFormat("%d:%d  %s  %.2f  %s  %s\n", positions[i].line, positions[i].column,
                                 pii::EntityName(s.type), s.score, s.recognizer,
                                 OneLine(args.show_values ? std::string(value) : Mask(value)));
  }
  if (!options.quiet) {
    std::string summary;
    for (const auto& [type, n] : counts)
      absl::StrAppend(&summary, summary.empty() ? "" : ", ", std::string(type), " ", n);
    std::cerr << absl::StrFormat("%s: %s, %d span%s%s%s\n", InputName(args.file), FormatBytes(text.size()),
                                 spans.size(), spans.size() == 1 ? "" : "s", summary.empty() ? "" : ": ",
                                 summary);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPiiScan(CLI::App& pii, Cli& cli) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* cmd =
      pii.add_subcommand("scan", "Find personal data in a text file (UTF-8) and print where it is");
  cmd->add_option("file", args->file, "The text file, or - for standard input")->required();
  cmd->add_option("--entities", args->entities,
                  "Only these types, comma-separated (e.g. EMAIL_ADDRESS,US_SSN)")
      ->delimiter(',');
  cmd->add_option("--min-score", args->min_score, "Drop spans scoring below this (0 to 1, default 0.5)");
  cmd->add_flag("--no-dictionaries", args->no_dictionaries,
                "Only the pattern-and-checksum recognizers (no person, address or location dictionaries)");
  cmd->add_flag("--show-values", args->show_values,
                "Print the values found (default: masked, so the output is not another copy of the data)");
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunScan(*args, cli.options); }; });
}

}  // namespace veil::cli
