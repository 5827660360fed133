#include "veil/gov/gate.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::gov {
namespace {

constexpr Operation kAllOperations[] = {Operation::kInit,
                                        Operation::kIngest,
                                        Operation::kListDatasets,
                                        Operation::kExport,
                                        Operation::kErase,
                                        Operation::kGrant,
                                        Operation::kRevoke,
                                        Operation::kListGrants,
                                        Operation::kAuditRead,
                                        Operation::kAuditCheckpoint,
                                        Operation::kBudgetSet,
                                        Operation::kBudgetRead,
                                        Operation::kQuery,
                                        Operation::kAttach,
                                        Operation::kPiiRedact,
                                        Operation::kPiiRestore,
                                        Operation::kDicomDeid,
                                        Operation::kSynth,
                                        Operation::kTrain,
                                        Operation::kTrainNonPrivate,
                                        Operation::kModelRead,
                                        Operation::kModelExport,
                                        Operation::kModelEvaluate,
                                        Operation::kModelFairness,
                                        Operation::kDecide,
                                        Operation::kCatalogAnnotate,
                                        Operation::kCatalogDeclare,
                                        Operation::kTaxonomyAdd,
                                        Operation::kConsentGrant,
                                        Operation::kConsentWithdraw,
                                        Operation::kConsentImport,
                                        Operation::kConsentRead,
                                        Operation::kObjection,
                                        Operation::kObjectionLift,
                                        Operation::kRestriction,
                                        Operation::kRestrictionLift,
                                        Operation::kRetentionSet,
                                        Operation::kRetentionHold,
                                        Operation::kRetentionEnforce,
                                        Operation::kRetentionRead,
                                        Operation::kDsrOpen,
                                        Operation::kDsrUpdate,
                                        Operation::kDsrRun,
                                        Operation::kDsrRead,
                                        Operation::kReportRopa,
                                        Operation::kReportDpia};

GateRequest Request(std::vector<Role> roles, Operation op) {
  GateRequest r;
  r.actor = "alice";
  r.roles = std::move(roles);
  r.op = op;
  r.dataset = "patients";
  r.dataset_purposes = {"care", "research"};
  r.purpose = "research";
  return r;
}

TEST(GateTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kOwner, Role::kAnalyst, Role::kAuditor}) EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
  EXPECT_EQ(ParseRole("Owner"), std::nullopt) << "exact, lower-case";
}

// The policy table, written out: a change to who may do what must change this
// test.
TEST(GateTest, PolicyTable) {
  struct Row {
    Operation op;
    bool owner, analyst, auditor;
  };
  const Row table[] = {
      {Operation::kInit, true, false, false},
      {Operation::kIngest, true, false, false},
      {Operation::kListDatasets, true, true, true},
      {Operation::kExport, true, false, false},
      {Operation::kErase, true, false, false},
      {Operation::kGrant, true, false, false},
      {Operation::kRevoke, true, false, false},
      {Operation::kListGrants, true, false, true},
      {Operation::kAuditRead, true, false, true},
      {Operation::kAuditCheckpoint, true, false, true},
      {Operation::kBudgetSet, true, false, false},
      {Operation::kBudgetRead, true, true, true},
      {Operation::kQuery, true, true, false},
      {Operation::kAttach, true, false, false},
      {Operation::kPiiRedact, true, true, false},
      {Operation::kPiiRestore, true, false, false},
      {Operation::kDicomDeid, true, true, false},
      {Operation::kSynth, true, true, false},
      {Operation::kTrain, true, true, false},
      {Operation::kTrainNonPrivate, true, false, false},
      {Operation::kModelRead, true, true, true},
      {Operation::kModelExport, true, true, false},
      {Operation::kModelEvaluate, true, false, false},
      {Operation::kModelFairness, true, false, false},
      {Operation::kDecide, true, true, false},
      {Operation::kCatalogAnnotate, true, false, false},
      {Operation::kCatalogDeclare, true, false, false},
      {Operation::kTaxonomyAdd, true, false, false},
      {Operation::kConsentGrant, true, false, false},
      {Operation::kConsentWithdraw, true, false, false},
      {Operation::kConsentImport, true, false, false},
      {Operation::kConsentRead, true, false, true},
      {Operation::kObjection, true, false, false},
      {Operation::kObjectionLift, true, false, false},
      {Operation::kRestriction, true, false, false},
      {Operation::kRestrictionLift, true, false, false},
      {Operation::kRetentionSet, true, false, false},
      {Operation::kRetentionHold, true, false, false},
      {Operation::kRetentionEnforce, true, false, false},
      {Operation::kRetentionRead, true, false, true},
      {Operation::kDsrOpen, true, false, false},
      {Operation::kDsrUpdate, true, false, false},
      {Operation::kDsrRun, true, false, false},
      {Operation::kDsrRead, true, false, false},
      {Operation::kReportRopa, true, false, true},
      {Operation::kReportDpia, true, false, true},
  };
  ASSERT_EQ(std::size(table), std::size(kAllOperations));
  for (const Row& row : table) {
    SCOPED_TRACE(OperationName(row.op));
    EXPECT_EQ(Decide(Request({Role::kOwner}, row.op)).allowed, row.owner);
    EXPECT_EQ(Decide(Request({Role::kAnalyst}, row.op)).allowed, row.analyst);
    EXPECT_EQ(Decide(Request({Role::kAuditor}, row.op)).allowed, row.auditor);
    EXPECT_FALSE(Decide(Request({}, row.op)).allowed) << "no role, no access";
  }
}

TEST(GateTest, DenialSaysWhy) {
  const GateDecision d = Decide(Request({Role::kAnalyst}, Operation::kExport));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "export needs the role owner; actor \"alice\" has the role analyst");
  const GateDecision none = Decide(Request({}, Operation::kAuditRead));
  EXPECT_EQ(none.reason,
            "audit.read needs the role owner or auditor; actor "
            "\"alice\" has no role in this workspace");
}

TEST(GateTest, AnyHeldRoleSuffices) {
  const GateDecision d = Decide(Request({Role::kAnalyst, Role::kAuditor}, Operation::kAuditRead));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "role auditor");
}

TEST(GateTest, RoleForPicksTheFirstAllowedRole) {
  EXPECT_EQ(RoleFor(Operation::kAuditRead, {Role::kAuditor, Role::kOwner}), Role::kOwner);
  EXPECT_EQ(RoleFor(Operation::kAuditRead, {Role::kAnalyst, Role::kAuditor}), Role::kAuditor);
  EXPECT_EQ(RoleFor(Operation::kExport, {Role::kAnalyst, Role::kAuditor}), std::nullopt);
  EXPECT_EQ(RoleFor(Operation::kListDatasets, {}), std::nullopt);
}

TEST(GateTest, PurposeMustBeDeclared) {
  GateRequest r = Request({Role::kOwner}, Operation::kExport);
  GateDecision d = Decide(r);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "role owner; purpose \"research\" declared");

  r.purpose = "marketing";
  d = Decide(r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "purpose \"marketing\" is not declared for dataset "
            "\"patients\"; it is declared for: care, research");

  r.purpose = "";
  d = Decide(r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "export of dataset \"patients\" needs a declared purpose "
            "(--purpose); it is declared for: care, "
            "research");

  r.purpose = "care";
  r.dataset_purposes = {};
  d = Decide(r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "purpose \"care\" is not declared for dataset "
            "\"patients\"; it declares no purpose");
}

TEST(GateTest, NarrowerPurposeIsCoveredBroaderIsNot) {
  GateRequest r = Request({Role::kOwner}, Operation::kExport);
  r.purpose = "research.cohort";
  GateDecision d = Decide(r);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "role owner; purpose \"research.cohort\" within declared \"research\"");

  r.dataset_purposes = {"research.cohort"};
  r.purpose = "research";
  EXPECT_FALSE(Decide(r).allowed) << "a broader purpose than the declared one";
  r.purpose = "research.cohorts";
  EXPECT_FALSE(Decide(r).allowed) << "a sibling that merely shares a prefix";
}

TEST(GateTest, PurposeCovers) {
  EXPECT_TRUE(PurposeCovers("a", "a"));
  EXPECT_TRUE(PurposeCovers("a", "a.b"));
  EXPECT_TRUE(PurposeCovers("a.b", "a.b.c"));
  EXPECT_FALSE(PurposeCovers("a", "ab"));
  EXPECT_FALSE(PurposeCovers("a.b", "a"));
  EXPECT_FALSE(PurposeCovers("", "a"));
  EXPECT_FALSE(PurposeCovers("a", ""));
}

TEST(GateTest, OperationsWithoutPurposeIgnoreIt) {
  GateRequest r = Request({Role::kOwner}, Operation::kIngest);
  r.purpose = "";
  r.dataset_purposes = {};
  EXPECT_TRUE(Decide(r).allowed);
  for (Operation op : kAllOperations) {
    EXPECT_EQ(NeedsPurpose(op), op == Operation::kExport || op == Operation::kQuery ||
                                    op == Operation::kSynth || op == Operation::kTrain ||
                                    op == Operation::kTrainNonPrivate || op == Operation::kModelEvaluate ||
                                    op == Operation::kModelFairness || op == Operation::kDecide)
        << OperationName(op);
    EXPECT_EQ(IsDpOperation(op),
              op == Operation::kQuery || op == Operation::kSynth || op == Operation::kTrain)
        << OperationName(op);
  }
}

TEST(GateTest, NonPrivateModelsAreExportedAndRunByOwnersOnly) {
  for (Operation op : {Operation::kModelExport, Operation::kDecide}) {
    GateRequest r = Request({Role::kAnalyst}, op);
    EXPECT_TRUE(Decide(r).allowed) << OperationName(op) << ": a DP model";
    r.non_private_model = true;
    const GateDecision d = Decide(r);
    EXPECT_FALSE(d.allowed) << OperationName(op);
    EXPECT_THAT(d.reason, ::testing::HasSubstr("trained without differential privacy needs the role owner"));
    r.roles = {Role::kOwner};
    EXPECT_TRUE(Decide(r).allowed) << OperationName(op);
  }
  GateRequest decide = Request({Role::kOwner}, Operation::kDecide);
  decide.purpose = "marketing";
  EXPECT_FALSE(Decide(decide).allowed) << "decide needs a declared purpose";
}

TEST(GateTest, QueriesNeedADeclaredPurposeLikeExports) {
  GateRequest r = Request({Role::kAnalyst}, Operation::kQuery);
  GateDecision d = Decide(r);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "role analyst; purpose \"research\" declared");
  r.purpose = "marketing";
  EXPECT_FALSE(Decide(r).allowed);
  r.purpose = "";
  d = Decide(r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "query of dataset \"patients\" needs a declared purpose "
            "(--purpose); it is declared for: care, "
            "research");
  EXPECT_EQ(Decide(Request({Role::kAuditor}, Operation::kQuery)).reason,
            "query needs the role owner or analyst; actor \"alice\" has the "
            "role auditor");
}

TEST(GateTest, OperationNamesAreDistinct) {
  std::set<std::string> names;
  for (Operation op : kAllOperations)
    EXPECT_TRUE(names.insert(OperationName(op)).second) << OperationName(op);
  EXPECT_EQ(std::string(OperationName(Operation::kBudgetSet)), "budget.set");
  EXPECT_EQ(std::string(OperationName(Operation::kBudgetRead)), "budget.read");
  EXPECT_EQ(std::string(OperationName(Operation::kQuery)), "query");
  EXPECT_EQ(std::string(OperationName(Operation::kSynth)), "synth");
}

// A subject request concerns one person's data: only an owner handles it, and a
// denial says so. An auditor reads the audit entries of each step instead.
TEST(GateTest, SubjectRequestsAreOwnerOnly) {
  for (Operation op : {Operation::kDsrOpen, Operation::kDsrUpdate, Operation::kDsrRun, Operation::kDsrRead}) {
    SCOPED_TRACE(OperationName(op));
    EXPECT_FALSE(NeedsPurpose(op));
    EXPECT_FALSE(IsDpOperation(op));
    EXPECT_EQ(Decide(Request({Role::kOwner}, op)).reason, "role owner");
  }
  EXPECT_EQ(Decide(Request({Role::kAuditor}, Operation::kDsrRead)).reason,
            "dsr.read needs the role owner; actor \"alice\" has the role auditor");
  EXPECT_EQ(Decide(Request({Role::kAnalyst}, Operation::kDsrRun)).reason,
            "dsr.run needs the role owner; actor \"alice\" has the role analyst");
}

// Retention has operations of its own: changing rules and holds and erasing
// what is due are the owner's; reading the status (counts of subjects due by
// date, no records) is also the auditor's.
TEST(GateTest, RetentionOperations) {
  EXPECT_STREQ(OperationName(Operation::kRetentionSet), "retention.set");
  EXPECT_STREQ(OperationName(Operation::kRetentionHold), "retention.hold");
  EXPECT_STREQ(OperationName(Operation::kRetentionEnforce), "retention.enforce");
  EXPECT_STREQ(OperationName(Operation::kRetentionRead), "retention.read");
  for (Operation op : {Operation::kRetentionSet, Operation::kRetentionHold, Operation::kRetentionEnforce,
                       Operation::kRetentionRead}) {
    SCOPED_TRACE(OperationName(op));
    EXPECT_FALSE(NeedsPurpose(op));
    EXPECT_FALSE(IsDpOperation(op));
  }
  EXPECT_EQ(Decide(Request({Role::kAuditor}, Operation::kRetentionEnforce)).reason,
            "retention.enforce needs the role owner; actor \"alice\" has the role "
            "auditor");
  EXPECT_EQ(Decide(Request({Role::kAuditor}, Operation::kRetentionRead)).reason, "role auditor");
  EXPECT_EQ(Decide(Request({Role::kAnalyst}, Operation::kRetentionRead)).reason,
            "retention.read needs the role owner or auditor; actor \"alice\" "
            "has the role analyst");
}

}  // namespace
}  // namespace veil::gov
