#include "compiler/model/policy.h"

#include <algorithm>

namespace polder {
namespace {

template <typename T>
std::optional<int> FindByName(const std::vector<T>& items, std::string_view name) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].name == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

}  // namespace

Service BuiltinAnyService() { return Service{"any", {ServicePort::Any()}, {}, true}; }

Flow DenyEverythingFlow(std::string name, std::vector<Endpoint> from, std::vector<Endpoint> to,
                        std::string reason, std::string owner, SourceLocation location) {
  Flow f;
  f.name = std::move(name);
  f.action = Action::kDeny;
  f.from = std::move(from);
  f.to = std::move(to);
  f.services = {0};
  f.reason = std::move(reason);
  f.owner = std::move(owner);
  f.location = std::move(location);
  return f;
}

std::optional<ZoneId> Policy::FindZone(std::string_view name) const {
  return FindByName(zones, name);
}
std::optional<HostId> Policy::FindHost(std::string_view name) const {
  return FindByName(hosts, name);
}
std::optional<ServiceId> Policy::FindService(std::string_view name) const {
  return FindByName(services, name);
}
const Posture* Policy::FindPosture(std::string_view name) const {
  auto i = FindByName(postures, name);
  return i ? &postures[*i] : nullptr;
}

std::optional<ZoneId> Policy::Classify(const Address& a) const {
  auto it = std::upper_bound(
      segments.begin(), segments.end(), a, [](const Address& addr, const ZoneSegment& s) {
        return addr.family != s.family ? addr.family < s.family : addr.value < s.lo;
      });
  if (it == segments.begin()) return std::nullopt;
  --it;
  if (it->family != a.family || it->hi < a.value) return std::nullopt;
  return it->zone;
}

std::optional<HostId> Policy::HostWithAddress(const Address& a) const {
  std::optional<ZoneId> z = Classify(a);
  if (!z) return std::nullopt;
  for (HostId h : zones[*z].hosts) {
    const auto& addrs = hosts[h].addresses;
    if (std::find(addrs.begin(), addrs.end(), a) != addrs.end()) return h;
  }
  return std::nullopt;
}

AddressSet Policy::AddressesOf(const Endpoint& e) const {
  if (e.kind == Endpoint::Kind::kZone) return zones[e.id].effective;
  AddressSet s;
  for (const Address& a : hosts[e.id].addresses) s.Add(a);
  return s;
}

}  // namespace polder
