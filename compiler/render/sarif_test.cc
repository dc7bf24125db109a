#include "compiler/render/sarif.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace polder {
namespace {

DiagnosticList Sample() {
  DiagnosticList d;
  Diagnostic v;
  v.code = "invariant-violated";
  v.message = "invariant `no-internet-to-db` is violated";
  v.location = {"invariants.yaml", 3, 5};
  v.invariant = "no-internet-to-db";
  v.path = {{"internet", {}},
            {"web", {"flows.yaml:1"}},
            {"mgmt", {"settings.yaml:2 (settings.controller anti-lockout)"}}};
  d.Add(v);
  d.Warning({"flows.yaml", 7, 3}, "unused-deny", "deny x denies nothing");
  d.Warning({"flows.yaml", 9, 0}, "unused-deny", "deny y denies nothing");
  return d;
}

TEST(SarifTest, ResultsAreLocatedAndRulesListedOnce) {
  auto j = nlohmann::json::parse(ToSarif(Sample(), {"abc123", "policies/prod", "0.1.0"}));
  EXPECT_EQ(j["version"], "2.1.0");
  const auto& run = j["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "polder");
  ASSERT_EQ(run["tool"]["driver"]["rules"].size(), 2u);
  EXPECT_EQ(run["properties"]["revision"], "abc123");
  const auto& results = run["results"];
  ASSERT_EQ(results.size(), 3u);
  const auto& r0 = results[0];
  EXPECT_EQ(r0["ruleId"], "invariant-violated");
  EXPECT_EQ(r0["level"], "error");
  const auto& loc = r0["locations"][0]["physicalLocation"];
  EXPECT_EQ(loc["artifactLocation"]["uri"], "policies/prod/invariants.yaml");
  EXPECT_EQ(loc["region"]["startLine"], 3);
  EXPECT_EQ(loc["region"]["startColumn"], 5);
  ASSERT_EQ(r0["relatedLocations"].size(), 2u);
  EXPECT_EQ(r0["relatedLocations"][1]["physicalLocation"]["artifactLocation"]["uri"],
            "policies/prod/settings.yaml");
  EXPECT_EQ(r0["relatedLocations"][1]["physicalLocation"]["region"]["startLine"], 2);
  EXPECT_EQ(results[1]["level"], "warning");
  EXPECT_EQ(results[1]["ruleIndex"], results[2]["ruleIndex"]);
  // SARIF columns start at 1.
  EXPECT_EQ(results[2]["locations"][0]["physicalLocation"]["region"]["startColumn"], 1);
}

TEST(SarifTest, EachRuleLinksItsCodeInTheCatalogueAndSaysHowToFixIt) {
  auto j = nlohmann::json::parse(ToSarif(Sample(), {}));
  const auto& rules = j["runs"][0]["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  for (const auto& rule : rules) {
    std::string uri = rule["helpUri"];
    EXPECT_NE(uri.find("/docs/diagnostics.md#" + rule["id"].get<std::string>()),
              std::string::npos)
        << uri;
    EXPECT_FALSE(rule["help"]["text"].get<std::string>().empty());
    EXPECT_NE(rule["shortDescription"]["text"].get<std::string>().rfind("polder ", 0), 0u)
        << "no catalogue text for " << rule["id"];
  }
}

TEST(SarifTest, EmptyListIsAValidRunWithoutResults) {
  auto j = nlohmann::json::parse(ToSarif(DiagnosticList(), {}));
  EXPECT_TRUE(j["runs"][0]["results"].empty());
  EXPECT_FALSE(j["runs"][0].contains("properties"));
}

}  // namespace
}  // namespace polder
