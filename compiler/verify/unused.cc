#include "compiler/verify/unused.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "compiler/model/verdict.h"

namespace polder {
namespace {

int64_t DayOf(absl::Time t) {
  return absl::ToUnixSeconds(t) / 86400 - (absl::ToUnixSeconds(t) % 86400 < 0);
}

// The managed hosts of an endpoint list.
void HostsOf(const Policy& policy, const std::vector<Endpoint>& ends, std::set<HostId>& out) {
  for (const Endpoint& e : ends) {
    if (e.kind == Endpoint::Kind::kHost) {
      out.insert(e.id);
    } else {
      out.insert(policy.zones[e.id].hosts.begin(), policy.zones[e.id].hosts.end());
    }
  }
}

// Allowed connections, each once (see ReportedOnce).
bool CountsAsHit(const Policy& policy, const TrafficRow& row) {
  return row.key.verdict == TrafficVerdict::kAllowed && ReportedOnce(policy, row);
}

// For each host, on which days of the window it reported: computed once, since every entry
// asks about the same hosts and days.
std::vector<std::vector<bool>> ReportedDays(const Policy& policy, const ReportCoverage& coverage,
                                            const std::vector<int64_t>& days) {
  std::vector<std::vector<bool>> out(policy.hosts.size(), std::vector<bool>(days.size(), false));
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    auto it = coverage.days_by_host.find(policy.hosts[h].name);
    if (it == coverage.days_by_host.end()) continue;
    for (size_t i = 0; i < days.size(); ++i) out[h][i] = it->second.count(days[i]) > 0;
  }
  return out;
}

void Judge(const std::set<HostId>& expected, const std::vector<std::vector<bool>>& reported,
           size_t window_days, UnusedEntry& e) {
  e.hosts_expected = static_cast<int>(expected.size());
  e.days_window = static_cast<int>(window_days);
  std::vector<int> reporting(window_days, 0);
  for (HostId h : expected) {
    int seen = 0;
    for (size_t i = 0; i < window_days; ++i) {
      if (reported[h][i]) {
        ++seen;
        ++reporting[i];
      }
    }
    if (seen == e.days_window) ++e.hosts_complete;
  }
  e.days_complete =
      static_cast<int>(std::count(reporting.begin(), reporting.end(), e.hosts_expected));
  bool complete = e.hosts_expected > 0 && e.hosts_complete == e.hosts_expected && e.days_window > 0;
  if (e.hits > 0 || e.counter_hits > 0) {
    e.status = UnusedEntry::Status::kUsed;
  } else {
    e.status = complete ? UnusedEntry::Status::kUnused : UnusedEntry::Status::kUnknown;
  }
}

}  // namespace

void ReportCoverage::Add(const std::string& host, absl::Time at) {
  days_by_host[host].insert(DayOf(at));
}

const char* UnusedStatusName(UnusedEntry::Status s) {
  switch (s) {
    case UnusedEntry::Status::kUsed:
      return "used";
    case UnusedEntry::Status::kUnused:
      return "unused";
    case UnusedEntry::Status::kUnknown:
      return "unknown";
  }
  return "?";
}

std::vector<UnusedEntry> FindUnused(const Policy& policy, const std::vector<TrafficRow>& rows,
                                    const ReportCoverage& coverage, absl::Time since,
                                    absl::Time now, const CounterEvidence& counters) {
  std::vector<int64_t> days;
  if (since < now) {
    for (int64_t d = DayOf(since); d <= DayOf(now - absl::Nanoseconds(1)); ++d) days.push_back(d);
  }
  std::vector<UnusedEntry> out;
  std::vector<std::vector<bool>> reported = ReportedDays(policy, coverage, days);

  // Flows, in policy order.
  std::map<std::string, FlowId> by_citation;
  for (FlowId f = 0; f < static_cast<FlowId>(policy.flows.size()); ++f) {
    by_citation[FlowCitation(policy.flows[f])] = f;
  }
  std::vector<UnusedEntry> flow_entries(policy.flows.size());
  for (const TrafficRow& row : rows) {
    if (!CountsAsHit(policy, row)) continue;
    for (const std::string& cite : row.flows) {
      auto it = by_citation.find(cite);
      if (it == by_citation.end()) continue;
      UnusedEntry& e = flow_entries[it->second];
      e.hits += row.connections;
      e.last_hit = std::max(e.last_hit, row.last_seen);
    }
  }
  // Allowlist prefixes: the declared prefixes of zones without hosts that some
  // allow flow lets in or out, with the managed hosts on the flow's other side.
  std::map<ZoneId, std::set<HostId>> allowlists;
  for (FlowId f = 0; f < static_cast<FlowId>(policy.flows.size()); ++f) {
    const Flow& flow = policy.flows[f];
    if (flow.action != Action::kAllow || !flow.active) continue;
    UnusedEntry& e = flow_entries[f];
    e.kind = UnusedEntry::Kind::kFlow;
    e.name = flow.name;
    e.location = flow.location.FileLine();
    if (auto c = counters.flows.find(f); c != counters.flows.end()) {
      e.counter_hits = c->second.packets;
      e.last_hit = std::max(e.last_hit, c->second.last);
    }
    std::set<HostId> expected;
    HostsOf(policy, flow.from, expected);
    HostsOf(policy, flow.to, expected);
    Judge(expected, reported, days.size(), e);
    out.push_back(e);
    for (const auto* side : {&flow.from, &flow.to}) {
      const auto& other = side == &flow.from ? flow.to : flow.from;
      for (const Endpoint& end : *side) {
        if (end.kind != Endpoint::Kind::kZone || !policy.zones[end.id].hosts.empty()) continue;
        HostsOf(policy, other, allowlists[end.id]);
      }
    }
  }
  // Hits per (zone, declared prefix), from one pass over the rows.
  std::map<std::pair<std::string, Prefix>, std::pair<uint64_t, absl::Time>> prefix_hits;
  for (const TrafficRow& row : rows) {
    if (row.key.peer_zone.empty() || !CountsAsHit(policy, row)) continue;
    auto& [hits, last] =
        prefix_hits.try_emplace({row.key.peer_zone, row.key.peer_prefix}, 0, absl::InfinitePast())
            .first->second;
    hits += row.connections;
    last = std::max(last, row.last_seen);
  }
  for (const auto& [zone, expected] : allowlists) {
    const Zone& z = policy.zones[zone];
    for (size_t i = 0; i < z.cidrs.size(); ++i) {
      const Prefix& prefix = z.cidrs[i];
      UnusedEntry e;
      e.kind = UnusedEntry::Kind::kPrefix;
      e.name = absl::StrCat(z.name, " ", prefix.ToString());
      // The line declaring the prefix, where the loader recorded it.
      e.location = (i < z.cidr_locations.size() ? z.cidr_locations[i] : z.location).FileLine();
      if (auto it = prefix_hits.find({z.name, prefix}); it != prefix_hits.end()) {
        e.hits = it->second.first;
        e.last_hit = it->second.second;
      }
      Judge(expected, reported, days.size(), e);
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace polder
