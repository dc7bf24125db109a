// PolicyBuilder: a resolved Policy built in memory, for the tests and
// benchmarks (model, verify, render) that should not depend on the YAML
// front end.
//
//   Policy p = PolicyBuilder()
//                  .Zone("web", {"10.1.0.0/24"})
//                  .Host("web-1", {"10.1.0.11"})  // zone found by classification
//                  .Service("https", {"tcp/443"})
//                  .Flow({.from = {"web"}, .to = {"web"}, .services = {"https"}})
//                  .Finish();
//
// Finish() computes the zone segments and effective spaces as the loader
// does (zone_map.h) and leaves the builder as it was, so it may be called
// again after more is added. Locations are synthetic: zones at zones.yaml:N,
// hosts at hosts.yaml:N, flows at flows.yaml:N, invariants at
// invariants.yaml:N (N = 1-based index); an unnamed flow is named by its
// location, as the loader names it. The revision is 64 zeros, so ruleset
// headers look like real ones.
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

class PolicyBuilder {
 public:
  PolicyBuilder() {
    p_.services.push_back(BuiltinAnyService());
    p_.now = absl::FromUnixSeconds(1700000000);
    p_.revision = std::string(64, '0');
  }

  PolicyBuilder& Zone(const std::string& name, const std::vector<std::string>& cidrs,
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
  PolicyBuilder& Host(const std::string& name, const std::vector<std::string>& addrs) {
    polder::Host h;
    h.name = name;
    for (const auto& a : addrs) h.addresses.push_back(*Address::Parse(a));
    h.location = {"hosts.yaml", static_cast<int>(p_.hosts.size()) + 1, 5};
    p_.hosts.push_back(std::move(h));
    return *this;
  }

  PolicyBuilder& Service(const std::string& name, const std::vector<std::string>& ports) {
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
  PolicyBuilder& Flow(FlowSpec spec) {
    flow_specs_.push_back(std::move(spec));
    return *this;
  }

  PolicyBuilder& Controller(const std::vector<std::string>& addrs, uint16_t port) {
    ControllerSettings c;
    for (const auto& a : addrs) c.addresses.push_back(*Address::Parse(a));
    c.port = port;
    p_.settings.controller = c;
    p_.settings.location = {"settings.yaml", 2, 3};
    return *this;
  }

  PolicyBuilder& Mode(polder::Mode mode) {
    p_.settings.mode = mode;
    return *this;
  }

  PolicyBuilder& LogDenied() {
    p_.settings.log_denied = true;
    return *this;
  }

  PolicyBuilder& Invariant(polder::Invariant inv) {
    inv.location = {"invariants.yaml", static_cast<int>(p_.invariants.size()) + 1, 5};
    p_.invariants.push_back(std::move(inv));
    return *this;
  }

  // A posture (spec §6a). Names are resolved in Finish(); the posture sits at
  // postures.yaml:N, its allow entries and keep entries on the lines after it.
  // A keep entry without a name is named "POSTURE.keep[I]", as the loader
  // names inline entries.
  struct PostureAllowSpec {
    std::string zone;
    std::vector<std::string> services;  // empty: all
  };
  struct PostureSpec {
    std::string name;
    std::vector<std::string> isolate;
    std::vector<PostureAllowSpec> allow;
    std::vector<polder::Invariant> keep;
    std::string owner;
    std::string reason;
  };
  PolicyBuilder& Posture(PostureSpec spec) {
    posture_specs_.push_back(std::move(spec));
    return *this;
  }

  std::vector<ZoneId> Zones(const std::vector<std::string>& names) const {
    std::vector<ZoneId> out;
    for (const auto& n : names) out.push_back(*p_.FindZone(n));
    return out;
  }

  Policy Finish() const {
    Policy p = p_;
    std::vector<ZonePrefix> prefixes;
    for (ZoneId z = 0; z < static_cast<ZoneId>(p.zones.size()); ++z) {
      for (const Prefix& pre : p.zones[z].cidrs) prefixes.push_back({pre, z});
    }
    p.segments = BuildZoneSegments(prefixes);
    auto eff = EffectiveSpaces(p.segments, static_cast<int>(p.zones.size()));
    for (size_t z = 0; z < p.zones.size(); ++z) p.zones[z].effective = eff[z];
    for (HostId h = 0; h < static_cast<HostId>(p.hosts.size()); ++h) {
      auto z = p.Classify(p.hosts[h].addresses.front());
      Require(z.has_value(), p.hosts[h].name + " is in no zone");
      p.hosts[h].zone = *z;
      p.zones[*z].hosts.push_back(h);
    }
    for (const FlowSpec& spec : flow_specs_) p.flows.push_back(MakeFlow(p, spec));
    int line = 1;
    for (const PostureSpec& spec : posture_specs_) p.postures.push_back(MakePosture(p, spec, line));
    return p;
  }

 private:
  static void Require(bool ok, const std::string& what) {
    if (ok) return;
    std::fprintf(stderr, "PolicyBuilder: %s\n", what.c_str());
    std::abort();
  }

  static Endpoint Resolve(const Policy& p, const std::string& name) {
    if (auto z = p.FindZone(name)) return {Endpoint::Kind::kZone, *z};
    auto h = p.FindHost(name);
    Require(h.has_value(), "unknown endpoint " + name);
    return {Endpoint::Kind::kHost, *h};
  }

  // The flow's line is its 1-based position among the flows of `p`.
  static polder::Flow MakeFlow(const Policy& p, const FlowSpec& spec) {
    polder::Flow f;
    f.location = {"flows.yaml", static_cast<int>(p.flows.size()) + 1, 5};
    f.name = spec.name.empty() ? f.location.FileLine() : spec.name;
    f.action = spec.deny ? Action::kDeny : Action::kAllow;
    for (const auto& n : spec.from) f.from.push_back(Resolve(p, n));
    for (const auto& n : spec.to) f.to.push_back(Resolve(p, n));
    for (const auto& s : spec.services) f.services.push_back(*p.FindService(s));
    if (!spec.sources.empty()) {
      f.sources.emplace();
      for (const auto& s : spec.sources) f.sources->push_back(*Prefix::Parse(s));
    }
    f.active = spec.active;
    f.expires = spec.expires;
    return f;
  }

  static polder::Posture MakePosture(const Policy& p, const PostureSpec& spec, int& line) {
    polder::Posture out;
    out.name = spec.name;
    out.location = {"postures.yaml", line++, 5};
    for (const auto& n : spec.isolate) out.isolate.push_back(Resolve(p, n));
    for (const auto& a : spec.allow) {
      PostureAllow entry;
      auto z = p.FindZone(a.zone);
      Require(z.has_value(), "unknown zone " + a.zone);
      entry.zone = *z;
      for (const auto& s : a.services) {
        auto id = p.FindService(s);
        Require(id.has_value(), "unknown service " + s);
        entry.services.push_back(*id);
      }
      entry.location = {"postures.yaml", line++, 9};
      out.allow.push_back(std::move(entry));
    }
    for (size_t i = 0; i < spec.keep.size(); ++i) {
      polder::Invariant inv = spec.keep[i];
      inv.kind = InvariantKind::kReach;
      if (inv.name.empty()) inv.name = spec.name + ".keep[" + std::to_string(i) + "]";
      inv.location = {"postures.yaml", line++, 9};
      out.keep.push_back(std::move(inv));
    }
    out.owner = spec.owner;
    out.reason = spec.reason;
    return out;
  }

  Policy p_;
  std::vector<FlowSpec> flow_specs_;
  std::vector<PostureSpec> posture_specs_;
};

}  // namespace polder::testing
