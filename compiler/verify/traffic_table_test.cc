#include "compiler/verify/traffic_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"
#include "compiler/verify/suggest.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using testing::PolicyBuilder;

Address A(const char* text) { return *Address::Parse(text); }

Policy Partners() {
  return PolicyBuilder()
      .Zone("partners", {"192.0.2.0/24", "198.51.100.0/24"})
      .Zone("app", {"10.2.0.0/24", "2001:db8:2::/64"})
      .Host("app-1", {"10.2.0.10", "2001:db8:2::10"})
      .Host("app-2", {"10.2.0.11"})
      .Service("https", {"tcp/443"})
      .Flow({.from = {"partners"}, .to = {"app"}, .services = {"https"}})
      .Finish();
}

TrafficSample In(const char* peer, uint16_t port, TrafficVerdict verdict, uint64_t n, absl::Time at,
                 const char* local = "10.2.0.10") {
  return TrafficSample{.host = "app-1",
                       .direction = TrafficDirection::kInbound,
                       .local = A(local),
                       .peer = A(peer),
                       .protocol = Protocol::kTcp,
                       .port = port,
                       .verdict = verdict,
                       .connections = n,
                       .bytes = n * 100,
                       .at = at};
}

// Monday 2026-11-30 00:00 UTC.
const absl::Time kMonday = absl::FromCivil(absl::CivilHour(2026, 11, 30, 0), absl::UTCTimeZone());

TEST(TrafficTableTest, PeersResolveToHostDeclaredPrefixOrCollapsedPrefix) {
  Policy p = Partners();
  TrafficTable t(p);
  EXPECT_EQ(t.KeyOf(In("10.2.0.11", 443, TrafficVerdict::kAllowed, 1, kMonday)).peer, "app-2");
  EXPECT_EQ(t.KeyOf(In("198.51.100.7", 443, TrafficVerdict::kAllowed, 1, kMonday)).peer,
            "partners 198.51.100.0/24");
  TrafficKey outside = t.KeyOf(In("203.0.113.77", 22, TrafficVerdict::kDenied, 1, kMonday));
  EXPECT_EQ(outside.peer, "203.0.113.0/24");
  EXPECT_EQ(outside.peer_zone, "");
  TrafficKey v6 =
      t.KeyOf(In("2001:db8:77:1::5", 22, TrafficVerdict::kDenied, 1, kMonday, "2001:db8:2::10"));
  EXPECT_EQ(v6.peer, "2001:db8:77::/48");
}

TEST(TrafficTableTest, SumsDeltasKeepsFirstLastAndHoursOfWeekAndNamesTheFlow) {
  Policy p = Partners();
  TrafficTable t(p);
  // Two partners' addresses in one declared prefix: one row; the source port is not a key.
  t.Add(In("198.51.100.7", 443, TrafficVerdict::kAllowed, 3, kMonday + absl::Hours(1)));
  t.Add(In("198.51.100.9", 443, TrafficVerdict::kAllowed, 4, kMonday + absl::Hours(24 * 6 + 23)));
  t.Add(In("192.0.2.1", 22, TrafficVerdict::kDenied, 2, kMonday));
  std::vector<TrafficRow> rows = t.Rows();
  ASSERT_EQ(rows.size(), 2u);
  const TrafficRow& https = rows[1].key.port == 443 ? rows[1] : rows[0];
  const TrafficRow& ssh = rows[1].key.port == 443 ? rows[0] : rows[1];
  EXPECT_EQ(https.connections, 7u);
  EXPECT_EQ(https.bytes, 700u);
  EXPECT_EQ(https.first_seen, kMonday + absl::Hours(1));
  EXPECT_EQ(https.last_seen, kMonday + absl::Hours(167));
  EXPECT_TRUE(https.hours_of_week.test(1));
  EXPECT_TRUE(https.hours_of_week.test(167));
  EXPECT_EQ(https.hours_of_week.count(), 2u);
  EXPECT_THAT(https.flows, ElementsAre("flows.yaml:1"));
  EXPECT_TRUE(ssh.flows.empty());
  EXPECT_EQ(ssh.key.verdict, TrafficVerdict::kDenied);
}

TEST(TrafficTableTest, AllowedCountThePolicyDeniesIsFlaggedNotHidden) {
  Policy p = Partners();
  TrafficTable t(p);
  t.Add(In("192.0.2.1", 22, TrafficVerdict::kAllowed, 1, kMonday));
  ASSERT_EQ(t.Rows().size(), 1u);
  EXPECT_THAT(
      t.Rows()[0].flows,
      ElementsAre("no flow of this policy allows it (the ruleset is of another revision?)"));
}

TEST(TrafficTableTest, DeniedRowsFeedSuggest) {
  Policy p = Partners();
  TrafficTable t(p);
  t.Add(In("192.0.2.1", 22, TrafficVerdict::kWouldDeny, 5, kMonday));
  t.Add(In("198.51.100.7", 443, TrafficVerdict::kAllowed, 3, kMonday));
  std::vector<ObservedConnection> denied = DeniedConnections(t.Rows());
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].source.ToString(), "192.0.2.1/32");
  EXPECT_EQ(denied[0].destination.ToString(), "10.2.0.10/32");
  EXPECT_EQ(denied[0].connections, 5u);
  Suggestion s = Suggest(p, denied, {});
  EXPECT_EQ(s.flows, 1) << s.yaml;
  EXPECT_NE(s.yaml.find("from: partners\n    to: app-1\n    services: [tcp-22]"), std::string::npos)
      << s.yaml;
}

TEST(TrafficTableTest, AConnectionBetweenTwoManagedHostsIsSuggestedOnceNotTwice) {
  Policy p = Partners();
  TrafficTable t(p);
  // app-2 -> app-1 tcp/8080, 3 connections: app-2's agent saw them leave, app-1's arrive.
  TrafficSample out = In("10.2.0.10", 8080, TrafficVerdict::kWouldDeny, 3, kMonday, "10.2.0.11");
  out.host = "app-2";
  out.direction = TrafficDirection::kOutbound;
  t.Add(out);
  t.Add(In("10.2.0.11", 8080, TrafficVerdict::kWouldDeny, 3, kMonday + absl::Minutes(1)));
  ASSERT_EQ(t.Rows().size(), 2u);
  std::vector<ObservedConnection> denied = DeniedConnections(t.Rows());
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].source.ToString(), "10.2.0.11/32");
  EXPECT_EQ(denied[0].destination.ToString(), "10.2.0.10/32");
  EXPECT_EQ(denied[0].connections, 3u);
  EXPECT_THAT(denied[0].reporters, ElementsAre("app-1", "app-2"));
  EXPECT_EQ(denied[0].first_seen, kMonday);
  EXPECT_EQ(denied[0].last_seen, kMonday + absl::Minutes(1));
}

}  // namespace
}  // namespace polder
