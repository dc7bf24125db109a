#include "compiler/render/provenance.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "compiler/render/ruleset_renderer.h"
#include "compiler/testing/policy_builder.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "wire/counter_id.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

// Partners (three declared prefixes) reach web-1 on https, admins on ssh and https, ops on any;
// web-1 pings out. Two allows share a profile element (https from partners and admins).
Policy PartnerPolicy() {
  PolicyBuilder b;
  b.Zone("partners", {"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24"}, true);
  b.Zone("admin", {"10.9.0.0/24"});
  b.Zone("ops", {"10.8.0.0/24"});
  b.Zone("web", {"10.1.0.0/24"});
  b.Host("web-1", {"10.1.0.11"});
  b.Service("https", {"tcp/443"});
  b.Service("ssh", {"tcp/22"});
  b.Service("ping", {"icmp/echo-request"});
  b.Flow({.from = {"partners"}, .to = {"web"}, .services = {"https"}, .name = "partners-https"});
  b.Flow({.from = {"admin"}, .to = {"web"}, .services = {"ssh", "https"}, .name = "admin"});
  b.Flow({.from = {"web"}, .to = {"partners"}, .services = {"ping"}, .name = "ping-out"});
  b.Flow({.from = {"ops"}, .to = {"web"}, .services = {"any"}, .name = "ops-any"});
  Policy p = b.Finish();
  p.flows[0].owner = "team-web";
  p.flows[0].ticket = "NET-1";
  return p;
}

// Every counter the kernel keeps for an allow (set elements of counted sets and named counters,
// but not the observation sets and their overflow counters, which the collector reads apart).
std::set<std::string> KernelCounters(const wire::NftRuleset& rs) {
  std::set<std::string> ids;
  for (const wire::NftSet& s : rs.sets) {
    if (!s.counter || s.dynamic) continue;
    for (const wire::NftElement& e : s.elements) ids.insert(wire::ElementCounterId(s.name, e));
  }
  for (const wire::NftNamedCounter& c : rs.counters) {
    if (!absl::StartsWith(c.name, "seen_")) ids.insert(wire::NamedCounterId(c.name));
  }
  return ids;
}

TEST(ProvenanceTest, EveryCounterOfTheTableHasOneEntry) {
  Policy p = PartnerPolicy();
  HostRuleset r = RulesetRenderer(p).RenderHost(*p.FindHost("web-1"));
  std::set<std::string> kernel = KernelCounters(*r.ruleset);
  std::multiset<std::string> mapped;
  for (const CounterProvenance& c : r.provenance->counters) mapped.insert(c.counter);
  EXPECT_EQ(std::set<std::string>(mapped.begin(), mapped.end()), kernel);
  EXPECT_EQ(mapped.size(), kernel.size()) << "a counter mapped twice";
  EXPECT_FALSE(kernel.empty());
}

TEST(ProvenanceTest, ElementsNameTheirFlowsAndRangesTheirDeclaredPrefixes) {
  Policy p = PartnerPolicy();
  HostRuleset r = RulesetRenderer(p).RenderHost(*p.FindHost("web-1"));
  nlohmann::json j = nlohmann::json::parse(ProvenanceJson(p, r.header, *r.provenance));
  ASSERT_EQ(j["version"], 1);
  EXPECT_EQ(j["host"], "web-1");
  std::map<std::string, nlohmann::json> flows;  // by name
  std::vector<std::string> names;
  for (const auto& f : j["flows"]) {
    flows[f["name"]] = f;
    names.push_back(f["name"]);
  }
  EXPECT_EQ(flows["partners-https"]["at"], "flows.yaml:1");
  EXPECT_EQ(flows["partners-https"]["owner"], "team-web");
  EXPECT_EQ(flows["partners-https"]["ticket"], "NET-1");
  auto flow_names = [&](const nlohmann::json& c) {
    std::set<std::string> out;
    for (const auto& i : c["flows"]) out.insert(names.at(i.get<size_t>()));
    return out;
  };

  int https = 0, ssh = 0, any = 0, partner_ranges = 0, ping = 0;
  for (const auto& c : j["counters"]) {
    std::string element = c.value("element", "");
    if (c["kind"] == "service" && c["direction"] == "in" && element == "tcp . 443") {
      ++https;
      // One element per profile: the partners' profile has only partners-https, the
      // admins' both allows of https.
      std::set<std::string> f = flow_names(c);
      EXPECT_TRUE(f == std::set<std::string>{"partners-https"} ||
                  f == (std::set<std::string>{"admin"}))
          << c;
    }
    if (c["kind"] == "service" && element == "tcp . 22") {
      ++ssh;
      EXPECT_EQ(flow_names(c), std::set<std::string>{"admin"});
    }
    if (c["kind"] == "any") {
      ++any;
      EXPECT_EQ(flow_names(c), std::set<std::string>{"ops-any"});
      EXPECT_TRUE(absl::StartsWith(c["counter"].get<std::string>(), "counter/")) << c;
    }
    if (c["kind"] == "service" && c["direction"] == "out") {
      ++ping;
      EXPECT_EQ(flow_names(c), std::set<std::string>{"ping-out"});
    }
    if (c["kind"] == "peer_range" && c["direction"] == "in" &&
        flow_names(c).count("partners-https")) {
      ++partner_ranges;
      ASSERT_EQ(c["prefixes"].size(), 3u) << c;
      EXPECT_EQ(c["prefixes"][1]["zone"], "partners");
      EXPECT_EQ(c["prefixes"][1]["prefix"], "198.18.1.0/24");
    }
  }
  EXPECT_EQ(https, 2);
  EXPECT_EQ(ssh, 1);
  EXPECT_EQ(any, 1);
  EXPECT_EQ(ping, 1);
  EXPECT_EQ(partner_ranges, 1);
}

TEST(ProvenanceTest, HostsWithEqualBodiesShareTheMapButNameThemselves) {
  PolicyBuilder b;
  b.Zone("web", {"10.1.0.0/24"});
  b.Host("web-1", {"10.1.0.11"});
  b.Host("web-2", {"10.1.0.12"});
  b.Service("https", {"tcp/443"});
  b.Flow({.from = {"web"}, .to = {"web"}, .services = {"https"}});
  Policy p = b.Finish();
  RulesetRenderer renderer(p);
  HostRuleset one = renderer.RenderHost(0), two = renderer.RenderHost(1);
  nlohmann::json a = nlohmann::json::parse(ProvenanceJson(p, one.header, *one.provenance));
  nlohmann::json c = nlohmann::json::parse(ProvenanceJson(p, two.header, *two.provenance));
  EXPECT_EQ(a["host"], "web-1");
  EXPECT_EQ(c["host"], "web-2");
  EXPECT_EQ(a["counters"], c["counters"]);
}

}  // namespace
}  // namespace polder
