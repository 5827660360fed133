#include "veil/pii/entity.h"

#include "gtest/gtest.h"

namespace veil::pii {
namespace {

TEST(EntityTest, NamesRoundTripAndAreUnique) {
  for (EntityType t : AllEntityTypes()) {
    ASSERT_EQ(EntityFromName(EntityName(t)), t) << EntityName(t);
  }
  EXPECT_EQ(EntityName(EntityType::kUsSsn), "US_SSN");
  EXPECT_EQ(EntityName(EntityType::kLocation), "LOCATION");
  EXPECT_FALSE(EntityFromName("us_ssn").has_value());
  EXPECT_FALSE(EntityFromName("").has_value());
}

}  // namespace
}  // namespace veil::pii
