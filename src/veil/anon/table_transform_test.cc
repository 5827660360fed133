#include "veil/anon/table_transform.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"
#include "veil/table/csv_writer.h"

namespace veil::anon {
namespace {

using ::testing::HasSubstr;

constexpr char kCsv[] =
    "id,name,email,birth,zip,charges,smoker,note\n"
    "1,Jane Doe,jane@example.com,1963-04-07,62701,7256.33,false,hello\n"
    "2,John Roe,john@example.com,2012-06-27,02134,999.5,true,\n";

table::Table Input() {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(kCsv);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

base::SecretBytes Key(uint8_t fill) {
  base::SecretBytes k(32);
  for (size_t i = 0; i < 32; ++i) k.data()[i] = static_cast<uint8_t>(fill + i);
  return k;
}

TEST(TableTransformTest, AppliesEachOperator) {
  absl::StatusOr<TransformPolicy> policy = ParsePolicy(R"({
    "columns": {
      "id": "token",
      "name": {"operator": "replace", "entity": "PERSON"},
      "email": {"operator": "mask", "chars": 4, "from_end": true},
      "birth": {"operator": "generalize"},
      "zip": {"operator": "generalize", "kind": "zip"},
      "charges": {"operator": "generalize", "width": 1000},
      "smoker": "keep",
      "note": "drop"
    }
  })");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(PolicyNeedsKeys(*policy));
  const base::SecretBytes key = Key(1);
  absl::StatusOr<TransformResult> r = TransformTable(Input(), *policy, {&key, nullptr});
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<std::string> csv = table::WriteCsvToString(r->table);
  ASSERT_TRUE(csv.ok());
  EXPECT_THAT(
      *csv,
      ::testing::MatchesRegex(
          "id,name,email,birth,zip,charges,smoker\n"
          "TOK_VALUE_[0-9a-f]{16},<PERSON>,jane@example\\*\\*\\*\\*,1963-04,627,\"\\[7000, 8000\\)\",false\n"
          "TOK_VALUE_[0-9a-f]{16},<PERSON>,john@example\\*\\*\\*\\*,2012-06,021,\"\\[0, 1000\\)\",true\n"));
}

TEST(TableTransformTest, Ff1ColumnIsReversible) {
  absl::StatusOr<TransformPolicy> policy = ParsePolicy(
      R"({"columns": {"email": {"operator": "ff1", "entity": "EMAIL_ADDRESS"}}, "default": "keep"})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const base::SecretBytes key = Key(2);
  absl::StatusOr<TransformResult> r = TransformTable(Input(), *policy, {nullptr, &key});
  ASSERT_TRUE(r.ok()) << r.status();
  const table::Column* email = r->table.FindColumn("email");
  ASSERT_NE(email, nullptr);
  absl::StatusOr<std::unique_ptr<Ff1Operator>> ff1 = Ff1Operator::Create(key);
  ASSERT_TRUE(ff1.ok());
  EXPECT_NE(email->GetString(0), "jane@example.com");
  EXPECT_EQ(*(*ff1)->Decrypt(pii::EntityType::kEmailAddress, email->GetString(0)), "jane@example.com");
  // A keyed operator without its key.
  EXPECT_EQ(TransformTable(Input(), *policy, {}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TableTransformTest, ErrorsNameTheFieldOrColumn) {
  const auto message = [](std::string_view json) {
    return std::string(ParsePolicy(json).status().message());
  };
  EXPECT_THAT(message(R"({"columns": {"a": "shred"}})"), HasSubstr("columns.a: unknown operator \"shred\""));
  EXPECT_THAT(message(R"({"columns": {"a": {"operator": "mask", "chars": -1}}})"),
              HasSubstr("columns.a.chars"));
  EXPECT_THAT(message(R"({"columns": {"a": {"operator": "mask", "width": 3}}})"),
              HasSubstr("columns.a.width: unknown field"));
  EXPECT_THAT(message(R"({"columns": {"a": {"operator": "token", "entity": "SHOE_SIZE"}}})"),
              HasSubstr("unknown entity type"));
  EXPECT_THAT(message(R"({"columns": {}, "colour": 1})"), HasSubstr("colour: unknown field"));
  EXPECT_THAT(message(R"({"columns": )"), HasSubstr("not valid JSON at byte"));

  absl::StatusOr<TransformPolicy> unknown_col =
      ParsePolicy(R"({"columns": {"nope": "drop"}, "default": "keep"})");
  ASSERT_TRUE(unknown_col.ok());
  EXPECT_THAT(TransformTable(Input(), *unknown_col, {}).status().message(), HasSubstr("no column \"nope\""));
  absl::StatusOr<TransformPolicy> uncovered = ParsePolicy(R"({"columns": {"id": "keep"}})");
  ASSERT_TRUE(uncovered.ok());
  EXPECT_THAT(TransformTable(Input(), *uncovered, {}).status().message(),
              HasSubstr("\"name\" has no operator"));
  absl::StatusOr<TransformPolicy> no_width =
      ParsePolicy(R"({"columns": {"charges": "generalize"}, "default": "keep"})");
  ASSERT_TRUE(no_width.ok());
  EXPECT_THAT(TransformTable(Input(), *no_width, {}).status().message(), HasSubstr("width"));
  absl::StatusOr<TransformPolicy> bad_month =
      ParsePolicy(R"({"columns": {"name": {"operator": "generalize", "kind": "month"}}, "default": "keep"})");
  ASSERT_TRUE(bad_month.ok());
  const absl::Status s = TransformTable(Input(), *bad_month, {}).status();
  EXPECT_THAT(s.message(), HasSubstr("column \"name\", row 1"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("Jane")));
}

}  // namespace
}  // namespace veil::anon
