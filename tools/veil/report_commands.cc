// The report commands (issue 11, item 5; docs/reports.md):
//
//   veil report ropa [-o ropa.html] [--controller TEXT] [--dpo TEXT]
//       the record of processing activities (GDPR Art. 30(1)) of the workspace
//   veil dpia --dataset NAME --purpose P [-o dpia.html] [--controller TEXT] [--dpo TEXT]
//       a data protection impact assessment (Art. 35(7)) in the CNIL PIA structure (also `veil report dpia`)
//
// Output: text on stdout; with -o FILE, the HTML document (FILE ending in .txt or .json: that format
// instead), written atomically; with --json, the facts as one JSON document on stdout (and FILE, if given).
// Owners and auditors only (gate operations report.ropa, report.dpia); each report is one audit entry.
// A vault file or an audit log that fails its check now is written into the report, and the command then
// exits 4 (integrity failure) so that no script takes the report for a clean one.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/veil/cli.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/gov/report.h"
#include "veil/gov/session.h"

namespace veil::cli {
namespace {

struct ReportArgs {
  std::string output;
  std::string controller;
  std::string dpo;
  std::string dataset;  // dpia
  std::string purpose;  // dpia
};

enum class FileFormat { kHtml, kText, kJson };

FileFormat FormatOf(const std::string& path) {
  if (absl::EndsWithIgnoreCase(path, ".txt")) return FileFormat::kText;
  if (absl::EndsWithIgnoreCase(path, ".json")) return FileFormat::kJson;
  return FileFormat::kHtml;
}

// What a measured check found wrong, or "" if nothing.
std::string IntegrityProblems(const gov::AuditIntegrityFacts& audit,
                              const std::vector<gov::EncryptionFacts>& encryption) {
  std::string out;
  if (!audit.verified) absl::StrAppend(&out, "the audit log failed verification (", audit.error, ")");
  for (const gov::EncryptionFacts& e : encryption) {
    if (e.attached || e.vault_verified) continue;
    absl::StrAppend(&out, out.empty() ? "" : "; ", "dataset \"", e.dataset, "\" failed its check (",
                    e.vault_error, ")");
  }
  return out;
}

// Writes and prints a report; `what` names it in messages ("record of processing activities").
template <typename Facts>
absl::Status Emit(const Facts& facts, const nlohmann::ordered_json& json, const std::string& text,
                  const std::string& html, const std::string& what, const std::string& problems,
                  const ReportArgs& args, Cli& cli) {
  const GlobalOptions& global = cli.options;
  if (!args.output.empty()) {
    const FileFormat format = FormatOf(args.output);
    const std::string bytes = format == FileFormat::kText   ? text
                              : format == FileFormat::kJson ? json.dump(2) + "\n"
                                                            : html;
    VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(args.output, bytes));
  }
  if (global.json) {
    PrintJson(json);
    // The one JSON document is out: report the integrity failure by the exit code alone.
    if (!problems.empty()) cli.exit_code = ExitCode::kIntegrity;
    return absl::OkStatus();
  }
  if (args.output.empty()) {
    if (!global.quiet) std::cout << text;
  } else if (!global.quiet) {
    std::cout << "Wrote the " << what << " to " << args.output << " (audit entry #" << facts.header.audit_seq
              << ")\n";
  }
  if (!problems.empty()) {
    return absl::DataLossError(absl::StrCat(problems, "; the report", args.output.empty() ? "" : " written",
                                            " says so: investigate before relying on it"));
  }
  return absl::OkStatus();
}

absl::Status RunRopa(const ReportArgs& args, Cli& cli) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(cli.options));
  VEIL_ASSIGN_OR_RETURN(const gov::RopaFacts facts,
                        gov::GatherRopaFacts(*session, {args.controller, args.dpo}));
  return Emit(facts, gov::RopaToJson(facts), gov::RenderRopaText(facts), gov::RenderRopaHtml(facts),
              "record of processing activities", IntegrityProblems(facts.audit, facts.encryption), args, cli);
}

absl::Status RunDpia(const ReportArgs& args, Cli& cli) {
  if (args.dataset.empty()) return absl::InvalidArgumentError("--dataset NAME is required");
  if (args.purpose.empty()) return absl::InvalidArgumentError("--purpose P is required");
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(cli.options));
  VEIL_ASSIGN_OR_RETURN(const gov::DpiaFacts facts, gov::GatherDpiaFacts(*session, args.dataset, args.purpose,
                                                                         {args.controller, args.dpo}));
  return Emit(facts, gov::DpiaToJson(facts), gov::RenderDpiaText(facts), gov::RenderDpiaHtml(facts),
              "data protection impact assessment", IntegrityProblems(facts.audit, {facts.encryption}), args,
              cli);
}

void AddCommonOptions(CLI::App* cmd, ReportArgs& args) {
  cmd->add_option(
      "-o,--output", args.output,
      "Write the report to this file: HTML (print it to PDF from a browser), or text / JSON for a "
      "name ending in .txt / .json");
  cmd->add_option("--controller", args.controller,
                  "The controller's name and contact details (Art. 30(1)(a)); left as a field to fill in if "
                  "not given");
  cmd->add_option("--dpo", args.dpo, "The data protection officer's name and contact details");
}

CLI::App* AddDpia(CLI::App& parent, const std::string& name, Cli& cli) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = parent.add_subcommand(
      name,
      "A data protection impact assessment (GDPR Art. 35(7)) of a dataset for a purpose, in the CNIL PIA "
      "structure, built from the data map and measured facts (owner, auditor)");
  cmd->add_option("--dataset", args->dataset, "The dataset")->required();
  cmd->add_option("--purpose", args->purpose, "The purpose (declared or planned)")->required();
  AddCommonOptions(cmd, *args);
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunDpia(*args, cli); }; });
  return cmd;
}

}  // namespace

void RegisterReport(CLI::App& app, Cli& cli) {
  CLI::App* report =
      app.add_subcommand("report", "Reports generated from the workspace's facts (owner, auditor)");
  report->require_subcommand(1);
  auto ropa_args = std::make_shared<ReportArgs>();
  CLI::App* ropa = report->add_subcommand(
      "ropa", "The record of processing activities (GDPR Art. 30(1)) of every processing declaration");
  AddCommonOptions(ropa, *ropa_args);
  ropa->callback([ropa_args, &cli] { cli.action = [ropa_args, &cli] { return RunRopa(*ropa_args, cli); }; });
  AddDpia(*report, "dpia", cli);
  AddDpia(app, "dpia", cli);
}

}  // namespace veil::cli
