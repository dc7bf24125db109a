// PolicyTestBuilder: builds resolved Policy objects in memory for the
// verification tests (zone graph, invariants, lint, diff, exports), so they
// do not depend on the YAML front end. Locations are synthetic: zones at
// zones.yaml:N, hosts at hosts.yaml:N, flows at flows.yaml:N, invariants at
// invariants.yaml:N (N = 1-based index).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compiler/model/policy.h"
#include "compiler/model/zone_map.h"

// Tests describe flows with designated initializers that name only the
// fields that matter to them; the others keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace polder::testing {

class PolicyTestBuilder {
 public:
  PolicyTestBuilder() {
    p_.services.push_back(BuiltinAnyService());
    p_.now = absl::FromUnixSeconds(1700000000);
  }

  PolicyTestBuilder& Zone(const std::string& name, const std::vector<std::string>& cidrs,
                          bool external = false) {
    polder::Zone z;
    z.name = name;
    z.external = external;
    for (const auto& c : cidrs) z.cidrs.push_back(*Prefix::Parse(c));
    z.location = {"zones.yaml", static_cast<int>(p_.zones.size()) + 1, 5};
    p_.zones.push_back(std::move(z));
    return *this;
  }

  // The host's zone is found by classification when Finish() runs.
  PolicyTestBuilder& Host(const std::string& name, const std::vector<std::string>& addrs) {
    polder::Host h;
    h.name = name;
    for (const auto& a : addrs) h.addresses.push_back(*Address::Parse(a));
    h.location = {"hosts.yaml", static_cast<int>(p_.hosts.size()) + 1, 5};
    p_.hosts.push_back(std::move(h));
    return *this;
  }

  PolicyTestBuilder& Service(const std::string& name, const std::vector<std::string>& ports) {
    polder::Service s;
    s.name = name;
    for (const auto& t : ports) s.ports.push_back(*ServicePort::Parse(t));
    s.location = {"services.yaml", static_cast<int>(p_.services.size()), 5};
    p_.services.push_back(std::move(s));
    return *this;
  }

  struct FlowSpec {
    std::vector<std::string> from, to, services{"any"};
    bool deny = false;
    std::vector<std::string> sources;  // empty: no `sources`
    bool active = true;
    std::string name;
    std::optional<absl::Time> expires;
  };
  // Endpoint and service names are resolved in Finish(), so flows may be
  // added before the zones and hosts they name.
  PolicyTestBuilder& Flow(FlowSpec spec) {
    flow_specs_.push_back(std::move(spec));
    return *this;
  }

  PolicyTestBuilder& Controller(const std::vector<std::string>& addrs, uint16_t port) {
    ControllerSettings c;
    for (const auto& a : addrs) c.addresses.push_back(*Address::Parse(a));
    c.port = port;
    p_.settings.controller = c;
    p_.settings.location = {"settings.yaml", 2, 3};
    return *this;
  }

  PolicyTestBuilder& Invariant(polder::Invariant inv) {
    inv.location = {"invariants.yaml", static_cast<int>(p_.invariants.size()) + 1, 5};
    p_.invariants.push_back(std::move(inv));
    return *this;
  }

  std::vector<ZoneId> Zones(const std::vector<std::string>& names) const {
    std::vector<ZoneId> out;
    for (const auto& n : names) out.push_back(*p_.FindZone(n));
    return out;
  }

  Policy Finish() {
    std::vector<ZonePrefix> prefixes;
    for (ZoneId z = 0; z < static_cast<ZoneId>(p_.zones.size()); ++z) {
      for (const Prefix& pre : p_.zones[z].cidrs) prefixes.push_back({pre, z});
    }
    p_.segments = BuildZoneSegments(prefixes);
    auto eff = EffectiveSpaces(p_.segments, static_cast<int>(p_.zones.size()));
    for (size_t z = 0; z < p_.zones.size(); ++z) p_.zones[z].effective = eff[z];
    for (HostId h = 0; h < static_cast<HostId>(p_.hosts.size()); ++h) {
      auto z = p_.Classify(p_.hosts[h].addresses.front());
      Require(z.has_value(), p_.hosts[h].name + " is in no zone");
      p_.hosts[h].zone = *z;
      p_.zones[*z].hosts.push_back(h);
    }
    for (auto& spec : flow_specs_) p_.flows.push_back(MakeFlow(spec));
    flow_specs_.clear();
    return p_;
  }

 private:
  static void Require(bool ok, const std::string& what) {
    if (ok) return;
    std::fprintf(stderr, "PolicyTestBuilder: %s\n", what.c_str());
    std::abort();
  }

  Endpoint Resolve(const std::string& name) const {
    if (auto z = p_.FindZone(name)) return {Endpoint::Kind::kZone, *z};
    auto h = p_.FindHost(name);
    Require(h.has_value(), "unknown endpoint " + name);
    return {Endpoint::Kind::kHost, *h};
  }

  polder::Flow MakeFlow(const FlowSpec& spec) const {
    polder::Flow f;
    int line = static_cast<int>(p_.flows.size()) + 1;
    f.name = spec.name.empty() ? "flows.yaml:" + std::to_string(line) : spec.name;
    f.action = spec.deny ? Action::kDeny : Action::kAllow;
    for (const auto& n : spec.from) f.from.push_back(Resolve(n));
    for (const auto& n : spec.to) f.to.push_back(Resolve(n));
    for (const auto& s : spec.services) f.services.push_back(*p_.FindService(s));
    if (!spec.sources.empty()) {
      f.sources.emplace();
      for (const auto& s : spec.sources) f.sources->push_back(*Prefix::Parse(s));
    }
    f.active = spec.active;
    f.expires = spec.expires;
    f.location = {"flows.yaml", line, 5};
    return f;
  }

  Policy p_;
  std::vector<FlowSpec> flow_specs_;
};

}  // namespace polder::testing
