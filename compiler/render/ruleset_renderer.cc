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
#include "compiler/render/nft_text.h"
#include "compiler/render/nft_values.h"
#include "compiler/render/peer_ranges.h"
#include "compiler/render/provenance.h"
#include "wire/counter_id.h"
#include "wire/ruleset_header.h"

namespace polder {
namespace {

using wire::NftField;
using wire::NftKeyPart;
using wire::NftKeyType;
using wire::NftMatch;
using wire::NftRule;
using wire::NftStatement;
using wire::NftVerdict;

constexpr std::array<Family, 2> kFamilies = {Family::kV4, Family::kV6};
constexpr absl::string_view kAuditPrefix = "polder-audit ";
constexpr absl::string_view kDenyPrefix = "polder-deny ";
constexpr uint32_t kLogRate = 10, kLogBurst = 20;

int FamilyIndex(Family f) { return f == Family::kV4 ? 0 : 1; }
absl::string_view FamilyDigit(Family f) { return f == Family::kV4 ? "4" : "6"; }
NftKeyType AddrType(Family f) {
  return f == Family::kV4 ? NftKeyType::kIpv4Addr : NftKeyType::kIpv6Addr;
}
NftField Saddr(Family f) { return f == Family::kV4 ? NftField::kIp4Saddr : NftField::kIp6Saddr; }
NftField Daddr(Family f) { return f == Family::kV4 ? NftField::kIp4Daddr : NftField::kIp6Daddr; }

NftMatch Equal(NftField f, NftKeyPart v) { return NftMatch::Equal(f, std::move(v)); }
NftMatch InSet(std::vector<NftField> fields, std::string set) {
  return NftMatch::InSet(std::move(fields), std::move(set));
}
NftMatch InAnonSet(NftField f, std::vector<NftKeyPart> values) {
  return NftMatch::InAnonSet(f, std::move(values));
}
NftMatch Vmap(NftField f, std::string set) { return NftMatch::Vmap(f, std::move(set)); }
NftStatement Counter() { return NftStatement::Counter(); }
NftStatement Verdict(NftVerdict v, std::string chain = "") {
  return NftStatement::Verdict(v, std::move(chain));
}
NftStatement Log(absl::string_view prefix) { return NftStatement::Log(std::string(prefix)); }
NftStatement Limit() { return NftStatement::Limit(kLogRate, kLogBurst); }
NftRule Rule(std::vector<NftMatch> matches, std::vector<NftStatement> statements,
             std::string comment = "") {
  return NftRule{std::move(matches), std::move(statements), std::move(comment)};
}
NftRule Accept(std::vector<NftMatch> matches, std::string comment = "") {
  return Rule(std::move(matches), {Verdict(NftVerdict::kAccept)}, std::move(comment));
}

NftKeyPart Icmp6(uint8_t type) { return nft::Byte(type, type); }
NftKeyPart Prefix6(const char* text) {
  auto p = Prefix::Parse(text);
  AddressRange r = p->Range();
  return nft::Addresses(Family::kV6, r.lo, r.hi);
}
NftKeyPart Addr6(const char* text) { return nft::Address(*polder::Address::Parse(text)); }

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

// The ruleset of one body while it is built: sets as they come, the rules of
// the two base chains, and the chains they jump to.
struct Body {
  wire::NftRuleset ruleset;
  Provenance provenance;                     // what each counter of `ruleset` counts for
  std::vector<wire::NftChain> jump_targets;  // before input and output, so they exist first
  std::vector<NftRule> input;
  std::vector<NftRule> output;
};

// What a packet of a denied flow meets: counted, then dropped, logged at a
// limited rate, or logged and accepted in audit mode.
std::vector<NftStatement> DenyStatements(const Settings& settings) {
  if (settings.mode == Mode::kAudit) {
    return {Counter(), Log(kAuditPrefix), Verdict(NftVerdict::kAccept)};
  }
  if (settings.log_denied) return {Counter(), Verdict(NftVerdict::kGoto, "denied")};
  return {Counter(), Verdict(NftVerdict::kDrop)};
}

struct Span {
  uint16_t lo, hi;
};

// Overlapping or touching ranges as disjoint ones (an interval set refuses overlaps).
std::vector<Span> Merged(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.lo != b.lo ? a.lo < b.lo : a.hi < b.hi; });
  std::vector<Span> out;
  for (const Span& s : spans) {
    if (!out.empty() && uint32_t{s.lo} <= uint32_t{out.back().hi} + 1) {
      out.back().hi = std::max(out.back().hi, s.hi);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

// Observation (issue 11, docs/traffic.md): new connections are recorded in capped dynamic
// sets keyed by (source . destination . protocol . port), or by ICMP type, since `th dport`
// reads ICMP header bytes. Allowed ones on their way to accept (the profile chains' allows go
// to `accept_in` / `accept_out`), the rest where no rule decided them (`observe_in` /
// `observe_out`, jumped to just before the default). An update on a full set skips the rest of
// its rule, so each update ends with its verdict and the next rule counts the overflow: what
// the sets could not hold is counted, never silent.
constexpr uint32_t kObservationSize = 8192;
constexpr uint32_t kObservationTimeoutS = 3600;  // far longer than the agent's 60 s reads

std::string ObservedChain(bool inbound, bool allowed) {
  return absl::StrCat(allowed ? "accept_" : "observe_", inbound ? "in" : "out");
}

// The sets and counters of one observation chain into `rs`, and the chain: `done` ends each
// recording rule (accept for allowed traffic, return to the base chain otherwise).
wire::NftChain ObservationChain(bool inbound, const std::string& verdict_name, NftVerdict done,
                                wire::NftRuleset& rs) {
  wire::NftChain chain;
  chain.name = ObservedChain(inbound, done == NftVerdict::kAccept);
  for (Family fam : kFamilies) {
    bool v6 = fam == Family::kV6;
    auto nfproto = Equal(NftField::kNfProto, nft::Byte(v6 ? nft::kNfprotoIpv6 : nft::kNfprotoIpv4,
                                                       v6 ? nft::kNfprotoIpv6 : nft::kNfprotoIpv4));
    auto fresh = Equal(NftField::kCtState, nft::CtState(nft::kCtNew));
    for (bool icmp : {false, true}) {
      wire::NftSet set;
      set.name = absl::StrCat("seen_", inbound ? "in" : "out", FamilyDigit(fam),
                              icmp ? "_icmp" : "", "_", verdict_name);
      set.key = {AddrType(fam), AddrType(fam)};
      NftStatement update;
      update.kind = NftStatement::Kind::kSetUpdate;
      update.name = set.name;
      update.fields = {Saddr(fam), Daddr(fam)};
      NftMatch protocols;
      if (icmp) {
        set.key.push_back(v6 ? NftKeyType::kIcmpv6Type : NftKeyType::kIcmpType);
        update.fields.push_back(v6 ? NftField::kIcmpv6Type : NftField::kIcmpType);
        protocols = Equal(NftField::kL4Proto, nft::Proto(v6 ? Protocol::kIcmpv6 : Protocol::kIcmp));
      } else {
        set.key.push_back(NftKeyType::kInetProto);
        set.key.push_back(NftKeyType::kInetService);
        update.fields.push_back(NftField::kL4Proto);
        update.fields.push_back(NftField::kThDport);
        protocols = InAnonSet(
            NftField::kL4Proto,
            {nft::Proto(Protocol::kTcp), nft::Proto(Protocol::kUdp), nft::Proto(Protocol::kSctp)});
      }
      set.dynamic = true;
      set.counter = true;
      set.size = kObservationSize;
      set.timeout_s = kObservationTimeoutS;
      std::string overflow = set.name + "_overflow";
      NftStatement count_overflow;
      count_overflow.kind = NftStatement::Kind::kNamedCounter;
      count_overflow.name = overflow;
      chain.rules.push_back(Rule({nfproto, fresh, protocols}, {update, Verdict(done)}));
      chain.rules.push_back(Rule({nfproto, fresh, protocols}, {count_overflow, Verdict(done)}));
      rs.counters.push_back(wire::NftNamedCounter{overflow, 0, 0});
      rs.sets.push_back(std::move(set));
    }
  }
  // Allowed traffic that is no new connection of these protocols is accepted all the same.
  if (done == NftVerdict::kAccept) chain.rules.push_back(Rule({}, {Verdict(NftVerdict::kAccept)}));
  return chain;
}

// Service profiles of one direction: the chain of each distinct list of
// services some peer range gets, made on first use and shared by every range
// (of either family) with that list.
class ProfileChains {
 public:
  ProfileChains(std::string prefix, const Settings& settings, Body& body)
      : prefix_(std::move(prefix)), settings_(settings), body_(body) {}

  // Counts `flow`'s allowed item in the counter of the profile's element that holds it.
  void Attribute(const std::string& chain, FlowId flow, const ServiceItem& item) {
    auto it = counters_.find(chain);
    if (it == counters_.end()) return;
    const Counters& c = it->second;
    std::optional<size_t> entry = c.any;
    auto find = [&](const std::vector<std::pair<Span, size_t>>& spans) {
      for (const auto& [span, at] : spans) {
        if (span.lo <= item.lo && item.lo <= span.hi) entry = at;
      }
    };
    switch (item.protocol) {
      case Protocol::kAny:
        break;
      case Protocol::kIcmp:
        find(c.icmp);
        break;
      case Protocol::kIcmpv6:
        find(c.icmpv6);
        break;
      default:
        if (auto l4 = c.l4.find(item.protocol); l4 != c.l4.end()) find(l4->second);
    }
    if (entry) body_.provenance.counters[*entry].flows.push_back(flow);
  }

  const std::string& ChainFor(const std::vector<ServiceItem>& services) {
    auto it = chains_.find(services);
    if (it != chains_.end()) return it->second;
    std::string name = absl::StrCat(prefix_, "_p", chains_.size() + 1);
    wire::NftChain chain;
    chain.name = name;
    for (Action action : {Action::kDeny, Action::kAllow}) {
      if (AddRules(name, action, services, chain.rules)) break;
    }
    body_.jump_targets.push_back(std::move(chain));
    return chains_.emplace(services, std::move(name)).first->second;
  }

 private:
  // The rules of one action; true when they decide every packet (`any`).
  bool AddRules(const std::string& chain, Action action, const std::vector<ServiceItem>& services,
                std::vector<NftRule>& rules) {
    std::vector<NftStatement> verdict =
        action == Action::kAllow ? std::vector<NftStatement>{Verdict(
                                       NftVerdict::kGoto, ObservedChain(prefix_ == "in", true))}
                                 : DenyStatements(settings_);
    std::map<Protocol, std::vector<Span>> l4;
    std::vector<Span> icmp, icmpv6;
    for (const ServiceItem& s : services) {
      if (s.action != action) continue;
      switch (s.protocol) {
        case Protocol::kAny:
          // Nothing after it is reached. An allow of everything uses no set, so a named
          // counter of its own counts what it lets through (issue 11).
          if (action == Action::kAllow) {
            std::string name = absl::StrCat(chain, "_any");
            NftStatement count;
            count.kind = NftStatement::Kind::kNamedCounter;
            count.name = name;
            verdict.insert(verdict.begin(), count);
            body_.ruleset.counters.push_back(wire::NftNamedCounter{name, 0, 0});
            counters_[chain].any = AddCounter(CounterProvenance::Kind::kAny, chain,
                                              wire::NamedCounterId(name), name, "");
          }
          rules.push_back(Rule({}, verdict));
          return true;
        case Protocol::kIcmp:
          icmp.push_back({s.lo, s.hi});
          break;
        case Protocol::kIcmpv6:
          icmpv6.push_back({s.lo, s.hi});
          break;
        default:
          l4[s.protocol].push_back({s.lo, s.hi});
      }
    }
    std::string suffix = action == Action::kDeny ? "_deny" : "";
    if (!l4.empty()) {
      wire::NftSet set;
      set.name = absl::StrCat(chain, "_l4", suffix);
      set.key = {NftKeyType::kInetProto, NftKeyType::kInetService};
      set.counter = action == Action::kAllow;  // a hit count per allowed (profile, service)
      for (const auto& [proto, spans] : l4) {
        for (const Span& s : Merged(spans)) {
          set.interval |= s.lo != s.hi;
          set.elements.push_back(wire::NftElement::Of({nft::Proto(proto), nft::Ports(s.lo, s.hi)}));
        }
      }
      if (set.counter) {
        size_t i = 0;
        for (const auto& [proto, spans] : l4) {
          for (const Span& s : Merged(spans)) {
            const wire::NftElement& e = set.elements[i++];
            counters_[chain].l4[proto].push_back(
                {s, AddCounter(CounterProvenance::Kind::kService, chain,
                               wire::ElementCounterId(set.name, e), set.name,
                               FormatNftElementKey(set, e))});
          }
        }
      }
      rules.push_back(Rule({InSet({NftField::kL4Proto, NftField::kThDport}, set.name)}, verdict));
      body_.ruleset.sets.push_back(std::move(set));
    }
    for (bool v6 : {false, true}) {
      const std::vector<Span>& types = v6 ? icmpv6 : icmp;
      if (types.empty()) continue;
      wire::NftSet set;
      set.name = absl::StrCat(chain, v6 ? "_icmpv6" : "_icmp", suffix);
      set.key = {v6 ? NftKeyType::kIcmpv6Type : NftKeyType::kIcmpType};
      set.counter = action == Action::kAllow;
      for (const Span& s : Merged(types)) {
        set.interval |= s.lo != s.hi;
        set.elements.push_back(wire::NftElement::Of({nft::Byte(s.lo, s.hi)}));
        if (set.counter) {
          const wire::NftElement& e = set.elements.back();
          (v6 ? counters_[chain].icmpv6 : counters_[chain].icmp)
              .push_back({s, AddCounter(CounterProvenance::Kind::kService, chain,
                                        wire::ElementCounterId(set.name, e), set.name,
                                        FormatNftElementKey(set, e))});
        }
      }
      rules.push_back(
          Rule({InSet({v6 ? NftField::kIcmpv6Type : NftField::kIcmpType}, set.name)}, verdict));
      body_.ruleset.sets.push_back(std::move(set));
    }
    return false;
  }

  // The provenance entry (an index into body_.provenance.counters) of each allow element.
  struct Counters {
    std::map<Protocol, std::vector<std::pair<Span, size_t>>> l4;
    std::vector<std::pair<Span, size_t>> icmp, icmpv6;
    std::optional<size_t> any;
  };

  size_t AddCounter(CounterProvenance::Kind kind, const std::string& chain, std::string counter,
                    std::string set, std::string element) {
    CounterProvenance c;
    c.kind = kind;
    c.counter = std::move(counter);
    c.set = std::move(set);
    c.element = std::move(element);
    c.inbound = prefix_ == "in";
    c.chain = chain;
    body_.provenance.counters.push_back(std::move(c));
    return body_.provenance.counters.size() - 1;
  }

  std::string prefix_;
  const Settings& settings_;
  Body& body_;
  std::map<std::vector<ServiceItem>, std::string> chains_;
  std::map<std::string, Counters> counters_;  // by profile chain
};

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
void AddHostEssentials(const Settings& settings, bool inbound, std::vector<NftRule>& rules) {
  const NftKeyPart hop255 = nft::Byte(255, 255);
  const NftKeyPart link_local = Prefix6("fe80::/10");
  rules.push_back(Accept(
      {InAnonSet(NftField::kIcmpv6Type, {Icmp6(inbound ? 134 : 133), Icmp6(135), Icmp6(136)}),
       Equal(NftField::kIp6Hoplimit, hop255)},
      "host essentials: IPv6 neighbour and router discovery (RFC 4890)"));
  if (inbound) {
    rules.push_back(
        Accept({Equal(NftField::kIcmpv6Type, Icmp6(137)), Equal(NftField::kIp6Saddr, link_local),
                Equal(NftField::kIp6Hoplimit, hop255)}));
  }
  rules.push_back(
      Accept({InAnonSet(NftField::kIcmpv6Type, {Icmp6(130), Icmp6(131), Icmp6(132), Icmp6(143)}),
              InAnonSet(NftField::kIp6Saddr, {Addr6("::"), link_local})},
             "host essentials: MLD from link-local and from :: (duplicate address detection)"));
  rules.push_back(
      Accept({InAnonSet(NftField::kIcmpv6Type, {Icmp6(1), Icmp6(2), Icmp6(3), Icmp6(4)})},
             "host essentials: ICMP errors, related to a connection or not"));
  rules.push_back(Accept(
      {InAnonSet(NftField::kIcmpType, {nft::Byte(3, 3), nft::Byte(11, 11), nft::Byte(12, 12)})}));
  if (!settings.host_dhcp) return;
  auto nfproto4 = Equal(NftField::kNfProto, nft::Byte(nft::kNfprotoIpv4, nft::kNfprotoIpv4));
  const char* comment = "host essentials: DHCP client (settings.host_dhcp)";
  if (inbound) {
    rules.push_back(Accept({nfproto4, Equal(NftField::kUdpSport, nft::Ports(67, 67)),
                            Equal(NftField::kUdpDport, nft::Ports(68, 68))},
                           comment));
    rules.push_back(Accept({Equal(NftField::kIp6Saddr, link_local),
                            Equal(NftField::kUdpSport, nft::Ports(547, 547)),
                            Equal(NftField::kUdpDport, nft::Ports(546, 546))}));
  } else {
    rules.push_back(Accept({nfproto4, Equal(NftField::kUdpSport, nft::Ports(68, 68)),
                            Equal(NftField::kUdpDport, nft::Ports(67, 67))},
                           comment));
    rules.push_back(Accept({Equal(NftField::kIp6Daddr, Addr6("ff02::1:2")),
                            Equal(NftField::kUdpSport, nft::Ports(546, 546)),
                            Equal(NftField::kUdpDport, nft::Ports(547, 547))}));
  }
}

// Base rules: what every chain does before any policy rule (loopback,
// replies, host essentials, invalid packets).
void AddBaseRules(const Settings& settings, Body& body) {
  bool audit = settings.mode == Mode::kAudit;
  for (bool inbound : {true, false}) {
    auto& rules = inbound ? body.input : body.output;
    rules.push_back(Accept({Equal(inbound ? NftField::kIif : NftField::kOif, nft::Ifname("lo"))}));
    rules.push_back(
        Accept({Equal(NftField::kCtState, nft::CtState(nft::kCtEstablished | nft::kCtRelated))}));
    AddHostEssentials(settings, inbound, rules);
    if (!audit) {
      rules.push_back(Rule({Equal(NftField::kCtState, nft::CtState(nft::kCtInvalid))},
                           {Counter(), Verdict(NftVerdict::kDrop)}));
    }
  }
}

wire::NftSet AddressSetOf(std::string name, const AddressSet& addrs, Family fam) {
  wire::NftSet set;
  set.name = std::move(name);
  set.key = {AddrType(fam)};
  set.interval = true;
  for (const Interval& i : addrs.intervals(fam)) {
    set.elements.push_back(wire::NftElement::Of({nft::Addresses(fam, i.lo, i.hi)}));
  }
  return set;
}

// Anti-lockout: every host may reach the controller, and the controller's
// own host accepts every managed host. It comes before any deny, so no flow
// can take it away (spec §7).
void AddAntiLockout(const Policy& policy, const Selection& sel, Body& body) {
  const auto& ctl = policy.settings.controller;
  if (!ctl) return;
  for (Family fam : kFamilies) {
    wire::NftSet set;
    set.name = absl::StrCat("controller", FamilyDigit(fam));
    set.key = {AddrType(fam), NftKeyType::kInetService};
    for (const Address& a : ctl->addresses) {
      if (a.family == fam)
        set.elements.push_back(
            wire::NftElement::Of({nft::Address(a), nft::Ports(ctl->port, ctl->port)}));
    }
    if (set.elements.empty()) continue;
    std::string name = set.name;
    body.ruleset.sets.push_back(std::move(set));
    body.output.push_back(Accept({InSet({Daddr(fam), NftField::kTcpDport}, name)}));
    if (!sel.owns_controller[FamilyIndex(fam)]) continue;
    AddressSet managed;
    for (const Host& h : policy.hosts) {
      for (const Address& a : h.addresses) managed.Add(a);
    }
    if (managed.intervals(fam).empty()) continue;
    std::string managed_set = absl::StrCat("managed", FamilyDigit(fam));
    body.ruleset.sets.push_back(AddressSetOf(managed_set, managed, fam));
    body.input.push_back(
        Accept({InSet({Daddr(fam), NftField::kTcpDport}, name), InSet({Saddr(fam)}, managed_set)}));
  }
}

// Flow sets: the selected flows as peer ranges in one verdict map per
// direction and family, each range jumping to its service profile's chain
// (denies decided there before allows). Peer address spaces are computed once
// per flow and shared by every host the flow concerns.
class FlowSets {
 public:
  explicit FlowSets(const Policy& p)
      : policy_(p), inbound_peers_(p.flows.size()), outbound_peers_(p.flows.size()) {}

  void Add(const Selection& sel, Body& body) {
    ProfileChains in_profiles("in", policy_.settings, body);
    ProfileChains out_profiles("out", policy_.settings, body);
    std::vector<PeerService> in = Collect(sel.inbound, true);
    for (Family fam : kFamilies) {
      AddVmap(absl::StrCat("in", FamilyDigit(fam)), fam, Saddr(fam), in, {}, in_profiles, body,
              body.input);
    }
    for (Family fam : kFamilies) {
      const auto& out = sel.outbound[FamilyIndex(fam)];
      // A partial group's map holds every flow its addresses get (the common ones too), so
      // its profile decides alone; the common map after it can only agree.
      for (size_t g = 0; g < out.partial.size(); ++g) {
        std::string name =
            absl::StrCat("out", FamilyDigit(fam), "s", g == 0 ? "" : absl::StrCat(g));
        std::string self = name + "_self";
        AddressSet group = out.partial[g].first;
        body.ruleset.sets.push_back(AddressSetOf(self, group, fam));
        AddVmap(name, fam, Daddr(fam), Collect(Merge(out.all, out.partial[g].second), false),
                {InSet({Saddr(fam)}, self)}, out_profiles, body, body.output);
      }
      AddVmap(absl::StrCat("out", FamilyDigit(fam)), fam, Daddr(fam), Collect(out.all, false), {},
              out_profiles, body, body.output);
    }
  }

 private:
  static void AddVmap(std::string name, Family fam, NftField field,
                      const std::vector<PeerService>& items, std::vector<NftMatch> before,
                      ProfileChains& profiles, Body& body, std::vector<NftRule>& chain) {
    std::vector<PeerRange> ranges = PeerRanges(items, fam);
    if (ranges.empty()) return;
    wire::NftSet map;
    map.name = name;
    map.key = {AddrType(fam)};
    map.verdict_map = true;
    map.interval = true;
    map.counter = true;  // an element's counter: the packets of new connections per peer range
    map.elements.reserve(ranges.size());
    for (const PeerRange& r : ranges) {
      map.elements.push_back(wire::NftElement::Of(
          {nft::Addresses(fam, r.lo, r.hi)}, {NftVerdict::kJump, profiles.ChainFor(r.services)}));
    }
    AttributeRanges(map, fam, items, ranges, profiles, body);
    body.ruleset.sets.push_back(std::move(map));
    before.push_back(Vmap(field, std::move(name)));
    chain.push_back(Rule(std::move(before), {}));
  }

  // The provenance of each range's counter, and of the profile elements its allows reach: one
  // sweep of every item's peer intervals over the (sorted, disjoint) ranges.
  static void AttributeRanges(const wire::NftSet& map, Family fam,
                              const std::vector<PeerService>& items,
                              const std::vector<PeerRange>& ranges, ProfileChains& profiles,
                              Body& body) {
    std::vector<std::vector<uint32_t>> at(ranges.size());
    for (uint32_t i = 0; i < items.size(); ++i) {
      Protocol proto = items[i].service.protocol;
      if ((proto == Protocol::kIcmp && fam != Family::kV4) ||
          (proto == Protocol::kIcmpv6 && fam != Family::kV6))
        continue;
      for (const Interval& iv : items[i].peers->intervals(fam)) {
        auto r = std::lower_bound(ranges.begin(), ranges.end(), iv.lo,
                                  [](const PeerRange& p, absl::uint128 lo) { return p.hi < lo; });
        for (; r != ranges.end() && r->lo <= iv.hi; ++r) at[r - ranges.begin()].push_back(i);
      }
    }
    for (size_t r = 0; r < ranges.size(); ++r) {
      const wire::NftElement& e = map.elements[r];
      CounterProvenance c;
      c.kind = CounterProvenance::Kind::kPeerRange;
      c.counter = wire::ElementCounterId(map.name, e);
      c.set = map.name;
      c.element = FormatNftElementKey(map, e);
      c.inbound = map.name[0] == 'i';
      c.chain = e.data.chain;
      c.family = fam;
      c.lo = ranges[r].lo;
      c.hi = ranges[r].hi;
      for (uint32_t i : at[r]) {
        const PeerService& item = items[i];
        c.flows.push_back(item.flow);
        if (item.service.action == Action::kAllow) {
          profiles.Attribute(c.chain, item.flow, item.service);
        }
      }
      body.provenance.counters.push_back(std::move(c));
    }
  }

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

  // Every (peers, service) pair of the flows, both actions. The peer sets live
  // in this object (one slot per flow, never reallocated).
  std::vector<PeerService> Collect(const std::vector<FlowId>& flows, bool inbound) {
    std::vector<PeerService> out;
    for (FlowId id : flows) {
      const Flow& f = policy_.flows[id];
      const AddressSet& peers = inbound ? InboundPeers(id) : OutboundPeers(id);
      if (peers.Empty()) continue;
      for (ServiceId s : f.services) {
        for (const ServicePort& p : policy_.services[s].ports) {
          bool any = p.protocol == Protocol::kAny;
          out.push_back({&peers,
                         {f.action, p.protocol, any ? uint16_t{0} : p.lo, any ? uint16_t{0} : p.hi},
                         id});
        }
      }
    }
    return out;
  }

  const Policy& policy_;
  std::vector<std::optional<AddressSet>> inbound_peers_, outbound_peers_;
};

// The default: what happens to a packet no rule decided. Audit logs and
// accepts it; enforce drops it, logging at a limited rate when asked.
void AddDefaultRules(const Settings& settings, Body& body) {
  body.input.push_back(Rule({}, {Verdict(NftVerdict::kJump, ObservedChain(true, false))}));
  body.output.push_back(Rule({}, {Verdict(NftVerdict::kJump, ObservedChain(false, false))}));
  std::vector<NftStatement> tail;
  if (settings.mode == Mode::kAudit) {
    tail = {Log(kAuditPrefix), Counter(), Verdict(NftVerdict::kAccept)};
  } else if (settings.log_denied) {
    tail = {Limit(), Log(kDenyPrefix)};
  }
  if (!tail.empty()) {
    body.input.push_back(Rule({}, tail));
    body.output.push_back(Rule({}, tail));
  }
}

wire::NftChain BaseChain(std::string hook, bool audit, std::vector<NftRule> rules) {
  wire::NftChain c;
  c.name = hook;
  c.base = true;
  c.hook = std::move(hook);
  c.policy = audit ? NftVerdict::kAccept : NftVerdict::kDrop;
  c.rules = std::move(rules);
  return c;
}

// The whole table: the chain of logged denies first, then the observation
// chains (docs/traffic.md), the profile chains, then the two base chains.
wire::NftRuleset Assemble(const Settings& settings, Body body) {
  bool audit = settings.mode == Mode::kAudit;
  wire::NftRuleset rs = std::move(body.ruleset);
  if (!audit && settings.log_denied) {
    wire::NftChain denied;
    denied.name = "denied";
    denied.rules.push_back(Rule({}, {Limit(), Log(kDenyPrefix)}));
    denied.rules.push_back(Rule({}, {Verdict(NftVerdict::kDrop)}));
    rs.chains.push_back(std::move(denied));
  }
  std::string unmatched = audit ? "would_deny" : "denied";
  for (bool inbound : {true, false}) {
    rs.chains.push_back(ObservationChain(inbound, "allowed", NftVerdict::kAccept, rs));
    rs.chains.push_back(ObservationChain(inbound, unmatched, NftVerdict::kReturn, rs));
  }
  for (auto& c : body.jump_targets) rs.chains.push_back(std::move(c));
  rs.chains.push_back(BaseChain("input", audit, std::move(body.input)));
  rs.chains.push_back(BaseChain("output", audit, std::move(body.output)));
  return rs;
}

}  // namespace

struct RulesetRenderer::State {
  struct Rendered {
    std::shared_ptr<const wire::NftRuleset> ruleset;
    std::string text;  // FormatNftTable(*ruleset)
    std::shared_ptr<const Provenance> provenance;
  };
  const Policy& policy;
  FlowSelector selector;
  FlowSets flow_sets;
  std::unordered_map<std::string, Rendered> bodies;  // by Selection::Key()

  explicit State(const Policy& p) : policy(p), selector(p), flow_sets(p) {}

  // Base rules, anti-lockout, flow sets, the default: the order in which a
  // packet meets them.
  Rendered RenderBody(const Selection& sel) {
    Body body;
    AddBaseRules(policy.settings, body);
    AddAntiLockout(policy, sel, body);
    flow_sets.Add(sel, body);
    AddDefaultRules(policy.settings, body);
    auto provenance = std::make_shared<Provenance>(std::move(body.provenance));
    for (CounterProvenance& c : provenance->counters) {
      std::sort(c.flows.begin(), c.flows.end());
      c.flows.erase(std::unique(c.flows.begin(), c.flows.end()), c.flows.end());
    }
    auto rs = std::make_shared<const wire::NftRuleset>(Assemble(policy.settings, std::move(body)));
    std::string text = FormatNftTable(*rs);
    return {std::move(rs), std::move(text), std::move(provenance)};
  }

  const Rendered& BodyOf(HostId host) {
    Selection sel = selector.Select(host);
    std::string key = sel.Key();
    auto it = bodies.find(key);
    if (it == bodies.end()) it = bodies.emplace(key, RenderBody(sel)).first;
    return it->second;
  }
};

RulesetRenderer::RulesetRenderer(const Policy& policy) : state_(std::make_unique<State>(policy)) {}
RulesetRenderer::~RulesetRenderer() = default;

std::string RulesetRenderer::Render(HostId host) { return RenderHost(host).text; }

HostRuleset RulesetRenderer::RenderHost(HostId host) {
  const State::Rendered& body = state_->BodyOf(host);
  const Policy& p = state_->policy;
  wire::RulesetHeader header{p.hosts[host].name, p.revision, p.settings.mode};
  return {p.hosts[host].name,
          absl::StrCat(wire::FormatRulesetHeader(header),
                       "table inet polder\ndelete table inet polder\n", body.text),
          header, body.ruleset, body.provenance};
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
    out.push_back(renderer.RenderHost(h));
  }
  return out;
}

}  // namespace polder
