#include "compiler/render/drill_result.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polder {
namespace {

using ::testing::HasSubstr;

// The shape `polder lab drill --format json` writes (docs/drill-report.md).
constexpr char kDrill[] = R"({
  "policy_revision": "abc", "posture": "lockdown", "posture_revision": "def",
  "started": "2026-12-02T08:00:00Z",
  "lab": "pl-1",
  "activate": {"enforced_ms": 412, "timeout_ms": 5000,
               "hosts": [{"host": "db-1", "enforced_ms": 390}, {"host": "web-1", "enforced_ms": 412}]},
  "probe_posture": {"cases": 120, "probed": 118, "skipped": 2, "disagree": 1,
                    "disagreements": [{"from": "web-1", "to": "db-1", "protocol": "tcp",
                                       "port": 5432, "expected": "blocked", "observed": "allowed"},
                                      {"case": 7}],
                    "skips": [{"reason": "sctp module missing", "cases": 2}]},
  "release": {"enforced_ms": null, "timeout_ms": 5000,
              "hosts": [{"host": "db-1", "enforced_ms": null}], "error": "controller gone"},
  "probe_normal": {"cases": 120, "probed": 120, "skipped": 0, "disagree": 0, "disagreements": []},
  "agree": false})";

TEST(DrillResultTest, ReadsEveryPart) {
  absl::StatusOr<DrillResult> d = ParseDrillResult(kDrill, "drill.json");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->policy_revision, "abc");
  EXPECT_EQ(d->posture, "lockdown");
  EXPECT_EQ(d->posture_revision, "def");
  EXPECT_EQ(d->started, "2026-12-02T08:00:00Z");
  EXPECT_EQ(d->lab, "pl-1");
  ASSERT_TRUE(d->activate.has_value());
  EXPECT_EQ(d->activate->enforced_ms, 412);
  EXPECT_EQ(d->activate->timeout_ms, 5000);
  ASSERT_EQ(d->activate->hosts.size(), 2u);
  EXPECT_EQ(d->activate->hosts[0].host, "db-1");
  EXPECT_EQ(d->activate->hosts[0].enforced_ms, 390);
  ASSERT_TRUE(d->probe_posture.has_value());
  EXPECT_EQ(d->probe_posture->probed, 118);
  EXPECT_EQ(d->probe_posture->skipped, 2);
  EXPECT_EQ(d->probe_posture->disagree, 1);
  ASSERT_EQ(d->probe_posture->disagreements.size(), 2u);
  EXPECT_EQ(d->probe_posture->disagreements[0],
            "web-1 -> db-1 tcp/5432: expected blocked, observed allowed");
  EXPECT_EQ(d->probe_posture->disagreements[1], "case: 7");
  ASSERT_EQ(d->probe_posture->skips.size(), 1u);
  EXPECT_EQ(d->probe_posture->skips[0],
            std::make_pair(std::string("sctp module missing"), int64_t{2}));
  // A timed-out release: no time, per host none either, and the error.
  ASSERT_TRUE(d->release.has_value());
  EXPECT_FALSE(d->release->enforced_ms.has_value());
  ASSERT_EQ(d->release->hosts.size(), 1u);
  EXPECT_FALSE(d->release->hosts[0].enforced_ms.has_value());
  EXPECT_EQ(d->release->error, "controller gone");
  ASSERT_TRUE(d->probe_normal.has_value());
  EXPECT_EQ(d->probe_normal->cases, 120);
  EXPECT_FALSE(d->agree);
}

TEST(DrillResultTest, OptionalPartsMayBeAbsent) {
  absl::StatusOr<DrillResult> d =
      ParseDrillResult(R"({"policy_revision": "a", "posture": "p", "agree": true,
                           "activate": null, "probe_normal": null})",
                       "d.json");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->agree);
  EXPECT_FALSE(d->activate.has_value());
  EXPECT_FALSE(d->probe_normal.has_value());
  EXPECT_FALSE(d->probe_posture.has_value());
}

TEST(DrillResultTest, MalformedFilesAreErrorsNamingFileAndKey) {
  struct Case {
    const char* json;
    const char* says;
  };
  for (
      const Case& c : std::vector<Case>{
          {"", "d.json: not valid JSON"},
          {R"({"posture": "p", "agree": tr)", "not valid JSON"},
          {"[1, 2]", "one JSON object"},
          {R"({"posture": "p", "agree": true})", "`policy_revision` is missing"},
          {R"({"policy_revision": "a", "posture": 7, "agree": true})",
           "`posture` must be a string"},
          {R"({"policy_revision": "a", "posture": "p", "agree": "yes"})",
           "`agree` must be true or false"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true, "activate": []})",
           "`activate` must be an object"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true,
                "activate": {"hosts": [{"host": "h", "enforced_ms": -1}]}})",
           "`activate.hosts[0].enforced_ms` must be a non-negative integer"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true, "activate": {"hosts": [3]}})",
           "`activate.hosts[0]` must be an object"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true,
                "probe_posture": {"cases": 1, "probed": 1}})",
           "`probe_posture.disagree` is missing"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true,
                "probe_normal": {"cases": 1, "probed": 1, "disagree": 0, "skips": [{"cases": 1}]}})",
           "`probe_normal.skips[0].reason` is missing"},
          {R"({"policy_revision": "a", "posture": "p", "agree": true,
                "release": {"enforced_ms": "fast"}})",
           "`release.enforced_ms` must be a non-negative integer"},
      }) {
    absl::StatusOr<DrillResult> d = ParseDrillResult(c.json, "d.json");
    ASSERT_FALSE(d.ok()) << c.json;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(), HasSubstr(c.says)) << c.json;
    EXPECT_THAT(d.status().message(), HasSubstr("d.json: "));
  }
}

}  // namespace
}  // namespace polder
