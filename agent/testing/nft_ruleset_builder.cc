#include "agent/testing/nft_ruleset_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder::agent::testing {

using wire::NftChain;
using wire::NftElement;
using wire::NftField;
using wire::NftKeyPart;
using wire::NftKeyType;
using wire::NftMatch;
using wire::NftRule;
using wire::NftRuleset;
using wire::NftSet;
using wire::NftStatement;
using wire::NftVerdict;

namespace {

NftKeyPart PrefixPart(std::string addr, int prefix) {
  std::string to = addr;
  int bits = static_cast<int>(addr.size()) * 8;
  for (int i = 0; i < bits; ++i) {
    char bit = static_cast<char>(0x80 >> (i % 8));
    if (i >= prefix) {
      addr[i / 8] &= static_cast<char>(~bit);
      to[i / 8] |= bit;
    }
  }
  return {addr, to};
}

std::string Raw4(const std::string& a) {
  in_addr v{};
  inet_pton(AF_INET, a.c_str(), &v);
  return std::string(reinterpret_cast<const char*>(&v), 4);
}

std::string Raw6(const std::string& a) {
  in6_addr v{};
  inet_pton(AF_INET6, a.c_str(), &v);
  return std::string(reinterpret_cast<const char*>(&v), 16);
}

unsigned U(char c) { return static_cast<unsigned char>(c); }

std::string Addr(const std::string& raw) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), buf, sizeof(buf));
  return buf;
}

// Prefix length when [from, to] is one prefix, else -1.
int PrefixLen(const std::string& from, const std::string& to) {
  int bits = static_cast<int>(from.size()) * 8, i = 0;
  auto bit = [](const std::string& s, int i) { return (U(s[i / 8]) >> (7 - i % 8)) & 1; };
  while (i < bits && bit(from, i) == bit(to, i)) ++i;
  for (int j = i; j < bits; ++j) {
    if (bit(from, j) != 0 || bit(to, j) != 1) return -1;
  }
  return i;
}

unsigned Number(const std::string& be) {
  unsigned v = 0;
  for (char c : be) v = (v << 8) | U(c);
  return v;
}

std::string CtStates(const std::string& host_u32) {
  uint32_t v = 0;
  memcpy(&v, host_u32.data(), 4);
  std::vector<std::string> names;
  const std::pair<uint32_t, const char*> kNames[] = {
      {1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}};
  for (const auto& [bit, name] : kNames) {
    if (v & bit) names.push_back(name);
  }
  return absl::StrJoin(names, ",");
}

NftKeyType TypeOf(NftField f) {
  switch (f) {
    case NftField::kIp4Saddr:
    case NftField::kIp4Daddr:
      return NftKeyType::kIpv4Addr;
    case NftField::kIp6Saddr:
    case NftField::kIp6Daddr:
      return NftKeyType::kIpv6Addr;
    case NftField::kThSport:
    case NftField::kThDport:
    case NftField::kTcpDport:
    case NftField::kUdpSport:
    case NftField::kUdpDport:
      return NftKeyType::kInetService;
    case NftField::kIcmpType:
      return NftKeyType::kIcmpType;
    case NftField::kIcmpv6Type:
      return NftKeyType::kIcmpv6Type;
    case NftField::kIif:
    case NftField::kOif:
      return NftKeyType::kIfname;
    case NftField::kCtState:
      return NftKeyType::kCtState;
    default:
      return NftKeyType::kInetProto;
  }
}

std::string PrintPart(NftKeyType t, const NftKeyPart& p) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
    case NftKeyType::kIpv6Addr: {
      if (p.from == p.to) return Addr(p.from);
      int len = PrefixLen(p.from, p.to);
      if (len >= 0) return absl::StrCat(Addr(p.from), "/", len);
      return absl::StrCat(Addr(p.from), "-", Addr(p.to));
    }
    case NftKeyType::kIfname:
      return absl::StrCat("\"", std::string(p.from.c_str()), "\"");
    case NftKeyType::kCtState:
      return CtStates(p.from);
    default:
      if (p.from == p.to) return absl::StrCat(Number(p.from));
      return absl::StrCat(Number(p.from), "-", Number(p.to));
  }
}

const char* TypeName(NftKeyType t) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
      return "ipv4_addr";
    case NftKeyType::kIpv6Addr:
      return "ipv6_addr";
    case NftKeyType::kInetProto:
      return "inet_proto";
    case NftKeyType::kInetService:
      return "inet_service";
    case NftKeyType::kIcmpType:
      return "icmp_type";
    case NftKeyType::kIcmpv6Type:
      return "icmpv6_type";
    case NftKeyType::kIfname:
      return "ifname";
    case NftKeyType::kCtState:
      return "ct_state";
  }
  return "?";
}

const char* FieldName(NftField f) {
  switch (f) {
    case NftField::kIp4Saddr:
      return "ip saddr";
    case NftField::kIp4Daddr:
      return "ip daddr";
    case NftField::kIp6Saddr:
      return "ip6 saddr";
    case NftField::kIp6Daddr:
      return "ip6 daddr";
    case NftField::kIp6Hoplimit:
      return "ip6 hoplimit";
    case NftField::kL4Proto:
      return "meta l4proto";
    case NftField::kNfProto:
      return "meta nfproto";
    case NftField::kThSport:
      return "th sport";
    case NftField::kThDport:
      return "th dport";
    case NftField::kTcpDport:
      return "tcp dport";
    case NftField::kUdpSport:
      return "udp sport";
    case NftField::kUdpDport:
      return "udp dport";
    case NftField::kIcmpType:
      return "icmp type";
    case NftField::kIcmpv6Type:
      return "icmpv6 type";
    case NftField::kIif:
      return "iif";
    case NftField::kOif:
      return "oif";
    case NftField::kCtState:
      return "ct state";
  }
  return "?";
}

std::string PrintVerdict(const wire::NftVerdictData& v) {
  switch (v.verdict) {
    case NftVerdict::kAccept:
      return "accept";
    case NftVerdict::kDrop:
      return "drop";
    case NftVerdict::kJump:
      return absl::StrCat("jump ", v.chain);
    case NftVerdict::kGoto:
      return absl::StrCat("goto ", v.chain);
    case NftVerdict::kReturn:
      return "return";
    case NftVerdict::kNone:
      break;
  }
  return "";
}

std::string PrintRule(const NftRule& r) {
  std::vector<std::string> words;
  for (const NftMatch& m : r.matches) {
    std::vector<std::string> fields;
    for (NftField f : m.fields) fields.push_back(FieldName(f));
    std::string lhs = absl::StrJoin(fields, " . ");
    switch (m.kind) {
      case NftMatch::Kind::kEqual:
        words.push_back(absl::StrCat(lhs, m.negate ? " != " : " ",
                                     PrintPart(TypeOf(m.fields[0]), m.values[0])));
        break;
      case NftMatch::Kind::kInAnonSet: {
        std::vector<std::string> vs;
        for (const NftKeyPart& v : m.values) vs.push_back(PrintPart(TypeOf(m.fields[0]), v));
        words.push_back(absl::StrCat(lhs, " { ", absl::StrJoin(vs, ", "), " }"));
        break;
      }
      case NftMatch::Kind::kInSet:
        words.push_back(absl::StrCat(lhs, m.negate ? " != @" : " @", m.set));
        break;
      case NftMatch::Kind::kVmap:
        words.push_back(absl::StrCat(lhs, " vmap @", m.set));
        break;
    }
  }
  for (const NftStatement& s : r.statements) {
    switch (s.kind) {
      case NftStatement::Kind::kCounter:
        words.push_back("counter");
        break;
      case NftStatement::Kind::kNamedCounter:
        words.push_back(absl::StrCat("counter name \"", s.name, "\""));
        break;
      case NftStatement::Kind::kLimit:
        words.push_back(absl::StrCat("limit rate ", s.rate, "/second burst ", s.burst, " packets"));
        break;
      case NftStatement::Kind::kLog:
        words.push_back(absl::StrCat("log prefix \"", s.name, "\"",
                                     s.log_group ? absl::StrCat(" group ", *s.log_group) : ""));
        break;
      case NftStatement::Kind::kSetUpdate: {
        std::vector<std::string> fields;
        for (NftField f : s.fields) fields.push_back(FieldName(f));
        words.push_back(
            absl::StrCat("update @", s.name, " { ", absl::StrJoin(fields, " . "), " }"));
        break;
      }
      case NftStatement::Kind::kVerdict:
        if (s.verdict.verdict != NftVerdict::kNone) words.push_back(PrintVerdict(s.verdict));
        break;
    }
  }
  return absl::StrJoin(words, " ");
}

NftMatch Eq(NftField f, NftKeyPart v, bool negate = false) {
  NftMatch m;
  m.kind = NftMatch::Kind::kEqual;
  m.fields = {f};
  m.values = {std::move(v)};
  m.negate = negate;
  return m;
}

NftMatch InSet(std::vector<NftField> fields, const std::string& set, bool vmap = false) {
  NftMatch m;
  m.kind = vmap ? NftMatch::Kind::kVmap : NftMatch::Kind::kInSet;
  m.fields = std::move(fields);
  m.set = set;
  return m;
}

NftMatch Anon(NftField f, std::vector<NftKeyPart> values) {
  NftMatch m;
  m.kind = NftMatch::Kind::kInAnonSet;
  m.fields = {f};
  m.values = std::move(values);
  return m;
}

NftStatement Counter() {
  NftStatement s;
  s.kind = NftStatement::Kind::kCounter;
  return s;
}

NftRule Rule(std::vector<NftMatch> matches, std::vector<NftStatement> statements) {
  NftRule r;
  r.matches = std::move(matches);
  r.statements = std::move(statements);
  return r;
}

NftChain Base(const std::string& name, NftVerdict policy) {
  NftChain c;
  c.name = name;
  c.base = true;
  c.hook = name;
  c.policy = policy;
  return c;
}

void Essentials(NftChain& c, bool input) {
  c.rules.push_back(Rule({Eq(input ? NftField::kIif : NftField::kOif, Ifname("lo"))},
                         {Verdict(NftVerdict::kAccept)}));
  c.rules.push_back(Rule({Eq(NftField::kCtState, HostU32(2 | 4))}, {Verdict(NftVerdict::kAccept)}));
  c.rules.push_back(Rule({Anon(NftField::kIcmpv6Type, {Byte(133), Byte(135), Byte(136)}),
                          Eq(NftField::kIp6Hoplimit, Byte(255))},
                         {Verdict(NftVerdict::kAccept)}));
  c.rules.push_back(Rule({Anon(NftField::kIcmpv6Type, {Byte(130), Byte(131)}),
                          Anon(NftField::kIp6Saddr, {Ipv6("::"), Ipv6("fe80::", 10)})},
                         {Verdict(NftVerdict::kAccept)}));
  c.rules.push_back(Rule({Anon(NftField::kIcmpType, {Byte(3), Byte(11), Byte(12)})},
                         {Verdict(NftVerdict::kAccept)}));
  c.rules.push_back(
      Rule({Eq(NftField::kCtState, HostU32(1))}, {Counter(), Verdict(NftVerdict::kDrop)}));
}

NftStatement DenyLog() {
  NftStatement limit;
  limit.kind = NftStatement::Kind::kLimit;
  limit.rate = 10;
  limit.burst = 20;
  return limit;
}

NftStatement Log(const std::string& prefix) {
  NftStatement log;
  log.kind = NftStatement::Kind::kLog;
  log.name = prefix;
  return log;
}

NftElement L4(uint8_t proto, NftKeyPart port) { return {{Byte(proto), std::move(port)}, {}}; }

NftElement ZoneJump(int zone, const std::string& chain) {
  NftElement e;
  e.key = {Ipv4(absl::StrCat("10.", 100 + zone / 256, ".", zone % 256, ".0"), 24)};
  e.data = {NftVerdict::kJump, chain};
  return e;
}

NftSet L4Set(const std::string& name, bool interval) {
  NftSet s;
  s.name = name;
  s.key = {NftKeyType::kInetProto, NftKeyType::kInetService};
  s.interval = interval;
  return s;
}

NftChain* FindChain(NftRuleset& rs, const std::string& name) {
  for (NftChain& c : rs.chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

NftSet* FindSet(NftRuleset& rs, const std::string& name) {
  for (NftSet& s : rs.sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

NftKeyPart Ipv4(const std::string& address, int prefix) {
  return PrefixPart(Raw4(address), prefix);
}
NftKeyPart Ipv6(const std::string& address, int prefix) {
  return PrefixPart(Raw6(address), prefix);
}
NftKeyPart Ipv4Range(const std::string& from, const std::string& to) {
  return {Raw4(from), Raw4(to)};
}
NftKeyPart Byte(uint8_t value) {
  return {std::string(1, static_cast<char>(value)), std::string(1, static_cast<char>(value))};
}
NftKeyPart Port(uint16_t port) { return PortRange(port, port); }
NftKeyPart PortRange(uint16_t from, uint16_t to) {
  auto be = [](uint16_t p) {
    return std::string{static_cast<char>(p >> 8), static_cast<char>(p & 0xff)};
  };
  return {be(from), be(to)};
}
NftKeyPart HostU32(uint32_t value) {
  std::string v(reinterpret_cast<const char*>(&value), 4);
  return {v, v};
}
NftKeyPart Ifname(const std::string& name) {
  std::string v = name;
  v.resize(16, '\0');
  return {v, v};
}

NftStatement Verdict(NftVerdict v, const std::string& chain) {
  NftStatement s;
  s.kind = NftStatement::Kind::kVerdict;
  s.verdict = {v, chain};
  return s;
}

NftRuleset LayoutRuleset(int zones, int profiles, int services, int extra_elements) {
  NftRuleset rs;
  NftSet map;
  map.name = "in4";
  map.key = {NftKeyType::kIpv4Addr};
  map.verdict_map = true;
  map.interval = true;
  map.counter = true;  // as the renderer declares peer-range maps and allow sets (issue 11)
  for (int z = 0; z < zones; ++z)
    map.elements.push_back(ZoneJump(z, absl::StrCat("in_p", z % profiles)));
  for (int i = 0; i < extra_elements; ++i) {
    NftElement e;
    e.key = {Ipv4(absl::StrCat("172.", 16 + (i >> 16), ".", (i >> 8) & 0xff, ".", i & 0xff))};
    e.data = {NftVerdict::kJump, absl::StrCat("in_p", i % profiles)};
    map.elements.push_back(e);
  }
  for (int p = 0; p < profiles; ++p) {
    NftSet s = L4Set(absl::StrCat("in_p", p, "_l4"), false);
    s.counter = true;
    for (int k = 0; k < services; ++k) {
      s.elements.push_back(L4(6, Port(static_cast<uint16_t>(1000 + (p * 7 + k) % 60000))));
    }
    rs.sets.push_back(std::move(s));
    NftChain c;
    c.name = absl::StrCat("in_p", p);
    c.rules.push_back(
        Rule({InSet({NftField::kL4Proto, NftField::kThDport}, absl::StrCat("in_p", p, "_l4"))},
             {Verdict(NftVerdict::kAccept)}));
    rs.chains.push_back(std::move(c));
  }
  rs.sets.push_back(std::move(map));
  NftChain input = Base("input", NftVerdict::kDrop);
  Essentials(input, true);
  input.rules.push_back(Rule({InSet({NftField::kIp4Saddr}, "in4", true)}, {}));
  input.rules.push_back(Rule({}, {DenyLog(), Log("polder-deny ")}));
  rs.chains.push_back(std::move(input));
  NftChain output = Base("output", NftVerdict::kAccept);
  Essentials(output, false);
  rs.chains.push_back(std::move(output));
  return rs;
}

namespace {

int Pick(std::mt19937& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

NftRule RandomProfileRule(std::mt19937& rng, const std::string& l4set, const std::string& icmpset) {
  switch (Pick(rng, 8)) {
    case 0:
      return Rule({InSet({NftField::kL4Proto, NftField::kThDport}, l4set)},
                  {Verdict(NftVerdict::kAccept)});
    case 1:
      return Rule({InSet({NftField::kIcmpType}, icmpset)},
                  {Counter(), Verdict(NftVerdict::kAccept)});
    case 2:
      return Rule({Eq(NftField::kIp4Saddr, Ipv4(absl::StrCat("10.", Pick(rng, 200), ".0.0"), 16)),
                   Eq(NftField::kTcpDport, Port(static_cast<uint16_t>(1 + Pick(rng, 1000))))},
                  {Verdict(NftVerdict::kAccept)});
    case 3:
      return Rule({Eq(NftField::kIp4Saddr,
                      Ipv4Range("10.9.0.1", absl::StrCat("10.9.0.", 2 + Pick(rng, 200))))},
                  {Counter(), Verdict(NftVerdict::kDrop)});
    case 4:
      return Rule(
          {Eq(NftField::kIp6Saddr, Ipv6("fe80::", 10)), Eq(NftField::kIp6Hoplimit, Byte(255))},
          {Verdict(NftVerdict::kAccept)});
    case 5:
      return Rule({Eq(NftField::kUdpDport, Port(static_cast<uint16_t>(53 + Pick(rng, 3))))},
                  {Verdict(NftVerdict::kAccept)});
    case 6:
      return Rule(
          {Eq(NftField::kIp4Saddr, Ipv4("10.1.1.1"), true), Eq(NftField::kL4Proto, Byte(17))},
          {Verdict(NftVerdict::kDrop)});
    default:
      return Rule({}, {Counter(), Verdict(NftVerdict::kDrop)});
  }
}

void AddProfile(std::mt19937& rng, NftRuleset& rs, int id) {
  std::string name = absl::StrCat("in_p", id);
  bool ranges = Pick(rng, 3) == 0;
  NftSet l4 = L4Set(name + "_l4", ranges);
  std::set<int> ports;
  int n = 1 + Pick(rng, 6);
  for (int i = 0; i < n; ++i) ports.insert(1 + Pick(rng, 60000) / 10 * 10);
  for (int p : ports) {
    l4.elements.push_back(L4(Pick(rng, 2) ? 6 : 17,
                             ranges && Pick(rng, 2)
                                 ? PortRange(static_cast<uint16_t>(p), static_cast<uint16_t>(p + 5))
                                 : Port(static_cast<uint16_t>(p))));
  }
  NftSet icmp;
  icmp.name = name + "_icmp";
  icmp.key = {NftKeyType::kIcmpType};
  icmp.elements.push_back({{Byte(8)}, {}});
  if (Pick(rng, 2)) icmp.elements.push_back({{Byte(0)}, {}});
  NftChain c;
  c.name = name;
  int rules = 1 + Pick(rng, 3);
  for (int i = 0; i < rules; ++i) c.rules.push_back(RandomProfileRule(rng, l4.name, icmp.name));
  rs.sets.push_back(std::move(l4));
  rs.sets.push_back(std::move(icmp));
  rs.chains.insert(rs.chains.begin(), std::move(c));
}

std::vector<std::string> Profiles(const NftRuleset& rs) {
  std::vector<std::string> out;
  for (const NftChain& c : rs.chains) {
    if (c.name.rfind("in_p", 0) == 0) out.push_back(c.name);
  }
  return out;
}

int FreeZone(std::mt19937& rng, const NftSet& map) {
  for (;;) {
    int z = Pick(rng, 2000);
    NftKeyPart k = ZoneJump(z, "").key[0];
    bool used = std::any_of(map.elements.begin(), map.elements.end(),
                            [&](const NftElement& e) { return e.key[0].from == k.from; });
    if (!used) return z;
  }
}

void SortElements(NftSet& s) {
  std::sort(s.elements.begin(), s.elements.end(), [](const NftElement& a, const NftElement& b) {
    for (size_t i = 0; i < a.key.size(); ++i) {
      if (a.key[i].from != b.key[i].from) return a.key[i].from < b.key[i].from;
    }
    return false;
  });
}

}  // namespace

NftRuleset RandomRuleset(std::mt19937& rng) {
  NftRuleset rs;
  int profiles = 2 + Pick(rng, 3);
  for (int p = 0; p < profiles; ++p) AddProfile(rng, rs, p);
  NftSet map;
  map.name = "in4";
  map.key = {NftKeyType::kIpv4Addr};
  map.verdict_map = true;
  map.interval = true;
  std::vector<std::string> names = Profiles(rs);
  int zones = 3 + Pick(rng, 10);
  for (int i = 0; i < zones; ++i) {
    map.elements.push_back(
        ZoneJump(FreeZone(rng, map), names[Pick(rng, static_cast<int>(names.size()))]));
  }
  SortElements(map);
  rs.sets.push_back(std::move(map));
  NftSet old;  // the concatenation layout: ip saddr . meta l4proto . th dport, interval
  old.name = "in4_l4";
  old.key = {NftKeyType::kIpv4Addr, NftKeyType::kInetProto, NftKeyType::kInetService};
  old.interval = true;
  old.elements.push_back({{Ipv4("10.10.9.0", 24), Byte(6), Port(22)}, {}});
  old.elements.push_back({{Ipv4("10.20.0.0", 16), Byte(6), PortRange(9102, 9103)}, {}});
  rs.sets.push_back(std::move(old));
  NftSet self;
  self.name = "self4";
  self.key = {NftKeyType::kIpv4Addr};
  self.interval = true;
  self.elements.push_back({{Ipv4("10.0.0.5")}, {}});
  self.elements.push_back({{Ipv4("10.0.1.0", 24)}, {}});
  rs.sets.push_back(std::move(self));
  wire::NftNamedCounter drops;
  drops.name = "drops";
  rs.counters.push_back(drops);
  NftChain input = Base("input", NftVerdict::kDrop);
  Essentials(input, true);
  input.rules.push_back(Rule({InSet({NftField::kIp4Saddr}, "in4", true)}, {}));
  input.rules.push_back(
      Rule({InSet({NftField::kIp4Saddr, NftField::kL4Proto, NftField::kThDport}, "in4_l4")},
           {Verdict(NftVerdict::kAccept)}));
  NftStatement named;
  named.kind = NftStatement::Kind::kNamedCounter;
  named.name = "drops";
  input.rules.push_back(
      Rule({InSet({NftField::kIp4Daddr}, "self4")}, {named, DenyLog(), Log("polder-deny ")}));
  rs.chains.push_back(std::move(input));
  NftChain output = Base("output", NftVerdict::kAccept);
  Essentials(output, false);
  rs.chains.push_back(std::move(output));
  return rs;
}

void RandomEdit(std::mt19937& rng, NftRuleset& rs) {
  NftSet* map = FindSet(rs, "in4");
  std::vector<std::string> profiles = Profiles(rs);
  auto any_profile = [&] { return profiles[Pick(rng, static_cast<int>(profiles.size()))]; };
  switch (Pick(rng, 10)) {
    case 0:  // a zone more
      map->elements.push_back(ZoneJump(FreeZone(rng, *map), any_profile()));
      SortElements(*map);
      break;
    case 1:  // a zone less
      if (map->elements.size() > 1)
        map->elements.erase(map->elements.begin() +
                            Pick(rng, static_cast<int>(map->elements.size())));
      break;
    case 2:  // a zone moves to another profile
      map->elements[Pick(rng, static_cast<int>(map->elements.size()))].data.chain = any_profile();
      break;
    case 3: {  // a service more or less
      NftSet* l4 = FindSet(rs, any_profile() + "_l4");
      if (Pick(rng, 2) && l4->elements.size() > 1) {
        l4->elements.erase(l4->elements.begin() + Pick(rng, static_cast<int>(l4->elements.size())));
      } else {
        int port = 3 + Pick(rng, 60000) / 10 * 10;  // never equal to AddProfile's ports
        l4->elements.push_back(L4(6, Port(static_cast<uint16_t>(port))));
        SortElements(*l4);
      }
      break;
    }
    case 4: {  // a rule more, somewhere in a profile chain
      std::string p = any_profile();
      NftChain* c = FindChain(rs, p);
      c->rules.insert(c->rules.begin() + Pick(rng, static_cast<int>(c->rules.size()) + 1),
                      RandomProfileRule(rng, p + "_l4", p + "_icmp"));
      break;
    }
    case 5: {  // a rule less
      NftChain* c = FindChain(rs, any_profile());
      if (c->rules.size() > 1)
        c->rules.erase(c->rules.begin() + Pick(rng, static_cast<int>(c->rules.size())));
      break;
    }
    case 6: {  // a new profile, some zones move to it
      int id = 100 + Pick(rng, 1000);
      if (FindChain(rs, absl::StrCat("in_p", id)) != nullptr) break;
      AddProfile(rng, rs, id);
      map = FindSet(rs, "in4");
      map->elements[Pick(rng, static_cast<int>(map->elements.size()))].data.chain =
          absl::StrCat("in_p", id);
      break;
    }
    case 7: {  // a profile goes (its zones go to another)
      if (profiles.size() < 2) break;
      std::string gone = any_profile();
      std::string other = gone == profiles[0] ? profiles[1] : profiles[0];
      for (NftElement& e : map->elements) {
        if (e.data.chain == gone) e.data.chain = other;
      }
      rs.chains.erase(std::find_if(rs.chains.begin(), rs.chains.end(),
                                   [&](const NftChain& c) { return c.name == gone; }));
      rs.sets.erase(std::remove_if(rs.sets.begin(), rs.sets.end(),
                                   [&](const NftSet& s) {
                                     return s.name == gone + "_l4" || s.name == gone + "_icmp";
                                   }),
                    rs.sets.end());
      break;
    }
    case 8: {  // the input policy flips
      NftChain* in = FindChain(rs, "input");
      in->policy = in->policy == NftVerdict::kDrop ? NftVerdict::kAccept : NftVerdict::kDrop;
      break;
    }
    default: {  // an address of this host more or less
      NftSet* self = FindSet(rs, "self4");
      if (Pick(rng, 2) && self->elements.size() > 1) {
        self->elements.pop_back();
      } else {
        self->elements.push_back({{Ipv4(absl::StrCat("10.0.", 2 + Pick(rng, 250), ".0"), 24)}, {}});
        SortElements(*self);
        self->elements.erase(std::unique(self->elements.begin(), self->elements.end(),
                                         [](const NftElement& a, const NftElement& b) {
                                           return a.key[0].from == b.key[0].from;
                                         }),
                             self->elements.end());
      }
      break;
    }
  }
}

std::string PrintNft(const NftRuleset& rs) {
  std::string out = "table inet polder\ndelete table inet polder\ntable inet polder {\n";
  for (const wire::NftNamedCounter& c : rs.counters)
    absl::StrAppend(&out, "  counter ", c.name, " { }\n");
  for (const NftSet& s : rs.sets) {
    std::vector<std::string> types;
    for (NftKeyType t : s.key) types.push_back(TypeName(t));
    absl::StrAppend(&out, s.verdict_map ? "  map " : "  set ", s.name, " {\n    type ",
                    absl::StrJoin(types, " . "), s.verdict_map ? " : verdict" : "", "\n");
    std::vector<std::string> flags;
    if (s.interval) flags.push_back("interval");
    if (s.dynamic) flags.push_back("dynamic");
    if (s.timeout_s) flags.push_back("timeout");
    if (!flags.empty()) absl::StrAppend(&out, "    flags ", absl::StrJoin(flags, ","), "\n");
    if (s.counter) absl::StrAppend(&out, "    counter\n");
    if (s.size) absl::StrAppend(&out, "    size ", s.size, "\n");
    if (s.timeout_s) absl::StrAppend(&out, "    timeout ", s.timeout_s, "s\n");
    if (!s.elements.empty()) {
      std::vector<std::string> elements;
      for (const NftElement& e : s.elements) {
        std::vector<std::string> parts;
        for (size_t i = 0; i < e.key.size(); ++i) parts.push_back(PrintPart(s.key[i], e.key[i]));
        std::string text = absl::StrJoin(parts, " . ");
        if (s.verdict_map) absl::StrAppend(&text, " : ", PrintVerdict(e.data));
        elements.push_back(text);
      }
      absl::StrAppend(&out, "    elements = { ", absl::StrJoin(elements, ",\n      "), " }\n");
    }
    absl::StrAppend(&out, "  }\n");
  }
  for (const NftChain& c : rs.chains) {
    absl::StrAppend(&out, "  chain ", c.name, " {\n");
    if (c.base) {
      absl::StrAppend(&out, "    type filter hook ", c.hook, " priority filter; policy ",
                      c.policy == NftVerdict::kDrop ? "drop" : "accept", ";\n");
    }
    for (const NftRule& r : c.rules) absl::StrAppend(&out, "    ", PrintRule(r), "\n");
    absl::StrAppend(&out, "  }\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace polder::agent::testing
