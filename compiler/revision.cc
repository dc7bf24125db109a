#include "compiler/revision.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"

namespace polder {
namespace {

using nlohmann::json;

json Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return json(v);
}

template <typename T, typename F>
json SortedMap(const std::vector<T>& items, F f) {
  std::vector<std::string> v;
  for (const T& item : items) v.push_back(f(item));
  return Sorted(std::move(v));
}

json EndpointsJson(const Policy& p, const std::vector<Endpoint>& ends) {
  return SortedMap(ends, [&](const Endpoint& e) { return p.EndpointName(e); });
}

json ZoneNamesJson(const Policy& p, const std::vector<ZoneId>& zones) {
  return SortedMap(zones, [&](ZoneId z) { return p.zones[z].name; });
}

json FlowJson(const Policy& p, const Flow& f) {
  json j = {{"action", f.action == Action::kDeny ? "deny" : "allow"},
            {"from", EndpointsJson(p, f.from)},
            {"to", EndpointsJson(p, f.to)},
            {"services", SortedMap(f.services, [&](ServiceId s) { return p.services[s].name; })},
            {"reason", f.reason},
            {"owner", f.owner},
            {"ticket", f.ticket}};
  // A declared name is part of the policy; the default "<file>:<line>" is not.
  if (f.name != f.location.FileLine()) j["name"] = f.name;
  if (f.sources) j["sources"] = SortedMap(*f.sources, [](const Prefix& x) { return x.ToString(); });
  if (f.expires) j["expires"] = absl::ToUnixSeconds(*f.expires);
  return j;
}

json InvariantJson(const Policy& p, const Invariant& inv) {
  return {{"name", inv.name},
          {"kind", static_cast<int>(inv.kind)},
          {"from", ZoneNamesJson(p, inv.from)},
          {"to", ZoneNamesJson(p, inv.to)},
          {"through", ZoneNamesJson(p, inv.through)},
          {"except", ZoneNamesJson(p, inv.except)},
          {"max", inv.max}};
}

json SettingsJson(const Settings& s) {
  json j = {{"log_denied", s.log_denied}, {"mode", s.mode == Mode::kAudit ? "audit" : "enforce"}};
  if (s.controller) {
    j["controller"] = {{"addresses", SortedMap(s.controller->addresses,
                                               [](const Address& a) { return a.ToString(); })},
                       {"port", s.controller->port}};
  }
  return j;
}

}  // namespace

std::string NormalisedPolicy(const Policy& p) {
  json zones = json::object(), hosts = json::object(), services = json::object();
  for (const Zone& z : p.zones) {
    zones[z.name] = {{"external", z.external},
                     {"cidrs", SortedMap(z.cidrs, [](const Prefix& x) { return x.ToString(); })},
                     {"description", z.description}};
  }
  for (const Host& h : p.hosts) {
    hosts[h.name] = {
        {"zone", p.zones[h.zone].name},
        {"addresses", SortedMap(h.addresses, [](const Address& a) { return a.ToString(); })}};
  }
  for (const Service& s : p.services) {
    if (!s.builtin)
      services[s.name] = SortedMap(s.ports, [](const ServicePort& x) { return x.ToString(); });
  }
  std::vector<std::string> flows, invariants;
  for (const Flow& f : p.flows) flows.push_back(FlowJson(p, f).dump());
  for (const Invariant& i : p.invariants) invariants.push_back(InvariantJson(p, i).dump());
  json all = {{"version", 1},
              {"zones", zones},
              {"hosts", hosts},
              {"services", services},
              {"flows", Sorted(flows)},
              {"invariants", Sorted(invariants)},
              {"settings", SettingsJson(p.settings)}};
  return all.dump();
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string ComputeRevision(const Policy& policy) { return Sha256Hex(NormalisedPolicy(policy)); }

}  // namespace polder
