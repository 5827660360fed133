#include "veil/gov/taxonomy.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::gov {
namespace taxonomy_test {
namespace {

TaxonomyEntry Entry(TaxonomyKind kind, std::string key, std::string description, Special special) {
  TaxonomyEntry e;
  e.kind = kind;
  e.key = std::move(key);
  e.description = std::move(description);
  e.special = special;
  return e;
}

TEST(TaxonomyTest, KeysAndParents) {
  EXPECT_TRUE(ValidateTaxonomyKey("user.contact.email").ok());
  EXPECT_TRUE(ValidateTaxonomyKey("train_ai_system").ok());
  for (const char* bad : {"", "User", "user..x", "user.", ".user", "user.2x", "user-x", "user.e mail"}) {
    EXPECT_EQ(ValidateTaxonomyKey(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParentKey("user.contact.email"), "user.contact");
  EXPECT_EQ(ParentKey("user"), "");
  EXPECT_TRUE(KeyCovers("user.contact", "user.contact.email"));
  EXPECT_TRUE(KeyCovers("user.contact", "user.contact"));
  EXPECT_FALSE(KeyCovers("user.contact", "user.contacts"));
  EXPECT_FALSE(KeyCovers("user.contact.email", "user.contact"));
  EXPECT_FALSE(KeyCovers("", "user"));
}

// Every built-in key's parent is built in too, so inheritance reaches the root.
TEST(TaxonomyTest, BuiltinIsATree) {
  const Taxonomy t = Taxonomy::Builtin();
  for (TaxonomyKind kind : {TaxonomyKind::kCategory, TaxonomyKind::kUse, TaxonomyKind::kSubject}) {
    EXPECT_FALSE(t.Entries(kind).empty());
    for (const TaxonomyEntry* e : t.Entries(kind)) {
      EXPECT_TRUE(ValidateTaxonomyKey(e->key).ok()) << e->key;
      EXPECT_FALSE(e->description.empty()) << e->key;
      const std::string_view parent = ParentKey(e->key);
      if (!parent.empty()) {
        EXPECT_NE(t.Find(kind, parent), nullptr) << e->key;
      }
    }
  }
}

TEST(TaxonomyTest, SpecialCategoriesAreInherited) {
  Taxonomy t = Taxonomy::Builtin();
  EXPECT_EQ(t.SpecialOf("user.health"), Special::kArt9);
  EXPECT_EQ(t.SpecialOf("user.health.diagnosis"), Special::kArt9);
  EXPECT_EQ(t.SpecialOf("user.criminal"), Special::kArt10);
  EXPECT_EQ(t.SpecialOf("user.contact.email"), Special::kNone);
  EXPECT_EQ(t.SpecialOf("user.racial_ethnic_origin"), Special::kArt9);
  // A key a workspace adds below a special category is special without saying so.
  ASSERT_TRUE(t.Add(Entry(TaxonomyKind::kCategory, "user.health.allergy", "Allergies", Special::kNone)).ok());
  EXPECT_EQ(t.SpecialOf("user.health.allergy"), Special::kArt9);
  EXPECT_FALSE(t.Find(TaxonomyKind::kCategory, "user.health.allergy")->builtin);
  // ... and cannot be declared otherwise.
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kCategory, "user.health.record", "x", Special::kArt10)).code(),
            absl::StatusCode::kInvalidArgument);
  // A new special branch.
  ASSERT_TRUE(t.Add(Entry(TaxonomyKind::kCategory, "user.philosophy", "Beliefs", Special::kArt9)).ok());
  EXPECT_EQ(t.SpecialOf("user.philosophy.detail"), Special::kArt9) << "unknown children inherit too";
}

TEST(TaxonomyTest, AddChecksParentsAndDuplicates) {
  Taxonomy t = Taxonomy::Builtin();
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kUse, "marketing.advertising", "dup", Special::kNone)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kUse, "nowhere.child", "orphan", Special::kNone)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kUse, "marketing.email", "", Special::kNone)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kUse, "marketing.email", "line\nbreak", Special::kNone)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Add(Entry(TaxonomyKind::kSubject, "donor", "Donors", Special::kArt9)).code(),
            absl::StatusCode::kInvalidArgument)
      << "only categories are special";
  ASSERT_TRUE(t.Add(Entry(TaxonomyKind::kUse, "research.cohort.diabetes", "A study", Special::kNone)).ok());
  EXPECT_EQ(t.FindNearest(TaxonomyKind::kUse, "research.cohort.diabetes.wave2")->key,
            "research.cohort.diabetes");
  EXPECT_EQ(t.FindNearest(TaxonomyKind::kUse, "astrology"), nullptr);
}

TEST(TaxonomyTest, ClassifierLabelsMapToCategories) {
  const Taxonomy t = Taxonomy::Builtin();
  for (const char* label :
       {"EMAIL_ADDRESS", "PHONE_NUMBER",      "CREDIT_CARD", "IBAN_CODE",  "US_SSN",         "US_ITIN",
        "US_PASSPORT",   "US_DRIVER_LICENSE", "UK_NHS",      "IP_ADDRESS", "MAC_ADDRESS",    "URL",
        "DOMAIN_NAME",   "DATE_TIME",         "ZIP_CODE",    "AGE",        "PERSON",         "STREET_ADDRESS",
        "LOCATION",      "identifier",        "sex",         "race",       "marital_status", "occupation",
        "nationality",   "education"}) {
    const std::optional<std::string> c = CategoryForClassifierLabel(label, "col");
    ASSERT_TRUE(c.has_value()) << label;
    EXPECT_NE(t.Find(TaxonomyKind::kCategory, *c), nullptr) << label << " -> " << *c;
  }
  EXPECT_EQ(CategoryForClassifierLabel("DATE_TIME", "birth_date"), "user.demographic.date_of_birth");
  EXPECT_EQ(CategoryForClassifierLabel("DATE_TIME", "DOB"), "user.demographic.date_of_birth");
  EXPECT_EQ(CategoryForClassifierLabel("DATE_TIME", "admitted_at"), "user.event_date");
  EXPECT_EQ(CategoryForClassifierLabel("race", "ethnicity"), "user.racial_ethnic_origin");
  EXPECT_EQ(t.SpecialOf(*CategoryForClassifierLabel("race", "race")), Special::kArt9);
  EXPECT_FALSE(CategoryForClassifierLabel("", "x").has_value());
  EXPECT_FALSE(CategoryForClassifierLabel("SOMETHING_NEW", "x").has_value());
}

}  // namespace
}  // namespace taxonomy_test
}  // namespace veil::gov
