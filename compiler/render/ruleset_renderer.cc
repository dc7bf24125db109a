#include "compiler/render/ruleset_renderer.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/verdict.h"
#include "compiler/render/nft_rectangles.h"
#include "wire/ruleset_header.h"

namespace polder {
namespace {

constexpr std::array<Family, 2> kFamilies = {Family::kV4, Family::kV6};
constexpr absl::string_view kAuditPrefix = "polder-audit ";
constexpr absl::string_view kDenyPrefix = "polder-deny ";
constexpr absl::string_view kLogLimit = "limit rate 10/second burst 20 packets";

int FamilyIndex(Family f) { return f == Family::kV4 ? 0 : 1; }
absl::string_view FamilyDigit(Family f) { return f == Family::kV4 ? "4" : "6"; }
absl::string_view AddrType(Family f) { return f == Family::kV4 ? "ipv4_addr" : "ipv6_addr"; }
absl::string_view IpKeyword(Family f) { return f == Family::kV4 ? "ip" : "ip6"; }

// Which flows concern one host, and how. Everything the body of a ruleset
// depends on besides policy-wide settings is in here, so Key() is the cache
// key of the body.
struct Selection {
  struct Outbound {
    std::vector<FlowId> all;  // apply to every address of the host in the family
    // Flows that `sources` admits for only some of the host's addresses.
    std::vector<std::pair<AddressSet, std::vector<FlowId>>> partial;
  };
  std::vector<FlowId> inbound;
  std::array<Outbound, 2> outbound;
  std::array<bool, 2> owns_controller = {false, false};

  std::string Key() const {
    std::string key = absl::StrCat("in:", absl::StrJoin(inbound, ","));
    for (int f = 0; f < 2; ++f) {
      absl::StrAppend(&key, "|out", f, ":", absl::StrJoin(outbound[f].all, ","));
      for (const auto& [addrs, flows] : outbound[f].partial) {
        absl::StrAppend(&key, ";", addrs.ToString(), "=", absl::StrJoin(flows, ","));
      }
      absl::StrAppend(&key, "|ctl", f, ":", owns_controller[f] ? 1 : 0);
    }
    return key;
  }
};

// Traffic of one action in one direction before it becomes set elements.
struct Traffic {
  AddressSet any;
  std::map<Protocol, std::vector<PortBlock>> l4;  // tcp, udp, sctp
  std::vector<PortBlock> icmp;
  std::vector<PortBlock> icmpv6;

  void Add(const Policy& policy, const Flow& flow, const AddressSet& peers) {
    if (peers.Empty()) return;
    for (ServiceId s : flow.services) {
      for (const ServicePort& p : policy.services[s].ports) {
        switch (p.protocol) {
          case Protocol::kAny:
            any = any.Union(peers);
            break;
          case Protocol::kIcmp:
            icmp.push_back({peers, p.lo, p.hi});
            break;
          case Protocol::kIcmpv6:
            icmpv6.push_back({peers, p.lo, p.hi});
            break;
          default:
            l4[p.protocol].push_back({peers, p.lo, p.hi});
        }
      }
    }
  }
};

struct SetSpec {
  std::string name;
  std::string type;
  bool interval = true;
  std::vector<std::string> elements;
};

struct Body {
  std::vector<SetSpec> sets;
  std::vector<std::string> input;
  std::vector<std::string> output;
};

std::string PortText(uint16_t lo, uint16_t hi) {
  return lo == hi ? absl::StrCat(lo) : absl::StrCat(lo, "-", hi);
}

std::string IcmpTypeText(bool v6, uint16_t lo, uint16_t hi) {
  if (lo == hi) {
    auto name = IcmpTypeName(v6, lo);  // "" or null when the type has no name
    if (name != decltype(name){} && std::string(name) != "") return std::string(name);
  }
  return PortText(lo, hi);
}

// Where a set sits: which chain, which address fields key it, and whether
// the host's own source address is part of the key (partial `sources`).
struct SetPlace {
  bool inbound = true;
  Family family = Family::kV4;
  std::optional<AddressSet> self;  // outbound only: the host addresses it applies to
  std::string suffix;              // distinguishes several partial groups
};

class FlowSetWriter {
 public:
  FlowSetWriter(const Policy& policy, Body& body) : policy_(policy), body_(body) {}

  // Adds the sets of `traffic` and the rules that look them up.
  void Emit(const SetPlace& place, const Traffic& traffic, Action action) {
    std::string base =
        absl::StrCat(place.inbound ? "in" : "out", FamilyDigit(place.family), place.self ? "s" : "",
                     place.suffix, action == Action::kDeny ? "_deny" : "");
    std::string fields = Fields(place);
    std::string verdict = Verdict(action);
    std::vector<std::string>& chain = place.inbound ? body_.input : body_.output;
    Family fam = place.family;

    std::vector<std::string> l4_elements;
    for (const auto& [proto, blocks] : traffic.l4) {
      for (const Rectangle& r : DisjointRectangles(blocks, fam)) {
        l4_elements.push_back(absl::StrCat(r.addresses.ToString(), " . ",
                                           std::string(ProtocolName(proto)), " . ",
                                           PortText(r.lo, r.hi)));
      }
    }
    AddSet(place, base + "_l4", absl::StrCat(AddrType(fam), " . inet_proto . inet_service"),
           l4_elements, absl::StrCat(fields, " . meta l4proto . th dport"), verdict, chain);

    bool v6 = fam == Family::kV6;
    std::vector<std::string> icmp_elements;
    for (const Rectangle& r : DisjointRectangles(v6 ? traffic.icmpv6 : traffic.icmp, fam)) {
      icmp_elements.push_back(
          absl::StrCat(r.addresses.ToString(), " . ", IcmpTypeText(v6, r.lo, r.hi)));
    }
    AddSet(place, base + "_icmp",
           absl::StrCat(AddrType(fam), v6 ? " . icmpv6_type" : " . icmp_type"), icmp_elements,
           absl::StrCat(fields, v6 ? " . icmpv6 type" : " . icmp type"), verdict, chain);

    std::vector<std::string> any_elements;
    for (const Interval& i : traffic.any.intervals(fam)) {
      any_elements.push_back(AddressRange{fam, i.lo, i.hi}.ToString());
    }
    AddSet(place, base + "_any", std::string(AddrType(fam)), any_elements, fields, verdict, chain);
  }

 private:
  static std::string Fields(const SetPlace& place) {
    absl::string_view ip = IpKeyword(place.family);
    if (place.inbound) return absl::StrCat(ip, " saddr");
    if (place.self) return absl::StrCat(ip, " saddr . ", ip, " daddr");
    return absl::StrCat(ip, " daddr");
  }

  std::string Verdict(Action action) const {
    if (action == Action::kAllow) return "accept";
    if (policy_.settings.mode == Mode::kAudit) {
      return absl::StrCat("counter log prefix \"", kAuditPrefix, "\" accept");
    }
    return policy_.settings.log_denied ? "counter goto denied" : "counter drop";
  }

  // The host's own addresses are a prefix of every element of a partial set.
  void AddSet(const SetPlace& place, std::string name, std::string type,
              const std::vector<std::string>& elements, const std::string& match,
              const std::string& verdict, std::vector<std::string>& chain) {
    if (elements.empty()) return;
    SetSpec set{std::move(name), std::move(type), true, {}};
    if (place.self) {
      set.type = absl::StrCat(AddrType(place.family), " . ", set.type);
      for (const Interval& i : place.self->intervals(place.family)) {
        std::string self = AddressRange{place.family, i.lo, i.hi}.ToString();
        for (const std::string& e : elements) set.elements.push_back(absl::StrCat(self, " . ", e));
      }
    } else {
      set.elements = elements;
    }
    chain.push_back(absl::StrCat(match, " @", set.name, " ", verdict));
    body_.sets.push_back(std::move(set));
  }

  const Policy& policy_;
  Body& body_;
};

std::string FormatSet(const SetSpec& set) {
  std::string out = absl::StrCat("  set ", set.name, " {\n    type ", set.type, "\n");
  if (set.interval) out += "    flags interval\n";
  absl::StrAppend(&out, "    elements = {\n      ", absl::StrJoin(set.elements, ",\n      "),
                  "\n    }\n  }\n");
  return out;
}

std::string FormatChain(absl::string_view name, absl::string_view policy_verdict,
                        const std::vector<std::string>& rules) {
  std::string out = absl::StrCat("  chain ", name, " {\n    type filter hook ", name,
                                 " priority filter; policy ", policy_verdict, ";\n");
  for (const std::string& r : rules) absl::StrAppend(&out, "    ", r, "\n");
  return out + "  }\n";
}

std::vector<FlowId> Merge(const std::vector<FlowId>& a, const std::vector<FlowId>& b) {
  std::vector<FlowId> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool SourcesAdmit(const Flow& f, const Address& a) {
  return !f.sources || std::any_of(f.sources->begin(), f.sources->end(),
                                   [&](const Prefix& p) { return p.Contains(a); });
}

// Which flows concern each host: active flows indexed by the zone or host
// named on each side, in flow order, so a host's selection is a merge of
// two short lists rather than a scan of every flow.
class FlowSelector {
 public:
  explicit FlowSelector(const Policy& p)
      : policy_(p),
        to_zone_(p.zones.size()),
        to_host_(p.hosts.size()),
        from_zone_(p.zones.size()),
        from_host_(p.hosts.size()) {
    for (FlowId i = 0; i < static_cast<FlowId>(p.flows.size()); ++i) {
      const Flow& f = p.flows[i];
      if (!f.active) continue;
      Index(f.to, i, to_zone_, to_host_);
      Index(f.from, i, from_zone_, from_host_);
    }
  }

  Selection Select(HostId h) const {
    const Host& host = policy_.hosts[h];
    Selection sel;
    sel.inbound = Merge(to_zone_[host.zone], to_host_[h]);
    std::vector<FlowId> out = Merge(from_zone_[host.zone], from_host_[h]);
    for (Family fam : kFamilies) {
      SelectOutbound(host, fam, out, sel.outbound[FamilyIndex(fam)]);
      if (const auto& ctl = policy_.settings.controller) {
        for (const Address& a : ctl->addresses) {
          if (a.family == fam &&
              std::find(host.addresses.begin(), host.addresses.end(), a) != host.addresses.end()) {
            sel.owns_controller[FamilyIndex(fam)] = true;
          }
        }
      }
    }
    return sel;
  }

 private:
  static void Index(const std::vector<Endpoint>& ends, FlowId f,
                    std::vector<std::vector<FlowId>>& by_zone,
                    std::vector<std::vector<FlowId>>& by_host) {
    for (const Endpoint& e : ends) {
      auto& list = e.kind == Endpoint::Kind::kZone ? by_zone[e.id] : by_host[e.id];
      if (list.empty() || list.back() != f) list.push_back(f);
    }
  }

  // Groups the host's addresses of one family by the outbound flows their
  // `sources` admit; usually there is one group and no partial sets.
  void SelectOutbound(const Host& host, Family fam, const std::vector<FlowId>& candidates,
                      Selection::Outbound& result) const {
    std::map<std::vector<FlowId>, AddressSet> groups;
    for (const Address& a : host.addresses) {
      if (a.family != fam) continue;
      std::vector<FlowId> admitted;
      for (FlowId f : candidates) {
        if (SourcesAdmit(policy_.flows[f], a)) admitted.push_back(f);
      }
      groups[admitted].Add(a);
    }
    if (groups.empty()) {
      for (FlowId f : candidates) {
        if (!policy_.flows[f].sources) result.all.push_back(f);
      }
      return;
    }
    result.all = groups.begin()->first;
    for (const auto& [flows, addrs] : groups) {
      std::vector<FlowId> common;
      std::set_intersection(result.all.begin(), result.all.end(), flows.begin(), flows.end(),
                            std::back_inserter(common));
      result.all = std::move(common);
    }
    if (groups.size() == 1) return;
    for (const auto& [flows, addrs] : groups) {
      std::vector<FlowId> extra;
      std::set_difference(flows.begin(), flows.end(), result.all.begin(), result.all.end(),
                          std::back_inserter(extra));
      if (!extra.empty()) result.partial.push_back({addrs, std::move(extra)});
    }
  }

  const Policy& policy_;
  std::vector<std::vector<FlowId>> to_zone_, to_host_, from_zone_, from_host_;
};

// Host essentials (spec §7): what keeps the host's own network working,
// whatever the policy says. Flat rules keyed by ICMP type, never by flow.
// ICMP errors come before `ct state invalid`, since an error about a
// connection conntrack does not know is invalid to it.
void AddHostEssentials(const Settings& settings, bool inbound, std::vector<std::string>& rules) {
  rules.push_back("# host essentials: IPv6 neighbour and router discovery (RFC 4890)");
  rules.push_back(
      absl::StrCat("icmpv6 type { ", inbound ? "nd-router-advert" : "nd-router-solicit",
                   ", nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept"));
  if (inbound) {
    rules.push_back("icmpv6 type nd-redirect ip6 saddr fe80::/10 ip6 hoplimit 255 accept");
  }
  rules.push_back(
      "# host essentials: MLD from link-local and from :: (duplicate address detection)");
  rules.push_back(
      "icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, "
      "mld2-listener-report } ip6 saddr { ::, fe80::/10 } accept");
  rules.push_back("# host essentials: ICMP errors, related to a connection or not");
  rules.push_back(
      "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } "
      "accept");
  rules.push_back("icmp type { destination-unreachable, time-exceeded, parameter-problem } accept");
  if (!settings.host_dhcp) return;
  rules.push_back("# host essentials: DHCP client (settings.host_dhcp)");
  if (inbound) {
    rules.push_back("meta nfproto ipv4 udp sport 67 udp dport 68 accept");
    rules.push_back("ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept");
  } else {
    rules.push_back("meta nfproto ipv4 udp sport 68 udp dport 67 accept");
    rules.push_back("ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept");
  }
}

// Base rules: what every chain does before any policy rule (loopback,
// replies, host essentials, invalid packets).
void AddBaseRules(const Settings& settings, Body& body) {
  bool audit = settings.mode == Mode::kAudit;
  for (const std::string chain : {"input", "output"}) {
    auto& rules = chain == "input" ? body.input : body.output;
    rules.push_back(chain == "input" ? "iif \"lo\" accept" : "oif \"lo\" accept");
    rules.push_back("ct state established,related accept");
    AddHostEssentials(settings, chain == "input", rules);
    if (!audit) rules.push_back("ct state invalid counter drop");
  }
}

// Anti-lockout: every host may reach the controller, and the controller's
// own host accepts every managed host. It comes before any deny, so no flow
// can take it away (spec §7).
void AddAntiLockout(const Policy& policy, const Selection& sel, Body& body) {
  const auto& ctl = policy.settings.controller;
  if (!ctl) return;
  for (Family fam : kFamilies) {
    std::vector<std::string> elements;
    for (const Address& a : ctl->addresses) {
      if (a.family == fam) elements.push_back(absl::StrCat(a.ToString(), " . ", ctl->port));
    }
    if (elements.empty()) continue;
    std::string set = absl::StrCat("controller", FamilyDigit(fam));
    absl::string_view ip = IpKeyword(fam);
    body.sets.push_back(
        SetSpec{set, absl::StrCat(AddrType(fam), " . inet_service"), false, elements});
    body.output.push_back(absl::StrCat(ip, " daddr . tcp dport @", set, " accept"));
    if (!sel.owns_controller[FamilyIndex(fam)]) continue;
    AddressSet managed;
    for (const Host& h : policy.hosts) {
      for (const Address& a : h.addresses) managed.Add(a);
    }
    std::string managed_set = absl::StrCat("managed", FamilyDigit(fam));
    std::vector<std::string> managed_elements;
    for (const Interval& i : managed.intervals(fam)) {
      managed_elements.push_back(AddressRange{fam, i.lo, i.hi}.ToString());
    }
    if (managed_elements.empty()) continue;
    body.sets.push_back(SetSpec{managed_set, std::string(AddrType(fam)), true, managed_elements});
    body.input.push_back(
        absl::StrCat(ip, " daddr . tcp dport @", set, " ", ip, " saddr @", managed_set, " accept"));
  }
}

// Flow sets: the selected flows as set elements and the rules that look
// them up, denies before allows. Peer address spaces are computed once per
// flow and shared by every host the flow concerns.
class FlowSets {
 public:
  explicit FlowSets(const Policy& p)
      : policy_(p), inbound_peers_(p.flows.size()), outbound_peers_(p.flows.size()) {}

  void Add(const Selection& sel, Body& body) {
    // Denies first: a packet that matches a deny set never reaches the allows.
    FlowSetWriter builder(policy_, body);
    for (Action action : {Action::kDeny, Action::kAllow}) {
      Traffic in = Collect(sel.inbound, true, action);
      for (Family fam : kFamilies) builder.Emit(SetPlace{true, fam, std::nullopt, ""}, in, action);
      for (Family fam : kFamilies) {
        const auto& out = sel.outbound[FamilyIndex(fam)];
        builder.Emit(SetPlace{false, fam, std::nullopt, ""}, Collect(out.all, false, action),
                     action);
        for (size_t g = 0; g < out.partial.size(); ++g) {
          builder.Emit(SetPlace{false, fam, out.partial[g].first, g == 0 ? "" : absl::StrCat(g)},
                       Collect(out.partial[g].second, false, action), action);
        }
      }
    }
  }

 private:
  AddressSet Union(const std::vector<Endpoint>& ends) const {
    AddressSet s;
    for (const Endpoint& e : ends) s = s.Union(policy_.AddressesOf(e));
    return s;
  }

  // Who may reach the host under a flow: `from`, narrowed by `sources`.
  const AddressSet& InboundPeers(FlowId id) {
    auto& slot = inbound_peers_[id];
    if (!slot) {
      const Flow& f = policy_.flows[id];
      AddressSet peers = Union(f.from);
      if (f.sources) {
        AddressSet allowed;
        for (const Prefix& p : *f.sources) allowed.Add(p);
        peers = peers.Intersect(allowed);
      }
      slot = std::move(peers);
    }
    return *slot;
  }

  const AddressSet& OutboundPeers(FlowId id) {
    auto& slot = outbound_peers_[id];
    if (!slot) slot = Union(policy_.flows[id].to);
    return *slot;
  }

  Traffic Collect(const std::vector<FlowId>& flows, bool inbound, Action action) {
    Traffic t;
    for (FlowId id : flows) {
      const Flow& f = policy_.flows[id];
      if (f.action != action) continue;
      t.Add(policy_, f, inbound ? InboundPeers(id) : OutboundPeers(id));
    }
    return t;
  }

  const Policy& policy_;
  std::vector<std::optional<AddressSet>> inbound_peers_, outbound_peers_;
};

// The default: what happens to a packet no rule decided. Audit logs and
// accepts it; enforce drops it, logging at a limited rate when asked.
void AddDefaultRules(const Settings& settings, Body& body) {
  std::string tail;
  if (settings.mode == Mode::kAudit) {
    tail = absl::StrCat("log prefix \"", kAuditPrefix, "\" counter accept");
  } else if (settings.log_denied) {
    tail = absl::StrCat(kLogLimit, " log prefix \"", kDenyPrefix, "\"");
  }
  if (!tail.empty()) {
    body.input.push_back(tail);
    body.output.push_back(tail);
  }
}

// Formatting: the body as the text of table `inet polder`.
std::string FormatBody(const Settings& settings, const Body& body) {
  bool audit = settings.mode == Mode::kAudit;
  std::string final_verdict = audit ? "accept" : "drop";
  std::string text = "table inet polder {\n";
  for (const SetSpec& s : body.sets) text += FormatSet(s) + "\n";
  if (!audit && settings.log_denied) {
    absl::StrAppend(&text, "  chain denied {\n    ", kLogLimit, " log prefix \"", kDenyPrefix,
                    "\"\n    drop\n  }\n\n");
  }
  text += FormatChain("input", final_verdict, body.input) + "\n";
  text += FormatChain("output", final_verdict, body.output);
  return text + "}\n";
}

}  // namespace

struct RulesetRenderer::State {
  const Policy& policy;
  FlowSelector selector;
  FlowSets flow_sets;
  std::unordered_map<std::string, std::string> bodies;  // by Selection::Key()

  explicit State(const Policy& p) : policy(p), selector(p), flow_sets(p) {}

  // Base rules, anti-lockout, flow sets, the default: the order in which a
  // packet meets them.
  std::string RenderBody(const Selection& sel) {
    Body body;
    AddBaseRules(policy.settings, body);
    AddAntiLockout(policy, sel, body);
    flow_sets.Add(sel, body);
    AddDefaultRules(policy.settings, body);
    return FormatBody(policy.settings, body);
  }
};

RulesetRenderer::RulesetRenderer(const Policy& policy) : state_(std::make_unique<State>(policy)) {}
RulesetRenderer::~RulesetRenderer() = default;

std::string RulesetRenderer::Render(HostId host) {
  Selection sel = state_->selector.Select(host);
  std::string key = sel.Key();
  auto it = state_->bodies.find(key);
  if (it == state_->bodies.end()) it = state_->bodies.emplace(key, state_->RenderBody(sel)).first;
  return absl::StrCat(RulesetHeader(state_->policy, host),
                      "table inet polder\ndelete table inet polder\n", it->second);
}

size_t RulesetRenderer::distinct_bodies() const { return state_->bodies.size(); }

std::string RulesetHeader(const Policy& policy, HostId host) {
  return wire::FormatRulesetHeader(
      {policy.hosts[host].name, policy.revision, policy.settings.mode});
}

std::string RenderRuleset(const Policy& policy, HostId host) {
  return RulesetRenderer(policy).Render(host);
}

std::vector<HostRuleset> RenderAllRulesets(const Policy& policy) {
  RulesetRenderer renderer(policy);
  std::vector<HostRuleset> out;
  out.reserve(policy.hosts.size());
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    out.push_back({policy.hosts[h].name, renderer.Render(h)});
  }
  return out;
}

}  // namespace polder
