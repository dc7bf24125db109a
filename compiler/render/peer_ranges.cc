#include "compiler/render/peer_ranges.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace polder {
namespace {

struct Event {
  absl::uint128 at;
  int delta;  // +1: the item starts covering `at`; -1: it stops (at = hi + 1)
  uint32_t item;
  bool operator<(const Event& o) const { return at < o.at; }
};

bool CountsIn(Protocol p, Family family) {
  if (p == Protocol::kIcmp) return family == Family::kV4;
  if (p == Protocol::kIcmpv6) return family == Family::kV6;
  return true;
}

absl::uint128 Top(Family family) {
  return family == Family::kV4 ? absl::uint128(0xffffffffu) : absl::Uint128Max();
}

}  // namespace

std::vector<PeerRange> PeerRanges(const std::vector<PeerService>& items, Family family) {
  // Distinct services, numbered in their sort order, so a range's services are
  // the sorted numbers of the ones covering it.
  std::vector<ServiceItem> distinct;
  for (const PeerService& p : items) {
    if (CountsIn(p.service.protocol, family)) distinct.push_back(p.service);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  auto number = [&](const ServiceItem& s) {
    return static_cast<uint32_t>(std::lower_bound(distinct.begin(), distinct.end(), s) -
                                 distinct.begin());
  };

  std::vector<Event> events;
  for (const PeerService& p : items) {
    if (!CountsIn(p.service.protocol, family)) continue;
    uint32_t n = number(p.service);
    for (const Interval& i : p.peers->intervals(family)) {
      events.push_back({i.lo, +1, n});
      if (i.hi != Top(family)) events.push_back({i.hi + 1, -1, n});
    }
  }
  std::sort(events.begin(), events.end());

  std::vector<PeerRange> out;
  std::map<uint32_t, int> covering;  // service number -> how many items cover the point
  for (size_t e = 0; e < events.size();) {
    absl::uint128 at = events[e].at;
    for (; e < events.size() && events[e].at == at; ++e) {
      int& c = covering[events[e].item];
      c += events[e].delta;
      if (c == 0) covering.erase(events[e].item);
    }
    if (covering.empty()) continue;
    absl::uint128 hi = e < events.size() ? events[e].at - 1 : Top(family);
    std::vector<ServiceItem> services;
    services.reserve(covering.size());
    for (const auto& [n, count] : covering) services.push_back(distinct[n]);
    if (!out.empty() && out.back().hi + 1 == at && out.back().services == services) {
      out.back().hi = hi;
    } else {
      out.push_back({at, hi, std::move(services)});
    }
  }
  return out;
}

}  // namespace polder
