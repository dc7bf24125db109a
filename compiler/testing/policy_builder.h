// PolicyBuilder: a resolved Policy built in memory, for tests and benchmarks
// of the renderer that should not depend on the YAML front end.
//
// Names are resolved as they are added; Build() computes the zone segments
// and effective spaces exactly as the loader does (zone_map.h).
#pragma once

#include <string>
#include <vector>

#include "compiler/model/policy.h"
#include "compiler/model/zone_map.h"

namespace polder::testing {

class PolicyBuilder {
 public:
  PolicyBuilder() {
    policy_.services.push_back(BuiltinAnyService());
    policy_.revision = std::string(64, '0');
  }

  ZoneId Zone(const std::string& name, const std::vector<std::string>& cidrs,
              bool external = false) {
    polder::Zone z;
    z.name = name;
    z.external = external;
    for (const auto& c : cidrs) z.cidrs.push_back(*Prefix::Parse(c));
    policy_.zones.push_back(z);
    return static_cast<ZoneId>(policy_.zones.size() - 1);
  }

  HostId Host(const std::string& name, const std::string& zone,
              const std::vector<std::string>& addresses) {
    polder::Host h;
    h.name = name;
    h.zone = *policy_.FindZone(zone);
    for (const auto& a : addresses) h.addresses.push_back(*Address::Parse(a));
    policy_.hosts.push_back(h);
    return static_cast<HostId>(policy_.hosts.size() - 1);
  }

  ServiceId Service(const std::string& name, const std::vector<std::string>& ports) {
    polder::Service s;
    s.name = name;
    for (const auto& p : ports) s.ports.push_back(*ServicePort::Parse(p));
    policy_.services.push_back(s);
    return static_cast<ServiceId>(policy_.services.size() - 1);
  }

  polder::Flow& Flow(const std::vector<std::string>& from, const std::vector<std::string>& to,
                     const std::vector<std::string>& services, Action action = Action::kAllow) {
    polder::Flow f;
    f.name = "flow-" + std::to_string(policy_.flows.size());
    f.action = action;
    for (const auto& n : from) f.from.push_back(Resolve(n));
    for (const auto& n : to) f.to.push_back(Resolve(n));
    for (const auto& s : services) f.services.push_back(*policy_.FindService(s));
    f.location = SourceLocation{"flows.yaml", static_cast<int>(policy_.flows.size()) + 1, 3};
    policy_.flows.push_back(f);
    return policy_.flows.back();
  }

  Settings& settings() { return policy_.settings; }
  Policy& policy() { return policy_; }

  Policy Build() {
    std::vector<ZonePrefix> prefixes;
    for (ZoneId z = 0; z < static_cast<ZoneId>(policy_.zones.size()); ++z) {
      for (const Prefix& p : policy_.zones[z].cidrs) prefixes.push_back({p, z});
    }
    policy_.segments = BuildZoneSegments(prefixes);
    auto effective = EffectiveSpaces(policy_.segments, static_cast<int>(policy_.zones.size()));
    for (ZoneId z = 0; z < static_cast<ZoneId>(policy_.zones.size()); ++z) {
      policy_.zones[z].effective = effective[z];
      policy_.zones[z].hosts.clear();
    }
    for (HostId h = 0; h < static_cast<HostId>(policy_.hosts.size()); ++h) {
      policy_.zones[policy_.hosts[h].zone].hosts.push_back(h);
    }
    return policy_;
  }

 private:
  Endpoint Resolve(const std::string& name) const {
    if (auto z = policy_.FindZone(name)) return Endpoint{Endpoint::Kind::kZone, *z};
    return Endpoint{Endpoint::Kind::kHost, *policy_.FindHost(name)};
  }

  Policy policy_;
};

}  // namespace polder::testing
