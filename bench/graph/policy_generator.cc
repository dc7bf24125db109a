#include "bench/graph/policy_generator.h"

#include <algorithm>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/zone_map.h"
#include "wire/rfc3339.h"

namespace polder::bench {
namespace {

constexpr ZoneId kInternet = 0;
constexpr ZoneId kMgmt = 1;

// Internal zone i owns 10.(i >> 4).((i & 15) << 4).0/20 and, for every
// third zone, 2001:db8:i::/48 as well.
Prefix ZonePrefixV4(int i) {
  return *Prefix::Parse(absl::StrCat("10.", i >> 4, ".", (i & 15) << 4, ".0/20"));
}
Address HostAddress(int zone, int k) {
  Address base = ZonePrefixV4(zone).base;
  return Address{Family::kV4, base.value + 1 + k};
}

class Generator {
 public:
  explicit Generator(const GeneratorOptions& o) : o_(o), rng_(o.seed) {}

  Policy Run() {
    p_.now = o_.now;
    p_.revision = absl::StrCat("synthetic-", o_.seed);
    Zones();
    Hosts();
    Services();
    Flows();
    Invariants();
    p_.settings.controller = ControllerSettings{{HostAddress(kMgmt, 0)}, 7443};
    p_.settings.location = {"settings.yaml", 2, 3};
    return std::move(p_);
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Internal() { return Uniform(2, o_.zones - 1); }

  void Zones() {
    std::vector<ZonePrefix> prefixes;
    for (int i = 0; i < o_.zones; ++i) {
      Zone z;
      z.name = i == kInternet ? "internet" : i == kMgmt ? "mgmt" : absl::StrCat("zone-", i);
      z.external = i == kInternet;
      if (i == kInternet) {
        z.cidrs = {*Prefix::Parse("0.0.0.0/0"), *Prefix::Parse("::/0")};
      } else {
        z.cidrs = {ZonePrefixV4(i)};
        if (i % 3 == 0)
          z.cidrs.push_back(*Prefix::Parse(absl::StrCat("2001:db8:", absl::Hex(i), "::/48")));
      }
      z.location = {"zones.yaml", 2 + 3 * i, 5};
      for (const Prefix& pre : z.cidrs) prefixes.push_back({pre, i});
      p_.zones.push_back(std::move(z));
    }
    p_.segments = BuildZoneSegments(prefixes);
    auto eff = EffectiveSpaces(p_.segments, o_.zones);
    for (int i = 0; i < o_.zones; ++i) p_.zones[i].effective = eff[i];
  }

  void Hosts() {
    const int internal = o_.zones - 1;  // mgmt and the numbered zones
    for (int h = 0; h < o_.hosts; ++h) {
      int zone = 1 + h % internal;
      int k = h / internal;
      Host host;
      host.name = absl::StrCat("host-", h);
      host.addresses = {HostAddress(zone, k)};
      host.zone = zone;
      host.location = {"hosts.yaml", 2 + 3 * h, 5};
      p_.zones[zone].hosts.push_back(h);
      p_.hosts.push_back(std::move(host));
    }
  }

  void Services() {
    p_.services.push_back(BuiltinAnyService());
    for (int s = 0; s < o_.services; ++s) {
      Service svc;
      svc.name = absl::StrCat("svc-", s);
      uint16_t port = static_cast<uint16_t>(1000 + 10 * s);
      switch (s % 4) {
        case 0:
          svc.ports = {{Protocol::kTcp, port, port}};
          break;
        case 1:
          svc.ports = {{Protocol::kTcp, port, static_cast<uint16_t>(port + 9)}};
          break;
        case 2:
          svc.ports = {{Protocol::kUdp, port, port}, {Protocol::kTcp, port, port}};
          break;
        default:
          svc.ports = {{Protocol::kIcmp, 8, 8}, {Protocol::kTcp, port, port}};
          break;
      }
      svc.location = {"services.yaml", 2 + 3 * s, 5};
      p_.services.push_back(std::move(svc));
    }
  }

  static void Dedupe(std::vector<Endpoint>& ends) {
    std::vector<Endpoint> out;
    for (const Endpoint& e : ends) {
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    ends = std::move(out);
  }

  Endpoint ZoneEnd(ZoneId z) { return {Endpoint::Kind::kZone, z}; }
  Endpoint HostIn(ZoneId z) {
    const auto& hosts = p_.zones[z].hosts;
    if (hosts.empty()) return ZoneEnd(z);
    return {Endpoint::Kind::kHost, hosts[Uniform(0, hosts.size() - 1)]};
  }

  void Flows() {
    for (int f = 0; f < o_.flows; ++f) {
      Flow flow;
      flow.location = {"flows.yaml", 2 + 5 * f, 5};
      flow.name = flow.location.FileLine();  // as the loader names unnamed flows
      // Tiers: mostly to a nearby zone, sometimes anywhere, rarely from the
      // internet.
      ZoneId from = Chance(0.02) ? kInternet : Internal();
      ZoneId to = Chance(0.8) ? 2 + (from + Uniform(1, 5)) % (o_.zones - 2) : Internal();
      int kind = Uniform(0, 99);
      if (kind < 60 || from == kInternet) {
        flow.from = {ZoneEnd(from)};
        flow.to = {ZoneEnd(to)};
      } else if (kind < 80) {
        flow.from = {HostIn(from)};
        flow.to = {HostIn(to)};
      } else if (kind < 90) {
        flow.from = {ZoneEnd(from), ZoneEnd(Internal())};
        flow.to = {HostIn(to)};
      } else {
        flow.action = Action::kDeny;
        flow.from = {ZoneEnd(from)};
        flow.to = {ZoneEnd(to)};
        if (Chance(0.5)) {
          flow.sources = std::vector<Prefix>{*Prefix::Parse(absl::StrCat(
              Address{Family::kV4, ZonePrefixV4(from).base.value + 256 * Uniform(0, 15)}.ToString(),
              "/24"))};
        }
      }
      Dedupe(flow.from);
      Dedupe(flow.to);
      flow.services = {static_cast<ServiceId>(Chance(0.05) ? 0 : Uniform(1, o_.services))};
      if (Chance(0.1)) flow.services.push_back(Uniform(1, o_.services));
      std::sort(flow.services.begin(), flow.services.end());
      flow.services.erase(std::unique(flow.services.begin(), flow.services.end()),
                          flow.services.end());
      if (Chance(0.05)) {
        flow.expires = p_.now + absl::Hours(Uniform(-24 * 30, 24 * 60));
        flow.active = *flow.expires > p_.now;
      }
      p_.flows.push_back(std::move(flow));
    }
  }

  void Invariants() {
    for (int i = 0; i < o_.invariants; ++i) {
      Invariant inv;
      inv.name = absl::StrCat("invariant-", i);
      inv.kind = static_cast<InvariantKind>(i % 4);
      inv.location = {"invariants.yaml", 2 + 3 * i, 5};
      switch (inv.kind) {
        case InvariantKind::kNoPath:
          inv.from = {i % 8 == 0 ? kInternet : Internal()};
          inv.to = {Internal()};
          break;
        case InvariantKind::kIsolate:
          inv.to = {Internal()};
          inv.except = {Internal(), Internal()};
          std::sort(inv.except.begin(), inv.except.end());
          inv.except.erase(std::unique(inv.except.begin(), inv.except.end()), inv.except.end());
          break;
        case InvariantKind::kVia:
          inv.from = {Internal()};
          inv.to = {Internal()};
          inv.through = {Internal()};
          break;
        case InvariantKind::kExposure:
          inv.from = {kInternet};
          inv.max = 10;
          break;
        case InvariantKind::kReach:  // not generated (i % 4)
          break;
      }
      p_.invariants.push_back(std::move(inv));
    }
  }

  GeneratorOptions o_;
  std::mt19937 rng_;
  Policy p_;
};

// One item as a plain scalar, several as a flow sequence: the writer keeps
// the YAML node count low, since spec §10 caps a policy at 1,000,000 nodes
// and 100,000 hosts alone take 600,000.
std::string List(const std::vector<std::string>& items) {
  if (items.size() == 1) return items[0];
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

std::string Names(const Policy& p, const std::vector<Endpoint>& ends) {
  std::vector<std::string> names;
  for (const Endpoint& e : ends) names.push_back(p.EndpointName(e));
  return List(names);
}

std::string ZoneNames(const Policy& p, const std::vector<ZoneId>& zones) {
  std::vector<std::string> names;
  for (ZoneId z : zones) names.push_back(p.zones[z].name);
  return absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

std::string ZonesYaml(const Policy& p) {
  std::string out = "zones:\n";
  for (const Zone& z : p.zones) {
    std::vector<std::string> cidrs;
    for (const Prefix& pre : z.cidrs) cidrs.push_back(Quoted(pre.ToString()));
    absl::StrAppend(&out, "  - name: ", z.name, "\n    cidrs: [", absl::StrJoin(cidrs, ", "), "]\n",
                    z.external ? "    external: true\n" : "");
  }
  return out;
}

std::string HostsYaml(const Policy& p) {
  std::string out = "hosts:\n";
  for (const Host& h : p.hosts) {
    std::vector<std::string> addrs;
    for (const Address& a : h.addresses) addrs.push_back(Quoted(a.ToString()));
    absl::StrAppend(&out, "  - name: ", h.name, "\n    addresses: [", absl::StrJoin(addrs, ", "),
                    "]\n");
  }
  return out;
}

std::string ServicesYaml(const Policy& p) {
  std::string out = "services:\n";
  for (const Service& s : p.services) {
    if (s.builtin) continue;
    std::vector<std::string> ports;
    for (const ServicePort& sp : s.ports) ports.push_back(sp.ToString());
    absl::StrAppend(&out, "  - name: ", s.name, "\n    ports: [", absl::StrJoin(ports, ", "),
                    "]\n");
  }
  return out;
}

std::string FlowsYaml(const Policy& p) {
  std::string out = "flows:\n";
  for (const Flow& f : p.flows) {
    std::vector<std::string> services;
    for (ServiceId s : f.services) services.push_back(p.services[s].name);
    // Unnamed: a flow's default name is its file:line, and names would add
    // 100,000 YAML nodes at the target scale.
    absl::StrAppend(&out, "  - from: ", Names(p, f.from), "\n    to: ", Names(p, f.to),
                    "\n    services: ", List(services), "\n");
    if (f.action == Action::kDeny) absl::StrAppend(&out, "    action: deny\n");
    if (f.sources) {
      std::vector<std::string> sources;
      for (const Prefix& pre : *f.sources) sources.push_back(Quoted(pre.ToString()));
      absl::StrAppend(&out, "    sources: [", absl::StrJoin(sources, ", "), "]\n");
    }
    if (f.expires) {
      absl::StrAppend(&out, "    expires: ",
                      FormatRfc3339(*f.expires),
                      "\n");
    }
  }
  return out;
}

std::string InvariantsYaml(const Policy& p) {
  std::string out = "invariants:\n";
  for (const Invariant& inv : p.invariants) {
    absl::StrAppend(&out, "  - name: ", inv.name, "\n");
    switch (inv.kind) {
      case InvariantKind::kNoPath:
        absl::StrAppend(&out, "    no_path: { from: ", ZoneNames(p, inv.from),
                        ", to: ", ZoneNames(p, inv.to), " }\n");
        break;
      case InvariantKind::kIsolate:
        absl::StrAppend(&out, "    isolate: ", p.zones[inv.to[0]].name,
                        "\n    except: ", ZoneNames(p, inv.except), "\n");
        break;
      case InvariantKind::kVia:
        absl::StrAppend(&out, "    via: { from: ", ZoneNames(p, inv.from),
                        ", to: ", ZoneNames(p, inv.to), ", through: ", ZoneNames(p, inv.through),
                        " }\n");
        break;
      case InvariantKind::kExposure:
        absl::StrAppend(&out, "    exposure: { from: ", ZoneNames(p, inv.from), ", max: ", inv.max,
                        " }\n");
        break;
      case InvariantKind::kReach:
        absl::StrAppend(&out, "    reach: { from: ", ZoneNames(p, inv.from),
                        ", to: ", ZoneNames(p, inv.to), " }\n");
        break;
    }
  }
  return out;
}

std::string SettingsYaml(const Policy& p) {
  std::string out = "version: 1\nsettings:\n";
  if (const auto& c = p.settings.controller) {
    std::vector<std::string> addrs;
    for (const Address& a : c->addresses) addrs.push_back(Quoted(a.ToString()));
    absl::StrAppend(&out, "  controller: { addresses: [", absl::StrJoin(addrs, ", "),
                    "], port: ", c->port, " }\n");
  }
  return out;
}

}  // namespace

absl::Status ValidateOptions(const GeneratorOptions& o) {
  if (o.zones < 3 || o.zones > 4096) return absl::InvalidArgumentError("--zones must be 3-4096");
  if (o.hosts < 0 || o.hosts > 4094LL * (o.zones - 1)) {
    return absl::InvalidArgumentError("--hosts must be at most 4094 per internal zone");
  }
  if (o.flows < 0 || o.services < 1 || o.services > 6000 || o.invariants < 0) {
    return absl::InvalidArgumentError("--flows, --services (1-6000), --invariants must be >= 0");
  }
  return absl::OkStatus();
}

Policy GeneratePolicy(const GeneratorOptions& options) { return Generator(options).Run(); }

absl::Status WritePolicyYaml(const Policy& policy, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  const std::pair<const char*, std::string> files[] = {
      {"settings.yaml", SettingsYaml(policy)}, {"zones.yaml", ZonesYaml(policy)},
      {"hosts.yaml", HostsYaml(policy)},       {"services.yaml", ServicesYaml(policy)},
      {"flows.yaml", FlowsYaml(policy)},       {"invariants.yaml", InvariantsYaml(policy)}};
  for (const auto& [name, text] : files) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", (dir / name).string()));
  }
  return absl::OkStatus();
}

}  // namespace polder::bench
