#include "compiler/render/provenance.h"

#include <map>
#include <set>
#include <utility>

#include "nlohmann/json.hpp"
#include "wire/mode.h"

namespace polder {
namespace {

using Json = nlohmann::ordered_json;

const char* KindName(CounterProvenance::Kind k) {
  switch (k) {
    case CounterProvenance::Kind::kPeerRange:
      return "peer_range";
    case CounterProvenance::Kind::kService:
      return "service";
    case CounterProvenance::Kind::kAny:
      return "any";
  }
  return "";
}

bool Overlaps(const AddressRange& r, const CounterProvenance& c) {
  return r.family == c.family && r.lo <= c.hi && c.lo <= r.hi;
}

// The declared prefixes (and host addresses) a peer range lies in, through the peer side of
// its flows: the partner allowlist's prefix and the YAML line declaring it.
Json PrefixesOf(const Policy& policy, const CounterProvenance& c) {
  Json out = Json::array();
  std::set<std::pair<int, size_t>> zone_seen;  // (zone, cidr index)
  std::set<std::pair<int, size_t>> host_seen;  // (host, address index)
  for (FlowId id : c.flows) {
    const Flow& f = policy.flows[id];
    for (const Endpoint& e : c.inbound ? f.from : f.to) {
      if (e.kind == Endpoint::Kind::kZone) {
        const Zone& z = policy.zones[e.id];
        for (size_t i = 0; i < z.cidrs.size(); ++i) {
          if (!Overlaps(z.cidrs[i].Range(), c) || !zone_seen.insert({e.id, i}).second) continue;
          Json p = {{"zone", z.name}, {"prefix", z.cidrs[i].ToString()}};
          if (i < z.cidr_locations.size()) p["at"] = z.cidr_locations[i].FileLine();
          out.push_back(std::move(p));
        }
      } else {
        const Host& h = policy.hosts[e.id];
        for (size_t i = 0; i < h.addresses.size(); ++i) {
          const Address& a = h.addresses[i];
          AddressRange r{a.family, a.value, a.value};
          if (!Overlaps(r, c) || !host_seen.insert({e.id, i}).second) continue;
          out.push_back(
              {{"host", h.name}, {"address", a.ToString()}, {"at", h.location.FileLine()}});
        }
      }
    }
  }
  return out;
}

}  // namespace

std::string ProvenanceJson(const Policy& policy, const wire::RulesetHeader& header,
                           const Provenance& provenance) {
  // Flows once, in policy order; counters refer to them by index.
  std::map<FlowId, size_t> index;
  for (const CounterProvenance& c : provenance.counters) {
    for (FlowId f : c.flows) index.emplace(f, 0);
  }
  Json flows = Json::array();
  for (auto& [id, at] : index) {
    at = flows.size();
    const Flow& f = policy.flows[id];
    flows.push_back({{"name", f.name},
                     {"action", f.action == Action::kAllow ? "allow" : "deny"},
                     {"at", f.location.FileLine()},
                     {"owner", f.owner},
                     {"ticket", f.ticket}});
  }
  Json counters = Json::array();
  for (const CounterProvenance& c : provenance.counters) {
    Json j = {{"counter", c.counter},
              {"kind", KindName(c.kind)},
              {"direction", c.inbound ? "in" : "out"},
              {"set", c.set}};
    if (!c.element.empty()) j["element"] = c.element;
    j["chain"] = c.chain;
    Json refs = Json::array();
    for (FlowId f : c.flows) refs.push_back(index.at(f));
    j["flows"] = std::move(refs);
    if (c.kind == CounterProvenance::Kind::kPeerRange) j["prefixes"] = PrefixesOf(policy, c);
    counters.push_back(std::move(j));
  }
  Json doc = {{"version", 1},
              {"host", header.host},
              {"revision", header.revision},
              {"mode", std::string(wire::ModeName(header.mode))},
              {"flows", std::move(flows)},
              {"counters", std::move(counters)}};
  return doc.dump(2) + "\n";
}

}  // namespace polder
