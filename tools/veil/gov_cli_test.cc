// End-to-end tests of the governance commands (gov_commands.cc): `veil catalog`, ... as a user runs them.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class GovCliTest : public VeilCliTest {
 protected:
  void SetUp() override {
    VeilCliTest::SetUp();
    InitWithPatients();
    ASSERT_EQ(Ws("grant alex analyst --quiet").exit_code, 0);
    ASSERT_EQ(Ws("grant ines auditor --quiet").exit_code, 0);
  }

  // The column `name` of dataset `dataset` in `veil catalog --json`.
  Json Column(const Json& map, const std::string& dataset, const std::string& name) {
    for (const Json& d : map["datasets"]) {
      if (d["name"] != dataset) continue;
      for (const Json& c : d["columns"]) {
        if (c["name"] == name) return c;
      }
    }
    ADD_FAILURE() << "no column " << name;
    return Json::object();
  }
};

// Ingest classifies the columns; the owner confirms or corrects them; analysts and auditors read the map.
TEST_F(GovCliTest, CatalogStartsFromTheClassifierAndIsCorrectedByAPerson) {
  Result r = Ws("--json catalog");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json map = ParseJson(r.out);
  ASSERT_EQ(map["datasets"].size(), 1u);
  EXPECT_EQ(Column(map, "patients", "email")["categories"], Json::array({"user.contact.email"}));
  EXPECT_EQ(Column(map, "patients", "email")["source"], "classifier");
  EXPECT_EQ(Column(map, "patients", "email")["confirmed"], false);
  EXPECT_EQ(Column(map, "patients", "birth_date")["categories"],
            Json::array({"user.demographic.date_of_birth"}));
  EXPECT_EQ(Column(map, "patients", "zip")["role"], "quasi_identifier");
  EXPECT_EQ(Column(map, "patients", "notes")["categories"], Json::array({"user.content"}));
  EXPECT_EQ(Column(map, "patients", "diagnosis")["categories"], Json::array());
  EXPECT_THAT(map["datasets"][0]["findings"].dump(), HasSubstr("not confirmed"));

  r =
      Ws("catalog annotate patients diagnosis --category user.health.diagnosis --role quasi_identifier "
         "--note 'ICD chapter names'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.diagnosis"));
  ASSERT_EQ(Ws("catalog annotate patients email --confirm --quiet").exit_code, 0);
  r = Ws("catalog annotate patients diagnosis --category user.astrology");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is not a data category of the taxonomy"));
  EXPECT_EQ(Ws("catalog annotate patients nosuchcolumn --confirm").exit_code, 2);
  EXPECT_EQ(Ws("catalog annotate patients email --confirm", "alex").exit_code, 3) << "analysts read only";

  map = ParseJson(Ws("--json catalog patients", "ines").out);
  EXPECT_EQ(Column(map, "patients", "diagnosis")["categories"], Json::array({"user.health.diagnosis"}));
  EXPECT_EQ(Column(map, "patients", "diagnosis")["special"], "art9");
  EXPECT_EQ(Column(map, "patients", "diagnosis")["source"], "user");
  EXPECT_EQ(Column(map, "patients", "email")["confirmed"], true);
  EXPECT_EQ(map["datasets"][0]["special_categories"], Json::array({"user.health.diagnosis"}));

  r = Ws("catalog", "alex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.diagnosis [Art. 9]"));
  EXPECT_THAT(r.out, HasSubstr("Special categories held: user.health.diagnosis"));

  // Each change is audited, without any value of the data.
  const Json log = AuditLog();
  int annotations = 0;
  for (const Json& e : log["entries"]) annotations += e["action"] == "catalog.annotate" ? 1 : 0;
  EXPECT_EQ(annotations, 3) << "two changes and the analyst's refusal";
}

TEST_F(GovCliTest, DeclarationsRecordTheLegalBasisAndFlows) {
  ASSERT_EQ(Ws("catalog annotate patients diagnosis --category user.health.diagnosis --quiet").exit_code, 0);
  Result r =
      Ws("catalog declare patients --purpose research --basis consent --special-basis explicit_consent "
         "--subject-type patient --recipient 'University hospital' --transfer US:scc "
         "--retention '5 years' --description 'Outcome studies'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("consent (Art. 6(1)(a)), explicit_consent (Art. 9(2)(a))"));
  EXPECT_THAT(r.out, HasSubstr("use only the rows of subjects with a recorded, unexpired consent"));
  r = Ws("catalog declare patients --purpose care --basis contract --subject-type patient");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const Json map = ParseJson(Ws("--json catalog").out);
  const Json& d = map["datasets"][0];
  ASSERT_EQ(d["declarations"].size(), 2u);
  EXPECT_EQ(d["declarations"][1]["purpose"], "research");
  EXPECT_EQ(d["declarations"][1]["legal_basis_article"], "Art. 6(1)(a)");
  EXPECT_EQ(d["declarations"][1]["transfers"][0]["safeguard"], "scc");
  EXPECT_EQ(d["subject_types"], Json::array({"patient"}));
  EXPECT_THAT(d["findings"].dump(),
              HasSubstr("the declaration for \\\"care\\\" names no Art. 9(2) condition"));

  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis whim").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis consent --transfer US").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose astrology --basis consent").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis consent", "alex").exit_code, 3);
  ASSERT_EQ(Ws("catalog declare patients --purpose care --remove --quiet").exit_code, 0);
  EXPECT_EQ(ParseJson(Ws("--json catalog").out)["datasets"][0]["declarations"].size(), 1u);
}

TEST_F(GovCliTest, TaxonomyIsListedAndExtended) {
  Result r = Ws("--json catalog taxonomy --kind category");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json t = ParseJson(r.out);
  ASSERT_TRUE(t.contains("categories"));
  EXPECT_FALSE(t.contains("uses"));
  r = Ws("catalog taxonomy add category user.health.allergy --description 'Allergies'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Ws("catalog taxonomy add category user.health.allergy --description 'again'").exit_code, 2);
  EXPECT_EQ(Ws("catalog taxonomy add use nowhere.child --description 'orphan'").exit_code, 2);
  r = Ws("catalog taxonomy --kind category");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.allergy"));
  EXPECT_THAT(r.out, HasSubstr("added by alice"));
  bool found = false;
  const Json all = ParseJson(Ws("--json catalog taxonomy").out);
  for (const Json& e : all["categories"]) {
    if (e["key"] == "user.health.allergy") {
      found = true;
      EXPECT_EQ(e["special"], "art9") << "inherited from user.health";
      EXPECT_EQ(e["builtin"], false);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(GovCliTest, GraphIsDrawnByGraphviz) {
  ASSERT_EQ(Ws("catalog declare patients --purpose research --basis consent --subject-type patient "
               "--recipient Lab --quiet")
                .exit_code,
            0);
  Result r = Ws("catalog graph -o " + Q(Path("map.svg")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = Slurp(Path("map.svg"));
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("user.contact.email"));
  EXPECT_THAT(svg, HasSubstr("disclosed to"));
  EXPECT_FALSE(std::filesystem::exists(Path("map.svg.tmp")));
  EXPECT_FALSE(std::filesystem::exists(Path("map.svg.dot.tmp")));
  r = Ws("catalog graph -o " + Q(Path("map.dot")), "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Slurp(Path("map.dot")), HasSubstr("digraph veil_data_map"));
  EXPECT_EQ(Ws("catalog graph -o " + Q(Path("map.gif"))).exit_code, 2);
}

}  // namespace
}  // namespace veil::cli::testing
