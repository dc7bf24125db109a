#include "compiler/verify/suggest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/model/verdict.h"
#include "compiler/verify/check.h"

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPolicy[] = R"(zones:
  - name: office
    cidrs: [10.1.0.0/16]
  - name: app
    cidrs: [10.2.0.0/24]
  - name: db
    cidrs: [10.3.0.0/24]
  - name: backup
    cidrs: [10.4.0.0/24]
  - name: internet
    external: true
    cidrs: [0.0.0.0/0]
hosts:
  - name: app-1
    addresses: [10.2.0.10]
  - name: db-1
    addresses: [10.3.0.10]
  - name: backup-1
    addresses: [10.4.0.10]
services:
  - name: postgres
    ports: [tcp/5432]
  - name: dns
    ports: [udp/53, tcp/53]
  - name: web
    ports: [tcp/80, tcp/443]
flows:
  - name: office-to-app
    from: office
    to: app
    services: [web]
  - name: no-office-db
    action: deny
    from: office
    to: db
    services: [postgres]
invariants:
  - name: backups-isolated
    isolate: backup
    except: [db]
)";

LoadResult Load(const std::vector<SourceFile>& files) {
  LoadResult loaded = LoadPolicyFromFiles(files);
  VerifyLoaded(loaded, CheckOptions{.now = absl::FromUnixSeconds(1800000000),
                                    .warn_expiry = absl::ZeroDuration()});
  return loaded;
}

ObservedConnection Row(const std::string& from, const std::string& to, Protocol proto,
                       uint16_t port, uint64_t n, const std::string& reporter) {
  ObservedConnection row;
  row.source = *Prefix::Parse(from);
  row.destination = *Prefix::Parse(to);
  row.protocol = proto;
  row.port = port;
  row.connections = n;
  row.first_seen = absl::FromUnixSeconds(1799000000);
  row.last_seen = absl::FromUnixSeconds(1799900000);
  row.reporters = {reporter};
  return row;
}

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics.items()) {
    if (d.severity == Severity::kError) out += d.location.FileLineColumn() + " " + d.message + "\n";
  }
  return out;
}

// The whole contract at once: the file checks clean with the policy, every
// suggested row becomes allowed, and nothing wider than what was seen opens.
TEST(SuggestTest, SuggestedFileChecksAndAllowsExactlyWhatWasSeen) {
  LoadResult base = Load({{"policy.yaml", kPolicy}});
  ASSERT_FALSE(base.diagnostics.HasErrors()) << Errors(base);
  std::vector<ObservedConnection> seen = {
      Row("10.2.0.10/32", "10.3.0.10/32", Protocol::kTcp, 5432, 40, "db-1"),  // app-1 -> db-1
      Row("10.2.0.10/32", "10.3.0.10/32", Protocol::kTcp, 5432, 2, "app-1"),  // same, other side
      Row("10.2.0.10/32", "10.3.0.10/32", Protocol::kUdp, 53, 5, "db-1"),     // half of dns
      Row("10.2.0.77/32", "10.3.0.10/32", Protocol::kTcp, 8443, 3, "db-1"),   // zone app
  };
  Suggestion s = Suggest(base.policy, seen,
                         {.generated_at = absl::FromUnixSeconds(1800000000), .since = "30d"});
  EXPECT_EQ(s.flows, 3) << s.yaml;
  // An existing service is used when every one of its ports was seen.
  EXPECT_THAT(s.yaml, HasSubstr("from: app-1\n    to: db-1\n    services: [postgres]"));
  EXPECT_THAT(s.yaml, HasSubstr("42 connections"));
  EXPECT_THAT(s.yaml, HasSubstr("reported by app-1, db-1"));
  // dns was only half seen: a one-port service, never tcp/53.
  EXPECT_THAT(s.yaml, HasSubstr("name: udp-53\n    ports: [udp/53]"));
  EXPECT_THAT(s.yaml, Not(HasSubstr("services: [dns]")));
  // An address that is no host's is named by its zone.
  EXPECT_THAT(s.yaml, HasSubstr("from: app\n    to: db-1\n    services: [tcp-8443]"));

  LoadResult merged = Load({{"policy.yaml", kPolicy}, {"suggested.yaml", s.yaml}});
  ASSERT_FALSE(merged.diagnostics.HasErrors()) << Errors(merged) << s.yaml;
  for (const ObservedConnection& row : seen) {
    Connection c{row.source.base, row.destination.base, row.protocol, row.port};
    EXPECT_FALSE(Decide(base.policy, c).allowed);
    EXPECT_TRUE(Decide(merged.policy, c).allowed) << row.source.ToString() << " " << row.port;
  }
  // Never wider: tcp/53 (the other half of dns) stays denied, and so do other hosts of app.
  EXPECT_FALSE(Decide(merged.policy, Connection{*Address::Parse("10.2.0.10"),
                                                *Address::Parse("10.3.0.10"), Protocol::kTcp, 53})
                   .allowed);
  EXPECT_FALSE(Decide(merged.policy, Connection{*Address::Parse("10.2.0.11"),
                                                *Address::Parse("10.3.0.10"), Protocol::kTcp, 5432})
                   .allowed);
}

TEST(SuggestTest, FlowThatBreaksAnInvariantIsACommentNamingIt) {
  LoadResult base = Load({{"policy.yaml", kPolicy}});
  ASSERT_FALSE(base.diagnostics.HasErrors()) << Errors(base);
  Suggestion s = Suggest(
      base.policy, {Row("10.1.0.5/32", "10.4.0.10/32", Protocol::kTcp, 22, 7, "backup-1")}, {});
  EXPECT_EQ(s.flows, 0);
  EXPECT_EQ(s.refused, 1);
  EXPECT_THAT(s.yaml, HasSubstr("# not suggested: it would break invariant backups-isolated "
                                "(policy.yaml:"));
  EXPECT_THAT(s.yaml, HasSubstr("flows: []"));
  LoadResult merged = Load({{"policy.yaml", kPolicy}, {"suggested.yaml", s.yaml}});
  EXPECT_FALSE(merged.diagnostics.HasErrors()) << Errors(merged) << s.yaml;
}

TEST(SuggestTest, RowsItCannotHelpAreListedNotDropped) {
  LoadResult base = Load({{"policy.yaml", kPolicy}});
  ASSERT_FALSE(base.diagnostics.HasErrors()) << Errors(base);
  Suggestion s = Suggest(
      base.policy,
      {Row("10.1.0.5/32", "10.2.0.10/32", Protocol::kTcp, 443, 1, "app-1"),     // allowed already
       Row("10.1.0.5/32", "10.3.0.10/32", Protocol::kTcp, 5432, 1, "db-1"),     // deny flow
       Row("203.0.113.0/24", "10.2.0.10/32", Protocol::kTcp, 22, 9, "app-1")},  // internet
      {});
  EXPECT_EQ(s.already_allowed, 1);
  EXPECT_EQ(s.refused, 1);
  EXPECT_THAT(s.yaml,
              HasSubstr("# left out: 10.1.0.5/32 -> 10.2.0.10/32 tcp/443: already allowed"));
  EXPECT_THAT(s.yaml, HasSubstr("denied by no-office-db (policy.yaml:"));
  // The internet zone classifies 203.0.113.0/24, so that one is suggested from the zone.
  EXPECT_THAT(s.yaml, HasSubstr("from: internet\n    to: app-1\n    services: [tcp-22]"));
}

TEST(SuggestTest, PeerInNoZoneIsLeftOutWithTheReason) {
  constexpr char kNoInternet[] = R"(zones:
  - name: app
    cidrs: [10.2.0.0/24]
hosts:
  - name: app-1
    addresses: [10.2.0.10]
)";
  LoadResult base = Load({{"policy.yaml", kNoInternet}});
  ASSERT_FALSE(base.diagnostics.HasErrors()) << Errors(base);
  Suggestion s = Suggest(
      base.policy, {Row("203.0.113.0/24", "10.2.0.10/32", Protocol::kTcp, 22, 9, "app-1")}, {});
  EXPECT_EQ(s.unclassified, 1);
  EXPECT_EQ(s.flows, 0);
  EXPECT_THAT(s.yaml, HasSubstr("203.0.113.0/24 is in no zone; declare a zone for it first"));
}

}  // namespace
}  // namespace polder
