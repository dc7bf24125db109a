#include "cli/lab/lab_plan.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/revision.h"
#include "compiler/model/verdict.h"
#include "nlohmann/json.hpp"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

AddressSet Prefixes(const std::vector<const char*>& texts) {
  AddressSet s;
  for (const char* t : texts) s.Add(*Prefix::Parse(t));
  return s;
}

// Addresses a stand-in must not use: they are not ordinary unicast.
const AddressSet& Unusable() {
  static const AddressSet* set =
      new AddressSet(Prefixes({"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3", "::/8",
                               "fe80::/10", "ff00::/8"}));
  return *set;
}

std::vector<Address> Candidates(Family family) {
  std::vector<const char*> texts =
      family == Family::kV4
          ? std::vector<const char*>{"203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.0.77"}
          : std::vector<const char*>{"2001:db8:ffff::77", "2001:db8::77", "fd00::77"};
  std::vector<Address> out;
  for (const char* t : texts) out.push_back(*Address::Parse(t));
  return out;
}

std::string ProtocolText(Protocol p) { return std::string(ProtocolName(p)); }

}  // namespace

bool PickStandInAddress(const AddressSet& space, Family family, const AddressSet& used,
                        Address* out) {
  AddressSet ok = space.Subtract(Unusable()).Subtract(used);
  for (const Address& c : Candidates(family)) {
    if (ok.Contains(c)) {
      *out = c;
      return true;
    }
  }
  const auto& intervals = ok.intervals(family);
  if (intervals.empty()) return false;
  const Interval& first = intervals.front();
  // Skip a network's ".0" address when the range allows it.
  absl::uint128 v = first.lo;
  if ((v & 0xff) == 0 && first.hi > v) ++v;
  *out = Address{family, v};
  return true;
}

std::vector<LabEndpoint> PlanEndpoints(const Policy& policy) {
  std::vector<LabEndpoint> out;
  AddressSet used;
  for (const Host& h : policy.hosts) {
    out.push_back({h.name, true, policy.zones[h.zone].name, h.addresses, ""});
    for (const Address& a : h.addresses) used.Add(a);
  }
  // A stand-in should be an ordinary member of its zone, not one a flow singles out with
  // `sources` (a blocked range, say), so the probes show what the zone as a whole may do.
  AddressSet singled_out;
  for (const Flow& f : policy.flows) {
    for (const Prefix& p : f.sources.value_or(std::vector<Prefix>{})) singled_out.Add(p);
  }
  AddressSet avoid = used.Union(singled_out);
  for (const Zone& z : policy.zones) {
    if (!z.hosts.empty()) continue;
    LabEndpoint e{z.name, false, z.name, {}, ""};
    for (Family fam : {Family::kV4, Family::kV6}) {
      Address a;
      // A controller no host owns gets a stand-in, so anti-lockout is probed.
      bool picked = false;
      if (policy.settings.controller) {
        for (const Address& c : policy.settings.controller->addresses) {
          if (c.family == fam && z.effective.Contains(c) && !used.Contains(c)) {
            a = c;
            picked = true;
            break;
          }
        }
      }
      if (!picked && !PickStandInAddress(z.effective, fam, avoid, &a) &&
          !PickStandInAddress(z.effective, fam, used, &a)) {
        continue;
      }
      e.addresses.push_back(a);
      used.Add(a);
      avoid.Add(a);
    }
    if (!e.addresses.empty()) out.push_back(std::move(e));
  }
  return out;
}

std::string ProbePort::ToString() const {
  if (IsIcmp(protocol)) {
    bool v6 = protocol == Protocol::kIcmpv6;
    const char* name = IcmpTypeName(v6, port);
    return absl::StrCat(ProtocolText(protocol), "/", name && *name ? name : absl::StrCat(port));
  }
  return absl::StrCat(ProtocolText(protocol), "/", port);
}

std::string PortClass::Label() const {
  std::vector<std::string> parts;
  for (const PortRange& r : members) {
    if (IsIcmp(protocol) && r.lo == r.hi) {
      parts.push_back(
          ProbePort{protocol, r.lo}.ToString().substr(ProtocolText(protocol).size() + 1));
    } else {
      parts.push_back(r.lo == r.hi ? absl::StrCat(r.lo) : absl::StrCat(r.lo, "-", r.hi));
    }
  }
  std::string out = absl::StrCat(ProtocolText(protocol), "/", absl::StrJoin(parts, ","));
  if (outside)
    absl::StrAppend(&out, IsIcmp(protocol) ? " (types" : " (ports", " no service names)");
  return out;
}

const std::vector<uint16_t>& HostEssentialIcmpTypes(bool v6) {
  static const auto* const types = [] {
    auto* out = new std::array<std::vector<uint16_t>, 2>();
    for (const ServicePort& p : HostEssentialPorts()) {
      if (IsIcmp(p.protocol)) (*out)[p.protocol == Protocol::kIcmpv6].push_back(p.lo);
    }
    for (auto& list : *out) {
      std::sort(list.begin(), list.end());
      list.erase(std::unique(list.begin(), list.end()), list.end());
    }
    return out;
  }();
  return (*types)[v6];
}

namespace {

// `r` without the types in `excluded` (sorted), as the pieces that are left.
std::vector<PortRange> Without(PortRange r, const std::vector<uint16_t>& excluded) {
  std::vector<PortRange> out;
  uint32_t lo = r.lo;
  for (uint16_t x : excluded) {
    if (x < lo || x > r.hi) continue;
    if (x > lo) out.push_back({static_cast<uint16_t>(lo), static_cast<uint16_t>(x - 1)});
    lo = x + 1u;
  }
  if (lo <= r.hi) out.push_back({static_cast<uint16_t>(lo), r.hi});
  return out;
}

bool Holds(const std::vector<PortRange>& ranges, uint32_t v) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const PortRange& r) { return r.lo <= v && v <= r.hi; });
}

uint16_t EchoType(Protocol p) { return p == Protocol::kIcmp ? 8 : 128; }

// The classes of one protocol, given the ranges services mention.
std::vector<PortClass> ClassesOf(Protocol protocol, const std::vector<PortRange>& mentioned) {
  bool icmp = IsIcmp(protocol);
  uint32_t min = icmp ? 0 : 1;  // port 0 is never a destination (spec §6)
  uint32_t max = icmp ? 255 : 65535;
  std::set<uint32_t> cuts{min, max + 1};
  for (const PortRange& r : mentioned) {
    cuts.insert(std::max<uint32_t>(r.lo, min));
    cuts.insert(r.hi + 1u);
  }
  static const std::vector<uint16_t> kNone;
  const std::vector<uint16_t>& excluded =
      icmp ? HostEssentialIcmpTypes(protocol == Protocol::kIcmpv6) : kNone;
  std::vector<PortClass> out;
  PortClass rest{protocol, {}, true, std::nullopt, ""};
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
    if (*it > max) break;
    PortRange interval{static_cast<uint16_t>(*it), static_cast<uint16_t>(*std::next(it) - 1)};
    std::vector<PortRange> pieces = Without(interval, excluded);
    if (pieces.empty()) continue;
    if (!Holds(mentioned, interval.lo)) {
      rest.members.insert(rest.members.end(), pieces.begin(), pieces.end());
      continue;
    }
    out.push_back({protocol, std::move(pieces), false, std::nullopt, ""});
  }
  if (!rest.members.empty()) out.push_back(std::move(rest));
  for (PortClass& c : out) {
    if (icmp) {
      // Only an echo request gets an answer that shows it arrived.
      if (Holds(c.members, EchoType(protocol))) c.probe = EchoType(protocol);
      continue;
    }
    // An unremarkable high port for the ports no service names, when it is one of them.
    c.probe = c.outside && Holds(c.members, 40999) ? 40999 : c.members.front().lo;
  }
  std::sort(out.begin(), out.end(), [](const PortClass& a, const PortClass& b) {
    return a.members.front().lo < b.members.front().lo;
  });
  return out;
}

}  // namespace

std::vector<PortClass> PlanPortClasses(const Policy& policy, const PortClassLimits& limits) {
  std::map<Protocol, std::vector<PortRange>> mentioned;
  for (const Service& s : policy.services) {
    for (const ServicePort& p : s.ports) {
      if (p.protocol != Protocol::kAny) mentioned[p.protocol].push_back({p.lo, p.hi});
    }
  }
  if (policy.settings.controller) {
    uint16_t port = policy.settings.controller->port;
    mentioned[Protocol::kTcp].push_back({port, port});
  }
  std::vector<PortClass> out;
  size_t listened = 0;
  for (Protocol p :
       {Protocol::kTcp, Protocol::kUdp, Protocol::kSctp, Protocol::kIcmp, Protocol::kIcmpv6}) {
    // sctp's one class when no service names an sctp port is the ports no service names, which
    // only `any` decides, as for tcp's: it is probed there.
    if (p == Protocol::kSctp && !mentioned.count(p)) continue;
    for (PortClass& c : ClassesOf(p, mentioned[p])) {
      if (IsIcmp(p)) {
        if (!c.probe)
          c.skip_reason = "nothing answers these ICMP types; only echo-request can be probed";
      } else if (p == Protocol::kSctp && !limits.sctp) {
        c.probe.reset();
        c.skip_reason = "this kernel opens no SCTP sockets (module sctp not loaded)";
      } else if (listened == limits.max_listened) {
        c.probe.reset();
        c.skip_reason = absl::StrCat("over the limit of ", limits.max_listened,
                                     " port classes a namespace can listen on (file descriptors)");
      } else {
        ++listened;
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string LabDir(const std::string& name) {
  const char* base = std::getenv("POLDER_LAB_DIR");
  return absl::StrCat(base && *base ? base : "/run/polder-lab", "/", name);
}

std::string LabNetnsPrefix(const std::string& ns_prefix, const std::string& name) {
  return absl::StrCat(ns_prefix, wire::Sha256Hex(name).substr(0, 8), "-");
}

std::string StateToJson(const LabState& s) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["policy_dir"] = s.policy_dir;
  j["ns_prefix"] = s.ns_prefix;
  j["bridge_netns"] = s.bridge_netns;
  j["apply"] = s.apply;
  j["endpoints"] = nlohmann::ordered_json::array();
  for (const LabEndpoint& e : s.endpoints) {
    nlohmann::ordered_json addrs = nlohmann::ordered_json::array();
    for (const Address& a : e.addresses) addrs.push_back(a.ToString());
    j["endpoints"].push_back({{"name", e.name},
                              {"managed", e.managed},
                              {"zone", e.zone},
                              {"netns", e.netns},
                              {"addresses", addrs}});
  }
  j["agents"] = nlohmann::ordered_json::array();
  for (const AgentRecord& a : s.agents) j["agents"].push_back({{"host", a.host}, {"pid", a.pid}});
  if (s.owner_pid > 0) j["owner_pid"] = s.owner_pid;
  if (s.apply == "controller") {
    j["controller"] = {{"pid", s.controller_pid},
                       {"address", s.controller_address},
                       {"netns", s.controller_netns},
                       {"admin_tls_dir", s.admin_tls_dir}};
  }
  return j.dump(2) + "\n";
}

namespace {

// Reading the state file never throws: nlohmann's value() and get() do on a
// value of the wrong type, and a corrupt file must not abort `polder lab down`.
// A missing key keeps its default, as in a state file of an older polder.
using Json = nlohmann::json;

absl::Status WrongType(const std::string& where, const char* want) {
  return absl::DataLossError(absl::StrCat("`", where, "` is not ", want));
}

absl::Status ReadString(const Json& object, const char* key, const std::string& where,
                        std::string& out) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_string()) return WrongType(absl::StrCat(where, key), "a string");
  out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& object, const char* key, const std::string& where, bool& out) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_boolean()) return WrongType(absl::StrCat(where, key), "true or false");
  out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadPid(const Json& object, const char* key, const std::string& where, int& out) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > std::numeric_limits<int>::max()) {
    return WrongType(absl::StrCat(where, key), "a process id");
  }
  out = static_cast<int>(it->get<int64_t>());
  return absl::OkStatus();
}

// The array at `key` (an empty one when absent), or an error when it is something else.
absl::StatusOr<const Json*> ReadArray(const Json& object, const char* key,
                                      const std::string& where) {
  static const Json* const kEmpty = new Json(Json::array());
  auto it = object.find(key);
  if (it == object.end()) return kEmpty;
  if (!it->is_array()) return WrongType(absl::StrCat(where, key), "an array");
  return &*it;
}

#define POLDER_RETURN_IF_ERROR(expr) \
  do {                               \
    absl::Status _st = (expr);       \
    if (!_st.ok()) return _st;       \
  } while (0)

absl::StatusOr<LabEndpoint> EndpointFromJson(const Json& e, const std::string& where) {
  if (!e.is_object()) return WrongType(where, "an object");
  LabEndpoint ep;
  std::string prefix = where + ".";
  POLDER_RETURN_IF_ERROR(ReadString(e, "name", prefix, ep.name));
  POLDER_RETURN_IF_ERROR(ReadBool(e, "managed", prefix, ep.managed));
  POLDER_RETURN_IF_ERROR(ReadString(e, "zone", prefix, ep.zone));
  POLDER_RETURN_IF_ERROR(ReadString(e, "netns", prefix, ep.netns));
  absl::StatusOr<const Json*> addresses = ReadArray(e, "addresses", prefix);
  if (!addresses.ok()) return addresses.status();
  for (size_t i = 0; i < (*addresses)->size(); ++i) {
    const Json& a = (**addresses)[i];
    std::string at = absl::StrCat(prefix, "addresses[", i, "]");
    if (!a.is_string()) return WrongType(at, "an address");
    absl::StatusOr<Address> addr = Address::Parse(a.get_ref<const std::string&>());
    if (!addr.ok())
      return absl::DataLossError(absl::StrCat("`", at, "`: ", addr.status().message()));
    ep.addresses.push_back(*addr);
  }
  return ep;
}

absl::StatusOr<AgentRecord> AgentFromJson(const Json& a, const std::string& where) {
  if (!a.is_object()) return WrongType(where, "an object");
  AgentRecord agent;
  std::string prefix = where + ".";
  POLDER_RETURN_IF_ERROR(ReadString(a, "host", prefix, agent.host));
  POLDER_RETURN_IF_ERROR(ReadPid(a, "pid", prefix, agent.pid));
  return agent;
}

}  // namespace

absl::StatusOr<LabState> StateFromJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::DataLossError("not JSON (truncated?)");
  if (!j.is_object()) return absl::DataLossError("not a JSON object");
  LabState s;
  s.apply = "agent";
  POLDER_RETURN_IF_ERROR(ReadString(j, "name", "", s.name));
  POLDER_RETURN_IF_ERROR(ReadString(j, "policy_dir", "", s.policy_dir));
  POLDER_RETURN_IF_ERROR(ReadString(j, "ns_prefix", "", s.ns_prefix));
  POLDER_RETURN_IF_ERROR(ReadString(j, "bridge_netns", "", s.bridge_netns));
  POLDER_RETURN_IF_ERROR(ReadString(j, "apply", "", s.apply));
  absl::StatusOr<const Json*> endpoints = ReadArray(j, "endpoints", "");
  if (!endpoints.ok()) return endpoints.status();
  for (size_t i = 0; i < (*endpoints)->size(); ++i) {
    absl::StatusOr<LabEndpoint> e =
        EndpointFromJson((**endpoints)[i], absl::StrCat("endpoints[", i, "]"));
    if (!e.ok()) return e.status();
    s.endpoints.push_back(std::move(*e));
  }
  absl::StatusOr<const Json*> agents = ReadArray(j, "agents", "");
  if (!agents.ok()) return agents.status();
  for (size_t i = 0; i < (*agents)->size(); ++i) {
    absl::StatusOr<AgentRecord> a = AgentFromJson((**agents)[i], absl::StrCat("agents[", i, "]"));
    if (!a.ok()) return a.status();
    s.agents.push_back(std::move(*a));
  }
  POLDER_RETURN_IF_ERROR(ReadPid(j, "owner_pid", "", s.owner_pid));
  if (auto it = j.find("controller"); it != j.end()) {
    if (!it->is_object()) return WrongType("controller", "an object");
    POLDER_RETURN_IF_ERROR(ReadPid(*it, "pid", "controller.", s.controller_pid));
    POLDER_RETURN_IF_ERROR(ReadString(*it, "address", "controller.", s.controller_address));
    POLDER_RETURN_IF_ERROR(ReadString(*it, "netns", "controller.", s.controller_netns));
    POLDER_RETURN_IF_ERROR(ReadString(*it, "admin_tls_dir", "controller.", s.admin_tls_dir));
  }
  return s;
}

std::string LabStatePath(const std::string& name) { return LabDir(name) + "/state.json"; }

absl::StatusOr<LabState> ReadLabState(const std::string& name) {
  std::string path = LabStatePath(name);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no lab `", name, "` (", path, ")"));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read lab state ", path));
  absl::StatusOr<LabState> state = StateFromJson(text.str());
  if (!state.ok()) {
    return absl::DataLossError(
        absl::StrCat("lab state ", path, " is corrupt: ", state.status().message()));
  }
  return state;
}

absl::Status WriteLabState(const LabState& state) {
  std::string path = LabStatePath(state.name);
  std::ofstream out(path, std::ios::trunc);
  out << StateToJson(state);
  return out.flush() ? absl::OkStatus()
                     : absl::InternalError(absl::StrCat("cannot write lab state ", path));
}

}  // namespace polder::cli
