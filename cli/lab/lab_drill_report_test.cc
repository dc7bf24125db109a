#include "cli/lab/lab_drill_report.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "wire/rfc3339.h"

namespace polder::cli {
namespace {

DrillReport Passing() {
  DrillReport r;
  r.lab = "polder";
  r.policy_revision = std::string(64, 'a');
  r.posture = "lockdown";
  r.posture_revision = std::string(64, 'b');
  r.started = *ParseRfc3339("2026-12-02T08:00:00Z");
  r.activate = {true, 412, 30000, 95, {{"db-1", 390}, {"web-1", 412}}, ""};
  r.probe_posture = {true, 120, 118, 2, {{"icmp/0-2 (types no service names): why", 2}}, {}};
  r.release = {true, 380, 30000, 90, {{"db-1", 380}, {"web-1", 200}}, ""};
  r.probe_normal = {true, 120, 118, 2, {{"icmp/0-2 (types no service names): why", 2}}, {}};
  return r;
}

TEST(DrillReportTest, JsonHasTheDocumentedShape) {
  nlohmann::json j = nlohmann::json::parse(DrillReportJson(Passing()));
  EXPECT_EQ(j["policy_revision"], std::string(64, 'a'));
  EXPECT_EQ(j["posture"], "lockdown");
  EXPECT_EQ(j["posture_revision"], std::string(64, 'b'));
  EXPECT_EQ(j["started"], "2026-12-02T08:00:00Z");
  EXPECT_EQ(j["activate"]["enforced_ms"], 412);
  EXPECT_EQ(j["activate"]["hosts"][0]["host"], "db-1");
  EXPECT_EQ(j["activate"]["hosts"][0]["enforced_ms"], 390);
  EXPECT_EQ(j["probe_posture"]["cases"], 120);
  EXPECT_EQ(j["probe_posture"]["probed"], 118);
  EXPECT_EQ(j["probe_posture"]["skipped"], 2);
  EXPECT_EQ(j["probe_posture"]["disagree"], 0);
  EXPECT_TRUE(j["probe_posture"]["disagreements"].is_array());
  EXPECT_EQ(j["release"]["enforced_ms"], 380);
  EXPECT_EQ(j["probe_normal"]["disagree"], 0);
  EXPECT_EQ(j["agree"], true);
}

TEST(DrillReportTest, ADisagreementFailsTheDrillAndIsListed) {
  DrillReport r = Passing();
  r.probe_posture.disagreements.push_back({"web-1", "db-1", "tcp", 5432, "blocked", "allowed"});
  EXPECT_FALSE(r.agree());
  nlohmann::json j = nlohmann::json::parse(DrillReportJson(r));
  EXPECT_EQ(j["agree"], false);
  EXPECT_EQ(j["probe_posture"]["disagree"], 1);
  EXPECT_EQ(j["probe_posture"]["disagreements"][0],
            nlohmann::json::parse(R"({"from": "web-1", "to": "db-1", "protocol": "tcp",
                                      "port": 5432, "expected": "blocked",
                                      "observed": "allowed"})"));
  EXPECT_NE(DrillReportText(r).find("DISAGREE web-1 -> db-1 tcp/5432: expected blocked, observed "
                                    "allowed"),
            std::string::npos);
  EXPECT_NE(DrillReportText(r).find("drill FAILED"), std::string::npos);
}

TEST(DrillReportTest, AHostThatNeverEnforcedIsATimeoutAndFailsTheDrill) {
  DrillReport r = Passing();
  r.activate.enforced_ms.reset();
  r.activate.hosts[1].enforced_ms.reset();
  EXPECT_FALSE(r.agree());
  nlohmann::json j = nlohmann::json::parse(DrillReportJson(r));
  EXPECT_TRUE(j["activate"]["enforced_ms"].is_null());
  EXPECT_TRUE(j["activate"]["hosts"][1]["enforced_ms"].is_null());
  EXPECT_EQ(j["activate"]["timeout_ms"], 30000);
  EXPECT_NE(DrillReportText(r).find("web-1: NOT within 30000 ms"), std::string::npos);
}

TEST(DrillReportTest, TimesSayHowLateTheyMayBe) {
  DrillReport r = Passing();
  nlohmann::json j = nlohmann::json::parse(DrillReportJson(r));
  EXPECT_EQ(j["activate"]["resolution_ms"], 95);
  EXPECT_EQ(j["release"]["resolution_ms"], 90);
  EXPECT_NE(DrillReportText(r).find("looked at every <= 95 ms"), std::string::npos);
}

TEST(DrillReportTest, StepsNotReachedAreNullAndFailTheDrill) {
  DrillReport r = Passing();
  r.probe_normal = {};
  EXPECT_FALSE(r.agree());
  nlohmann::json j = nlohmann::json::parse(DrillReportJson(r));
  EXPECT_TRUE(j["probe_normal"].is_null());
  EXPECT_EQ(j["agree"], false);
}

TEST(DrillReportTest, HtmlIsOnePageThatEscapesWhatItShows) {
  DrillReport r = Passing();
  r.posture = "<lock&down>";
  std::string html = DrillReportHtml(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("&lt;lock&amp;down&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<lock&down>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos) << "fetches nothing";
  EXPECT_NE(html.find("passed"), std::string::npos);
}

}  // namespace
}  // namespace polder::cli
