// The workspace commands: init, ingest, datasets, export, erase, grant, revoke, grants.
//
// Each one opens the workspace as the actor (--actor / VEIL_ACTOR / the login name), with VEIL_PASSPHRASE
// for a passphrase workspace, and goes through gov::Session: the gate decides, the audit log records.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/session.h"
#include "veil/gov/taxonomy.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/classifier.h"
#include "veil/table/csv_reader.h"

namespace veil::cli {
namespace {

// The base name of a path: what the catalog keeps of a source file (directories may name people or places).
std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The data map's first draft of each column: the PII classifier's kind of data as a taxonomy category, its
// role, confidence and evidence (never a value), for a person to confirm with `veil catalog annotate`.
absl::StatusOr<std::vector<store::ColumnAnnotation>> ClassifyColumns(const table::Table& table,
                                                                     const std::string& actor) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<pii::Analyzer> analyzer, pii::Analyzer::Create({}));
  VEIL_ASSIGN_OR_RETURN(std::vector<pii::ColumnClassification> columns, pii::ClassifyTable(table, *analyzer));
  const absl::Time now = absl::Now();
  std::vector<store::ColumnAnnotation> out;
  for (const pii::ColumnClassification& c : columns) {
    store::ColumnAnnotation a;
    a.column = c.name;
    a.role = std::string(pii::ColumnRoleName(c.role));
    if (c.role == pii::ColumnRole::kFreeText) {
      a.categories = {"user.content"};
    } else if (c.role != pii::ColumnRole::kNone) {
      if (std::optional<std::string> category = gov::CategoryForClassifierLabel(c.category, c.name)) {
        a.categories = {*category};
      }
    }
    a.source = "classifier";
    a.confidence = c.confidence;
    a.evidence = c.evidence;
    a.set_by = actor;
    a.set_at = now;
    out.push_back(std::move(a));
  }
  return out;
}

// --- init ---

struct InitArgs {
  bool passphrase = false;
};

absl::Status RunInit(const InitArgs& args, const GlobalOptions& global) {
  store::WorkspaceCreateOptions options;
  if (args.passphrase) {
    options.master_key.passphrase = PassphraseFromEnv();
    if (!options.master_key.passphrase.has_value() || options.master_key.passphrase->empty()) {
      return absl::InvalidArgumentError(
          "--passphrase derives the master key from VEIL_PASSPHRASE, which is not set");
    }
  } else if (PassphraseFromEnv().has_value()) {
    return absl::InvalidArgumentError(
        "VEIL_PASSPHRASE is set but --passphrase was not given: pass --passphrase to derive the master key "
        "from it, or unset it to keep the key in a key file");
  }
  const std::string actor = ActorOf(global);
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session,
                        gov::Session::Init(crypto::DefaultEnv(), global.workspace, actor, options));
  store::Workspace& ws = session->workspace();
  const std::string method = args.passphrase ? "passphrase (Argon2id)" : "key file";
  const std::string public_key = base::HexEncode(ws.signing_key().public_key().bytes());
  if (global.json) {
    PrintJson({{"workspace", global.workspace},
               {"id", ws.id()},
               {"master_key", args.passphrase ? "passphrase" : "key_file"},
               {"owner", actor},
               {"audit_public_key", public_key}});
  } else if (!global.quiet) {
    std::cout << "Created workspace " << global.workspace << " (id " << ws.id() << ")\n"
              << "  master key:  " << method;
    if (args.passphrase) {
      std::cout << ", derived from VEIL_PASSPHRASE; nothing secret is stored\n";
    } else {
      std::cout << " " << global.workspace << "/master.key (mode 0600)\n"
                << "               keep a copy apart from the workspace: without it the data is lost\n";
    }
    std::cout << "  owner:       " << actor << "\n"
              << "  audit log:   " << ws.audit_dir() << " (Ed25519 key " << public_key.substr(0, 16)
              << "…)\n";
  }
  return absl::OkStatus();
}

// --- ingest ---

struct IngestArgs {
  std::string file;
  std::string dataset;
  std::string subject_column;
  std::vector<std::string> purposes;
  bool replace = false;
  bool append = false;
  bool no_classify = false;
  CsvArgs csv;
};

absl::Status RunIngest(const IngestArgs& args, const GlobalOptions& global) {
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(table::CsvReadOptions options, MakeReadOptions(args.csv));
  const absl::Time start = absl::Now();
  // The file is read whole first: a malformed file fails here, before the workspace is touched.
  VEIL_ASSIGN_OR_RETURN(std::string bytes, env.ReadFileToString(args.file));
  VEIL_ASSIGN_OR_RETURN(table::Table table, table::ReadCsvFromString(bytes, options, args.file));
  store::IngestRequest request;
  request.dataset = args.dataset;
  request.subject_column = args.subject_column;
  request.purposes = args.purposes;
  request.mode = args.replace  ? store::IngestMode::kReplace
                 : args.append ? store::IngestMode::kAppend
                               : store::IngestMode::kCreate;
  request.source.file_name = BaseName(args.file);
  request.source.sha256 = base::HexEncode(crypto::Sha256(bytes));
  request.source.bytes = static_cast<int64_t>(bytes.size());
  if (!args.no_classify) {
    VEIL_ASSIGN_OR_RETURN(request.annotations, ClassifyColumns(table, ActorOf(global)));
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(store::IngestResult result, session->Ingest(table, request));
  const absl::Duration elapsed = absl::Now() - start;
  const store::DatasetInfo& d = result.dataset;
  if (global.json) {
    PrintJson({{"dataset", store::DatasetInfoToJson(d)},
               {"rows_added", result.rows_added},
               {"subjects_in_file", result.subjects_in_file},
               {"new_subjects", result.new_subjects},
               {"removed_subjects", result.removed_subjects},
               {"seconds", absl::ToDoubleSeconds(elapsed)}});
  } else if (!global.quiet) {
    std::cout << "Ingested " << WithThousands(result.rows_added) << " rows of "
              << WithThousands(result.subjects_in_file) << " subjects (" << WithThousands(result.new_subjects)
              << " new) from " << request.source.file_name << " into dataset \"" << d.name << "\" ("
              << store::IngestModeName(request.mode) << ") in " << FormatElapsed(elapsed) << "\n"
              << "  now " << WithThousands(d.rows) << " rows, " << WithThousands(d.subjects) << " subjects, "
              << d.schema.num_fields() << " columns; each subject's rows sealed under their own key ("
              << WithThousands(d.vault_files) << " vault file" << (d.vault_files == 1 ? "" : "s") << ", "
              << FormatBytes(d.vault_bytes) << ")\n"
              << "  purposes: "
              << (d.purposes.empty() ? "(none: no purpose-bound use is possible)"
                                     : absl::StrJoin(d.purposes, ", "))
              << "\n";
    if (!args.no_classify) {
      int personal = 0;
      for (const store::ColumnAnnotation& a : request.annotations) personal += a.categories.empty() ? 0 : 1;
      std::cout << "  data map: " << personal << " of " << d.schema.num_fields()
                << " columns hold personal data according to the classifier; review with `veil catalog "
                << d.name << "` and confirm or correct with `veil catalog annotate`\n";
    }
    if (result.removed_subjects > 0) {
      std::cout << "  " << WithThousands(result.removed_subjects)
                << " subjects of the replaced version are gone, and their data keys destroyed\n";
    }
  }
  return absl::OkStatus();
}

// --- datasets ---

struct DatasetsArgs {
  std::string name;
};

void PrintAttached(const store::DatasetInfo& d) {
  const store::ExternalSource& x = *d.external;
  std::cout << "Dataset \"" << d.name << "\": attached PostgreSQL table \"" << x.schema_name << "\".\""
            << x.table_name << "\" (subject column \"" << d.subject_column << "\")\n"
            << "  at:        " << x.location << " (server " << x.server_version / 10000 << "."
            << x.server_version % 10000 << ")\n"
            << "  conninfo:  " << x.conninfo << " (no password stored)\n"
            << "  purposes:  " << (d.purposes.empty() ? "(none)" : absl::StrJoin(d.purposes, ", ")) << "\n"
            << "  attached " << FormatUtc(x.attached_at) << " by " << x.attached_by
            << "; the rows stay in PostgreSQL (none in the vault)\n\n";
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < d.schema.num_fields(); ++i) {
    const table::Field& f = d.schema.field(i);
    rows.push_back({absl::StrCat(i + 1), f.name, std::string(table::DataTypeName(f.type)),
                    x.columns[static_cast<size_t>(i)].source_type,
                    f.name == d.subject_column ? "subject id" : ""});
  }
  PrintTable({"#", "column", "type", "PostgreSQL type", ""}, rows, {true});
}

void PrintDataset(const store::DatasetInfo& d) {
  if (d.external.has_value()) {
    PrintAttached(d);
    return;
  }
  std::cout << "Dataset \"" << d.name << "\": " << WithThousands(d.rows) << " rows, "
            << WithThousands(d.subjects) << " subjects (subject column \"" << d.subject_column << "\")\n"
            << "  purposes: " << (d.purposes.empty() ? "(none)" : absl::StrJoin(d.purposes, ", ")) << "\n"
            << "  created " << FormatUtc(d.created_at) << ", updated " << FormatUtc(d.updated_at) << "; "
            << WithThousands(d.vault_files) << " vault file(s), " << FormatBytes(d.vault_bytes) << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < d.schema.num_fields(); ++i) {
    const table::Field& f = d.schema.field(i);
    rows.push_back({absl::StrCat(i + 1), f.name, std::string(table::DataTypeName(f.type)),
                    f.name == d.subject_column ? "subject id" : ""});
  }
  PrintTable({"#", "column", "type", ""}, rows, {true});
  std::cout << "\nSources:\n";
  rows.clear();
  for (const store::DatasetSource& s : d.sources) {
    rows.push_back({FormatUtc(s.ingested_at), s.mode, s.file_name, WithThousands(s.rows),
                    FormatBytes(s.bytes), s.sha256.substr(0, 16) + "…"});
  }
  PrintTable({"ingested", "mode", "file", "rows", "size", "sha256"}, rows, {false, false, false, true, true});
}

absl::Status RunDatasets(const DatasetsArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  if (!args.name.empty()) {
    VEIL_ASSIGN_OR_RETURN(store::DatasetInfo d, session->GetDataset(args.name));
    if (global.json) {
      PrintJson(store::DatasetInfoToJson(d));
    } else if (!global.quiet) {
      PrintDataset(d);
    }
    return absl::OkStatus();
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<store::DatasetInfo> all, session->ListDatasets());
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const store::DatasetInfo& d : all) list.push_back(store::DatasetInfoToJson(d));
    PrintJson({{"datasets", list}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (all.empty()) {
    std::cout << "No datasets yet. Add one with: veil ingest FILE.csv --dataset NAME --subject-column COLUMN "
                 "--purpose PURPOSE\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const store::DatasetInfo& d : all) {
    // An attached dataset's rows are not counted (they live in PostgreSQL).
    const bool attached = d.external.has_value();
    rows.push_back({d.name, d.kind, attached ? "-" : WithThousands(d.rows),
                    attached ? "-" : WithThousands(d.subjects), absl::StrCat(d.schema.num_fields()),
                    absl::StrJoin(d.purposes, ","), FormatUtc(d.updated_at)});
  }
  PrintTable({"dataset", "kind", "rows", "subjects", "columns", "purposes", "updated"}, rows,
             {false, false, true, true, true});
  return absl::OkStatus();
}

// --- export ---

struct ExportArgs {
  std::string dataset;
  std::string purpose;
  std::string output;
};

absl::Status RunExport(const ExportArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(gov::ExportResult result, session->Export(args.dataset, args.purpose));
  if (args.output.empty() || args.output == "-") {
    std::cout << result.csv;
    return absl::OkStatus();
  }
  VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(args.output, result.csv));
  if (global.json) {
    PrintJson({{"dataset", args.dataset},
               {"purpose", args.purpose},
               {"rows", result.dataset.rows},
               {"file", args.output},
               {"sha256", base::HexEncode(crypto::Sha256(result.csv))}});
  } else if (!global.quiet) {
    std::cout << "Exported " << WithThousands(result.dataset.rows) << " rows of \"" << args.dataset
              << "\" to " << args.output << " for purpose \"" << args.purpose << "\" (audited)\n";
  }
  return absl::OkStatus();
}

// --- erase ---

struct EraseArgs {
  std::string subject;
  std::string dataset;
};

absl::Status RunErase(const EraseArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  std::optional<std::string_view> dataset;
  if (!args.dataset.empty()) dataset = args.dataset;
  const std::string pseudonym = session->workspace().Pseudonym(args.subject);
  VEIL_ASSIGN_OR_RETURN(store::EraseResult r, session->Erase(args.subject, dataset));
  if (global.json) {
    PrintJson({{"subject_pseudonym", pseudonym},
               {"datasets", r.datasets},
               {"rows_removed", r.rows_removed},
               {"keys_destroyed", r.keys_destroyed}});
  } else if (!global.quiet) {
    // The subject id is not echoed: terminals and CI logs keep what they print.
    if (r.datasets.empty() && r.keys_destroyed == 0) {
      std::cout << "No records of that subject (pseudonym " << pseudonym.substr(0, 16) << "…)"
                << (dataset ? absl::StrCat(" in dataset \"", args.dataset, "\"") : std::string())
                << "; nothing to erase\n";
    } else {
      std::cout
          << "Erased subject " << pseudonym.substr(0, 16) << "…: " << WithThousands(r.rows_removed)
          << " rows removed from " << r.datasets.size() << " dataset(s) (" << absl::StrJoin(r.datasets, ", ")
          << "), " << r.keys_destroyed << " data key(s) destroyed\n"
          << "  copies of the vault files made before now can no longer be decrypted for this subject\n";
    }
  }
  return absl::OkStatus();
}

// --- grant, revoke, grants ---

struct GrantArgs {
  std::string actor;
  std::string role;
};

absl::StatusOr<gov::Role> ParseRoleArg(const std::string& name) {
  std::optional<gov::Role> role = gov::ParseRole(name);
  if (!role) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown role \"", Shorten(name, 20), "\" (one of owner, analyst, auditor)"));
  }
  return *role;
}

absl::Status RunGrant(const GrantArgs& args, bool revoke, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(gov::Role role, ParseRoleArg(args.role));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_RETURN_IF_ERROR(revoke ? session->Revoke(args.actor, role) : session->Grant(args.actor, role));
  if (global.json) {
    PrintJson({{revoke ? "revoked" : "granted", {{"actor", args.actor}, {"role", gov::RoleName(role)}}}});
  } else if (!global.quiet) {
    std::cout << (revoke ? "Revoked role " : "Granted role ") << gov::RoleName(role)
              << (revoke ? " from " : " to ") << args.actor << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunGrants(const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(std::vector<gov::RoleGrant> grants, session->ListGrants());
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const gov::RoleGrant& g : grants) {
      list.push_back({{"actor", g.actor},
                      {"role", gov::RoleName(g.role)},
                      {"granted_by", g.granted_by},
                      {"granted_at", FormatUtc(g.granted_at)}});
    }
    PrintJson({{"grants", list}});
  } else if (!global.quiet) {
    std::vector<std::vector<std::string>> rows;
    for (const gov::RoleGrant& g : grants)
      rows.push_back({g.actor, gov::RoleName(g.role), g.granted_by, FormatUtc(g.granted_at)});
    PrintTable({"actor", "role", "granted by", "granted at"}, rows);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterWorkspace(CLI::App& app, Cli& cli) {
  {
    auto args = std::make_shared<InitArgs>();
    CLI::App* cmd = app.add_subcommand("init", "Create a workspace: master key, vault, key store, audit log");
    cmd->add_flag("--passphrase", args->passphrase,
                  "Derive the master key from VEIL_PASSPHRASE (Argon2id) instead of keeping a key file");
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunInit(*args, cli.options); }; });
  }
  {
    auto args = std::make_shared<IngestArgs>();
    CLI::App* cmd = app.add_subcommand(
        "ingest", "Store a CSV file in the vault, each subject's rows encrypted under their own key");
    cmd->add_option("file", args->file, "The CSV file")->required();
    cmd->add_option("--dataset", args->dataset, "Dataset name")->required();
    cmd->add_option("--subject-column", args->subject_column,
                    "The column that identifies the data subject (the privacy unit)")
        ->required();
    cmd->add_option("--purpose", args->purposes,
                    "A purpose the data may be used for (repeatable), e.g. care, research.cohort");
    auto* replace = cmd->add_flag("--replace", args->replace, "Replace the dataset's contents");
    auto* append = cmd->add_flag("--append", args->append, "Add the rows to the dataset");
    replace->excludes(append);
    cmd->add_flag("--no-classify", args->no_classify,
                  "Do not classify the columns for the data map (veil catalog annotate sets them by hand)");
    AddCsvOptions(cmd, args->csv);
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunIngest(*args, cli.options); }; });
  }
  {
    auto args = std::make_shared<DatasetsArgs>();
    CLI::App* cmd = app.add_subcommand("datasets", "List the datasets of the workspace, or show one");
    cmd->add_option("name", args->name, "Show this dataset's columns and sources");
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunDatasets(*args, cli.options); }; });
  }
  {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* cmd =
        app.add_subcommand("export", "Decrypt a dataset to CSV (owner only, for a declared purpose)");
    cmd->add_option("dataset", args->dataset, "Dataset name")->required();
    cmd->add_option("--purpose", args->purpose, "Why: one of the dataset's declared purposes");
    cmd->add_option("--output,-o", args->output, "Write to this file instead of stdout");
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunExport(*args, cli.options); }; });
  }
  {
    auto args = std::make_shared<EraseArgs>();
    CLI::App* cmd = app.add_subcommand(
        "erase", "Erase a data subject (GDPR Art. 17): remove their records and destroy their keys");
    cmd->add_option("--subject", args->subject, "The subject's id (value of the subject column)")->required();
    cmd->add_option("--dataset", args->dataset, "Only from this dataset (default: all)");
    cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunErase(*args, cli.options); }; });
  }
  for (const bool revoke : {false, true}) {
    auto args = std::make_shared<GrantArgs>();
    CLI::App* cmd = app.add_subcommand(revoke ? "revoke" : "grant",
                                       revoke ? "Take a role away from an actor" : "Give an actor a role");
    cmd->add_option("actor", args->actor, "The actor")->required();
    cmd->add_option("role", args->role, "owner, analyst or auditor")->required();
    cmd->callback([args, revoke, &cli] {
      cli.action = [args, revoke, &cli] { return RunGrant(*args, revoke, cli.options); };
    });
  }
  {
    CLI::App* cmd = app.add_subcommand("grants", "List who holds which role");
    cmd->callback([&cli] { cli.action = [&cli] { return RunGrants(cli.options); }; });
  }
}

}  // namespace veil::cli
