// veil query "SQL" [--dataset NAME] [--purpose P] [--explain] [--json]
//
// A differentially private SQL query (src/veil/sql, docs/dp.md) on a dataset of the workspace. The query is
// parsed, bound to the dataset's schema (from the catalog) and planned, and its privacy cost computed, before
// anything else; then gov::Session::RunCharged puts it through the gate (owner or analyst, a purpose declared
// for the dataset), checks and reserves the cost in the dataset's budget before any data is read, runs it
// with noise from the OS CSPRNG, audits it and commits the charge, and only then is the result printed.
//
// --explain prints the plan, the cost and the expected error of each output column from the schema alone: no
// data is read and no budget is spent (nor audited: it involves no personal data).
//
// An attached dataset (`veil attach`, kind "postgresql") takes the same path through
// gov::Session::RunChargedExternal, which does not read the vault: the aggregation is pushed down to
// PostgreSQL (sql::RunPushdownQuery: WHERE, contribution bounding and the per-group sums run there, one
// statement; partition selection and noise in Veil), or, for what the push-down cannot do (quantiles,
// automatic bounds, expressions as group keys or aggregate arguments), the table's columns are read with
// table::PgConnection::ReadTable and the in-memory engine runs. --explain says which, and shows the SQL sent
// to PostgreSQL. The connection: --conninfo, else VEIL_PG_CONNINFO, else the stored connection string
// (without password: libpq then takes it from PGPASSWORD or ~/.pgpass).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/veil/cli.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"
#include "veil/gov/session.h"
#include "veil/sql/executor.h"
#include "veil/sql/parser.h"
#include "veil/sql/planner.h"
#include "veil/sql/pushdown.h"
#include "veil/store/ledger.h"
#include "veil/table/postgres_source.h"

namespace veil::cli {
namespace {

struct QueryArgs {
  std::string sql;
  std::string dataset;
  std::string purpose;
  bool explain = false;
  std::string conninfo;  // attached datasets: overrides VEIL_PG_CONNINFO and the stored connection string
};

// --- Attached (PostgreSQL) datasets.

// The connection string for an attached dataset: --conninfo, else VEIL_PG_CONNINFO, else the stored one.
std::string ConninfoFor(const store::ExternalSource& source, const QueryArgs& args) {
  if (!args.conninfo.empty()) return args.conninfo;
  if (const char* env = std::getenv("VEIL_PG_CONNINFO"); env != nullptr && env[0] != '\0') return env;
  return source.conninfo;
}

// The catalog's columns as DescribeTable reports them (what BuildPushdownStatement needs).
std::vector<table::PgColumn> CatalogColumns(const store::DatasetInfo& info) {
  std::vector<table::PgColumn> out;
  for (int i = 0; i < info.schema.num_fields(); ++i) {
    const table::Field& f = info.schema.field(i);
    const store::ExternalColumn& c = info.external->columns[static_cast<size_t>(i)];
    out.push_back({f.name, c.source_type, c.type_oid, !f.nullable, true, f.type});
  }
  return out;
}

// OK if `q` can be pushed down, else Unimplemented with the reason.
absl::Status PushdownPossible(const sql::PreparedQuery& q) {
  if (!q.derived_columns().empty()) {
    return absl::UnimplementedError(
        "a group key or an aggregate's argument is an expression, which the push-down does not compute");
  }
  return sql::BoundedSumsFor(q.plan()).status();
}

// The table as attached must still have the columns the catalog recorded (names, types); others may have
// been added. FailedPrecondition naming the first difference.
absl::Status CheckColumns(const store::DatasetInfo& info, const std::vector<table::PgColumn>& now) {
  for (const table::PgColumn& want : CatalogColumns(info)) {
    const auto it =
        std::find_if(now.begin(), now.end(), [&](const table::PgColumn& c) { return c.name == want.name; });
    if (it == now.end() || !it->supported || it->type != want.type || it->not_null != want.not_null) {
      return absl::FailedPreconditionError(
          absl::StrCat("the table of dataset \"", info.name, "\" changed since it was attached: column \"",
                       want.name, "\" ", it == now.end() ? "is gone" : "has another type or nullability",
                       " (attach it again under another name)"));
    }
  }
  return absl::OkStatus();
}

// Runs `q` on the attached dataset: pushed down when possible, else ReadTable + the in-memory engine.
absl::StatusOr<sql::QueryOutput> RunOnPostgres(const sql::PreparedQuery& q, const sql::Query& parsed,
                                               const store::DatasetInfo& info, const QueryArgs& args,
                                               dp::RandomBits& bits) {
  VEIL_ASSIGN_OR_RETURN(table::PgConnection pg,
                        table::PgConnection::Connect(ConninfoFor(*info.external, args)));
  const table::PgTableName name{info.external->schema_name, info.external->table_name};
  VEIL_ASSIGN_OR_RETURN(const std::vector<table::PgColumn> now, pg.DescribeTable(name));
  VEIL_RETURN_IF_ERROR(CheckColumns(info, now));
  if (PushdownPossible(q).ok()) {
    VEIL_ASSIGN_OR_RETURN(dp::QueryResult result,
                          sql::RunPushdownQuery(pg, name, q.plan(), parsed.where.get(), bits));
    return sql::OutputFromResult(q, std::move(result));
  }
  table::PgReadOptions read;
  for (const table::Field& f : info.schema.fields()) read.columns.push_back(f.name);
  VEIL_ASSIGN_OR_RETURN(table::Table t, pg.ReadTable(name, read));
  return sql::ExecuteQuery(q, t, bits);
}

// What --explain adds for an attached dataset: where the work runs, and the statement sent.
absl::StatusOr<nlohmann::ordered_json> ExplainPostgres(const sql::PreparedQuery& q, const sql::Query& parsed,
                                                       const store::DatasetInfo& info) {
  const table::PgTableName name{info.external->schema_name, info.external->table_name};
  nlohmann::ordered_json out = {{"location", info.external->location}, {"table", name.ToString()}};
  const absl::Status possible = PushdownPossible(q);
  if (!possible.ok()) {
    out["mode"] = "read";
    out["reason"] = std::string(possible.message());
    return out;
  }
  VEIL_ASSIGN_OR_RETURN(const std::vector<sql::BoundedSum> sums, sql::BoundedSumsFor(q.plan()));
  VEIL_ASSIGN_OR_RETURN(
      const sql::PushdownStatement st,
      sql::BuildPushdownStatement(name, CatalogColumns(info), q.plan(), sums, parsed.where.get(), 0));
  out["mode"] = "pushdown";
  out["sql"] = st.sql;
  out["parameters"] = st.params.size();
  return out;
}

std::string Cell(const table::Table& t, int64_t row, int col) {
  if (t.IsNull(row, col)) return "NULL";
  if (t.column(col).type() == table::DataType::kDouble) return FormatNumber(t.column(col).GetDouble(row));
  return t.FormatValue(row, col);
}

// What the ledger records of the query: what it computes, in terms of the schema only, and a hash of its
// text. Never the text itself: literals in WHERE (or in an aggregate's argument) may be personal data.
std::string ChargeDescription(const sql::PreparedQuery& q) {
  const dp::QueryPlan& plan = q.plan();
  const auto in_schema = [&](const std::string& c) { return q.schema().FindField(c).has_value(); };
  std::vector<std::string> aggregates;
  for (const dp::Aggregate& a : plan.aggregates) {
    std::string name(dp::AggregateFunctionName(a.function));
    if (!a.column.empty() && name.find('(') == std::string::npos)
      absl::StrAppend(&name, "(", in_schema(a.column) ? a.column : "expression", ")");
    aggregates.push_back(std::move(name));
  }
  std::vector<std::string> keys;
  for (const dp::GroupBy& g : plan.group_by) {
    std::string key = in_schema(g.column) ? g.column : "expression";
    if (!g.bucket_boundaries.empty()) key = absl::StrCat("RANGE_BUCKET(", key, ")");
    keys.push_back(std::move(key));
  }
  std::string d = absl::StrJoin(aggregates, ", ");
  if (!keys.empty()) absl::StrAppend(&d, " GROUP BY ", absl::StrJoin(keys, ", "));
  if (q.where() != nullptr) absl::StrAppend(&d, " (filtered)");
  const std::string hash = base::HexEncode(crypto::Sha256(q.sql())).substr(0, 16);
  // Room for the hash: the description is at most store::kMaxChargeDescriptionBytes.
  return absl::StrCat(Shorten(d, store::kMaxChargeDescriptionBytes - 24), "; sql ", hash);
}

// The result as aligned text: group keys, then each aggregate's value and its confidence interval.
void PrintOutput(const sql::PreparedQuery& q, const sql::QueryOutput& out) {
  const table::Table& t = out.table;
  const std::string level = absl::StrCat(FormatNumber(q.plan().confidence_level * 100), "% CI");
  std::vector<std::string> header;
  std::vector<bool> right;
  struct Piece {
    int col;    // first column of the output table
    int kind;   // 0: one value, 1: value + interval, 2: several values (quantiles)
    int width;  // output table columns it spans
  };
  std::vector<Piece> pieces;
  int col = 0;
  for (const sql::OutputColumn& c : q.columns()) {
    const std::vector<std::string> names = sql::ResultColumnNames(c);
    const int n = static_cast<int>(names.size());
    if (c.kind == sql::OutputColumn::Kind::kAggregate && n == 3) {
      pieces.push_back({col, 1, n});
      header.push_back(names[0]);
      right.push_back(true);
      header.push_back(level);
      right.push_back(false);
    } else {
      pieces.push_back({col, c.kind == sql::OutputColumn::Kind::kAggregate ? 2 : 0, n});
      for (const std::string& name : names) {
        header.push_back(name);
        right.push_back(c.kind == sql::OutputColumn::Kind::kAggregate);
      }
    }
    col += n;
  }
  std::vector<std::vector<std::string>> rows;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    std::vector<std::string> row;
    for (const Piece& p : pieces) {
      if (p.kind == 1) {
        row.push_back(Cell(t, r, p.col));
        row.push_back(t.IsNull(r, p.col + 1) || t.IsNull(r, p.col + 2)
                          ? std::string()
                          : absl::StrCat("[", Cell(t, r, p.col + 1), ", ", Cell(t, r, p.col + 2), "]"));
      } else {
        for (int k = 0; k < p.width; ++k) row.push_back(Cell(t, r, p.col + k));
      }
    }
    rows.push_back(std::move(row));
  }
  PrintTable(header, rows, right);
  if (rows.empty()) std::cout << "(no group was released)\n";
  for (const dp::ChosenBounds& b : out.chosen_bounds) {
    std::cout << "Bounds of " << b.name << " chosen privately (part of the cost): ["
              << FormatNumber(b.bounds.lo) << ", " << FormatNumber(b.bounds.hi) << "]\n";
  }
}

absl::Status RunQueryCommand(const QueryArgs& args, const GlobalOptions& global) {
  // Bad SQL is refused before the workspace is opened; the dataset defaults to the FROM table's name.
  VEIL_ASSIGN_OR_RETURN(const sql::Query parsed, sql::ParseQuery(args.sql));
  const std::string dataset = args.dataset.empty() ? parsed.from.Name() : args.dataset;

  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  // The schema from the catalog (gated like `veil datasets`): enough to plan and cost the query.
  VEIL_ASSIGN_OR_RETURN(store::DatasetInfo info, session->GetDataset(dataset));
  VEIL_ASSIGN_OR_RETURN(sql::PreparedQuery q, sql::PrepareQuery(args.sql, info.schema));
  // The guarantee is per privacy unit: it must be the dataset's subject column (RunCharged checks it too).
  VEIL_RETURN_IF_ERROR(gov::CheckPrivacyUnit(info, q.plan().privacy_unit_column));
  const store::EpsilonDelta cost{q.cost().total.epsilon, q.cost().total.delta};

  if (args.explain) {
    VEIL_ASSIGN_OR_RETURN(store::DatasetBudget budget, session->GetBudget(dataset));
    std::optional<nlohmann::ordered_json> postgres;
    if (info.external.has_value()) {
      VEIL_ASSIGN_OR_RETURN(postgres, ExplainPostgres(q, parsed, info));
    }
    const bool fits = budget.total.has_value() && store::FitsBudget(budget.total->amount, budget.spent, cost);
    if (global.json) {
      PrintJson(
          {{"dataset", dataset},
           {"explain", sql::ExplainJson(q)},
           {"budget", budget.total.has_value()
                          ? nlohmann::ordered_json{{"total", store::EpsilonDeltaToJson(budget.total->amount)},
                                                   {"spent", store::EpsilonDeltaToJson(budget.spent)},
                                                   {"remaining", store::EpsilonDeltaToJson(budget.remaining)}}
                          : nlohmann::ordered_json(nullptr)},
           {"fits", fits},
           {"postgresql", postgres.value_or(nlohmann::ordered_json(nullptr))}});
    } else if (!global.quiet) {
      std::cout << sql::Explain(q);
      if (postgres.has_value()) {
        const nlohmann::ordered_json& p = *postgres;
        std::cout << "\nAttached dataset: table " << p["table"].get<std::string>() << " at "
                  << p["location"].get<std::string>() << "\n";
        if (p["mode"] == "pushdown") {
          std::cout << "Pushed down: PostgreSQL runs the filter, the contribution bounding and the per-group "
                       "sums; Veil selects groups and adds the noise. The statement ("
                    << p["parameters"].get<size_t>()
                    << " bound parameters: the query's literals, the bounds and constants derived from them, "
                       "and the bounding seed, drawn when the query runs):\n"
                    << p["sql"].get<std::string>() << "\n";
        } else {
          std::cout << "Not pushed down (" << p["reason"].get<std::string>()
                    << "): the dataset's columns are read from PostgreSQL and the query runs in Veil's "
                       "in-memory engine.\n";
        }
      }
      std::cout << "\nDataset \"" << dataset << "\": ";
      if (!budget.total.has_value()) {
        std::cout << "no privacy budget is set, so this query would be refused (its owner sets one with "
                     "`veil budget set "
                  << dataset << " --epsilon E --delta D`)\n";
      } else {
        std::cout << "remaining budget epsilon " << FormatNumber(budget.remaining.epsilon) << ", delta "
                  << FormatNumber(budget.remaining.delta) << "; this query costs epsilon "
                  << FormatNumber(cost.epsilon) << ", delta " << FormatNumber(cost.delta)
                  << (fits ? " and fits" : " and would be refused") << "\n";
      }
      std::cout << "Nothing was read and no budget was spent.\n";
    }
    return absl::OkStatus();
  }

  gov::ChargeRequest charge;
  charge.epsilon = cost.epsilon;
  charge.delta = cost.delta;
  charge.privacy_unit_column = q.plan().privacy_unit_column;
  charge.description = ChargeDescription(q);
  const nlohmann::ordered_json params = {{"sql", q.sql()}};
  // The hash of the released values: the compact JSON of the output (what --json prints under "result").
  const auto charged = [](sql::QueryOutput out) {
    const crypto::Sha256Digest hash = crypto::Sha256(sql::OutputToJson(out).dump());
    return gov::ChargedResult<sql::QueryOutput>{std::move(out), hash};
  };
  absl::StatusOr<gov::Charged<sql::QueryOutput>> run;
  if (info.external.has_value()) {
    run = session->RunChargedExternal<sql::QueryOutput>(
        gov::Operation::kQuery, dataset, args.purpose, charge, params,
        [&](const store::DatasetInfo& attached) -> absl::StatusOr<gov::ChargedResult<sql::QueryOutput>> {
          dp::RandomBits bits(crypto::SecureRandom());
          VEIL_ASSIGN_OR_RETURN(sql::QueryOutput out, RunOnPostgres(q, parsed, attached, args, bits));
          return charged(std::move(out));
        });
  } else {
    run = session->RunCharged<sql::QueryOutput>(
        gov::Operation::kQuery, dataset, args.purpose, charge, params,
        [&](const store::DatasetContents& data) -> absl::StatusOr<gov::ChargedResult<sql::QueryOutput>> {
          dp::RandomBits bits(crypto::SecureRandom());
          VEIL_ASSIGN_OR_RETURN(sql::QueryOutput out, sql::ExecuteQuery(q, data.table, bits));
          return charged(std::move(out));
        });
  }
  VEIL_RETURN_IF_ERROR(run.status());
  const gov::Charged<sql::QueryOutput>& result = *run;
  const gov::ChargeReceipt& receipt = result.receipt;
  if (global.json) {
    PrintJson({{"dataset", dataset},
               {"purpose", args.purpose},
               {"result", sql::OutputToJson(result.value)},
               {"charge",
                {{"id", receipt.charge_id},
                 {"audit_seq", receipt.audit_seq},
                 {"epsilon", receipt.cost.epsilon},
                 {"delta", receipt.cost.delta},
                 {"description", charge.description}}},
               {"budget",
                {{"total", store::EpsilonDeltaToJson(receipt.total)},
                 {"spent", store::EpsilonDeltaToJson(receipt.spent)},
                 {"remaining", store::EpsilonDeltaToJson(receipt.remaining)}}}});
  } else if (!global.quiet) {
    PrintOutput(q, result.value);
    std::cout << "\nCharged epsilon " << FormatNumber(receipt.cost.epsilon) << ", delta "
              << FormatNumber(receipt.cost.delta) << " to dataset \"" << dataset << "\" (audit entry #"
              << receipt.audit_seq << "); remaining: epsilon " << FormatNumber(receipt.remaining.epsilon)
              << ", delta " << FormatNumber(receipt.remaining.delta) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterQuery(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* cmd = app.add_subcommand(
      "query", "Run a differentially private SQL query, charged to the dataset's privacy budget");
  cmd->add_option("sql", args->sql,
                  "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=..., privacy_unit_column=...) ... FROM "
                  "dataset ...")
      ->required();
  cmd->add_option("--dataset", args->dataset, "The dataset (default: the table named in FROM)");
  cmd->add_option("--purpose", args->purpose, "Why: one of the dataset's declared purposes");
  cmd->add_option(
      "--conninfo", args->conninfo,
      "Attached datasets: the PostgreSQL connection string to use (default: env VEIL_PG_CONNINFO, "
      "else the one stored by `veil attach`, whose password comes from PGPASSWORD or ~/.pgpass)");
  cmd->add_flag("--explain", args->explain,
                "Print the plan, the privacy cost and the expected errors; read no data, spend no budget");
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunQueryCommand(*args, cli.options); }; });
}

}  // namespace veil::cli
