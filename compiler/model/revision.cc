#include "compiler/model/revision.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "wire/sha256.h"

namespace polder {
namespace {

// The normal form is plain text, one line per object, each line a sequence of
// quoted fields; lines are sorted within their section. (It used to be a JSON
// document, which cost seconds at 100,000 hosts.)
std::string Quote(std::string_view text) {
  return absl::StrCat("\"", absl::CEscape(absl::string_view(text.data(), text.size())), "\"");
}

template <typename T, typename F>
std::string SortedList(const std::vector<T>& items, F f) {
  std::vector<std::string> v;
  v.reserve(items.size());
  for (const T& item : items) v.push_back(f(item));
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string out = "[";
  for (const std::string& x : v) absl::StrAppend(&out, Quote(x), ",");
  return out + "]";
}

std::string Endpoints(const Policy& p, const std::vector<Endpoint>& ends) {
  return SortedList(ends, [&](const Endpoint& e) { return p.EndpointName(e); });
}

std::string ZoneNames(const Policy& p, const std::vector<ZoneId>& zones) {
  return SortedList(zones, [&](ZoneId z) { return p.zones[z].name; });
}

std::string FlowLine(const Policy& p, const Flow& f) {
  // A declared name is part of the policy; the default "<file>:<line>" is not.
  std::string name = f.name != f.location.FileLine() ? Quote(f.name) : "-";
  std::string sources =
      f.sources ? SortedList(*f.sources, [](const Prefix& x) { return x.ToString(); }) : "-";
  std::string expires = f.expires ? absl::StrCat(absl::ToUnixSeconds(*f.expires)) : "-";
  return absl::StrCat("flow ", name, " ", f.action == Action::kDeny ? "deny" : "allow", " ",
                      Endpoints(p, f.from), " ", Endpoints(p, f.to), " ",
                      SortedList(f.services, [&](ServiceId s) { return p.services[s].name; }), " ",
                      sources, " ", expires, " ", Quote(f.reason), " ", Quote(f.owner), " ",
                      Quote(f.ticket));
}

std::string InvariantLine(const Policy& p, const Invariant& inv) {
  std::string line =
      absl::StrCat("invariant ", Quote(inv.name), " ", static_cast<int>(inv.kind), " ",
                   ZoneNames(p, inv.from), " ", ZoneNames(p, inv.to), " ",
                   ZoneNames(p, inv.through), " ", ZoneNames(p, inv.except), " ", inv.max);
  // Only present when written, so that older policies keep their revisions.
  if (!inv.services.empty()) {
    absl::StrAppend(&line, " services ",
                    SortedList(inv.services, [&](ServiceId s) { return p.services[s].name; }));
  }
  if (inv.direct) absl::StrAppend(&line, " direct");
  return line;
}

// Postures (spec §6a). Inline keep entries are named by their position, so their order
// counts through the name; everything else is sorted like the rest of the normal form.
std::string PostureLine(const Policy& p, const Posture& posture) {
  std::string allow = SortedList(posture.allow, [&](const PostureAllow& a) {
    std::string services = a.services.empty() ? "*" : SortedList(a.services, [&](ServiceId s) {
      return p.services[s].name;
    });
    return absl::StrCat(p.zones[a.zone].name, " ", services);
  });
  std::string keep =
      SortedList(posture.keep, [&](const Invariant& inv) { return InvariantLine(p, inv); });
  return absl::StrCat("posture ", Quote(posture.name), " ", Endpoints(p, posture.isolate), " ",
                      allow, " ", keep, " ", Quote(posture.owner), " ", Quote(posture.reason));
}

std::string SettingsLine(const Settings& s) {
  std::string line =
      absl::StrCat("settings ", s.log_denied ? "log_denied" : "quiet", " ", wire::ModeName(s.mode));
  absl::StrAppend(&line, s.host_dhcp ? " host_dhcp" : " no_dhcp");
  if (s.controller) {
    absl::StrAppend(
        &line, " controller ",
        SortedList(s.controller->addresses, [](const Address& a) { return a.ToString(); }), " ",
        s.controller->port);
  }
  return line;
}

void AppendSorted(std::string& out, std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\n");
}

}  // namespace

std::string NormalisedPolicy(const Policy& p) {
  std::vector<std::string> zones, hosts, services, flows, invariants, postures;
  for (const Zone& z : p.zones) {
    zones.push_back(absl::StrCat("zone ", Quote(z.name), " ", z.external ? "external" : "internal",
                                 " ",
                                 SortedList(z.cidrs, [](const Prefix& x) { return x.ToString(); }),
                                 " ", Quote(z.description)));
  }
  for (const Host& h : p.hosts) {
    hosts.push_back(
        absl::StrCat("host ", Quote(h.name), " ", Quote(p.zones[h.zone].name), " ",
                     SortedList(h.addresses, [](const Address& a) { return a.ToString(); })));
  }
  for (const Service& s : p.services) {
    if (s.builtin) continue;
    services.push_back(
        absl::StrCat("service ", Quote(s.name), " ",
                     SortedList(s.ports, [](const ServicePort& x) { return x.ToString(); })));
  }
  for (const Flow& f : p.flows) flows.push_back(FlowLine(p, f));
  for (const Invariant& i : p.invariants) invariants.push_back(InvariantLine(p, i));
  // No postures, no lines: a policy without them keeps the revision it had before them.
  for (const Posture& x : p.postures) postures.push_back(PostureLine(p, x));
  std::string out = "polder policy 1\n";
  for (auto* section : {&zones, &hosts, &services, &flows, &invariants, &postures}) {
    AppendSorted(out, std::move(*section));
  }
  absl::StrAppend(&out, SettingsLine(p.settings), "\n");
  return out;
}

std::string ComputeRevision(const Policy& policy) {
  return wire::Sha256Hex(NormalisedPolicy(policy));
}

}  // namespace polder
