#include "compiler/verify/explain.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "compiler/model/service_space.h"
#include "compiler/verify/address_classes.h"

namespace polder {
namespace {

AddressSet FamilySpace(Family f) {
  return AddressSet::Of(*Prefix::Parse(f == Family::kV4 ? "0.0.0.0/0" : "::/0"));
}

// The families a protocol runs over: ICMP IPv4, ICMPv6 IPv6, the others both.
std::vector<Family> FamiliesOf(Protocol p) {
  if (p == Protocol::kIcmp) return {Family::kV4};
  if (p == Protocol::kIcmpv6) return {Family::kV6};
  return {Family::kV4, Family::kV6};
}

const char* FamilyName(Family f) { return f == Family::kV4 ? "IPv4" : "IPv6"; }

// `item` split where some service, the controller or a host-essential rule
// tells its ports apart; `any` becomes every protocol (tcp, udp and sctp from
// port 1: port 0 is no port a connection uses).
std::vector<ServicePort> PortClasses(const Policy& policy, const ServicePort& item) {
  std::vector<Protocol> protocols;
  if (item.protocol == Protocol::kAny) {
    protocols.assign(ServiceSpace::kProtocols.begin(), ServiceSpace::kProtocols.end());
  } else {
    protocols.push_back(item.protocol);
  }
  std::vector<ServicePort> out;
  for (Protocol proto : protocols) {
    int lo = item.lo, hi = item.hi;
    if (item.protocol == Protocol::kAny) {
      lo = IsIcmp(proto) ? 0 : 1;
      hi = ServiceSpace::MaxPort(proto);
    }
    std::set<int> starts;
    auto cut = [&](int a, int b) {
      starts.insert(a);
      starts.insert(b + 1);
    };
    for (const Service& s : policy.services) {
      for (const ServicePort& p : s.ports) {
        if (p.protocol == proto) cut(p.lo, p.hi);
      }
    }
    if (policy.settings.controller && proto == Protocol::kTcp) {
      cut(policy.settings.controller->port, policy.settings.controller->port);
    }
    for (const ServicePort& p : HostEssentialPorts()) {
      if (p.protocol == proto) cut(p.lo, p.hi);
    }
    int from = lo;
    for (auto it = starts.upper_bound(lo); it != starts.end() && *it <= hi; ++it) {
      out.push_back({proto, static_cast<uint16_t>(from), static_cast<uint16_t>(*it - 1)});
      from = *it;
    }
    out.push_back({proto, static_cast<uint16_t>(from), static_cast<uint16_t>(hi)});
  }
  return out;
}

bool AnyServiceMatches(const Policy& policy, const Flow& f, const ServicePort& port) {
  return std::any_of(f.services.begin(), f.services.end(), [&](ServiceId s) {
    return ServiceMatches(policy.services[s], port.protocol, port.lo);
  });
}

// The address of a class a verdict is decided with: any would do, since a class answers
// alike, so not a network address or :: when the class has others.
Address Pick(const AddressSet& s) {
  for (Family f : {Family::kV4, Family::kV6}) {
    if (s.intervals(f).empty()) continue;
    const Interval& first = s.intervals(f).front();
    return Address{f, first.hi - first.lo >= 2 ? first.lo + 1 : first.lo};
  }
  return Address{};
}

// An address of `s` other than `a`, if there is one.
std::optional<Address> OtherThan(const AddressSet& s, const Address& a) {
  for (Family f : {Family::kV4, Family::kV6}) {
    for (const Interval& i : s.intervals(f)) {
      if (Address{f, i.lo} != a) return Address{f, i.lo};
      if (i.hi != i.lo) return Address{f, i.lo + 1};
    }
  }
  return std::nullopt;
}

void AddUnique(std::vector<FlowId>& to, const std::vector<FlowId>& from) {
  for (FlowId f : from) {
    if (std::find(to.begin(), to.end(), f) == to.end()) to.push_back(f);
  }
}

std::string ZoneName(const Policy& policy, std::optional<ZoneId> z) {
  return z ? policy.zones[*z].name : "no zone";
}

std::string EndWord(const ExplainEnd& e) {
  switch (e.kind) {
    case ExplainEnd::Kind::kAddress:
      return absl::StrCat("address ", e.name);
    case ExplainEnd::Kind::kHost:
      return absl::StrCat("host `", e.name, "`");
    case ExplainEnd::Kind::kZone:
      return absl::StrCat("zone `", e.name, "`");
  }
  return e.name;
}

class PortExplainer {
 public:
  PortExplainer(const Policy& policy, const ExplainEnd& from, const ExplainEnd& to)
      : policy_(policy), from_(from), to_(to) {
    for (const Host& h : policy.hosts) {
      for (const Address& a : h.addresses) hosts_.Add(a);
    }
    if (policy.settings.controller) {
      for (const Address& a : policy.settings.controller->addresses) controller_.Add(a);
    }
  }

  absl::StatusOr<PortVerdict> Run(const ServicePort& port) {
    PortVerdict out;
    out.port = port;
    AddressSet wanted;
    for (Family f : FamiliesOf(port.protocol)) wanted = wanted.Union(FamilySpace(f));
    AddressSet sources = from_.addresses.Intersect(wanted);
    AddressSet destinations = to_.addresses.Intersect(wanted);
    std::vector<Family> shared;
    for (Family f : FamiliesOf(port.protocol)) {
      if (!sources.intervals(f).empty() && !destinations.intervals(f).empty()) shared.push_back(f);
    }
    if (shared.empty()) return NoAddress(port, sources, destinations, out);

    std::vector<AddressSet> source_cuts{hosts_, HostEssentialAddresses()};
    std::vector<AddressSet> destination_cuts{hosts_, controller_, HostEssentialAddresses()};
    for (const Flow& f : policy_.flows) {
      if (!AnyServiceMatches(policy_, f, port)) continue;
      AddressSet fs = FlowSourceAddresses(policy_, f), fd = FlowDestinationAddresses(policy_, f);
      if (!f.active) {
        if (Overlap(fs.Intersect(sources), fd.Intersect(destinations))) {
          out.expired.push_back(static_cast<FlowId>(&f - policy_.flows.data()));
        }
        continue;
      }
      // A flow that holds no pair of the two ends decides none of them.
      if (!fs.Overlaps(sources) || !fd.Overlaps(destinations)) continue;
      source_cuts.push_back(std::move(fs));
      destination_cuts.push_back(std::move(fd));
    }
    bool self_only = false;
    for (const AddressSet& cs : AddressClasses(sources, source_cuts)) {
      for (const AddressSet& cd : AddressClasses(destinations, destination_cuts)) {
        Address s = Pick(cs), d = Pick(cd);
        if (s.family != d.family) continue;
        if (s == d) {
          // One address to itself is loopback; within a larger class, two of its addresses.
          if (auto other = OtherThan(cd, s)) {
            d = *other;
          } else if (auto other_source = OtherThan(cs, d)) {
            s = *other_source;
          } else {
            self_only = true;
            continue;
          }
        }
        ExplainCase c;
        c.sources = cs;
        c.destinations = cd;
        c.example = Connection{s, d, port.protocol, port.lo};
        c.verdict = Decide(policy_, c.example);
        if (!c.verdict.allowed) c.host_essential = HostEssential(policy_, c.example);
        out.cases.push_back(std::move(c));
      }
    }
    if (out.cases.empty() && self_only) {
      out.allowed = true;
      out.basis = ExplainBasis::kLoopback;
      out.reason =
          "loopback: a host's connections to itself never leave it and are always allowed "
          "(spec §5)";
      return out;
    }
    Summarise(out);
    return out;
  }

 private:
  static bool Overlap(const AddressSet& a, const AddressSet& b) {
    for (Family f : {Family::kV4, Family::kV6}) {
      if (!a.intervals(f).empty() && !b.intervals(f).empty()) return true;
    }
    return false;
  }

  absl::StatusOr<PortVerdict> NoAddress(const ServicePort& port, const AddressSet& sources,
                                        const AddressSet& destinations, PortVerdict& out) {
    std::string label = ServicePortLabel(port);
    std::vector<Family> families = FamiliesOf(port.protocol);
    // A question about an address's own family is not one the policy answers: no connection
    // can join these two.
    const ExplainEnd* lacking = sources.Empty() ? &from_ : destinations.Empty() ? &to_ : nullptr;
    if (lacking
            ? lacking->kind == ExplainEnd::Kind::kAddress
            : from_.kind == ExplainEnd::Kind::kAddress && to_.kind == ExplainEnd::Kind::kAddress) {
      if (lacking && families.size() == 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, " runs over ", FamilyName(families[0]), ", and ", lacking->name,
                         " is not an ", FamilyName(families[0]), " address"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("`", from_.name, "` and `", to_.name,
                       "` share no address family; a connection joins two IPv4 or two IPv6 "
                       "addresses"));
    }
    out.allowed = false;
    out.basis = ExplainBasis::kNoAddress;
    if (lacking && families.size() == 1) {
      out.reason = absl::StrCat(EndWord(*lacking), " has no ", FamilyName(families[0]),
                                " address, and ", label, " runs over ", FamilyName(families[0]),
                                ", so no such connection can be made");
    } else {
      out.reason =
          absl::StrCat(EndWord(from_), " and ", EndWord(to_), " share no address family, so no ",
                       label, " connection can be made between them");
    }
    return out;
  }

  void Summarise(PortVerdict& out) {
    const ExplainCase* by_flow = nullptr;
    const ExplainCase* by_anti_lockout = nullptr;
    const ExplainCase* by_essential = nullptr;
    const ExplainCase* denied = nullptr;
    const ExplainCase* denied_by_deny = nullptr;
    for (const ExplainCase& c : out.cases) {
      AddUnique(out.denying, c.verdict.denying);
      if (c.verdict.allowed && c.verdict.anti_lockout) {
        if (!by_anti_lockout) by_anti_lockout = &c;
      } else if (c.verdict.allowed) {
        AddUnique(out.allowing, c.verdict.allowing);
        if (!by_flow) by_flow = &c;
      } else if (c.host_essential) {
        if (!by_essential) by_essential = &c;
      } else {
        AddUnique(out.allowing, c.verdict.allowing);  // overridden by a deny, if any
        if (!denied) denied = &c;
        if (!denied_by_deny && !c.verdict.denying.empty()) denied_by_deny = &c;
      }
      if (c.allowed()) {
        out.allowed_sources = out.allowed_sources.Union(c.sources);
        out.allowed_destinations = out.allowed_destinations.Union(c.destinations);
      }
    }
    out.allowed = by_flow || by_anti_lockout || by_essential;
    out.partial = out.allowed && denied;
    if (by_flow) {
      out.basis = ExplainBasis::kFlows;
      out.example = by_flow->example;
      out.reason = "allowed by flow";
    } else if (by_anti_lockout) {
      out.basis = ExplainBasis::kAntiLockout;
      out.example = by_anti_lockout->example;
      out.reason = by_anti_lockout->verdict.reason;
    } else if (by_essential) {
      out.basis = ExplainBasis::kHostEssential;
      out.example = by_essential->example;
      out.reason = *by_essential->host_essential;
    } else {
      const ExplainCase& c = denied_by_deny ? *denied_by_deny : *denied;
      out.basis = ExplainBasis::kDenied;
      out.example = c.example;
      bool no_zone = !c.verdict.source_zone || !c.verdict.destination_zone;
      out.reason = denied_by_deny || no_zone
                       ? c.verdict.reason
                       : absl::StrCat("denied: no active flow allows ",
                                      ZoneName(policy_, c.verdict.source_zone), " -> ",
                                      ZoneName(policy_, c.verdict.destination_zone), " on ",
                                      ServicePortLabel(out.port));
    }
  }

  const Policy& policy_;
  const ExplainEnd& from_;
  const ExplainEnd& to_;
  AddressSet hosts_, controller_;
};

}  // namespace

const char* ExplainBasisName(ExplainBasis basis) {
  switch (basis) {
    case ExplainBasis::kFlows:
      return "flows";
    case ExplainBasis::kAntiLockout:
      return "anti-lockout";
    case ExplainBasis::kHostEssential:
      return "host-essential";
    case ExplainBasis::kLoopback:
      return "loopback";
    case ExplainBasis::kDenied:
      return "denied";
    case ExplainBasis::kNoAddress:
      return "no-address";
  }
  return "denied";
}

absl::StatusOr<ExplainEnd> ResolveExplainEnd(const Policy& policy, const std::string& text) {
  ExplainEnd end;
  end.name = text;
  if (auto a = Address::Parse(text); a.ok()) {
    end.kind = ExplainEnd::Kind::kAddress;
    end.addresses.Add(*a);
  } else if (auto h = policy.FindHost(text)) {
    end.kind = ExplainEnd::Kind::kHost;
    end.addresses = policy.AddressesOf({Endpoint::Kind::kHost, *h});
  } else if (auto z = policy.FindZone(text)) {
    end.kind = ExplainEnd::Kind::kZone;
    end.addresses = policy.zones[*z].effective;
  } else {
    return absl::NotFoundError(absl::StrCat("`", text, "` is not an address, host or zone"));
  }
  return end;
}

absl::StatusOr<ExplainPorts> ResolveExplainPorts(const Policy& policy, const std::string& text) {
  ExplainPorts out;
  if (auto s = policy.FindService(text)) {
    out.service = text;
    out.ports = policy.services[*s].ports;
    return out;
  }
  absl::StatusOr<ServicePort> port = ServicePort::Parse(text);
  if (!port.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--port `", text,
        "` is neither a service of the policy nor a port item: ", port.status().message()));
  }
  out.ports.push_back(*port);
  return out;
}

bool Explanation::AllAllowed() const {
  return std::all_of(verdicts.begin(), verdicts.end(),
                     [](const PortVerdict& v) { return v.allowed; });
}

absl::StatusOr<Explanation> Explain(const Policy& policy, const ExplainEnd& from,
                                    const ExplainEnd& to, const ExplainPorts& ports) {
  Explanation out{from, to, ports.service, {}};
  PortExplainer explainer(policy, out.from, out.to);
  for (const ServicePort& item : ports.ports) {
    for (const ServicePort& port : PortClasses(policy, item)) {
      absl::StatusOr<PortVerdict> v = explainer.Run(port);
      if (!v.ok()) return v.status();
      out.verdicts.push_back(*std::move(v));
    }
  }
  return out;
}

}  // namespace polder
