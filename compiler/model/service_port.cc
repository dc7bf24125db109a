#include "compiler/model/service_port.h"

#include <array>
#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

// abseil here predates absl::string_view == std::string_view.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

struct IcmpType {
  std::string_view name;
  int type;
};

// The type names nftables accepts for `icmp type` / `icmpv6 type`
// (nft describe icmp type; nft describe icmpv6 type).
constexpr std::array<IcmpType, 15> kIcmpTypes = {{
    {"echo-reply", 0},
    {"destination-unreachable", 3},
    {"source-quench", 4},
    {"redirect", 5},
    {"echo-request", 8},
    {"router-advertisement", 9},
    {"router-solicitation", 10},
    {"time-exceeded", 11},
    {"parameter-problem", 12},
    {"timestamp-request", 13},
    {"timestamp-reply", 14},
    {"info-request", 15},
    {"info-reply", 16},
    {"address-mask-request", 17},
    {"address-mask-reply", 18},
}};

// nftables' names (`nft describe icmpv6 type`); the first name of a number is the one printed.
constexpr std::array<IcmpType, 19> kIcmpv6Types = {{
    {"destination-unreachable", 1},  {"packet-too-big", 2},         {"time-exceeded", 3},
    {"parameter-problem", 4},        {"echo-request", 128},         {"echo-reply", 129},
    {"mld-listener-query", 130},     {"mld-listener-report", 131},  {"mld-listener-done", 132},
    {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},    {"nd-router-advert", 134},
    {"nd-neighbor-solicit", 135},    {"nd-neighbor-advert", 136},   {"nd-redirect", 137},
    {"router-renumbering", 138},     {"ind-neighbor-solicit", 141}, {"ind-neighbor-advert", 142},
    {"mld2-listener-report", 143},
}};

template <typename Table>
int LookupIcmp(const Table& table, std::string_view name) {
  for (const IcmpType& t : table) {
    if (t.name == name) return t.type;
  }
  return -1;
}

template <typename Table>
std::string IcmpNames(const Table& table) {
  std::vector<std::string> names;
  for (const IcmpType& t : table) names.emplace_back(t.name);
  return absl::StrJoin(names, ", ");
}

bool ParseNumber(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

absl::Status BadItem(std::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("`", Sv(text),
                   "` is not a port item; write tcp/443, udp/1000-2000, sctp/P, "
                   "icmp, icmp/echo-request, icmpv6/echo-request or any"));
}

absl::StatusOr<ServicePort> ParsePortRange(Protocol proto, std::string_view item,
                                           std::string_view range) {
  size_t dash = range.find('-');
  int lo = 0, hi = 0;
  bool ok = dash == std::string_view::npos
                ? ParseNumber(range, lo) && (hi = lo, true)
                : ParseNumber(range.substr(0, dash), lo) && ParseNumber(range.substr(dash + 1), hi);
  if (!ok) return BadItem(item);
  if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("`", Sv(item), "`: ports are 1-65535"));
  }
  if (lo > hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`", Sv(item), "`: the range is reversed; write ", ProtocolName(proto), "/", hi, "-", lo));
  }
  return ServicePort{proto, static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

absl::StatusOr<ServicePort> ParseIcmp(Protocol proto, std::string_view item,
                                      std::string_view type) {
  bool v6 = proto == Protocol::kIcmpv6;
  if (type.empty()) return BadItem(item);
  int number = v6 ? LookupIcmp(kIcmpv6Types, type) : LookupIcmp(kIcmpTypes, type);
  if (number < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", Sv(item), "`: unknown ", ProtocolName(proto), " type `", Sv(type),
                     "`; known types: ", v6 ? IcmpNames(kIcmpv6Types) : IcmpNames(kIcmpTypes)));
  }
  return ServicePort{proto, static_cast<uint16_t>(number), static_cast<uint16_t>(number)};
}

}  // namespace

const char* ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kAny:
      return "any";
    case Protocol::kIcmp:
      return "icmp";
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kIcmpv6:
      return "icmpv6";
    case Protocol::kSctp:
      return "sctp";
  }
  return "?";
}

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

const char* IcmpTypeName(bool v6, int type) {
  if (v6) {
    for (const IcmpType& t : kIcmpv6Types)
      if (t.type == type) return t.name.data();
  } else {
    for (const IcmpType& t : kIcmpTypes)
      if (t.type == type) return t.name.data();
  }
  return "";
}

absl::StatusOr<ServicePort> ServicePort::Parse(std::string_view text) {
  if (text == "any") return Any();
  if (text == "icmp") return ServicePort{Protocol::kIcmp, 0, 255};
  if (text == "icmpv6") return ServicePort{Protocol::kIcmpv6, 0, 255};
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return BadItem(text);
  std::string_view proto = text.substr(0, slash);
  std::string_view rest = text.substr(slash + 1);
  if (proto == "tcp") return ParsePortRange(Protocol::kTcp, text, rest);
  if (proto == "udp") return ParsePortRange(Protocol::kUdp, text, rest);
  if (proto == "sctp") return ParsePortRange(Protocol::kSctp, text, rest);
  if (proto == "icmp") return ParseIcmp(Protocol::kIcmp, text, rest);
  if (proto == "icmpv6") return ParseIcmp(Protocol::kIcmpv6, text, rest);
  return BadItem(text);
}

std::string ServicePort::ToString() const {
  if (protocol == Protocol::kAny) return "any";
  if (IsIcmp(protocol)) {
    if (lo == 0 && hi == 255) return std::string(ProtocolName(protocol));
    std::string name = IcmpTypeName(protocol == Protocol::kIcmpv6, lo);
    return absl::StrCat(ProtocolName(protocol), "/", name.empty() ? std::to_string(lo) : name);
  }
  if (lo == hi) return absl::StrCat(ProtocolName(protocol), "/", lo);
  return absl::StrCat(ProtocolName(protocol), "/", lo, "-", hi);
}

}  // namespace polder
