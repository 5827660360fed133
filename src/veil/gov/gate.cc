#include "veil/gov/gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace veil::gov {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAnalyst:
      return "analyst";
    case Role::kAuditor:
      return "auditor";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kOwner, Role::kAnalyst, Role::kAuditor}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kInit:
      return "init";
    case Operation::kIngest:
      return "ingest";
    case Operation::kListDatasets:
      return "datasets";
    case Operation::kExport:
      return "export";
    case Operation::kErase:
      return "erase";
    case Operation::kGrant:
      return "grant";
    case Operation::kRevoke:
      return "revoke";
    case Operation::kListGrants:
      return "grants";
    case Operation::kAuditRead:
      return "audit.read";
    case Operation::kAuditCheckpoint:
      return "audit.checkpoint";
    case Operation::kBudgetSet:
      return "budget.set";
    case Operation::kBudgetRead:
      return "budget.read";
    case Operation::kQuery:
      return "query";
    case Operation::kAttach:
      return "attach";
    case Operation::kPiiRedact:
      return "pii.redact";
    case Operation::kPiiRestore:
      return "pii.restore";
    case Operation::kDicomDeid:
      return "dicom.deid";
    case Operation::kSynth:
      return "synth";
    case Operation::kTrain:
      return "train";
    case Operation::kTrainNonPrivate:
      return "train.nonprivate";
    case Operation::kModelRead:
      return "model.read";
    case Operation::kModelExport:
      return "model.export";
    case Operation::kModelEvaluate:
      return "model.evaluate";
    case Operation::kModelFairness:
      return "model.fairness";
    case Operation::kDecide:
      return "decide";
    case Operation::kCatalogAnnotate:
      return "catalog.annotate";
    case Operation::kCatalogDeclare:
      return "catalog.declare";
    case Operation::kTaxonomyAdd:
      return "taxonomy.add";
    case Operation::kConsentGrant:
      return "consent.grant";
    case Operation::kConsentWithdraw:
      return "consent.withdraw";
    case Operation::kConsentImport:
      return "consent.import";
    case Operation::kConsentRead:
      return "consent.read";
    case Operation::kObjection:
      return "objection";
    case Operation::kObjectionLift:
      return "objection.lift";
    case Operation::kRestriction:
      return "restriction";
    case Operation::kRestrictionLift:
      return "restriction.lift";
    case Operation::kRetentionSet:
      return "retention.set";
    case Operation::kRetentionHold:
      return "retention.hold";
    case Operation::kRetentionEnforce:
      return "retention.enforce";
    case Operation::kRetentionRead:
      return "retention.read";
    case Operation::kDsrOpen:
      return "dsr.open";
    case Operation::kDsrUpdate:
      return "dsr.update";
    case Operation::kDsrRun:
      return "dsr.run";
    case Operation::kDsrRead:
      return "dsr.read";
    case Operation::kReportRopa:
      return "report.ropa";
    case Operation::kReportDpia:
      return "report.dpia";
  }
  return "?";
}

std::vector<Role> RolesAllowed(Operation op) {
  switch (op) {
    case Operation::kInit:
    case Operation::kIngest:
    case Operation::kExport:
    case Operation::kErase:
    case Operation::kGrant:
    case Operation::kRevoke:
    case Operation::kBudgetSet:
    case Operation::kAttach:
    case Operation::kPiiRestore:
    case Operation::kTrainNonPrivate:
    case Operation::kModelEvaluate:
    case Operation::kModelFairness:
    case Operation::kCatalogAnnotate:
    case Operation::kCatalogDeclare:
    case Operation::kTaxonomyAdd:
    case Operation::kConsentGrant:
    case Operation::kConsentWithdraw:
    case Operation::kConsentImport:
    case Operation::kObjection:
    case Operation::kObjectionLift:
    case Operation::kRestriction:
    case Operation::kRestrictionLift:
    case Operation::kRetentionSet:
    case Operation::kRetentionHold:
    case Operation::kRetentionEnforce:
    case Operation::kDsrOpen:
    case Operation::kDsrUpdate:
    case Operation::kDsrRun:
    case Operation::kDsrRead:
      return {Role::kOwner};
    case Operation::kListDatasets:
    case Operation::kBudgetRead:
    case Operation::kModelRead:
      return {Role::kOwner, Role::kAnalyst, Role::kAuditor};
    case Operation::kQuery:
    case Operation::kPiiRedact:
    case Operation::kDicomDeid:
    case Operation::kSynth:
    case Operation::kTrain:
    case Operation::kModelExport:
    case Operation::kDecide:
      return {Role::kOwner, Role::kAnalyst};
    case Operation::kListGrants:
    case Operation::kConsentRead:
    case Operation::kRetentionRead:
    case Operation::kAuditRead:
    case Operation::kAuditCheckpoint:
    case Operation::kReportRopa:
    case Operation::kReportDpia:
      return {Role::kOwner, Role::kAuditor};
  }
  return {};
}

bool NeedsPurpose(Operation op) {
  return op == Operation::kExport || op == Operation::kQuery || op == Operation::kSynth ||
         op == Operation::kTrain || op == Operation::kTrainNonPrivate || op == Operation::kModelEvaluate ||
         op == Operation::kModelFairness || op == Operation::kDecide;
}

bool IsDpOperation(Operation op) {
  return op == Operation::kQuery || op == Operation::kSynth || op == Operation::kTrain;
}

std::optional<Role> RoleFor(Operation op, const std::vector<Role>& roles) {
  for (Role r : RolesAllowed(op)) {
    if (std::find(roles.begin(), roles.end(), r) != roles.end()) return r;
  }
  return std::nullopt;
}

bool PurposeCovers(std::string_view declared, std::string_view purpose) {
  if (declared.empty()) return false;
  return purpose == declared ||
         (purpose.size() > declared.size() && purpose.substr(0, declared.size()) == declared &&
          purpose[declared.size()] == '.');
}

GateDecision Decide(const GateRequest& request) {
  const char* op = OperationName(request.op);
  const std::vector<Role> allowed = RolesAllowed(request.op);
  const std::optional<Role> via = RoleFor(request.op, request.roles);
  std::vector<std::string> allowed_names;
  for (Role r : allowed) allowed_names.push_back(RoleName(r));
  if (!via) {
    std::vector<std::string> held;
    for (Role r : request.roles) held.push_back(RoleName(r));
    return {false, absl::StrCat(op, " needs the role ", absl::StrJoin(allowed_names, " or "), "; actor \"",
                                request.actor, "\" has ",
                                held.empty() ? std::string("no role in this workspace")
                                             : absl::StrCat("the role ", absl::StrJoin(held, ", ")))};
  }
  if (request.non_private_model && *via != Role::kOwner &&
      (request.op == Operation::kModelExport || request.op == Operation::kDecide)) {
    return {false, absl::StrCat(op,
                                " of a model trained without differential privacy "
                                "needs the role owner; "
                                "actor \"",
                                request.actor, "\" has the role ", RoleName(*via))};
  }
  std::string reason = absl::StrCat("role ", RoleName(*via));
  if (NeedsPurpose(request.op)) {
    const std::string declared =
        request.dataset_purposes.empty()
            ? std::string("it declares no purpose")
            : absl::StrCat("it is declared for: ", absl::StrJoin(request.dataset_purposes, ", "));
    if (request.purpose.empty()) {
      return {false, absl::StrCat(op, " of dataset \"", request.dataset,
                                  "\" needs a declared purpose (--purpose); ", declared)};
    }
    const auto covers = [&](const std::string& d) { return PurposeCovers(d, request.purpose); };
    auto match = std::find_if(request.dataset_purposes.begin(), request.dataset_purposes.end(), covers);
    if (match == request.dataset_purposes.end()) {
      return {false, absl::StrCat("purpose \"", request.purpose, "\" is not declared for dataset \"",
                                  request.dataset, "\"; ", declared)};
    }
    absl::StrAppend(
        &reason, "; purpose \"", request.purpose, "\" ",
        *match == request.purpose ? "declared" : absl::StrCat("within declared \"", *match, "\""));
  }
  return {true, reason};
}

}  // namespace veil::gov
