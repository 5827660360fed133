#include "veil/synth/report.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::synth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

table::Table Read(const std::string& csv) {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

TEST(ReportTest, HtmlEscapeCoversMarkupCharacters) {
  EXPECT_EQ(internal::HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(ReportTest, RocAucKnownAnswers) {
  // Perfect ranking, reversed ranking, all tied, and a hand-counted case: positives at scores 0.8 and 0.4,
  // negatives at 0.6 and 0.2: pairs (0.8>0.6, 0.8>0.2, 0.4<0.6, 0.4>0.2) -> 3/4.
  EXPECT_DOUBLE_EQ(internal::RocAuc({1, 2, 3, 4}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(internal::RocAuc({4, 3, 2, 1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(internal::RocAuc({1, 1, 1, 1}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(internal::RocAuc({0.8, 0.4, 0.6, 0.2}, {1, 1, 0, 0}), 0.75);
  EXPECT_DOUBLE_EQ(internal::RocAuc({1, 2}, {1, 1}), 0.5) << "one class only";
}

TEST(ReportTest, CramersVKnownAnswers) {
  // A diagonal table is perfectly associated; an outer product is independent.
  EXPECT_NEAR(internal::CramersV({10, 0, 0, 10}, 2, 2), 1.0, 1e-12);
  EXPECT_NEAR(internal::CramersV({2, 4, 3, 6}, 2, 2), 0.0, 1e-12);
  // [[20, 10], [10, 20]]: chi^2 = 60 * (1/3)^2 = 6.667, V = sqrt(6.667 / 60) = 1/3.
  EXPECT_NEAR(internal::CramersV({20, 10, 10, 20}, 2, 2), 1.0 / 3, 1e-12);
  EXPECT_EQ(internal::CramersV({5, 5}, 1, 2), 0.0) << "one row";
}

// The label follows the city when `linked`, else it alternates independently of it (period 4 against 2).
std::string People(int n, bool linked) {
  std::string csv = "id,age,city,income,label\n";
  for (int i = 0; i < n; ++i) {
    const bool yes = linked ? i % 2 == 0 : (i / 2) % 2 == 0;
    csv += std::to_string(i) + "," + std::to_string(20 + i % 40) + "," + (i % 2 == 0 ? "A" : "B<script>") +
           "," + std::to_string(1000.5 * (i % 7)) + "," + (yes ? "yes" : "no") + "\n";
  }
  return csv;
}

TEST(ReportTest, IdenticalTablesHaveNoErrorAndFullMembership) {
  ReportInputs in;
  in.real = Read(People(90, true));
  in.synthetic = in.real;
  in.real_name = "real.csv";
  in.synthetic_name = "synth.csv";
  absl::StatusOr<QualityReport> r = BuildReport(in);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->tvd.size(), 3u);
  for (const MarginalErrorSummary& s : r->tvd) EXPECT_EQ(s.worst_tvd, 0) << s.way;
  EXPECT_EQ(r->associations.max_diff, 0);
  // The reference is the real training part (2/3 of the rows): 60 of the 90 synthetic rows are in it; the
  // held-out rows have other ids, so none is.
  EXPECT_DOUBLE_EQ(r->membership.synthetic_coded, 2.0 / 3);
  EXPECT_DOUBLE_EQ(r->membership.synthetic_raw, 2.0 / 3);
  EXPECT_EQ(r->membership.holdout_coded, 0);
  // The label is a function of city: a perfect classifier either way.
  ASSERT_TRUE(r->ml.ran) << r->ml.note;
  EXPECT_EQ(r->ml.real_accuracy, 1.0);
  EXPECT_EQ(r->ml.synthetic_accuracy, 1.0);
  EXPECT_EQ(r->ml.real_auc, 1.0);
  EXPECT_NEAR(r->ml.majority_accuracy, 0.5, 0.05);
  const std::string html = RenderHtml(*r);
  EXPECT_THAT(html, HasSubstr("B&lt;script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("No sidecar"));
  absl::StatusOr<std::string> json = ReportJson(*r);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"holdout_match_coded\": 0.0"));
}

TEST(ReportTest, ShiftedTableDiffersAndErrorsNameTheColumn) {
  ReportInputs in;
  in.real = Read(People(90, true));
  in.synthetic = Read(People(90, false));
  in.real_name = "real.csv";
  in.synthetic_name = "synth.csv";
  absl::StatusOr<QualityReport> r = BuildReport(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->tvd[0].average_tvd, 0);
  EXPECT_GT(r->associations.max_diff, 0.5) << "label no longer follows city";
  EXPECT_LT(r->ml.synthetic_accuracy, 0.8) << "trained on the unlinked table";
  EXPECT_EQ(r->ml.real_accuracy, 1.0);
  in.synthetic = Read("age,town\n1,x\n");
  EXPECT_THAT(BuildReport(in).status().message(), HasSubstr("synth.csv: column \"town\" is not in real.csv"));
  in.synthetic = Read("age,city\n1,x\n");
  in.target = "nope";
  EXPECT_THAT(BuildReport(in).status().message(), HasSubstr("--target: no column \"nope\""));
  in.synthetic = Read("age,city\n");
  EXPECT_THAT(BuildReport(in).status().message(), HasSubstr("synth.csv: no row"));
}

}  // namespace
}  // namespace veil::synth
