// veil attach postgresql://... --table T --subject-column C --dataset NAME --purpose P [--purpose P2 ...]
//
// Registers a PostgreSQL table as a dataset of the workspace (kind "postgresql"): its rows stay in
// PostgreSQL and are never copied into the vault; `veil query` on the dataset pushes the DP aggregation down
// to PostgreSQL (src/veil/sql/pushdown.h) and adds the noise in Veil, charged to the dataset's budget like
// any query (docs/dp.md, docs/workspace.md).
//
// The gate first (owner only; a refusal is audited), before anything is contacted. Then the table is
// described (its columns and their types: no row is read) and the catalog entry is committed with its
// audit entry. The catalog keeps the connection string WITHOUT its password
// (table::PgConninfoWithoutPassword): at query time the password comes from PGPASSWORD or ~/.pgpass, or from
// a full connection string given to `veil query --conninfo` or in the environment variable VEIL_PG_CONNINFO.
//
// Columns of types Veil does not read (uuid, json, arrays, ...) are left out of the dataset's schema and
// listed; the subject column must be one Veil reads.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/veil/cli.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/session.h"
#include "veil/store/workspace.h"
#include "veil/table/postgres_source.h"

namespace veil::cli {
namespace {

struct AttachArgs {
  std::string conninfo;
  std::string table;
  std::string subject_column;
  std::string dataset;
  std::vector<std::string> purposes;
};

// The schema that holds `name` (resolved through the connection's search_path when it names none).
absl::StatusOr<std::string> SchemaOf(table::PgConnection& pg, const table::PgTableName& name) {
  if (!name.schema.empty()) return name.schema;
  VEIL_ASSIGN_OR_RETURN(const std::string quoted, pg.QuoteTable(name));
  const std::vector<table::Value> param = {table::Value(quoted)};
  VEIL_ASSIGN_OR_RETURN(
      table::Table t,
      pg.Query("SELECT n.nspname::text AS s FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
               "n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
               param));
  if (t.num_rows() != 1) {
    return absl::NotFoundError(absl::StrCat(pg.location(), ": no table ", name.ToString()));
  }
  return std::string(t.column(0).GetString(0));
}

absl::Status RunAttach(const AttachArgs& args, const GlobalOptions& global) {
  // Everything that needs no server and no workspace first: a bad argument is a usage error.
  VEIL_ASSIGN_OR_RETURN(const table::PgTableName name, table::ParsePgTableName(args.table));
  VEIL_RETURN_IF_ERROR(store::ValidateDatasetName(args.dataset));
  if (args.purposes.empty()) {
    return absl::InvalidArgumentError("declare at least one purpose for the dataset (--purpose)");
  }
  for (const std::string& p : args.purposes) VEIL_RETURN_IF_ERROR(store::ValidatePurpose(p));
  VEIL_ASSIGN_OR_RETURN(const std::string stored_conninfo, table::PgConninfoWithoutPassword(args.conninfo));

  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  // The gate before the server is contacted: only an owner attaches (a refusal is audited).
  const nlohmann::ordered_json params = {{"dataset", args.dataset},
                                         {"engine", "postgresql"},
                                         {"conninfo", stored_conninfo},
                                         {"table", name.ToString()},
                                         {"subject_column", args.subject_column},
                                         {"purposes", args.purposes}};
  VEIL_ASSIGN_OR_RETURN(gov::GateDecision decision,
                        session->Authorize(gov::Operation::kAttach, args.dataset, "", params));

  VEIL_ASSIGN_OR_RETURN(table::PgConnection pg, table::PgConnection::Connect(args.conninfo));
  VEIL_ASSIGN_OR_RETURN(const std::string schema_name, SchemaOf(pg, name));
  const table::PgTableName qualified{schema_name, name.name};
  VEIL_ASSIGN_OR_RETURN(const std::vector<table::PgColumn> columns, pg.DescribeTable(qualified));

  store::AttachRequest request;
  request.dataset = args.dataset;
  request.subject_column = args.subject_column;
  request.purposes = args.purposes;
  std::vector<table::Field> fields;
  std::vector<std::string> skipped;
  for (const table::PgColumn& c : columns) {
    if (!c.supported) {
      skipped.push_back(absl::StrCat(c.name, " (", c.pg_type, ")"));
      continue;
    }
    fields.push_back({c.name, c.type, !c.not_null});
    request.source.columns.push_back({c.name, c.pg_type, c.type_oid});
  }
  const bool has_subject = std::any_of(fields.begin(), fields.end(),
                                       [&](const table::Field& f) { return f.name == args.subject_column; });
  if (!has_subject) {
    const bool unsupported = std::any_of(columns.begin(), columns.end(), [&](const table::PgColumn& c) {
      return c.name == args.subject_column;
    });
    return absl::InvalidArgumentError(
        unsupported ? absl::StrCat("the subject column \"", args.subject_column, "\" of ",
                                   qualified.ToString(), " has a type Veil does not read")
                    : absl::StrCat(qualified.ToString(), " has no column \"", args.subject_column,
                                   "\" to identify data subjects (--subject-column)"));
  }
  VEIL_ASSIGN_OR_RETURN(request.schema, table::Schema::Make(std::move(fields)));
  request.source.engine = "postgresql";
  request.source.conninfo = stored_conninfo;
  request.source.location = pg.location();
  request.source.schema_name = qualified.schema;
  request.source.table_name = qualified.name;
  request.source.server_version = pg.server_version();
  request.source.attached_by = session->actor();

  VEIL_ASSIGN_OR_RETURN(
      store::DatasetInfo info, session->workspace().Attach(request, [&](const store::DatasetInfo& attached) {
        return session->Record(gov::Operation::kAttach, args.dataset, "", decision, params,
                               crypto::Sha256(store::DatasetInfoToJson(attached).dump()), {});
      }));
  if (global.json) {
    PrintJson({{"dataset", store::DatasetInfoToJson(info)}, {"skipped_columns", skipped}});
  } else if (!global.quiet) {
    std::cout << "Attached dataset \"" << info.name << "\": table " << qualified.ToString() << " at "
              << info.external->location << "\n"
              << "  " << info.schema.num_fields() << " column(s), subject column \"" << info.subject_column
              << "\"; purposes: " << absl::StrJoin(info.purposes, ", ") << "\n";
    if (!skipped.empty()) {
      std::cout << "  left out (types Veil does not read): " << absl::StrJoin(skipped, ", ") << "\n";
    }
    std::cout << "  The rows stay in PostgreSQL; queries are pushed down to it and noised in Veil.\n"
              << "  The password is not stored: at query time it comes from PGPASSWORD, ~/.pgpass, or\n"
              << "  `veil query --conninfo` / VEIL_PG_CONNINFO.\n"
              << "Next: veil budget set " << info.name << " --epsilon E --delta D\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterAttach(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<AttachArgs>();
  CLI::App* cmd = app.add_subcommand(
      "attach", "Register a PostgreSQL table as a dataset; DP queries on it run in PostgreSQL (owner)");
  cmd->add_option("conninfo", args->conninfo,
                  "libpq connection string: postgresql://user@host/db or host=... dbname=... (a password in "
                  "it is used now, never stored)")
      ->required();
  cmd->add_option("--table", args->table, "The table: name or schema.name (PostgreSQL's quoting rules)")
      ->required();
  cmd->add_option("--subject-column", args->subject_column, "The column that identifies the data subject")
      ->required();
  cmd->add_option("--dataset", args->dataset, "The dataset's name in the workspace")->required();
  cmd->add_option("--purpose", args->purposes, "A purpose the data may be used for (repeatable)");
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunAttach(*args, cli.options); }; });
}

}  // namespace veil::cli
