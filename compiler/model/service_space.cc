#include "compiler/model/service_space.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

using Ranges = std::vector<ServiceSpace::Range>;

int IndexOf(Protocol p) {
  for (int i = 0; i < ServiceSpace::kProtocolCount; ++i) {
    if (ServiceSpace::kProtocols[i] == p) return i;
  }
  return -1;
}

Ranges IntersectOf(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    int lo = std::max(a[i].lo, b[j].lo), hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    (a[i].hi < b[j].hi) ? ++i : ++j;
  }
  return out;
}

// a minus b, both normalised: one pass over each (b's index only moves forward, as a's
// ranges are sorted and disjoint), so a service list of thousands of ports is linear.
Ranges SubtractOf(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t j = 0;
  for (ServiceSpace::Range cur : a) {
    while (j < b.size() && b[j].hi < cur.lo) ++j;
    bool alive = true;
    for (size_t k = j; k < b.size(); ++k) {
      const auto& r = b[k];
      if (r.lo > cur.hi) break;
      if (r.lo > cur.lo) out.push_back({cur.lo, r.lo - 1});
      if (r.hi >= cur.hi) {
        alive = false;
        break;
      }
      cur.lo = r.hi + 1;
    }
    if (alive) out.push_back(cur);
  }
  return out;
}

// The union of two normalised lists, normalised: a merge, not a sort.
Ranges UnionOf(const Ranges& a, const Ranges& b) {
  Ranges out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const ServiceSpace::Range& r =
        (j == b.size() || (i < a.size() && a[i].lo <= b[j].lo)) ? a[i++] : b[j++];
    if (!out.empty() && r.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// Whether every range of `small` lies in `big` (both normalised), without building the
// difference: lint asks this for every candidate pair of flows.
bool CoversRanges(const Ranges& big, const Ranges& small) {
  size_t j = 0;
  for (const ServiceSpace::Range& r : small) {
    while (j < big.size() && big[j].hi < r.lo) ++j;
    // Normalised ranges are disjoint and not adjacent: one range of `big` must hold all of r.
    if (j == big.size() || big[j].lo > r.lo || big[j].hi < r.hi) return false;
  }
  return true;
}

}  // namespace

ServiceSpace ServiceSpace::Of(const ServicePort& port) {
  if (port.protocol == Protocol::kAny) return Everything();
  ServiceSpace s;
  int i = IndexOf(port.protocol);
  if (i < 0) return s;
  int hi = std::min<int>(port.hi, MaxPort(port.protocol));
  if (port.lo <= hi) s.ranges_[i].push_back({port.lo, hi});
  return s;
}

ServiceSpace ServiceSpace::Of(const Service& service) {
  ServiceSpace s;
  for (const ServicePort& p : service.ports) s.Add(Of(p));
  return s;
}

ServiceSpace ServiceSpace::Everything() {
  ServiceSpace s;
  for (int i = 0; i < kProtocolCount; ++i) s.ranges_[i] = {{0, MaxPort(kProtocols[i])}};
  return s;
}

void ServiceSpace::Add(const ServiceSpace& other) {
  for (int i = 0; i < kProtocolCount; ++i) {
    if (other.ranges_[i].empty()) continue;
    if (ranges_[i].empty()) {
      ranges_[i] = other.ranges_[i];
    } else {
      ranges_[i] = UnionOf(ranges_[i], other.ranges_[i]);
    }
  }
}

bool ServiceSpace::Covers(const ServiceSpace& other) const {
  for (int i = 0; i < kProtocolCount; ++i)
    if (!CoversRanges(ranges_[i], other.ranges_[i])) return false;
  return true;
}

ServiceSpace ServiceSpace::Subtract(const ServiceSpace& other) const {
  ServiceSpace s;
  for (int i = 0; i < kProtocolCount; ++i) s.ranges_[i] = SubtractOf(ranges_[i], other.ranges_[i]);
  return s;
}

ServiceSpace ServiceSpace::Intersect(const ServiceSpace& other) const {
  ServiceSpace s;
  for (int i = 0; i < kProtocolCount; ++i) s.ranges_[i] = IntersectOf(ranges_[i], other.ranges_[i]);
  return s;
}

bool ServiceSpace::Empty() const {
  return std::all_of(ranges_.begin(), ranges_.end(), [](const Ranges& r) { return r.empty(); });
}

bool ServiceSpace::Contains(Protocol p, int port) const {
  int i = IndexOf(p);
  if (i < 0) return false;
  return std::any_of(ranges_[i].begin(), ranges_[i].end(),
                     [&](const Range& r) { return r.lo <= port && port <= r.hi; });
}

std::vector<ServicePort> ServiceSpace::Items() const {
  if (IsEverything()) return {ServicePort::Any()};
  std::vector<ServicePort> out;
  for (int i = 0; i < kProtocolCount; ++i) {
    for (const Range& r : ranges_[i]) {
      out.push_back({kProtocols[i], static_cast<uint16_t>(r.lo), static_cast<uint16_t>(r.hi)});
    }
  }
  return out;
}

std::string ServicePortLabel(const ServicePort& p) {
  if (p.protocol == Protocol::kAny) return "any";
  if (p.lo == 0 && p.hi == ServiceSpace::MaxPort(p.protocol)) {
    return std::string(ProtocolName(p.protocol));
  }
  if (IsIcmp(p.protocol) && p.lo != p.hi) {
    return absl::StrCat(std::string(ProtocolName(p.protocol)), "/", static_cast<int>(p.lo), "-",
                        static_cast<int>(p.hi));
  }
  return p.ToString();
}

std::string ServiceSpace::ToString() const {
  std::vector<std::string> parts;
  for (const ServicePort& p : Items()) parts.push_back(ServicePortLabel(p));
  return parts.empty() ? "nothing" : absl::StrJoin(parts, ", ");
}

ServiceSpace SpaceOfServices(const Policy& policy, const std::vector<ServiceId>& services) {
  ServiceSpace s;
  for (ServiceId id : services) s.Add(ServiceSpace::Of(policy.services[id]));
  return s;
}

}  // namespace polder
