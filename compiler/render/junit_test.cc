#include "compiler/render/junit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<Invariant> Invariants() {
  Invariant a, b;
  a.name = "no-internet-to-db";
  a.location = {"invariants.yaml", 2, 5};
  b.name = "backups-isolated";
  b.location = {"invariants.yaml", 5, 5};
  return {a, b};
}

TEST(JunitTest, OneCasePerInvariantAndOneForThePolicy) {
  DiagnosticList d;
  Diagnostic v;
  v.code = "invariant-violated";
  v.invariant = "no-internet-to-db";
  v.location = {"invariants.yaml", 2, 5};
  v.message = "db is reachable from internet <via> \"web\" & more";
  d.Add(v);
  d.Warning({"flows.yaml", 3, 1}, "unused-deny", "deny denies nothing");
  std::string xml = ToJunit(d, "abc", Invariants());
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"polder check\" tests=\"3\" failures=\"1\""));
  EXPECT_THAT(xml, HasSubstr("name=\"no-internet-to-db\" file=\"invariants.yaml\" line=\"2\">\n"
                             "      <failure message=\"invariants.yaml:2:5: error: db is "
                             "reachable from internet &lt;via&gt; &quot;web&quot; &amp; more"));
  EXPECT_THAT(xml, HasSubstr("name=\"backups-isolated\" file=\"invariants.yaml\" line=\"5\">\n"
                             "    </testcase>"));
  EXPECT_THAT(xml, HasSubstr("<system-out>flows.yaml:3:1: warning: deny denies nothing "
                             "[unused-deny]"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"revision\" value=\"abc\"/>"));
}

TEST(JunitTest, PolicyErrorsFailThePolicyCaseAndSkipInvariants) {
  DiagnosticList d;
  d.Error({"zones.yaml", 4, 9}, "invalid-cidr", "bad prefix");
  std::string xml = ToJunit(d, "", Invariants());
  EXPECT_THAT(xml, HasSubstr("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"2\""));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"zones.yaml:4:9: error: bad prefix "
                             "[invalid-cidr]\""));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"not checked: the policy has errors\"/>"));
  EXPECT_THAT(xml, Not(HasSubstr("<properties>")));
}

}  // namespace
}  // namespace polder
