#include "compiler/verify/unused.h"

#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

const absl::Time kNow = absl::FromCivil(absl::CivilDay(2026, 12, 1), absl::UTCTimeZone());

Policy Shared() {
  return PolicyBuilder()
      .Zone("partners", {"192.0.2.0/24", "198.51.100.0/24"})
      .Zone("app", {"10.2.0.0/24"})
      .Host("app-1", {"10.2.0.10"})
      .Host("app-2", {"10.2.0.11"})
      .Service("https", {"tcp/443"})
      .Service("ssh", {"tcp/22"})
      .Flow({.from = {"partners"}, .to = {"app"}, .services = {"https"}, .name = "partners-https"})
      .Flow({.from = {"partners"}, .to = {"app"}, .services = {"ssh"}, .name = "partners-ssh"})
      .Finish();
}

std::vector<TrafficRow> Traffic(const Policy& p) {
  TrafficTable t(p);
  t.Add({.host = "app-1",
         .direction = TrafficDirection::kInbound,
         .local = *Address::Parse("10.2.0.10"),
         .peer = *Address::Parse("192.0.2.9"),
         .protocol = Protocol::kTcp,
         .port = 443,
         .verdict = TrafficVerdict::kAllowed,
         .connections = 12,
         .at = kNow - absl::Hours(30)});
  return t.Rows();
}

ReportCoverage EveryDay(std::vector<std::string> hosts, int days) {
  ReportCoverage c;
  for (const std::string& h : hosts) {
    for (int d = 1; d <= days; ++d) c.Add(h, kNow - absl::Hours(24 * d) + absl::Hours(1));
  }
  return c;
}

const UnusedEntry& Find(const std::vector<UnusedEntry>& entries, const std::string& name) {
  for (const UnusedEntry& e : entries) {
    if (e.name == name) return e;
  }
  ADD_FAILURE() << "no entry " << name;
  static UnusedEntry none;
  return none;
}

TEST(UnusedTest, CompleteEvidenceCallsAnEntryUnused) {
  Policy p = Shared();
  auto entries = FindUnused(p, Traffic(p), EveryDay({"app-1", "app-2"}, 90),
                            kNow - absl::Hours(24 * 90), kNow);
  const UnusedEntry& https = Find(entries, "partners-https");
  EXPECT_EQ(https.status, UnusedEntry::Status::kUsed);
  EXPECT_EQ(https.hits, 12u);
  EXPECT_EQ(https.last_hit, kNow - absl::Hours(30));
  const UnusedEntry& ssh = Find(entries, "partners-ssh");
  EXPECT_EQ(ssh.status, UnusedEntry::Status::kUnused);
  EXPECT_EQ(ssh.hosts_complete, 2);
  EXPECT_EQ(ssh.days_complete, 90);
  EXPECT_EQ(Find(entries, "partners 192.0.2.0/24").status, UnusedEntry::Status::kUsed);
  EXPECT_EQ(Find(entries, "partners 198.51.100.0/24").status, UnusedEntry::Status::kUnused);
}

TEST(UnusedTest, MissingHostOrDayMakesItUnknownWithTheGapCounted) {
  Policy p = Shared();
  // app-2 reported on 88 of 90 days.
  ReportCoverage c = EveryDay({"app-1"}, 90);
  ReportCoverage partial = EveryDay({"app-2"}, 88);
  c.days_by_host["app-2"] = partial.days_by_host["app-2"];
  auto entries = FindUnused(p, Traffic(p), c, kNow - absl::Hours(24 * 90), kNow);
  const UnusedEntry& ssh = Find(entries, "partners-ssh");
  EXPECT_EQ(ssh.status, UnusedEntry::Status::kUnknown);
  EXPECT_EQ(ssh.hosts_expected, 2);
  EXPECT_EQ(ssh.hosts_complete, 1);
  EXPECT_EQ(ssh.days_window, 90);
  EXPECT_EQ(ssh.days_complete, 88);
  EXPECT_EQ(Find(entries, "partners 198.51.100.0/24").status, UnusedEntry::Status::kUnknown);
}

TEST(UnusedTest, NoReportsAtAllIsNeverUnused) {
  Policy p = Shared();
  auto entries = FindUnused(p, {}, {}, kNow - absl::Hours(24 * 90), kNow);
  for (const UnusedEntry& e : entries) EXPECT_EQ(e.status, UnusedEntry::Status::kUnknown) << e.name;
}

}  // namespace
}  // namespace polder
