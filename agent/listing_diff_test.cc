#include "agent/listing_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polder::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kListing[] =
    "table inet polder {\n"
    "\tset s {\n"
    "\t\ttype ipv4_addr\n"
    "\t\telements = { 10.0.0.1,\n"
    "\t\t\t     10.0.0.2 }\n"
    "\t}\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter; policy drop;\n"
    "\t\tiif \"lo\" accept\n"
    "\t}\n"
    "\tchain output {\n"
    "\t\toif \"lo\" accept\n"
    "\t}\n"
    "}\n";

TEST(ListingDiffTest, EqualListingsHaveNoDifferences) {
  EXPECT_THAT(DiffListings(kListing, kListing), IsEmpty());
}

TEST(ListingDiffTest, ReportsAddedRuleWithItsChain) {
  std::string actual = kListing;
  actual.insert(actual.find("\t}\n\tchain output"), "\t\ttcp dport 22 accept\n");
  EXPECT_THAT(DiffListings(kListing, actual),
              ElementsAre("+ table inet polder > chain input: tcp dport 22 accept"));
}

TEST(ListingDiffTest, ReportsRemovedRuleAndKeepsChainsApart) {
  std::string actual = kListing;
  actual.erase(actual.find("\t\toif \"lo\" accept\n"), 18);
  EXPECT_THAT(DiffListings(kListing, actual),
              ElementsAre("- table inet polder > chain output: oif \"lo\" accept"));
}

TEST(ListingDiffTest, EmptyActualListsEverythingRemovedAndLimitIsHonoured) {
  std::vector<std::string> d = DiffListings(kListing, "", 3);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0], "- table inet polder");
  EXPECT_EQ(d[3], "... 7 more");
}

TEST(ListingDiffTest, DuplicateLinesCountAsMultiset) {
  EXPECT_THAT(DiffListings("a\nb\n", "a\nb\nb\n"), ElementsAre("+ b"));
  EXPECT_THAT(DiffListings("a\nb\nb\n", "a\nb\n"), ElementsAre("- b"));
}

}  // namespace
}  // namespace polder::agent
