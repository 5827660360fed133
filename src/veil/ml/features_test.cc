#include "veil/ml/features.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/table/csv_reader.h"

namespace veil::ml {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ColumnSpec Numeric(const std::string& name, double lower, double upper) {
  ColumnSpec spec;
  spec.name = name;
  spec.lower = lower;
  spec.upper = upper;
  return spec;
}

table::Table Sample() {
  auto t = table::ReadCsvFromString(
      "age,job,hours,label\n"
      "30,clerk,40,no\n"
      "50,,60,yes\n"
      "40,manager,,no\n"
      "20,clerk,20,yes\n");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(FeaturesTest, FitEncodesOneHotStandardizesAndFlagsMissing) {
  const table::Table t = Sample();
  auto p = FitFeaturePipeline(t, {.columns = {"age", "job", "hours"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->feature_names(),
              ElementsAre("age", "job=clerk", "job=manager", "job:missing", "hours", "hours:missing"));
  EXPECT_THAT(p->feature_column(), ElementsAre(0, 1, 1, 1, 2, 2));
  auto x = p->Transform(t);
  ASSERT_TRUE(x.ok()) << x.status();
  // age: mean 35, population sd sqrt(125).
  EXPECT_NEAR((*x)(0, 0), (30 - 35) / std::sqrt(125.0), 1e-12);
  EXPECT_EQ((*x)(0, 1), 1);
  EXPECT_EQ((*x)(1, 1) + (*x)(1, 2), 0);  // missing job: no category, indicator set
  EXPECT_EQ((*x)(1, 3), 1);
  // hours: mean of 40, 60, 20 = 40, sd sqrt(800/3); the missing row is imputed at the mean (0).
  EXPECT_NEAR((*x)(1, 4), 20 / std::sqrt(800.0 / 3), 1e-12);
  EXPECT_EQ((*x)(2, 4), 0);
  EXPECT_EQ((*x)(2, 5), 1);
  EXPECT_EQ((*x)(0, 5), 0);
}

TEST(FeaturesTest, JsonRoundTripReproducesTheEncodingExactly) {
  const table::Table t = Sample();
  auto p = FitFeaturePipeline(t, {.columns = {"age", "job", "hours"}});
  ASSERT_TRUE(p.ok());
  auto q = FeaturePipeline::FromJson(p->ToJson());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->feature_names(), p->feature_names());
  EXPECT_EQ(*q->Transform(t), *p->Transform(t));  // bit-exact
}

// A category the pipeline never saw encodes as no category (all zeros, not the missing indicator), and the
// Transform overload names, per row, the columns where that happened; nulls and known values are not listed.
// Both a string column (dictionary path) and an int64 column read as categories (text path) are covered.
TEST(FeaturesTest, UnknownCategoriesEncodeAsZerosAndAreReportedPerRow) {
  auto t = table::ReadCsvFromString(
      "job,grade\n"
      "clerk,1\n"
      "pilot,2\n"    // job unknown
      ",7\n"         // job null (missing, not unknown); grade unknown
      "manager,9\n"  // grade unknown
      "clerk,2\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ColumnSpec job;
  job.name = "job";
  job.kind = ColumnKind::kCategorical;
  job.categories = {"clerk", "manager"};
  ColumnSpec grade = job;
  grade.name = "grade";
  grade.categories = {"1", "2"};
  grade.missing = MissingPolicy::kImpute;
  auto p = PublicFeaturePipeline({job, grade});
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<std::vector<int>> unknown;
  auto x = p->Transform(*t, &unknown);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(*x, *p->Transform(*t));  // the report does not change the encoding
  ASSERT_EQ(unknown.size(), 5u);
  EXPECT_TRUE(unknown[0].empty());
  EXPECT_THAT(unknown[1], ElementsAre(0));
  EXPECT_THAT(unknown[2], ElementsAre(1));
  EXPECT_THAT(unknown[3], ElementsAre(1));
  EXPECT_TRUE(unknown[4].empty());
  // Row 1 (pilot): job=clerk, job=manager, job:missing all 0; row 2 (null job): only job:missing set.
  EXPECT_THAT(std::vector<double>(x->row(1).data(), x->row(1).data() + 3), ElementsAre(0, 0, 0));
  EXPECT_THAT(std::vector<double>(x->row(2).data(), x->row(2).data() + 3), ElementsAre(0, 0, 1));
  EXPECT_EQ((*x)(3, 3) + (*x)(3, 4), 0);  // grade 9: no grade feature set
}

TEST(FeaturesTest, FromJsonRejectsBadInputNamingTheField) {
  EXPECT_THAT(FeaturePipeline::FromJson("{").status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(FeaturePipeline::FromJson(R"({"format":"x"})").status().message(), HasSubstr("format"));
  auto bad = FeaturePipeline::FromJson(
      R"({"format":"veil-feature-pipeline","version":1,"columns":[{"name":"a","kind":"numeric","mean":0,"scale":-1}]})");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("scale must be finite and > 0"));
  auto typed = FeaturePipeline::FromJson(
      R"({"format":"veil-feature-pipeline","version":1,"columns":[{"name":"a","kind":"numeric","missing":3}]})");
  EXPECT_THAT(typed.status().message(), HasSubstr("\"missing\" must be a string"));
}

TEST(FeaturesTest, PublicMetadataFileIsParsedInOrderAndErrorsNameTheField) {
  const absl::StatusOr<PublicMetadata> m = ParsePublicMetadata(
      R"({"columns": {"zeta": {"lower": 0, "upper": 10, "transform": "log1p", "missing": "impute"},
                      "alpha": {"categories": ["b", "a"]}, "mid": {"mean": 1, "scale": 2}},
          "target": {"classes": ["no", "yes"]}})",
      "meta.json");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->columns.size(), 3u);
  EXPECT_EQ(m->columns[0].name, "zeta");  // the file's order, not sorted
  EXPECT_EQ(m->columns[0].transform, NumericTransform::kLog1p);
  EXPECT_EQ(m->columns[0].missing, MissingPolicy::kImpute);
  EXPECT_EQ(*m->columns[0].upper, 10);
  EXPECT_EQ(m->columns[1].kind, ColumnKind::kCategorical);
  EXPECT_EQ(m->columns[1].categories, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(*m->columns[2].scale, 2);
  EXPECT_EQ(m->classes, (std::vector<std::string>{"no", "yes"}));
  EXPECT_TRUE(PublicFeaturePipeline(m->columns).ok());

  const auto err = [](const std::string& json) {
    return std::string(ParsePublicMetadata(json, "meta.json").status().message());
  };
  EXPECT_THAT(err("{"), HasSubstr("meta.json: not valid JSON"));
  EXPECT_THAT(err("[]"), HasSubstr("not a JSON object"));
  EXPECT_THAT(err(R"({"columns": {}})"), HasSubstr("\"columns\" must be an object"));
  EXPECT_THAT(err(R"({"columns": {"a": {"upper": "x"}}})"),
              HasSubstr("column \"a\": \"upper\" must be a number"));
  EXPECT_THAT(err(R"({"columns": {"a": {}}})"), HasSubstr("column \"a\": a numeric column needs"));
  EXPECT_THAT(err(R"({"columns": {"a": {"categories": [1]}}})"), HasSubstr("\"categories\" must be"));
  EXPECT_THAT(err(R"({"columns": {"a": {"lower": 0, "upper": 1, "missing": "drop"}}})"),
              HasSubstr("\"missing\" must be"));
  EXPECT_THAT(err(R"({"columns": {"a": {"lower": 0, "upper": 1, "transform": "exp"}}})"),
              HasSubstr("\"transform\" must be"));
  EXPECT_THAT(err(R"({"columns": {"a": {"lower": 0, "upper": 1}}, "target": {"classes": ["x", "x"]}})"),
              HasSubstr("at least two distinct classes"));
  EXPECT_THAT(err(R"({"columns": {"a": {"lower": 0, "upper": 1}}, "target": ["x"]})"),
              HasSubstr("\"target\" must be"));
}

TEST(FeaturesTest, PublicMetadataMapsBoundsOntoMinusOneOne) {
  ColumnSpec age = Numeric("age", 20, 60);
  ColumnSpec job;
  job.name = "job";
  job.kind = ColumnKind::kCategorical;
  job.categories = {"clerk", "manager"};
  ColumnSpec hours = Numeric("hours", 0, 100);
  hours.missing = MissingPolicy::kImpute;
  hours.transform = NumericTransform::kLog1p;
  auto p = PublicFeaturePipeline({age, job, hours});
  ASSERT_TRUE(p.ok()) << p.status();
  auto x = p->Transform(Sample());
  ASSERT_TRUE(x.ok());
  EXPECT_DOUBLE_EQ((*x)(0, 0), -0.5);  // (30 - 40) / 20
  EXPECT_DOUBLE_EQ((*x)(1, 0), 0.5);
  const double a = 0, b = std::log1p(100.0);
  EXPECT_NEAR((*x)(0, 5), (std::log1p(40.0) - (a + b) / 2) / ((b - a) / 2), 1e-12);
  EXPECT_EQ((*x)(2, 5), 0);         // imputed
  EXPECT_EQ(p->num_features(), 6);  // age, age:missing, job=clerk, job=manager, job:missing, hours
  ColumnSpec unbounded;
  unbounded.name = "age";
  EXPECT_THAT(PublicFeaturePipeline({unbounded}).status().message(), HasSubstr("needs bounds"));
}

TEST(FeaturesTest, MissingPolicyErrorNamesColumnAndRowNotValue) {
  ColumnSpec hours;
  hours.name = "hours";
  hours.missing = MissingPolicy::kError;
  hours.mean = 0;
  hours.scale = 1;
  auto p = FeaturePipeline::Create({hours});
  ASSERT_TRUE(p.ok());
  auto x = p->Transform(Sample());
  EXPECT_EQ(x.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(x.status().message(), HasSubstr("column \"hours\", row 2"));
}

TEST(FeaturesTest, DpFitEstimatesMeanAndScaleAndReportsItsCost) {
  // 10,000 ages uniform on 20..69: mean 44.5, sd ~14.43.
  std::string csv = "age\n";
  for (int i = 0; i < 10000; ++i) csv += std::to_string(20 + i % 50) + "\n";
  auto t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok());
  crypto::testing::DeterministicRandom rng(7);
  dp::RandomBits bits(rng);
  ColumnSpec age = Numeric("age", 0, 100);
  auto r = FitFeaturePipelineDp(*t, {age}, {1.0, 1e-6}, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  // The noise sd on each sum is ~ sensitivity * 3.5 at rho ~ 0.0077 / 3: the mean is off by < 0.1, the scale
  // by well under 1.
  EXPECT_NEAR(*r->pipeline.columns()[0].mean, 44.5, 0.1);
  EXPECT_NEAR(*r->pipeline.columns()[0].scale, std::sqrt((50.0 * 50 - 1) / 12), 1.0);
  EXPECT_LE(r->cost.total.epsilon, 1.0);
  EXPECT_GT(r->cost.total.epsilon, 0.9);
  EXPECT_NEAR(r->cost.total.delta, 1e-6, 1e-18);
  EXPECT_EQ(r->cost.components.size(), 3u);
  ColumnSpec unbounded;
  unbounded.name = "age";
  EXPECT_THAT(FitFeaturePipelineDp(*t, {unbounded}, {1.0, 1e-6}, bits).status().message(),
              HasSubstr("public bounds"));
}

TEST(FeaturesTest, LabelsAndTargets) {
  const table::Table t = Sample();
  auto classes = DistinctValues(t, "label");
  ASSERT_TRUE(classes.ok());
  EXPECT_THAT(*classes, ElementsAre("no", "yes"));
  EXPECT_THAT(*EncodeClassLabels(t, "label", *classes), ElementsAre(0, 1, 0, 1));
  EXPECT_THAT(EncodeClassLabels(t, "label", {"no"}).status().message(), HasSubstr("row 1"));
  auto y = EncodeRegressionTarget(t, "age");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)[3], 20);
  EXPECT_FALSE(EncodeRegressionTarget(t, "hours").ok());  // a null
}

}  // namespace
}  // namespace veil::ml
