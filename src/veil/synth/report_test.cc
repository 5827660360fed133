#include "veil/synth/report.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::synth {
namespace report_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

table::Table Read(const std::string& csv) {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
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

TEST(ReportTest, NumbersAreBinnedAtRealQuantilesWithPointBins) {
  // loss: 90% zeros, the rest spread over 1000..3970; the synthetic table spreads its non-zero share wrong
  // (uniform 0..99) but has the same 90% of zeros.
  std::string real = "loss,group\n", synth = "loss,group\n";
  for (int i = 0; i < 400; ++i) {
    real += std::to_string(i % 10 == 0 ? 1000 + 3 * (i % 991) : 0) + "," + (i % 2 ? "a" : "b") + "\n";
    synth += std::to_string(i % 10 == 0 ? i % 100 : 0) + "," + (i % 2 ? "a" : "b") + "\n";
  }
  ReportInputs in;
  in.real = Read(real);
  in.synthetic = Read(synth);
  in.real_name = "real.csv";
  in.synthetic_name = "synth.csv";
  absl::StatusOr<QualityReport> r = BuildReport(in);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->bins.size(), 1u);
  EXPECT_EQ(r->bins[0].first, "loss");
  // Quantiles j/20 of the real values: 18 of 19 fall on 0 (a point bin), then one cut inside the tail.
  ASSERT_GE(r->bins[0].second.size(), 2u);
  EXPECT_EQ(r->bins[0].second[0], "0");
  EXPECT_THAT(r->coding_source, HasSubstr("quantiles"));
  // The synthetic non-zero values all fall in the first non-zero bin: 1-way TVD = the share of real
  // non-zeros outside it (> 0), and below 0.1 (the non-zero share).
  EXPECT_GT(r->column_tvd[0], 0);
  EXPECT_LE(r->column_tvd[0], 0.1 + 1e-12);
  EXPECT_THAT(RenderHtml(*r), HasSubstr("not</strong> a differentially private release"));
  EXPECT_THAT(RenderHtml(*r), HasSubstr("Bins of the numeric columns"));
}

TEST(ReportTest, SidecarCodingCountsRareRealValuesAsOther) {
  // Real: cities A, B common, R1..R9 rare. Synthetic (as a synthesizer that kept A and B writes it): the
  // rare share as "(other)".
  std::string real = "city,n\n", synth = "city,n\n";
  for (int i = 0; i < 300; ++i) {
    const std::string city = i % 10 == 9 ? "R" + std::to_string(i % 9 + 1) : (i % 2 ? "A" : "B");
    real += city + "," + std::to_string(i % 50) + "\n";
    synth += (i % 10 == 9 ? std::string("(other)") : city) + "," + std::to_string(i % 50) + "\n";
  }
  ReportInputs in;
  in.real = Read(real);
  in.synthetic = Read(synth);
  in.real_name = "real.csv";
  in.synthetic_name = "synth.csv";
  absl::StatusOr<QualityReport> plain = BuildReport(in);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_NEAR(plain->column_tvd[0], 0.1, 1e-12) << "each rare value against (other)";
  ColumnCoding city{.name = "city",
                    .type = table::DataType::kString,
                    .rule = ColumnRule::kDpValues,
                    .categorical = true,
                    .values = {"A", "B"},
                    .has_other = true};
  ColumnCoding n{.name = "n",
                 .type = table::DataType::kInt64,
                 .rule = ColumnRule::kDpBounds,
                 .lower = 0,
                 .upper = 63,
                 .bins = 4,
                 .binning = Binning::kQuantiles,
                 .starts = {0, 10, 30}};
  in.coding = std::vector<ColumnCoding>{city, n};
  absl::StatusOr<QualityReport> r = BuildReport(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->column_tvd[0], 0) << "rare real values are (other), as the synthesizer saw them";
  EXPECT_EQ(r->coding_source, "the synthesizer's coding (sidecar)");
  ASSERT_EQ(r->bins.size(), 1u);
  EXPECT_THAT(r->bins[0].second, ::testing::ElementsAre("0..9", "10..29", "30..63", "null"));
  // A sidecar coding of another column only: the other column falls back to the real table's rules.
  in.coding = std::vector<ColumnCoding>{n};
  r = BuildReport(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->coding_source, HasSubstr("for 1 of 2 columns"));
  EXPECT_NEAR(r->column_tvd[0], 0.1, 1e-12);
}

}  // namespace
}  // namespace report_test
}  // namespace veil::synth
