#include "compiler/render/nft_text.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/address.h"
#include "compiler/model/service_port.h"
#include "compiler/render/nft_values.h"

namespace polder {
namespace {

using wire::NftField;
using wire::NftKeyPart;
using wire::NftKeyType;

std::string TypeName(NftKeyType t) {
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
  return "";
}

std::string FieldName(NftField f) {
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
  return "";
}

std::string Range(uint64_t lo, uint64_t hi) {
  return lo == hi ? absl::StrCat(lo) : absl::StrCat(lo, "-", hi);
}

std::string AddressText(Family fam, const NftKeyPart& p) {
  absl::uint128 lo = nft::BigEndian(p.from), hi = nft::BigEndian(p.to);
  if (lo == hi) return polder::Address{fam, lo}.ToString();
  return AddressRange{fam, lo, hi}.ToString();
}

std::string IcmpText(bool v6, const NftKeyPart& p) {
  uint8_t lo = static_cast<uint8_t>(p.from[0]), hi = static_cast<uint8_t>(p.to[0]);
  if (lo == hi) {
    std::string name = IcmpTypeName(v6, lo);
    if (!name.empty()) return name;
  }
  return Range(lo, hi);
}

std::string ProtoText(const NftKeyPart& p) {
  uint8_t v = static_cast<uint8_t>(p.from[0]);
  switch (static_cast<Protocol>(v)) {
    case Protocol::kTcp:
    case Protocol::kUdp:
    case Protocol::kSctp:
    case Protocol::kIcmp:
      return ProtocolName(static_cast<Protocol>(v));
    case Protocol::kIcmpv6:
      return "ipv6-icmp";  // what nft calls protocol 58
    default:
      return absl::StrCat(v);
  }
}

std::string CtStateText(const NftKeyPart& p) {
  uint32_t bits = nft::HostOrder32(p.from);
  std::vector<std::string> names;
  if (bits & nft::kCtInvalid) names.push_back("invalid");
  if (bits & nft::kCtEstablished) names.push_back("established");
  if (bits & nft::kCtRelated) names.push_back("related");
  if (bits & nft::kCtNew) names.push_back("new");
  return absl::StrJoin(names, ",");
}

std::string KeyText(NftKeyType t, const NftKeyPart& p) {
  if (p.from.empty()) return "?";
  switch (t) {
    case NftKeyType::kIpv4Addr:
      return AddressText(Family::kV4, p);
    case NftKeyType::kIpv6Addr:
      return AddressText(Family::kV6, p);
    case NftKeyType::kInetProto:
      return ProtoText(p);
    case NftKeyType::kInetService:
      return Range(static_cast<uint64_t>(nft::BigEndian(p.from)),
                   static_cast<uint64_t>(nft::BigEndian(p.to)));
    case NftKeyType::kIcmpType:
      return IcmpText(false, p);
    case NftKeyType::kIcmpv6Type:
      return IcmpText(true, p);
    case NftKeyType::kIfname:
      return absl::StrCat("\"", p.from.c_str(), "\"");
    case NftKeyType::kCtState:
      return CtStateText(p);
  }
  return "?";
}

// A value compared with one field: a few fields share a key type but print differently.
std::string FieldValueText(NftField f, const NftKeyPart& p) {
  if (p.from.empty()) return "?";
  if (f == NftField::kNfProto) {
    uint8_t v = static_cast<uint8_t>(p.from[0]);
    return v == nft::kNfprotoIpv4 ? "ipv4" : v == nft::kNfprotoIpv6 ? "ipv6" : absl::StrCat(v);
  }
  if (f == NftField::kIp6Hoplimit) {
    return Range(static_cast<uint8_t>(p.from[0]), static_cast<uint8_t>(p.to[0]));
  }
  return KeyText(nft::KeyTypeOf(f), p);
}

std::string Fields(const std::vector<NftField>& fields) {
  return absl::StrJoin(fields, " . ",
                       [](std::string* out, NftField f) { out->append(FieldName(f)); });
}

std::string VerdictText(const wire::NftVerdictData& v) {
  switch (v.verdict) {
    case wire::NftVerdict::kAccept:
      return "accept";
    case wire::NftVerdict::kDrop:
      return "drop";
    case wire::NftVerdict::kJump:
      return absl::StrCat("jump ", v.chain);
    case wire::NftVerdict::kGoto:
      return absl::StrCat("goto ", v.chain);
    case wire::NftVerdict::kReturn:
      return "return";
    case wire::NftVerdict::kNone:
      return "";
  }
  return "";
}

std::string MatchText(const wire::NftMatch& m) {
  using K = wire::NftMatch::Kind;
  std::string fields = Fields(m.fields);
  switch (m.kind) {
    case K::kEqual: {
      std::string value =
          m.values.empty() || m.fields.empty() ? "?" : FieldValueText(m.fields[0], m.values[0]);
      return absl::StrCat(fields, m.negate ? " != " : " ", value);
    }
    case K::kInSet:
      return absl::StrCat(fields, m.negate ? " != @" : " @", m.set);
    case K::kInAnonSet: {
      std::vector<std::string> values;
      for (const NftKeyPart& v : m.values) {
        values.push_back(m.fields.empty() ? "?" : FieldValueText(m.fields[0], v));
      }
      return absl::StrCat(fields, m.negate ? " != { " : " { ", absl::StrJoin(values, ", "), " }");
    }
    case K::kVmap:
      return absl::StrCat(fields, " vmap @", m.set);
  }
  return "";
}

std::string StatementText(const wire::NftStatement& s) {
  using K = wire::NftStatement::Kind;
  switch (s.kind) {
    case K::kCounter:
      return "counter";
    case K::kNamedCounter:
      return absl::StrCat("counter name \"", s.name, "\"");
    case K::kLimit:
      return absl::StrCat("limit rate ", s.rate, "/second burst ", s.burst, " packets");
    case K::kLog:
      return absl::StrCat("log prefix \"", s.name, "\"",
                          s.log_group ? absl::StrCat(" group ", *s.log_group) : "");
    case K::kSetUpdate:
      return absl::StrCat("update @", s.name, " { ", Fields(s.fields), " }");
    case K::kVerdict:
      return VerdictText(s.verdict);
  }
  return "";
}

std::string SetText(const wire::NftSet& set) {
  std::string types = absl::StrJoin(
      set.key, " . ", [](std::string* out, NftKeyType t) { out->append(TypeName(t)); });
  std::string out = absl::StrCat("  ", set.verdict_map ? "map " : "set ", set.name, " {\n    type ",
                                 types, set.verdict_map ? " : verdict" : "", "\n");
  std::vector<std::string> flags;
  if (set.interval) flags.push_back("interval");
  if (set.dynamic) flags.push_back("dynamic");
  if (!flags.empty()) absl::StrAppend(&out, "    flags ", absl::StrJoin(flags, ","), "\n");
  if (set.size > 0) absl::StrAppend(&out, "    size ", set.size, "\n");
  if (set.timeout_s > 0) absl::StrAppend(&out, "    timeout ", set.timeout_s, "s\n");
  if (set.counter) out += "    counter\n";
  if (!set.elements.empty()) {
    std::vector<std::string> elements;
    elements.reserve(set.elements.size());
    for (const wire::NftElement& e : set.elements) {
      std::string text = FormatNftElementKey(set, e);
      if (set.verdict_map) absl::StrAppend(&text, " : ", VerdictText(e.data));
      elements.push_back(std::move(text));
    }
    absl::StrAppend(&out, "    elements = {\n      ", absl::StrJoin(elements, ",\n      "),
                    "\n    }\n");
  }
  return out + "  }\n";
}

std::string ChainText(const wire::NftChain& chain) {
  std::string out = absl::StrCat("  chain ", chain.name, " {\n");
  if (chain.base) {
    absl::StrAppend(&out, "    type filter hook ", chain.hook, " priority filter; policy ",
                    chain.policy == wire::NftVerdict::kDrop ? "drop" : "accept", ";\n");
  }
  for (const wire::NftRule& r : chain.rules) {
    if (!r.comment.empty()) absl::StrAppend(&out, "    # ", r.comment, "\n");
    absl::StrAppend(&out, "    ", FormatNftRule(r), "\n");
  }
  return out + "  }\n";
}

}  // namespace

std::string FormatNftElementKey(const wire::NftSet& set, const wire::NftElement& element) {
  std::string text;
  for (size_t i = 0; i < element.key.size(); ++i) {
    absl::StrAppend(
        &text, i == 0 ? "" : " . ",
        KeyText(i < set.key.size() ? set.key[i] : NftKeyType::kInetProto, element.key[i]));
  }
  return text;
}

std::string FormatNftRule(const wire::NftRule& rule) {
  std::vector<std::string> parts;
  for (const wire::NftMatch& m : rule.matches) parts.push_back(MatchText(m));
  for (const wire::NftStatement& s : rule.statements) parts.push_back(StatementText(s));
  return absl::StrJoin(parts, " ");
}

std::string FormatNftTable(const wire::NftRuleset& ruleset) {
  std::vector<std::string> blocks;
  for (const wire::NftSet& s : ruleset.sets) {
    if (!s.verdict_map) blocks.push_back(SetText(s));
  }
  for (const wire::NftNamedCounter& c : ruleset.counters) {
    blocks.push_back(absl::StrCat("  counter ", c.name, " {\n  }\n"));
  }
  for (const wire::NftChain& c : ruleset.chains) {
    if (!c.base) blocks.push_back(ChainText(c));
  }
  for (const wire::NftSet& s : ruleset.sets) {
    if (s.verdict_map) blocks.push_back(SetText(s));
  }
  for (const wire::NftChain& c : ruleset.chains) {
    if (c.base) blocks.push_back(ChainText(c));
  }
  return absl::StrCat("table inet polder {\n", absl::StrJoin(blocks, "\n"), "}\n");
}

}  // namespace polder
