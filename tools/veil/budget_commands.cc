// The privacy-budget commands:
//
//   veil budget [NAME] [--json]                          total, spent, remaining (and with NAME, the charges)
//   veil budget set NAME --epsilon E [--delta D] [--json]  the owner sets or changes a dataset's total budget
//
// Both go through gov::Session (budget.read: owner, analyst, auditor; budget.set: owner, audited).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/veil/cli.h"
#include "veil/base/status_macros.h"
#include "veil/gov/session.h"
#include "veil/store/ledger.h"

namespace veil::cli {
namespace {

std::string NoBudgetHint(const std::string& dataset) {
  return absl::StrCat("Dataset \"", dataset,
                      "\" has no privacy budget: differentially private queries on it are refused.\n"
                      "Its owner sets one with: veil budget set ",
                      dataset, " --epsilon E --delta D\n");
}

void PrintBudget(const store::DatasetBudget& b) {
  if (!b.total.has_value()) {
    std::cout << NoBudgetHint(b.dataset);
    if (b.charges.empty()) return;
    std::cout << "\n";
  } else {
    std::cout << "Privacy budget of dataset \"" << b.dataset
              << "\" (basic composition: the epsilons and the deltas of its charges add up)\n\n";
    PrintTable({"", "epsilon", "delta"},
               {{"total", FormatNumber(b.total->amount.epsilon), FormatNumber(b.total->amount.delta)},
                {"spent", FormatNumber(b.spent.epsilon), FormatNumber(b.spent.delta)},
                {"remaining", FormatNumber(b.remaining.epsilon), FormatNumber(b.remaining.delta)}},
               {false, true, true});
    std::cout << "\nSet by " << b.total->set_by << " at " << FormatUtc(b.total->set_at) << ".\n";
  }
  if (b.charges.empty()) {
    std::cout << "No charges yet.\n";
    return;
  }
  std::cout << "\nCharges (" << b.charges.size() << "):\n";
  std::vector<std::vector<std::string>> rows;
  for (const store::LedgerCharge& c : b.charges) {
    rows.push_back(
        {FormatUtc(c.time), c.actor, c.operation, FormatNumber(c.cost.epsilon), FormatNumber(c.cost.delta),
         c.audit_seq.has_value() ? absl::StrCat("#", *c.audit_seq) : std::string("reserved"), c.description});
  }
  PrintTable({"when", "who", "operation", "epsilon", "delta", "audit", "what"}, rows,
             {false, false, false, true, true, true});
}

// --- budget [NAME] ---

struct BudgetArgs {
  std::string name;
};

absl::Status RunBudget(const BudgetArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  if (!args.name.empty()) {
    VEIL_ASSIGN_OR_RETURN(store::DatasetBudget b, session->GetBudget(args.name));
    if (global.json) {
      PrintJson(store::DatasetBudgetToJson(b));
    } else if (!global.quiet) {
      PrintBudget(b);
    }
    return absl::OkStatus();
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<store::DatasetBudget> all, session->ListBudgets());
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const store::DatasetBudget& b : all) list.push_back(store::DatasetBudgetToJson(b));
    PrintJson({{"budgets", list}});
    return absl::OkStatus();
  }
  if (global.quiet) return absl::OkStatus();
  if (all.empty()) {
    std::cout << "No datasets yet, so no budgets.\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  bool any_unset = false;
  for (const store::DatasetBudget& b : all) {
    if (!b.total.has_value()) {
      any_unset = true;
      rows.push_back({b.dataset, "not set", "", "", "", "", "", absl::StrCat(b.charges.size())});
      continue;
    }
    rows.push_back({b.dataset, FormatNumber(b.total->amount.epsilon), FormatNumber(b.spent.epsilon),
                    FormatNumber(b.remaining.epsilon), FormatNumber(b.total->amount.delta),
                    FormatNumber(b.spent.delta), FormatNumber(b.remaining.delta),
                    absl::StrCat(b.charges.size())});
  }
  PrintTable({"dataset", "epsilon", "spent", "remaining", "delta", "spent", "remaining", "charges"}, rows,
             {false, true, true, true, true, true, true, true});
  if (any_unset) {
    std::cout
        << "\nDP queries on a dataset without a budget are refused; its owner sets one with: veil budget "
           "set NAME --epsilon E --delta D\n";
  }
  return absl::OkStatus();
}

// --- budget set NAME --epsilon E --delta D ---

struct BudgetSetArgs {
  std::string name;
  double epsilon = 0;
  double delta = 0;
};

absl::Status RunBudgetSet(const BudgetSetArgs& args, const GlobalOptions& global) {
  // Bad numbers are refused before the workspace is opened.
  const store::EpsilonDelta total{args.epsilon, args.delta};
  VEIL_RETURN_IF_ERROR(store::ValidateBudgetTotal(total));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(store::DatasetBudget b, session->SetBudget(args.name, total));
  if (global.json) {
    PrintJson(store::DatasetBudgetToJson(b));
  } else if (!global.quiet) {
    std::cout << "Set the privacy budget of dataset \"" << b.dataset << "\" to epsilon "
              << FormatNumber(total.epsilon) << ", delta " << FormatNumber(total.delta) << " (audited)\n"
              << "  spent so far: epsilon " << FormatNumber(b.spent.epsilon) << ", delta "
              << FormatNumber(b.spent.delta) << "; remaining: epsilon " << FormatNumber(b.remaining.epsilon)
              << ", delta " << FormatNumber(b.remaining.delta) << "\n";
    if (total.delta == 0) {
      std::cout << "  delta 0: only pure epsilon-DP queries fit (set --delta, e.g. 1e-6, to allow "
                   "(epsilon, delta) ones)\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBudget(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<BudgetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "budget",
      "Show the privacy budgets of the datasets (total, spent, remaining), or one with its charges");
  cmd->add_option("name", args->name, "Show this dataset's budget and the list of its charges");
  cmd->footer(
      "Charges compose by basic composition: a dataset's spent epsilon is the sum of its charges' epsilons, "
      "and likewise for delta.");

  auto set_args = std::make_shared<BudgetSetArgs>();
  CLI::App* set = cmd->add_subcommand(
      "set", "Set a dataset's total privacy budget (owner; raising or lowering, never below what is spent)");
  set->add_option("name", set_args->name, "Dataset name")->required();
  set->add_option("--epsilon", set_args->epsilon, "Total epsilon (>= 0)")->required();
  set->add_option("--delta", set_args->delta,
                  "Total delta, in [0, 1) (default 0: only pure epsilon-DP queries fit)");
  set->callback(
      [set_args, &cli] { cli.action = [set_args, &cli] { return RunBudgetSet(*set_args, cli.options); }; });

  cmd->callback([args, set, &cli] {
    if (set->parsed()) return;  // `budget set` chose its own action
    cli.action = [args, &cli] { return RunBudget(*args, cli.options); };
  });
}

}  // namespace veil::cli
