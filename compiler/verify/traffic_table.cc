#include "compiler/verify/traffic_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "compiler/model/verdict.h"

namespace polder {
namespace {

// The most specific declared prefix of `zone` holding `a`.
std::optional<Prefix> DeclaredPrefix(const Zone& zone, const Address& a) {
  std::optional<Prefix> best;
  for (const Prefix& p : zone.cidrs) {
    if (p.base.family == a.family && p.Contains(a) && (!best || p.length > best->length)) best = p;
  }
  return best;
}

Prefix Collapsed(const Address& a) {
  int bits = a.family == Family::kV4 ? 24 : 48;
  int host_bits = FamilyBits(a.family) - bits;
  absl::uint128 mask = ~((absl::uint128(1) << host_bits) - 1);
  if (a.family == Family::kV4) mask &= absl::uint128(0xffffffffu);
  return Prefix{Address{a.family, a.value & mask}, bits};
}

}  // namespace

const char* TrafficDirectionName(TrafficDirection d) {
  return d == TrafficDirection::kInbound ? "in" : "out";
}

const char* TrafficVerdictName(TrafficVerdict v) {
  switch (v) {
    case TrafficVerdict::kAllowed:
      return "allowed";
    case TrafficVerdict::kDenied:
      return "denied";
    case TrafficVerdict::kWouldDeny:
      return "would-deny";
  }
  return "?";
}

bool ReportedOnce(const Policy& policy, const TrafficRow& row) {
  return row.key.direction == TrafficDirection::kInbound || !policy.FindHost(row.key.peer);
}

std::string FlowCitation(const Flow& flow) {
  std::string at = flow.location.FileLine();
  // An unnamed flow is named by its place already.
  return flow.name == at ? at : absl::StrCat(flow.name, " (", at, ")");
}

int HourOfWeek(absl::Time t) {
  // 1970-01-01 was a Thursday (day 3 of a week that starts on Monday).
  int64_t hours = absl::ToInt64Hours(absl::Floor(t - absl::UnixEpoch(), absl::Hours(1)));
  int64_t h = (hours + 3 * 24) % 168;
  return static_cast<int>(h < 0 ? h + 168 : h);
}

TrafficKey TrafficTable::KeyOf(const TrafficSample& s) const {
  TrafficKey key;
  key.direction = s.direction;
  key.host = s.host;
  key.protocol = s.protocol;
  key.port = s.port;
  key.verdict = s.verdict;
  if (auto host = policy_.HostWithAddress(s.peer)) {
    key.peer = policy_.hosts[*host].name;
    key.peer_zone = policy_.zones[policy_.hosts[*host].zone].name;
    key.peer_prefix = Prefix::Host(s.peer);
  } else if (auto zone = policy_.Classify(s.peer)) {
    const Zone& z = policy_.zones[*zone];
    // Classify() found the zone by one of its prefixes, so one holds the address.
    key.peer_prefix = DeclaredPrefix(z, s.peer).value_or(Prefix::Host(s.peer));
    key.peer = absl::StrCat(z.name, " ", key.peer_prefix.ToString());
    key.peer_zone = z.name;
  } else {
    key.peer_prefix = Collapsed(s.peer);
    key.peer = key.peer_prefix.ToString();
  }
  return key;
}

std::vector<std::string> TrafficTable::Citations(const TrafficSample& s) const {
  bool inbound = s.direction == TrafficDirection::kInbound;
  Connection c{inbound ? s.peer : s.local, inbound ? s.local : s.peer, s.protocol, s.port};
  Verdict verdict = Decide(policy_, c);
  std::vector<std::string> cites;
  for (FlowId f : verdict.allowing) cites.push_back(FlowCitation(policy_.flows[f]));
  if (cites.empty() && verdict.anti_lockout) cites.push_back("anti-lockout (settings.controller)");
  if (cites.empty()) {
    if (auto why = HostEssential(policy_, c)) {
      cites.push_back(absl::StrCat("host-essential: ", *why));
    } else {
      // Counted as allowed by a ruleset, yet the policy denies it: say so, never hide it.
      cites.push_back("no flow of this policy allows it (the ruleset is of another revision?)");
    }
  }
  return cites;
}

void TrafficTable::Add(const TrafficSample& s) {
  // The same tuple comes back in every report: its key and attribution are worked out once
  // (Decide() per sample was nearly all of the time at 1.35 million samples).
  SampleId id{s.host,       s.direction, s.local.family, s.local.value,
              s.peer.value, s.protocol,  s.port,         s.verdict};
  auto [cached, fresh] = seen_.try_emplace(std::move(id));
  if (fresh) {
    TrafficKey key = KeyOf(s);
    auto [it, inserted] = rows_.try_emplace(key);
    TrafficRow& row = it->second;
    if (inserted) {
      row.key = key;
      row.example_local = Prefix::Host(s.local);
      row.example_peer = key.peer_zone.empty() ? key.peer_prefix : Prefix::Host(s.peer);
    }
    if (s.verdict == TrafficVerdict::kAllowed) {
      for (std::string& cite : Citations(s)) {
        auto pos = std::lower_bound(row.flows.begin(), row.flows.end(), cite);
        if (pos == row.flows.end() || *pos != cite) row.flows.insert(pos, std::move(cite));
      }
    }
    cached->second = &row;  // map nodes do not move
  }
  TrafficRow& row = *cached->second;
  row.connections += s.connections;
  row.bytes += s.bytes;
  row.first_seen = std::min(row.first_seen, s.at);
  row.last_seen = std::max(row.last_seen, s.at);
  row.hours_of_week.set(HourOfWeek(s.at));
}

std::vector<TrafficRow> TrafficTable::Rows() const {
  std::vector<TrafficRow> out;
  out.reserve(rows_.size());
  for (const auto& [key, row] : rows_) out.push_back(row);
  return out;
}

}  // namespace polder
