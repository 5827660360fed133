// The governance commands (issue 11; docs/governance.md):
//
//   veil catalog [DATASET] [--json]                 the data map: columns and their categories, declarations,
//                                                   special categories, findings
//   veil catalog annotate DATASET COLUMN ...        confirm or correct a column's categories (owner, audited)
//   veil catalog declare DATASET --purpose P ...    a processing declaration: legal basis, Art. 9 condition,
//                                                   subject types, recipients, transfers, retention, Art. 22
//   veil catalog taxonomy [--kind K]                the taxonomy; `taxonomy add KIND KEY` extends it
//   veil catalog graph -o map.svg                   the map drawn by Graphviz (dot)
//   veil consent grant|withdraw|import|show         consent records per subject and purpose (versioned)
//   veil consent object|restrict|lift               objections (Art. 21) and restrictions (Art. 18)
//   veil retention set|status|enforce|hold|release  retention periods, what is due when, erasure of what is
//                                                   due (crypto-shredding), legal holds (Art. 5(1)(e), 17)
//   veil dsr open|status|verify|run|reject|extend|list  subject requests (Art. 12(3), 15-18, 20, 21)
//
// Every command opens the workspace through gov::Session: the gate decides, the audit log records.
//
// TESTS ONLY: VEIL_TEST_NOW=TIME (RFC 3339 or YYYY-MM-DD) freezes the clock these commands' session reads
// (consent expiry, retention due dates, audit times), so that the end-to-end tests can step through time.
// A frozen clock would let whoever runs the command date audit entries and make retention erase early, so
// it exists only in a veil built with -DVEIL_TEST_HOOKS=ON (the Makefile's test trees), and even there only
// together with VEIL_TEST_SEED_OK=1. A default CMake build (what is deployed) refuses VEIL_TEST_NOW.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/veil/cli.h"
#include "veil/base/forwarding_env.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/catalog.h"
#include "veil/gov/consent.h"
#include "veil/gov/dsr.h"
#include "veil/gov/retention.h"
#include "veil/gov/session.h"
#include "veil/gov/taxonomy.h"

extern char** environ;

namespace veil::cli {
namespace {

std::string YesNo(bool b) { return b ? "yes" : "no"; }

#if VEIL_TEST_HOOKS
// The system's Env with its clock frozen (VEIL_TEST_NOW; see the file comment).
class FrozenClockEnv final : public base::ForwardingEnv {
 public:
  FrozenClockEnv(base::Env& real, absl::Time now)
      : base::ForwardingEnv(real, crypto::SecureRandom()), now_(now) {}
  absl::Time Now() override { return now_; }

 private:
  absl::Time now_;
};
#endif

// OpenSession, with the tests' frozen clock when VEIL_TEST_NOW is set (and this build and the environment
// allow it).
absl::StatusOr<std::unique_ptr<gov::Session>> OpenGovSession(const GlobalOptions& global) {
  const char* now = std::getenv("VEIL_TEST_NOW");
  if (now == nullptr || *now == '\0') return OpenSession(global);
#if VEIL_TEST_HOOKS
  const char* ok = std::getenv("VEIL_TEST_SEED_OK");
  if (ok == nullptr || std::string_view(ok) != "1") {
    return absl::InvalidArgumentError(
        "VEIL_TEST_NOW freezes the clock and is for tests only: set VEIL_TEST_SEED_OK=1 to use it");
  }
  absl::StatusOr<absl::Time> t = gov::ParseInstant(now);
  if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("VEIL_TEST_NOW: ", t.status().message()));
  static FrozenClockEnv* env = new FrozenClockEnv(crypto::DefaultEnv(), *t);  // lives as long as the process
  return gov::Session::Open(*env, global.workspace, ActorOf(global), PassphraseFromEnv());
#else
  return absl::InvalidArgumentError(
      "VEIL_TEST_NOW freezes the clock and is for tests only; this veil was built without test hooks "
      "(cmake -DVEIL_TEST_HOOKS=ON), so it is refused: unset it");
#endif
}

// --- veil catalog [DATASET] ---

struct CatalogArgs {
  std::string dataset;
};

void PrintMappedDataset(const gov::MappedDataset& m) {
  const store::DatasetInfo& d = m.info;
  std::cout << "Dataset \"" << d.name << "\"";
  if (d.external.has_value()) {
    std::cout << ": attached (" << d.kind << ")";
  } else {
    std::cout << ": " << WithThousands(d.subjects) << " subjects, " << WithThousands(d.rows) << " rows";
  }
  std::cout << "; subject column \"" << EscapeControlCharacters(d.subject_column) << "\"; subject types: "
            << (m.subject_types.empty() ? "(none declared)" : absl::StrJoin(m.subject_types, ", ")) << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < m.columns.size(); ++i) {
    const gov::MappedColumn& c = m.columns[i];
    if (!c.annotation.has_value()) {
      rows.push_back({absl::StrCat(i + 1), c.name, "(not classified)", "", "", "", ""});
      continue;
    }
    const store::ColumnAnnotation& a = *c.annotation;
    std::string cats = a.categories.empty() ? "(no personal data)" : absl::StrJoin(a.categories, ", ");
    if (c.special == gov::Special::kArt9) absl::StrAppend(&cats, " [Art. 9]");
    if (c.special == gov::Special::kArt10) absl::StrAppend(&cats, " [Art. 10]");
    rows.push_back({absl::StrCat(i + 1), c.name + (c.subject_column ? " (subject id)" : ""), cats, a.role,
                    a.source, absl::StrFormat("%.2f", a.confidence), YesNo(a.confirmed)});
  }
  PrintTable({"#", "column", "categories", "role", "source", "confidence", "confirmed"}, rows,
             {true, false, false, false, false, true});
  if (!m.special.empty())
    std::cout << "\nSpecial categories held: " << absl::StrJoin(m.special, ", ") << "\n";
  std::cout << "\nProcessing declarations:\n";
  if (m.declarations.empty()) {
    std::cout << "  (none: declare each purpose with veil catalog declare " << d.name
              << " --purpose P --basis B)\n";
  } else {
    rows.clear();
    for (const gov::Declaration& x : m.declarations) {
      std::vector<std::string> transfers;
      for (const gov::Transfer& t : x.transfers)
        transfers.push_back(absl::StrCat(t.to, " (", t.safeguard, ")"));
      rows.push_back({x.purpose,
                      absl::StrCat(gov::LegalBasisName(x.basis), " (", gov::LegalBasisArticle(x.basis), ")"),
                      x.special_basis == gov::SpecialBasis::kNone
                          ? "-"
                          : absl::StrCat(gov::SpecialBasisName(x.special_basis), " (",
                                         gov::SpecialBasisArticle(x.special_basis), ")"),
                      x.recipients.empty() ? "-" : absl::StrJoin(x.recipients, ", "),
                      transfers.empty() ? "-" : absl::StrJoin(transfers, ", "),
                      x.retention.empty() ? "-" : x.retention, YesNo(x.automated_decisions)});
    }
    PrintTable({"purpose", "legal basis", "Art. 9/10 condition", "recipients", "transfers", "retention",
                "automated decisions"},
               rows);
  }
  if (!m.findings.empty()) {
    std::cout << "\nFindings:\n";
    for (const std::string& f : m.findings) std::cout << "  - " << EscapeControlCharacters(f) << "\n";
  }
}

absl::Status RunCatalog(const CatalogArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  std::optional<std::string_view> one;
  if (!args.dataset.empty()) one = args.dataset;
  VEIL_ASSIGN_OR_RETURN(gov::DataMap map, gov::Catalog(*session).Map(one));
  if (global.json) {
    PrintJson(gov::DataMapToJson(map));
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (map.datasets.empty()) {
    std::cout << "The data map is empty: no datasets yet (veil ingest or veil attach).\n";
    return absl::OkStatus();
  }
  std::cout << "Data map: " << map.datasets.size() << " dataset(s)\n\n";
  for (size_t i = 0; i < map.datasets.size(); ++i) {
    if (i > 0) std::cout << "\n";
    PrintMappedDataset(map.datasets[i]);
  }
  return absl::OkStatus();
}

// --- veil catalog annotate DATASET COLUMN ---

struct AnnotateArgs {
  std::string dataset;
  std::string column;
  std::vector<std::string> categories;
  bool not_personal = false;
  std::string role;
  bool confirm = false;
  std::string note;
};

absl::Status RunAnnotate(const AnnotateArgs& args, const GlobalOptions& global) {
  gov::AnnotateRequest request;
  if (args.not_personal && !args.categories.empty())
    return absl::InvalidArgumentError("--not-personal and --category exclude each other");
  if (args.not_personal) request.categories = std::vector<std::string>{};
  if (!args.categories.empty()) request.categories = args.categories;
  if (!args.role.empty()) request.role = args.role;
  request.confirm = args.confirm;
  request.note = args.note;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(store::ColumnAnnotation a,
                        gov::Catalog(*session).Annotate(args.dataset, args.column, request));
  if (global.json) {
    PrintJson({{"dataset", args.dataset},
               {"column", a.column},
               {"categories", a.categories},
               {"role", a.role},
               {"source", a.source},
               {"confirmed", a.confirmed}});
  } else if (!global.quiet) {
    std::cout << "Column \"" << a.column << "\" of dataset \"" << args.dataset
              << "\": " << (a.categories.empty() ? "no personal data" : absl::StrJoin(a.categories, ", "))
              << " (role " << a.role << ", " << (a.source == "user" ? "set" : "confirmed") << " by "
              << a.set_by << "; audited)\n";
  }
  return absl::OkStatus();
}

// --- veil catalog declare DATASET --purpose P --basis B ... ---

struct DeclareArgs {
  std::string dataset;
  std::string purpose;
  std::string basis;
  std::string special_basis;
  std::vector<std::string> subject_types;
  std::vector<std::string> recipients;
  std::vector<std::string> transfers;
  std::string retention;
  bool automated_decisions = false;
  std::string description;
  bool remove = false;
};

absl::Status RunDeclare(const DeclareArgs& args, const GlobalOptions& global) {
  if (args.remove) {
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
    VEIL_RETURN_IF_ERROR(gov::Catalog(*session).Undeclare(args.dataset, args.purpose));
    if (global.json) {
      PrintJson({{"dataset", args.dataset}, {"purpose", args.purpose}, {"removed", true}});
    } else if (!global.quiet) {
      std::cout << "Removed the declaration of dataset \"" << args.dataset << "\" for \"" << args.purpose
                << "\" (audited); the purpose stays declared for the gate\n";
    }
    return absl::OkStatus();
  }
  gov::Declaration d;
  d.dataset = args.dataset;
  d.purpose = args.purpose;
  if (args.basis.empty())
    return absl::InvalidArgumentError("--basis is required (the Art. 6(1) legal basis)");
  const std::optional<gov::LegalBasis> basis = gov::ParseLegalBasis(args.basis);
  if (!basis) {
    return absl::InvalidArgumentError(absl::StrCat("unknown legal basis \"", Shorten(args.basis, 40),
                                                   "\"; one of consent, contract, legal_obligation, "
                                                   "vital_interests, public_task, legitimate_interests"));
  }
  d.basis = *basis;
  if (!args.special_basis.empty()) {
    const std::optional<gov::SpecialBasis> special = gov::ParseSpecialBasis(args.special_basis);
    if (!special || *special == gov::SpecialBasis::kNone) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown Art. 9(2) / Art. 10 condition \"", Shorten(args.special_basis, 40),
          "\"; one of explicit_consent, employment, vital_interests, not_for_profit, made_public, "
          "legal_claims, "
          "substantial_public_interest, health_care, public_health, research, official_authority, "
          "authorised_by_law"));
    }
    d.special_basis = *special;
  }
  d.subject_types = args.subject_types;
  d.recipients = args.recipients;
  for (const std::string& t : args.transfers) {
    VEIL_ASSIGN_OR_RETURN(gov::Transfer transfer, gov::ParseTransfer(t));
    d.transfers.push_back(std::move(transfer));
  }
  d.retention = args.retention;
  d.automated_decisions = args.automated_decisions;
  d.description = args.description;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::Declaration out, gov::Catalog(*session).Declare(std::move(d)));
  if (global.json) {
    nlohmann::ordered_json doc = gov::DeclarationToJson(out);
    doc["dataset"] = out.dataset;
    PrintJson(doc);
  } else if (!global.quiet) {
    std::cout << "Declared the processing of dataset \"" << out.dataset << "\" for \"" << out.purpose
              << "\": " << gov::LegalBasisName(out.basis) << " (" << gov::LegalBasisArticle(out.basis) << ")";
    if (out.special_basis != gov::SpecialBasis::kNone) {
      std::cout << ", " << gov::SpecialBasisName(out.special_basis) << " ("
                << gov::SpecialBasisArticle(out.special_basis) << ")";
    }
    std::cout << " (audited)\n";
    if (gov::NeedsConsent(out)) {
      std::cout << "  consent is the basis: operations for \"" << out.purpose
                << "\" use only the rows of subjects with a recorded, unexpired consent (veil consent)\n";
    }
  }
  return absl::OkStatus();
}

// --- veil catalog taxonomy [--kind K] / taxonomy add KIND KEY ---

struct TaxonomyArgs {
  std::string kind;
};

absl::Status RunTaxonomy(const TaxonomyArgs& args, const GlobalOptions& global) {
  std::vector<gov::TaxonomyKind> kinds = {gov::TaxonomyKind::kCategory, gov::TaxonomyKind::kUse,
                                          gov::TaxonomyKind::kSubject};
  if (!args.kind.empty()) {
    const std::optional<gov::TaxonomyKind> k = gov::ParseTaxonomyKind(args.kind);
    if (!k) return absl::InvalidArgumentError("--kind is one of category, use, subject");
    kinds = {*k};
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::Taxonomy taxonomy, gov::Catalog(*session).GetTaxonomy());
  if (global.json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    for (gov::TaxonomyKind k : kinds) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const gov::TaxonomyEntry* e : taxonomy.Entries(k)) {
        nlohmann::ordered_json item = {
            {"key", e->key},
            {"description", e->description},
            {"special", gov::SpecialName(k == gov::TaxonomyKind::kCategory ? taxonomy.SpecialOf(e->key)
                                                                           : gov::Special::kNone)},
            {"builtin", e->builtin}};
        if (!e->builtin) {
          item["added_by"] = e->added_by;
          item["added_at"] = FormatUtc(e->added_at);
        }
        list.push_back(std::move(item));
      }
      doc[k == gov::TaxonomyKind::kCategory ? "categories"
          : k == gov::TaxonomyKind::kUse    ? "uses"
                                            : "subjects"] = std::move(list);
    }
    PrintJson(doc);
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  for (size_t i = 0; i < kinds.size(); ++i) {
    const gov::TaxonomyKind k = kinds[i];
    if (i > 0) std::cout << "\n";
    std::cout << (k == gov::TaxonomyKind::kCategory ? "Data categories"
                  : k == gov::TaxonomyKind::kUse    ? "Data uses (purposes)"
                                                    : "Data subject types")
              << ":\n";
    std::vector<std::vector<std::string>> rows;
    for (const gov::TaxonomyEntry* e : taxonomy.Entries(k)) {
      const gov::Special s =
          k == gov::TaxonomyKind::kCategory ? taxonomy.SpecialOf(e->key) : gov::Special::kNone;
      rows.push_back({e->key,
                      s == gov::Special::kArt9    ? "Art. 9"
                      : s == gov::Special::kArt10 ? "Art. 10"
                                                  : "",
                      e->builtin ? "" : absl::StrCat("added by ", e->added_by), e->description});
    }
    PrintTable({"key", "special", "origin", "description"}, rows);
  }
  return absl::OkStatus();
}

struct TaxonomyAddArgs {
  std::string kind;
  std::string key;
  std::string description;
  std::string special;
};

absl::Status RunTaxonomyAdd(const TaxonomyAddArgs& args, const GlobalOptions& global) {
  gov::TaxonomyEntry e;
  const std::optional<gov::TaxonomyKind> kind = gov::ParseTaxonomyKind(args.kind);
  if (!kind) return absl::InvalidArgumentError("KIND is one of category, use, subject");
  e.kind = *kind;
  e.key = args.key;
  e.description = args.description;
  if (!args.special.empty()) {
    const std::optional<gov::Special> s = gov::ParseSpecial(args.special);
    if (!s) return absl::InvalidArgumentError("--special is art9 or art10");
    e.special = *s;
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::TaxonomyEntry added, gov::Catalog(*session).AddTaxonomyKey(std::move(e)));
  if (global.json) {
    PrintJson({{"kind", gov::TaxonomyKindName(added.kind)},
               {"key", added.key},
               {"description", added.description},
               {"special", gov::SpecialName(added.special)}});
  } else if (!global.quiet) {
    std::cout << "Added " << gov::TaxonomyKindName(added.kind) << " \"" << added.key
              << "\" to the taxonomy (audited)\n";
  }
  return absl::OkStatus();
}

// --- veil catalog graph -o FILE ---

struct GraphArgs {
  std::string output;
  std::string format;  // svg, png, pdf or dot; default from the output's extension, else svg
  std::string dataset;
};

// Runs Graphviz's dot on `dot_file`, writing `format` to `output` (no shell: the arguments go to execvp).
absl::Status RunGraphviz(const std::string& dot_file, const std::string& format, const std::string& output) {
  const std::string type = "-T" + format;
  std::vector<std::string> args = {"dot", type, "-o", output, dot_file};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "dot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run Graphviz's dot (", std::strerror(rc),
        "): install graphviz (scripts/install-deps.sh), or write the graph source with --format dot"));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waiting for dot: ", std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("Graphviz's dot failed (",
                     WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status)) : std::string("killed"),
                     ") drawing ", output, "; its message is above"));
  }
  return absl::OkStatus();
}

absl::Status RunGraph(const GraphArgs& args, const GlobalOptions& global) {
  if (args.output.empty()) return absl::InvalidArgumentError("-o FILE is required");
  std::string format = args.format;
  if (format.empty()) {
    const size_t dot = args.output.rfind('.');
    format = dot == std::string::npos ? "svg" : args.output.substr(dot + 1);
  }
  if (format != "svg" && format != "png" && format != "pdf" && format != "dot") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown graph format \"", Shorten(format, 20), "\"; one of svg, png, pdf, dot"));
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  std::optional<std::string_view> one;
  if (!args.dataset.empty()) one = args.dataset;
  VEIL_ASSIGN_OR_RETURN(gov::DataMap map, gov::Catalog(*session).Map(one));
  const std::string source = gov::DataMapToDot(map);
  base::Env& env = crypto::DefaultEnv();
  if (format == "dot") {
    VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(args.output, source));
  } else {
    // dot reads a file written beside the output and draws into another, renamed over the output once
    // complete: an interrupted run never leaves half a picture.
    const std::string input = args.output + ".dot.tmp";
    const std::string drawn = args.output + ".tmp";
    VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(input, source));
    absl::Status s = RunGraphviz(input, format, drawn);
    env.DeleteFile(input).IgnoreError();
    if (s.ok()) s = env.RenameFile(drawn, args.output);
    if (!s.ok()) {
      env.DeleteFile(drawn).IgnoreError();
      return s;
    }
  }
  if (global.json) {
    PrintJson({{"file", args.output}, {"format", format}, {"datasets", map.datasets.size()}});
  } else if (!global.quiet) {
    std::cout << "Drew the data map of " << map.datasets.size() << " dataset(s) to " << args.output << " ("
              << format << ")\n";
  }
  return absl::OkStatus();
}

void RegisterCatalog(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<CatalogArgs>();
  CLI::App* cmd = app.add_subcommand(
      "catalog",
      "The data map: what each dataset holds, about whom, for which purposes, on which legal basis");
  cmd->add_option("dataset", args->dataset, "Show only this dataset");
  std::vector<CLI::App*> subs;

  auto annotate = std::make_shared<AnnotateArgs>();
  CLI::App* an = cmd->add_subcommand("annotate", "Confirm or correct a column's data categories (owner)");
  an->add_option("dataset", annotate->dataset, "Dataset")->required();
  an->add_option("column", annotate->column, "Column")->required();
  an->add_option("--category", annotate->categories,
                 "A data category of the taxonomy (repeatable), e.g. user.health.diagnosis");
  an->add_flag("--not-personal", annotate->not_personal, "The column holds no personal data");
  an->add_option("--role", annotate->role, "direct_identifier, quasi_identifier, free_text or none");
  an->add_flag("--confirm", annotate->confirm, "Confirm the classifier's categories as they are");
  an->add_option("--note", annotate->note, "Why (no personal data), kept as the evidence");
  an->callback(
      [annotate, &cli] { cli.action = [annotate, &cli] { return RunAnnotate(*annotate, cli.options); }; });
  subs.push_back(an);

  auto declare = std::make_shared<DeclareArgs>();
  CLI::App* de = cmd->add_subcommand(
      "declare", "Declare the processing of a dataset for a purpose: legal basis, recipients, ... (owner)");
  de->add_option("dataset", declare->dataset, "Dataset")->required();
  de->add_option("--purpose", declare->purpose, "The purpose (a use of the taxonomy, or below one)")
      ->required();
  de->add_option("--basis", declare->basis,
                 "Art. 6(1) basis: consent, contract, legal_obligation, vital_interests, public_task, "
                 "legitimate_interests");
  de->add_option("--special-basis", declare->special_basis,
                 "Art. 9(2) condition (explicit_consent, health_care, research, ...) or Art. 10 basis "
                 "(official_authority, authorised_by_law), where special categories are held");
  de->add_option("--subject-type", declare->subject_types, "A data subject type (repeatable), e.g. patient");
  de->add_option("--recipient", declare->recipients, "Who receives the data (repeatable)");
  de->add_option("--transfer", declare->transfers,
                 "A transfer outside the EEA: DESTINATION:SAFEGUARD (adequacy, scc, bcr, derogation, other)");
  de->add_option("--retention", declare->retention, "The envisaged time limit, in words");
  de->add_flag("--automated-decisions", declare->automated_decisions,
               "The purpose makes decisions based solely on automated processing (Art. 22)");
  de->add_option("--description", declare->description, "What the processing is, in words");
  de->add_flag("--remove", declare->remove, "Remove the declaration instead");
  de->callback(
      [declare, &cli] { cli.action = [declare, &cli] { return RunDeclare(*declare, cli.options); }; });
  subs.push_back(de);

  auto taxonomy = std::make_shared<TaxonomyArgs>();
  CLI::App* tx = cmd->add_subcommand("taxonomy", "The taxonomy of data categories, uses and subject types");
  tx->add_option("--kind", taxonomy->kind, "Only this kind: category, use or subject");
  auto add = std::make_shared<TaxonomyAddArgs>();
  CLI::App* tx_add = tx->add_subcommand("add", "Add a key to the workspace's taxonomy (owner)");
  tx_add->add_option("kind", add->kind, "category, use or subject")->required();
  tx_add->add_option("key", add->key, "A dotted key below an existing one, e.g. user.health.allergy")
      ->required();
  tx_add->add_option("--description", add->description, "What it is")->required();
  tx_add->add_option("--special", add->special, "art9 or art10 (categories only; inherited below it)");
  tx_add->callback([add, &cli] { cli.action = [add, &cli] { return RunTaxonomyAdd(*add, cli.options); }; });
  tx->callback([taxonomy, tx_add, &cli] {
    if (tx_add->parsed()) return;
    cli.action = [taxonomy, &cli] { return RunTaxonomy(*taxonomy, cli.options); };
  });
  subs.push_back(tx);

  auto graph = std::make_shared<GraphArgs>();
  CLI::App* gr = cmd->add_subcommand("graph", "Draw the data map with Graphviz");
  gr->add_option("-o,--output", graph->output, "The picture to write (map.svg, map.png, map.pdf or map.dot)")
      ->required();
  gr->add_option("--format", graph->format, "svg, png, pdf or dot (default: from the file name)");
  gr->add_option("--dataset", graph->dataset, "Only this dataset");
  gr->callback([graph, &cli] { cli.action = [graph, &cli] { return RunGraph(*graph, cli.options); }; });
  subs.push_back(gr);

  cmd->callback([args, subs, &cli] {
    for (CLI::App* s : subs) {
      if (s->parsed()) return;
    }
    cli.action = [args, &cli] { return RunCatalog(*args, cli.options); };
  });
}

// --- veil consent ... ---

// The subject id is never echoed: only its pseudonym's first 16 hex digits.
std::string Short(const std::string& pseudonym) { return pseudonym.substr(0, 16) + "…"; }

struct ConsentArgs {
  std::string subject;
  std::string purpose;
  bool all = false;
  std::string source = "cli";
  std::string notice_version;
  std::string expires;
  std::string at;
  std::string file;
  std::string dataset;
  std::string reason;
  bool objection = false;
  bool restriction = false;
};

// --at, or nullopt for the session's clock.
absl::StatusOr<std::optional<absl::Time>> ParseAt(const ConsentArgs& args) {
  if (args.at.empty()) return std::nullopt;
  absl::StatusOr<absl::Time> t = gov::ParseInstant(args.at);
  if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("--at: ", t.status().message()));
  return std::optional<absl::Time>(*t);
}

absl::Status RunConsentRecord(const ConsentArgs& args, gov::ConsentState state, const GlobalOptions& global) {
  if (args.subject.empty()) return absl::InvalidArgumentError("--subject ID is required");
  VEIL_ASSIGN_OR_RETURN(const std::optional<absl::Time> given_at, ParseAt(args));
  if (state == gov::ConsentState::kWithdrawn && args.all) {
    if (!args.purpose.empty()) return absl::InvalidArgumentError("--all and --purpose exclude each other");
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
    VEIL_ASSIGN_OR_RETURN(
        std::vector<gov::ConsentRecord> out,
        gov::ConsentRegistry(*session).WithdrawAll(args.subject, args.source,
                                                   given_at.value_or(session->workspace().env().Now())));
    if (global.json) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const gov::ConsentRecord& r : out) list.push_back(gov::ConsentRecordToJson(r));
      PrintJson({{"withdrawn", list}});
    } else if (!global.quiet) {
      std::vector<std::string> purposes;
      for (const gov::ConsentRecord& r : out) purposes.push_back(r.purpose);
      std::cout << "Withdrew every consent of subject " << Short(session->Pseudonym(args.subject)) << ": "
                << (purposes.empty() ? "(none was granted)" : absl::StrJoin(purposes, ", "))
                << " (audited)\n";
    }
    return absl::OkStatus();
  }
  if (args.purpose.empty()) {
    return absl::InvalidArgumentError(state == gov::ConsentState::kGranted
                                          ? "--purpose P is required"
                                          : "--purpose P is required (or --all to withdraw every purpose)");
  }
  gov::ConsentInput in;
  in.subject_id = args.subject;
  in.purpose = args.purpose;
  in.state = state;
  in.source = args.source;
  in.notice_version = args.notice_version;
  if (!args.expires.empty()) {
    absl::StatusOr<absl::Time> e = gov::ParseInstant(args.expires);
    if (!e.ok()) return absl::InvalidArgumentError(absl::StrCat("--expires: ", e.status().message()));
    in.expires = *e;
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  in.at = given_at.value_or(session->workspace().env().Now());
  VEIL_ASSIGN_OR_RETURN(gov::ConsentRecord r, gov::ConsentRegistry(*session).Record(std::move(in)));
  if (global.json) {
    PrintJson(gov::ConsentRecordToJson(r));
  } else if (!global.quiet) {
    std::cout << (state == gov::ConsentState::kGranted ? "Recorded the consent" : "Recorded the withdrawal")
              << " of subject " << Short(r.pseudonym) << " to \"" << r.purpose << "\" (version " << r.version
              << (r.expires ? absl::StrCat(", expires ", FormatUtc(*r.expires)) : std::string())
              << "; audited)\n";
    if (!r.current) {
      std::cout << "  it is older than the subject's current record for that purpose, which stays in force\n";
    }
  }
  return absl::OkStatus();
}

absl::Status RunConsentImport(const ConsentArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(const std::string text, ReadTextInput(args.file));
  const std::string default_source = args.source == "cli" ? "import" : args.source;
  VEIL_RETURN_IF_ERROR(gov::ValidateToken("--source", default_source));
  VEIL_ASSIGN_OR_RETURN(std::vector<gov::ConsentInput> records,
                        gov::ParseConsentFile(text, InputName(args.file), default_source));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::ImportResult r, gov::ConsentRegistry(*session).Import(
                                                 std::move(records), base::HexEncode(crypto::Sha256(text))));
  if (global.json) {
    PrintJson({{"records", r.records},
               {"subjects", r.subjects},
               {"state_changes", r.state_changes},
               {"audit_entries", r.audit_seqs}});
  } else if (!global.quiet) {
    std::cout << "Imported " << WithThousands(r.records) << " consent records of "
              << WithThousands(r.subjects) << " subjects from " << InputName(args.file) << " ("
              << WithThousands(r.state_changes) << " became the current state; " << r.audit_seqs.size()
              << " audit entr" << (r.audit_seqs.size() == 1 ? "y" : "ies") << ")\n";
  }
  return absl::OkStatus();
}

absl::Status RunConsentShow(const ConsentArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  gov::ConsentRegistry reg(*session);
  if (args.subject.empty()) {
    VEIL_ASSIGN_OR_RETURN(std::vector<gov::ConsentSummary> summary, reg.Summary());
    VEIL_ASSIGN_OR_RETURN(gov::RestrictionCounts counts, gov::CountRestrictions(session->workspace()));
    if (global.json) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const gov::ConsentSummary& s : summary) {
        list.push_back({{"purpose", s.purpose},
                        {"granted", s.granted},
                        {"expired", s.expired},
                        {"withdrawn", s.withdrawn}});
      }
      PrintJson(
          {{"purposes", list}, {"objections", counts.objections}, {"restrictions", counts.restrictions}});
      return absl::OkStatus();
    }
    if (global.quiet) return absl::OkStatus();
    if (summary.empty()) {
      std::cout << "No consent recorded yet (veil consent grant / import)\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const gov::ConsentSummary& s : summary) {
        rows.push_back(
            {s.purpose, WithThousands(s.granted), WithThousands(s.expired), WithThousands(s.withdrawn)});
      }
      std::cout << "Subjects by purpose and current state of their consent:\n";
      PrintTable({"purpose", "granted", "expired", "withdrawn"}, rows, {false, true, true, true});
    }
    std::cout << "Objections in force: " << WithThousands(counts.objections)
              << "; restrictions in force: " << WithThousands(counts.restrictions) << "\n";
    return absl::OkStatus();
  }
  VEIL_ASSIGN_OR_RETURN(gov::ConsentRegistry::SubjectView v, reg.Show(args.subject));
  if (global.json) {
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    for (const gov::ConsentRecord& r : v.history) history.push_back(gov::ConsentRecordToJson(r));
    nlohmann::ordered_json restrictions = nlohmann::ordered_json::array();
    for (const gov::SubjectRestriction& r : v.restrictions)
      restrictions.push_back(gov::SubjectRestrictionToJson(r));
    PrintJson({{"subject", v.pseudonym}, {"consent", history}, {"restrictions", restrictions}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  std::cout << "Subject " << Short(v.pseudonym) << "\n\nConsent history:\n";
  if (v.history.empty()) {
    std::cout << "  (none)\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const gov::ConsentRecord& r : v.history) {
      rows.push_back({r.purpose, absl::StrCat(r.version), gov::ConsentStateName(r.state), FormatUtc(r.at),
                      r.source, r.notice_version.empty() ? "-" : r.notice_version,
                      r.expires ? FormatUtc(*r.expires) : "-", r.current ? "current" : ""});
    }
    PrintTable({"purpose", "version", "state", "when", "source", "notice", "expires", ""}, rows,
               {false, true});
  }
  std::cout << "\nObjections and restrictions:\n";
  if (v.restrictions.empty()) {
    std::cout << "  (none)\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const gov::SubjectRestriction& r : v.restrictions) {
      rows.push_back({gov::RestrictionKindName(r.kind), r.purpose.empty() ? "(every purpose)" : r.purpose,
                      r.dataset.empty() ? "(every dataset)" : r.dataset, r.reason, FormatUtc(r.since),
                      r.lifted ? absl::StrCat("lifted ", FormatUtc(*r.lifted)) : "in force"});
    }
    PrintTable({"kind", "purpose", "dataset", "reason", "since", "state"}, rows);
  }
  return absl::OkStatus();
}

absl::Status RunRestrict(const ConsentArgs& args, gov::RestrictionKind kind, const GlobalOptions& global) {
  if (args.subject.empty()) return absl::InvalidArgumentError("--subject ID is required");
  const std::string reason = !args.reason.empty()                       ? args.reason
                             : kind == gov::RestrictionKind::kObjection ? "art21"
                                                                        : "art18";
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(
      gov::SubjectRestriction r,
      gov::ConsentRegistry(*session).Restrict(kind, args.subject, args.purpose, args.dataset, reason));
  if (global.json) {
    PrintJson(gov::SubjectRestrictionToJson(r));
  } else if (!global.quiet) {
    std::cout << "Recorded "
              << (kind == gov::RestrictionKind::kObjection ? "the objection" : "the restriction")
              << " of subject " << Short(r.pseudonym) << " ("
              << (r.purpose.empty() ? std::string("every purpose") : "purpose \"" + r.purpose + "\"") << ", "
              << (r.dataset.empty() ? std::string("every dataset") : "dataset \"" + r.dataset + "\"")
              << "; audited): their rows are left out of every operation it covers until it is lifted\n";
  }
  return absl::OkStatus();
}

absl::Status RunLift(const ConsentArgs& args, const GlobalOptions& global) {
  if (args.subject.empty()) return absl::InvalidArgumentError("--subject ID is required");
  if (args.objection == args.restriction)
    return absl::InvalidArgumentError("give one of --objection, --restriction");
  const gov::RestrictionKind kind =
      args.objection ? gov::RestrictionKind::kObjection : gov::RestrictionKind::kRestriction;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(int64_t lifted,
                        gov::ConsentRegistry(*session).Lift(kind, args.subject, args.purpose, args.dataset));
  if (global.json) {
    PrintJson({{"kind", gov::RestrictionKindName(kind)}, {"lifted", lifted}});
  } else if (!global.quiet) {
    std::cout << "Lifted " << lifted << " " << gov::RestrictionKindName(kind) << "(s) of subject "
              << Short(session->Pseudonym(args.subject)) << " (audited)\n";
  }
  return absl::OkStatus();
}

void RegisterConsent(CLI::App& app, Cli& cli) {
  CLI::App* cmd = app.add_subcommand(
      "consent", "Consent records, objections and restrictions of processing (the gate applies them)");
  cmd->require_subcommand(1);
  const auto subject = [](CLI::App* c, ConsentArgs& a) {
    c->add_option("--subject", a.subject, "The subject's id (pseudonymised at once, never stored)")
        ->required();
  };
  for (const bool grant : {true, false}) {
    auto a = std::make_shared<ConsentArgs>();
    CLI::App* c =
        cmd->add_subcommand(grant ? "grant" : "withdraw",
                            grant ? "Record a subject's consent to a purpose (owner)"
                                  : "Record the withdrawal of a consent (owner): as easy as granting");
    subject(c, *a);
    c->add_option("--purpose", a->purpose, "The purpose (covers the purposes below it)");
    if (!grant) c->add_flag("--all", a->all, "Withdraw every purpose the subject has granted");
    c->add_option("--source", a->source,
                  "Where it was given: a code such as web_form, paper, crm (default cli)");
    if (grant) {
      c->add_option("--notice-version", a->notice_version, "The version of the privacy notice shown");
      c->add_option("--expires", a->expires, "When the consent ends (RFC 3339 or YYYY-MM-DD)");
    }
    c->add_option("--at", a->at, "When the subject acted (default now)");
    const gov::ConsentState state = grant ? gov::ConsentState::kGranted : gov::ConsentState::kWithdrawn;
    c->callback([a, state, &cli] {
      cli.action = [a, state, &cli] { return RunConsentRecord(*a, state, cli.options); };
    });
  }
  {
    auto a = std::make_shared<ConsentArgs>();
    CLI::App* c = cmd->add_subcommand("import", "Import consent records from a CSV or JSON file (owner)");
    c->add_option("file", a->file, "CSV (subject,purpose,state,time[,source,notice_version,expires]) or JSON")
        ->required();
    c->add_option("--source", a->source, "The source of records that name none (default import)");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunConsentImport(*a, cli.options); }; });
  }
  {
    auto a = std::make_shared<ConsentArgs>();
    CLI::App* c = cmd->add_subcommand("show", "A subject's consent history and restrictions, or a summary");
    c->add_option("--subject", a->subject, "The subject's id (default: a summary by purpose)");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunConsentShow(*a, cli.options); }; });
  }
  for (const gov::RestrictionKind kind :
       {gov::RestrictionKind::kObjection, gov::RestrictionKind::kRestriction}) {
    auto a = std::make_shared<ConsentArgs>();
    const bool objection = kind == gov::RestrictionKind::kObjection;
    CLI::App* c =
        cmd->add_subcommand(objection ? "object" : "restrict",
                            objection ? "Record a subject's objection to processing (Art. 21; owner)"
                                      : "Restrict the processing of a subject's data (Art. 18; owner)");
    subject(c, *a);
    if (objection) c->add_option("--purpose", a->purpose, "The purpose objected to (default: every purpose)");
    c->add_option("--dataset", a->dataset, "Only this dataset (default: every dataset)");
    c->add_option("--reason", a->reason, "A reason code (default art21 / art18)");
    c->callback(
        [a, kind, &cli] { cli.action = [a, kind, &cli] { return RunRestrict(*a, kind, cli.options); }; });
  }
  {
    auto a = std::make_shared<ConsentArgs>();
    CLI::App* c = cmd->add_subcommand("lift", "Lift a subject's objection or restriction (owner)");
    subject(c, *a);
    c->add_flag("--objection", a->objection, "Lift an objection");
    c->add_flag("--restriction", a->restriction, "Lift a restriction");
    c->add_option("--purpose", a->purpose, "The objection's purpose (as recorded)");
    c->add_option("--dataset", a->dataset, "The dataset (as recorded)");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunLift(*a, cli.options); }; });
  }
}

// --- veil retention ... ---

struct RetentionArgs {
  std::string dataset;
  std::string category;
  int64_t days = 0;
  std::string trigger = "ingest";
  bool remove = false;
  bool dry_run = false;
  std::string subject;
  std::string reason;
};

std::string DaysText(int64_t days) { return absl::StrCat(days, days == 1 ? " day" : " days"); }

absl::Status RunRetentionSet(const RetentionArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  gov::Retention retention(*session);
  if (args.remove) {
    VEIL_RETURN_IF_ERROR(retention.Remove(args.dataset, args.category));
    if (global.json) {
      PrintJson({{"dataset", args.dataset},
                 {"category", args.category.empty() ? nlohmann::ordered_json(nullptr)
                                                    : nlohmann::ordered_json(args.category)},
                 {"removed", true}});
    } else if (!global.quiet) {
      std::cout << "Removed the retention rule of dataset \"" << args.dataset << "\""
                << (args.category.empty() ? std::string() : " for " + args.category) << " (audited)\n";
    }
    return absl::OkStatus();
  }
  gov::RetentionRule rule;
  rule.dataset = args.dataset;
  rule.category = args.category;
  rule.days = args.days;
  VEIL_RETURN_IF_ERROR(gov::ParseRetentionTrigger(args.trigger, &rule));
  VEIL_ASSIGN_OR_RETURN(gov::RetentionRule out, retention.Set(std::move(rule)));
  if (global.json) {
    PrintJson(gov::RetentionRuleToJson(out));
  } else if (!global.quiet) {
    std::cout << "Dataset \"" << out.dataset << "\""
              << (out.category.empty() ? std::string() : " (columns of " + out.category + ")") << " is kept "
              << DaysText(out.days) << " from " << gov::RetentionTriggerText(out)
              << " (audited); veil retention enforce erases what is due\n";
  }
  return absl::OkStatus();
}

nlohmann::ordered_json DatasetRetentionToJson(const gov::DatasetRetention& d) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const gov::RetentionRule& r : d.rules) rules.push_back(gov::RetentionRuleToJson(r));
  nlohmann::ordered_json holds = nlohmann::ordered_json::array();
  for (const gov::LegalHold& h : d.holds) holds.push_back(gov::LegalHoldToJson(h));
  nlohmann::ordered_json upcoming = nlohmann::ordered_json::array();
  for (const auto& [day, n] : d.upcoming)
    upcoming.push_back({{"date", absl::FormatCivilTime(day)}, {"subjects", n}});
  return {{"dataset", d.dataset},
          {"rules", rules},
          {"holds", holds},
          {"subjects", d.subjects},
          {"due", d.due},
          {"held", d.held},
          {"undated", d.undated},
          {"next_due",
           d.next_due ? nlohmann::ordered_json(FormatUtc(*d.next_due)) : nlohmann::ordered_json(nullptr)},
          {"upcoming", upcoming},
          {"notes", d.notes},
          {"error", d.error.ok() ? nlohmann::ordered_json(nullptr)
                                 : nlohmann::ordered_json(std::string(d.error.message()))}};
}

// The datasets whose status could not be computed, in words ("" if none): the command prints every dataset,
// then fails with this (exit 4: a vault file failed its check).
std::string RetentionFailures(const std::vector<gov::DatasetRetention>& datasets) {
  std::string out;
  for (const gov::DatasetRetention& d : datasets) {
    if (d.error.ok()) continue;
    absl::StrAppend(&out, out.empty() ? "" : "; ", "the retention of dataset \"", d.dataset,
                    "\" could not be computed: ", d.error.message());
  }
  return out;
}

absl::Status FailIfAny(const std::vector<gov::DatasetRetention>& datasets, const std::string& what) {
  const std::string failures = RetentionFailures(datasets);
  if (failures.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(failures, "; ", what));
}

void PrintDatasetRetention(const gov::DatasetRetention& d, bool enforced) {
  std::cout << "Dataset \"" << d.dataset << "\": " << WithThousands(d.subjects)
            << (enforced ? " subjects before this run\n" : " subjects\n");
  std::vector<std::vector<std::string>> rows;
  for (const gov::RetentionRule& r : d.rules) {
    rows.push_back({r.category.empty() ? "(whole dataset)" : r.category, DaysText(r.days),
                    gov::RetentionTriggerText(r), r.set_by, FormatUtc(r.set_at)});
  }
  PrintTable({"category", "kept", "from", "set by", "set at"}, rows);
  for (const gov::LegalHold& h : d.holds) {
    std::cout << "  legal hold #" << h.id << " on "
              << (h.pseudonym.empty() ? std::string("the whole dataset") : "subject " + Short(h.pseudonym))
              << " (" << h.reason << ", by " << h.placed_by << " " << FormatUtc(h.placed_at) << ")\n";
  }
  std::cout << "  " << (enforced ? "erased now: " : "due now: ") << WithThousands(d.due);
  if (d.held > 0) std::cout << "; due but kept under legal holds: " << WithThousands(d.held);
  std::cout << "; next due: " << (d.next_due ? FormatUtc(*d.next_due) : std::string("-")) << "\n";
  if (!d.error.ok()) {
    std::cout << "  could NOT be computed: " << d.error.message() << "\n";
  }
  for (const auto& [day, n] : d.upcoming)
    std::cout << "    " << absl::FormatCivilTime(day) << ": " << WithThousands(n) << " subject(s)\n";
  for (const std::string& note : d.notes) std::cout << "  note: " << note << "\n";
}

absl::Status RunRetentionStatus(const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::RetentionStatus status, gov::Retention(*session).Status());
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const gov::DatasetRetention& d : status.datasets) list.push_back(DatasetRetentionToJson(d));
    PrintJson({{"now", FormatUtc(status.now)}, {"datasets", list}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (status.datasets.empty()) {
    std::cout
        << "No retention rules (veil retention set --dataset D --days N --trigger ingest|column:NAME)\n";
    return absl::OkStatus();
  }
  std::cout << "Retention at " << FormatUtc(status.now) << "\n";
  for (const gov::DatasetRetention& d : status.datasets) {
    std::cout << "\n";
    PrintDatasetRetention(d, false);
  }
  return FailIfAny(status.datasets, "the other datasets' status is above");
}

absl::Status RunRetentionEnforce(const RetentionArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::EnforceResult r, gov::Retention(*session).Enforce(args.dry_run));
  int64_t due = 0;
  for (const gov::DatasetRetention& d : r.status.datasets) due += d.due;
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const gov::DatasetRetention& d : r.status.datasets) list.push_back(DatasetRetentionToJson(d));
    PrintJson(
        {{"at", FormatUtc(r.status.now)},
         {"dry_run", r.dry_run},
         {"due", due},
         {"erased_subjects", r.erased_subjects},
         {"erased_rows", r.erased_rows},
         {"keys_destroyed", r.keys_destroyed},
         {"held", r.held},
         {"audit_seq", r.audit_seq ? nlohmann::ordered_json(*r.audit_seq) : nlohmann::ordered_json(nullptr)},
         {"datasets", list}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (r.dry_run) {
    std::cout << "Dry run at " << FormatUtc(r.status.now) << ": " << WithThousands(due)
              << " subject record(s) due would be erased"
              << (r.held > 0 ? absl::StrCat(", ", r.held, " kept under legal holds") : "")
              << "; nothing was changed\n";
  } else if (r.erased_subjects == 0) {
    std::cout << "Nothing was due at " << FormatUtc(r.status.now) << ": nothing erased"
              << (r.held > 0 ? absl::StrCat("; ", r.held, " due record(s) kept under legal holds") : "")
              << " (audit entry #" << *r.audit_seq << ")\n";
  } else {
    std::cout << "Erased " << WithThousands(r.erased_subjects) << " subject record(s), "
              << WithThousands(r.erased_rows) << " rows, by crypto-shredding (" << r.keys_destroyed
              << " data keys destroyed)"
              << (r.held > 0 ? absl::StrCat("; ", r.held, " due record(s) kept under legal holds") : "")
              << " (audit entry #" << *r.audit_seq << ")\n";
  }
  for (const gov::DatasetRetention& d : r.status.datasets) {
    std::cout << "\n";
    PrintDatasetRetention(d, !r.dry_run);
  }
  return FailIfAny(r.status.datasets, r.dry_run
                                          ? "the other datasets are above"
                                          : "nothing was erased there; the other datasets were enforced");
}

absl::Status RunHold(const RetentionArgs& args, bool release, const GlobalOptions& global) {
  std::optional<std::string_view> subject;
  if (!args.subject.empty()) subject = args.subject;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  gov::Retention retention(*session);
  const std::string who =
      subject ? "subject " + Short(session->Pseudonym(*subject)) + " in dataset" : std::string("dataset");
  if (release) {
    VEIL_ASSIGN_OR_RETURN(int64_t n, retention.Release(args.dataset, subject));
    if (global.json) {
      PrintJson({{"dataset", args.dataset}, {"released", n}});
    } else if (!global.quiet) {
      std::cout << "Released the legal hold on " << who << " \"" << args.dataset << "\" (audited)\n";
    }
    return absl::OkStatus();
  }
  if (args.reason.empty()) return absl::InvalidArgumentError("--reason CODE is required");
  VEIL_ASSIGN_OR_RETURN(gov::LegalHold h, retention.Hold(args.dataset, subject, args.reason));
  if (global.json) {
    PrintJson(gov::LegalHoldToJson(h));
  } else if (!global.quiet) {
    std::cout << "Placed legal hold #" << h.id << " on " << who << " \"" << h.dataset << "\" (" << h.reason
              << "; audited): retention erases nothing it covers until it is released\n";
  }
  return absl::OkStatus();
}

void RegisterRetention(CLI::App& app, Cli& cli) {
  CLI::App* cmd = app.add_subcommand(
      "retention", "Retention periods, what is due when, erasure of what is due, legal holds");
  cmd->require_subcommand(1);
  {
    auto a = std::make_shared<RetentionArgs>();
    CLI::App* c =
        cmd->add_subcommand("set", "Set how long a dataset (or a data category in it) is kept (owner)");
    c->add_option("--dataset", a->dataset, "The dataset")->required();
    c->add_option("--category", a->category,
                  "A data category the dataset holds (e.g. user.contact); default: the whole dataset");
    c->add_option("--days", a->days, "The period in days (1 to 36500)");
    c->add_option(
         "--trigger", a->trigger,
         "ingest (when the subject's rows last arrived) or column:NAME (the subject's latest date in "
         "a date or timestamp column)")
        ->capture_default_str();
    c->add_flag("--remove", a->remove, "Remove the rule instead");
    c->callback([a, &cli] {
      cli.action = [a, &cli]() -> absl::Status {
        if (!a->remove && a->days == 0)
          return absl::InvalidArgumentError("--days N is required (1 to 36500)");
        return RunRetentionSet(*a, cli.options);
      };
    });
  }
  {
    CLI::App* c = cmd->add_subcommand("status", "What is due when (owner, auditor)");
    c->callback([&cli] { cli.action = [&cli] { return RunRetentionStatus(cli.options); }; });
  }
  {
    auto a = std::make_shared<RetentionArgs>();
    CLI::App* c = cmd->add_subcommand(
        "enforce",
        "Erase what is due by crypto-shredding, as veil erase does (owner; one audit entry per run)");
    c->add_flag("--dry-run", a->dry_run, "Only say what would be erased");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunRetentionEnforce(*a, cli.options); }; });
  }
  for (const bool release : {false, true}) {
    auto a = std::make_shared<RetentionArgs>();
    CLI::App* c = cmd->add_subcommand(
        release ? "release" : "hold",
        release ? "Release a legal hold (owner)"
                : "Place a legal hold: retention erases nothing it covers until released (owner)");
    c->add_option("--dataset", a->dataset, "The dataset")->required();
    c->add_option("--subject", a->subject, "One subject's id (default: the whole dataset)");
    if (!release) c->add_option("--reason", a->reason, "A reason code, e.g. litigation-2026-04")->required();
    c->callback([a, release, &cli] {
      cli.action = [a, release, &cli] { return RunHold(*a, release, cli.options); };
    });
  }
}

// --- veil dsr ... ---

struct DsrArgs {
  int64_t id = 0;
  std::string kind;
  std::string subject;
  std::string dataset;
  std::string purpose;
  std::string note;
  std::string reason;
  std::string output;
  bool rectified = false;
  bool overdue = false;
};

void PrintDsr(const gov::DsrRequest& r, absl::Time now) {
  std::cout << "Subject request #" << r.id << ": " << gov::DsrKindName(r.kind) << " ("
            << gov::DsrKindArticle(r.kind) << ") of subject " << Short(r.pseudonym)
            << (r.dataset.empty() ? std::string(" in every dataset") : " in dataset \"" + r.dataset + "\"")
            << (r.purpose.empty() ? std::string() : ", purpose \"" + r.purpose + "\"") << "\n";
  std::cout << "  state     " << gov::DsrStateText(r) << (r.verified ? "" : " (identity not verified yet)")
            << "\n";
  std::cout << "  received  " << FormatUtc(r.received) << (r.note.empty() ? "" : "  note " + r.note) << "\n";
  std::cout << "  due       " << FormatUtc(r.due)
            << (r.extension_reason ? "  (extended, Art. 12(3): " + *r.extension_reason + ")" : "")
            << (r.overdue(now) ? "  OVERDUE" : "") << "\n";
  if (r.rejection_reason) std::cout << "  rejected  " << *r.rejection_reason << "\n";
  if (r.kind == gov::DsrKind::kRectification && !r.finished())
    std::cout << "  note      Veil does not rewrite sealed records in place: correct the rows at the source, "
                 "re-ingest them (veil ingest --mode replace), then veil dsr run "
              << r.id << " --rectified\n";
  if (!r.outcome.empty()) std::cout << "  outcome   " << r.outcome.dump() << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const gov::DsrStep& s : r.steps) {
    rows.push_back({absl::StrCat(s.seq), s.step, gov::DsrStateName(s.state), FormatUtc(s.at), s.actor,
                    s.audit_seq ? absl::StrCat("#", *s.audit_seq) : "-", s.detail});
  }
  std::cout << "\n";
  PrintTable({"#", "step", "state", "at", "actor", "audit", "detail"}, rows, {true});
}

// Prints a request after a step (or its JSON).
absl::Status ShowDsr(gov::Session& session, const gov::DsrRequest& r, const std::string& what,
                     const GlobalOptions& global) {
  const absl::Time now = session.workspace().env().Now();
  if (global.json) {
    PrintJson(gov::DsrRequestToJson(r, now));
  } else if (!global.quiet) {
    std::cout << what << " (audited)\n";
    PrintDsr(r, now);
  }
  return absl::OkStatus();
}

absl::Status RunDsrOpen(const DsrArgs& a, const GlobalOptions& global) {
  const std::optional<gov::DsrKind> kind = gov::ParseDsrKind(a.kind);
  if (!kind)
    return absl::InvalidArgumentError(absl::StrCat(
        "--kind must be access, portability, rectification, erasure, restriction or objection, not \"",
        Shorten(a.kind, 40), "\""));
  gov::DsrOpenRequest r;
  r.kind = *kind;
  r.subject_id = a.subject;
  r.dataset = a.dataset;
  r.purpose = a.purpose;
  r.note = a.note;
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(const gov::DsrRequest out, gov::SubjectRequests(*session).Open(r));
  return ShowDsr(*session, out, absl::StrCat("Opened subject request #", out.id), global);
}

absl::Status RunDsrStep(const DsrArgs& a, std::string_view step, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  gov::SubjectRequests dsr(*session);
  absl::StatusOr<gov::DsrRequest> r = step == "verify"   ? dsr.Verify(a.id)
                                      : step == "reject" ? dsr.Reject(a.id, a.reason)
                                      : step == "extend" ? dsr.Extend(a.id, a.reason)
                                                         : dsr.Get(a.id);
  if (!r.ok()) return r.status();
  const std::string what = step == "verify"   ? "Identity verified"
                           : step == "reject" ? "Rejected"
                           : step == "extend" ? "Deadline extended"
                                              : "";
  if (step == "status") {
    if (global.json) {
      PrintJson(gov::DsrRequestToJson(*r, session->workspace().env().Now()));
    } else {
      PrintDsr(*r, session->workspace().env().Now());
    }
    return absl::OkStatus();
  }
  return ShowDsr(*session, *r, absl::StrCat(what, ": subject request #", r->id), global);
}

// Portability's CSV files: next to OUT, named after it and the dataset (out.json -> out.patients.csv).
std::string CsvPathFor(const std::string& output, const std::string& dataset) {
  std::string stem = output;
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  return absl::StrCat(stem, ".", dataset, ".csv");
}

absl::Status RunDsrRun(const DsrArgs& a, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  gov::SubjectRequests dsr(*session);
  // Where the document goes is checked before the run, which releases it only once.
  if (!a.output.empty()) {
    const std::filesystem::path parent = std::filesystem::path(a.output).parent_path();
    if (std::filesystem::is_directory(a.output) ||
        (!parent.empty() && !std::filesystem::is_directory(parent)))
      return absl::InvalidArgumentError(
          absl::StrCat("-o ", a.output, ": not a file in an existing directory"));
  }
  gov::DsrRunOptions options;
  // Checked on the request the run loads, before it records or releases anything.
  options.check = [&a](const gov::DsrRequest& r) {
    if (r.kind == gov::DsrKind::kPortability && a.output.empty())
      return absl::InvalidArgumentError(
          "a portability request writes JSON and one CSV per dataset: give -o OUT.json");
    return absl::OkStatus();
  };
  if (!a.subject.empty()) options.subject_id = a.subject;
  options.rectified = a.rectified;
  VEIL_ASSIGN_OR_RETURN(const gov::DsrRunResult result, dsr.Run(a.id, options));
  base::Env& env = crypto::DefaultEnv();
  const bool to_stdout = !result.document.empty() && a.output.empty();
  std::vector<std::string> written;
  if (!result.document.empty()) {
    if (to_stdout) {
      std::cout << result.document << "\n";
    } else {
      VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(a.output, result.document + "\n"));
      written.push_back(a.output);
      if (result.request.kind == gov::DsrKind::kPortability) {
        for (const auto& [dataset, csv] : result.csv) {
          const std::string path = CsvPathFor(a.output, dataset);
          VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(path, csv));
          written.push_back(path);
        }
      }
    }
  }
  if (to_stdout) return absl::OkStatus();  // the document is the output
  if (global.json) {
    nlohmann::ordered_json doc = gov::DsrRequestToJson(result.request, session->workspace().env().Now());
    doc["written"] = written;
    PrintJson(doc);
  } else if (!global.quiet) {
    std::cout << "Completed subject request #" << result.request.id << " (audit entry #" << result.audit_seq
              << ")";
    if (!written.empty()) std::cout << "; wrote " << absl::StrJoin(written, ", ");
    std::cout << "\n";
    PrintDsr(result.request, session->workspace().env().Now());
  }
  return absl::OkStatus();
}

absl::Status RunDsrList(const DsrArgs& a, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenGovSession(global));
  VEIL_ASSIGN_OR_RETURN(const std::vector<gov::DsrRequest> all,
                        gov::SubjectRequests(*session).List(a.overdue));
  const absl::Time now = session->workspace().env().Now();
  if (global.json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::array();
    for (const gov::DsrRequest& r : all) doc.push_back(gov::DsrRequestToJson(r, now));
    PrintJson({{"now", FormatUtc(now)}, {"requests", doc}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (all.empty()) {
    std::cout << (a.overdue ? "No subject request is overdue\n" : "No subject requests\n");
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const gov::DsrRequest& r : all) {
    rows.push_back({absl::StrCat(r.id), gov::DsrKindName(r.kind), Short(r.pseudonym),
                    r.dataset.empty() ? "(all)" : r.dataset, gov::DsrStateText(r), FormatUtc(r.received),
                    FormatUtc(r.due) + (r.extension_reason ? " (extended)" : ""),
                    r.overdue(now) ? "OVERDUE" : ""});
  }
  PrintTable({"#", "kind", "subject", "dataset", "state", "received", "due", ""}, rows, {true});
  return absl::OkStatus();
}

void RegisterDsr(CLI::App& app, Cli& cli) {
  CLI::App* cmd = app.add_subcommand(
      "dsr", "Subject requests: access, portability, rectification, erasure, restriction, objection (owner)");
  cmd->require_subcommand(1);
  {
    auto a = std::make_shared<DsrArgs>();
    CLI::App* c = cmd->add_subcommand("open", "Record a subject's request; the Art. 12(3) month starts now");
    c->add_option("--kind", a->kind, "access, portability, rectification, erasure, restriction or objection")
        ->required();
    c->add_option("--subject", a->subject, "The subject's id (pseudonymised at once, never stored)")
        ->required();
    c->add_option("--dataset", a->dataset, "Only this dataset (default: every dataset)");
    c->add_option("--purpose", a->purpose, "An objection's purpose (default: every purpose)");
    c->add_option("--note", a->note, "A short code, e.g. a ticket number (no personal data)");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunDsrOpen(*a, cli.options); }; });
  }
  for (const char* step : {"status", "verify", "reject", "extend"}) {
    auto a = std::make_shared<DsrArgs>();
    const std::string s = step;
    CLI::App* c = cmd->add_subcommand(
        step, s == "status"   ? "A request's state, deadline and steps"
              : s == "verify" ? "Record that the requester's identity was verified"
              : s == "reject"
                  ? "Reject a request (e.g. identity not verified, manifestly unfounded: Art. 12(5))"
                  : "Extend the deadline by two months, once (Art. 12(3))");
    c->add_option("ID", a->id, "The request's number")->required();
    if (s == "reject" || s == "extend")
      c->add_option("--reason", a->reason, "A reason code, e.g. complexity, manifestly-unfounded")
          ->required();
    c->callback([a, s, &cli] { cli.action = [a, s, &cli] { return RunDsrStep(*a, s, cli.options); }; });
  }
  {
    auto a = std::make_shared<DsrArgs>();
    CLI::App* c = cmd->add_subcommand("run", "Carry a verified request out (see docs/governance.md)");
    c->add_option("ID", a->id, "The request's number")->required();
    c->add_option("-o,--output", a->output,
                  "access: the JSON document (default stdout); portability: OUT.json and OUT.DATASET.csv");
    c->add_option("--subject", a->subject, "restriction, objection: the subject's id again (not stored)");
    c->add_flag("--rectified", a->rectified,
                "rectification: the corrected rows were re-ingested (Veil does not edit sealed records)");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunDsrRun(*a, cli.options); }; });
  }
  {
    auto a = std::make_shared<DsrArgs>();
    CLI::App* c = cmd->add_subcommand("list", "Every subject request, or only the overdue ones");
    c->add_flag("--overdue", a->overdue, "Only requests past their deadline and still open");
    c->callback([a, &cli] { cli.action = [a, &cli] { return RunDsrList(*a, cli.options); }; });
  }
}

}  // namespace

void RegisterGov(CLI::App& app, Cli& cli) {
  RegisterCatalog(app, cli);
  RegisterConsent(app, cli);
  RegisterRetention(app, cli);
  RegisterDsr(app, cli);
}

}  // namespace veil::cli
