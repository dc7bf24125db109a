#include "compiler/verify/lint.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

// Shadowing compares a flow with at most this many flows of one zone pair,
// so that a pair with thousands of flows cannot make lint quadratic.
constexpr size_t kMaxShadowCandidates = 256;

std::string FlowLabel(const Flow& f) {
  // An unnamed flow's name is its place already.
  if (f.name == f.location.FileLine()) return absl::StrCat("the flow at ", f.name);
  return absl::StrCat("flow `", f.name, "` (", f.location.FileLine(), ")");
}

std::string Cite(const Policy& policy, const std::vector<FlowId>& flows) {
  std::vector<std::string> out;
  for (FlowId f : flows) out.push_back(FlowLabel(policy.flows[f]));
  return absl::StrJoin(out, ", ");
}

bool IsActiveAllow(const Flow& f) { return f.active && f.action == Action::kAllow; }

void CheckNegatedAndUnusedDenies(const Policy& policy, const ZoneGraph& graph,
                                 DiagnosticList& out) {
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!f.active) continue;
    if (f.action == Action::kAllow && !graph.allow_effective[i] && !graph.denied_by[i].empty()) {
      out.Warning(f.location, "negated-flow",
                  absl::StrCat(FlowLabel(f),
                               " allows nothing: every connection it allows is "
                               "denied by ",
                               Cite(policy, graph.denied_by[i]),
                               ", and deny wins. Remove the flow or narrow the deny."));
    }
    if (f.action == Action::kDeny && !graph.deny_used[i]) {
      out.Warning(f.location, "unused-deny",
                  absl::StrCat(FlowLabel(f),
                               " denies nothing that any active allow flow "
                               "allows, so it has no effect (everything not allowed is already "
                               "denied)."));
    }
  }
}

// Flows that check accepts but that match nothing, which an engineer would not guess: their
// `sources` miss every address of `from`, or (an allow no deny touches that still allows
// nothing) `from` and `to` share no address family.
void CheckFlowsThatMatchNothing(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    bool narrowed = f.sources && !f.sources->empty();
    bool idle_allow =
        f.action == Action::kAllow && !graph.allow_effective[i] && graph.denied_by[i].empty();
    if (!f.active || (!narrowed && !idle_allow)) continue;
    bool no_parts = FlowParts(policy, f).empty();
    if (narrowed && no_parts) {
      std::vector<std::string> prefixes;
      for (const Prefix& p : *f.sources) prefixes.push_back(p.ToString());
      out.Warning(f.location, "sources-outside-from",
                  absl::StrCat(FlowLabel(f), " matches nothing: its `sources` (",
                               absl::StrJoin(prefixes, ", "),
                               ") hold no address of its `from`. Fix `sources` or `from`."));
    } else if (idle_allow && !no_parts) {
      out.Warning(f.location, "no-common-family",
                  absl::StrCat(FlowLabel(f),
                               " allows nothing: its `from` and `to` share no address family, "
                               "and a connection joins two IPv4 or two IPv6 addresses."));
    }
  }
}

struct Part {
  FlowPart part;
  ServiceSpace services;
};

bool Covers(const Part& big, const Part& small) {
  return big.services.Covers(small.services) && small.part.src.Subtract(big.part.src).Empty() &&
         small.part.dst.Subtract(big.part.dst).Empty();
}

void CheckShadowed(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  // Flow parts per zone pair; a flow is shadowed by G when every part of it
  // lies inside G's part for the same pair.
  std::vector<std::vector<Part>> parts(policy.flows.size());
  std::map<std::pair<ZoneId, ZoneId>, std::vector<FlowId>> by_pair;
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!IsActiveAllow(f)) continue;
    ServiceSpace services = SpaceOfServices(policy, f.services);
    for (FlowPart& p : FlowParts(policy, f)) {
      by_pair[{p.from_zone, p.to_zone}].push_back(i);
      parts[i].push_back({std::move(p), services});
    }
  }
  auto part_of = [&](FlowId g, ZoneId a, ZoneId b) -> const Part* {
    for (const Part& p : parts[g]) {
      if (p.part.from_zone == a && p.part.to_zone == b) return &p;
    }
    return nullptr;
  };
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    if (parts[i].empty() || !graph.allow_effective[i]) continue;
    // Candidates: the flows of this flow's least crowded pair.
    const std::vector<FlowId>* candidates = nullptr;
    for (const Part& p : parts[i]) {
      const auto& c = by_pair[{p.part.from_zone, p.part.to_zone}];
      if (!candidates || c.size() < candidates->size()) candidates = &c;
    }
    size_t checked = 0;
    for (FlowId g : *candidates) {
      if (g == i || ++checked > kMaxShadowCandidates) continue;
      bool covered = std::all_of(parts[i].begin(), parts[i].end(), [&](const Part& p) {
        const Part* gp = part_of(g, p.part.from_zone, p.part.to_zone);
        return gp && Covers(*gp, p);
      });
      if (!covered) continue;
      // Of two identical flows, only the later one is reported.
      bool identical = std::all_of(parts[g].begin(), parts[g].end(), [&](const Part& p) {
        const Part* ip = part_of(i, p.part.from_zone, p.part.to_zone);
        return ip && Covers(*ip, p);
      });
      if (identical && g > i) continue;
      const Flow& f = policy.flows[i];
      out.Warning(f.location, "shadowed-flow",
                  absl::StrCat(FlowLabel(f), " is redundant: ", FlowLabel(policy.flows[g]),
                               " already allows every connection it allows. Remove one of them, "
                               "or narrow the other."));
      break;
    }
  }
}

void CheckUnused(const Policy& policy, DiagnosticList& out) {
  std::vector<bool> zone_used(policy.zones.size(), false);
  std::vector<bool> service_used(policy.services.size(), false);
  std::vector<bool> host_named(policy.hosts.size(), false);
  std::vector<bool> zone_in_active(policy.zones.size(), false);
  for (const Flow& f : policy.flows) {
    for (const auto* ends : {&f.from, &f.to}) {
      for (const Endpoint& e : *ends) {
        zone_used[policy.ZoneOf(e)] = true;
        if (!f.active) continue;
        if (e.kind == Endpoint::Kind::kHost) host_named[e.id] = true;
        if (e.kind == Endpoint::Kind::kZone) zone_in_active[e.id] = true;
      }
    }
    for (ServiceId s : f.services) service_used[s] = true;
  }
  for (const Invariant& inv : policy.invariants) {
    for (const auto* zones : {&inv.from, &inv.to, &inv.through, &inv.except}) {
      for (ZoneId z : *zones) zone_used[z] = true;
    }
  }
  if (policy.settings.controller) {
    for (const Address& a : policy.settings.controller->addresses) {
      if (auto z = policy.Classify(a)) zone_used[*z] = true;
    }
  }
  for (ZoneId z = 0; z < static_cast<ZoneId>(policy.zones.size()); ++z) {
    if (zone_used[z]) continue;
    out.Warning(policy.zones[z].location, "unused-zone",
                absl::StrCat("zone `", policy.zones[z].name,
                             "` is named by no flow and no "
                             "invariant, so its addresses may neither open nor receive any "
                             "connection. Add flows for it or remove it."));
  }
  for (ServiceId s = 0; s < static_cast<ServiceId>(policy.services.size()); ++s) {
    if (service_used[s] || policy.services[s].builtin) continue;
    out.Warning(policy.services[s].location, "unused-service",
                absl::StrCat("service `", policy.services[s].name,
                             "` is used by no flow. Remove it or use it."));
  }
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    const Host& host = policy.hosts[h];
    if (host_named[h] || (host.zone >= 0 && zone_in_active[host.zone])) continue;
    out.Warning(host.location, "host-without-flows",
                absl::StrCat("host `", host.name,
                             "` and its zone are named by no active flow: "
                             "its agent will drop every new connection to and from it (except "
                             "to the controller). Add flows for it or remove it."));
  }
}

void CheckExpiringSoon(const Policy& policy, const LintOptions& options, DiagnosticList& out) {
  if (options.expiry_window <= absl::ZeroDuration()) return;
  for (const Flow& f : policy.flows) {
    if (!f.active || !f.expires || *f.expires <= policy.now) continue;
    absl::Duration left = *f.expires - policy.now;
    if (left > options.expiry_window) continue;
    int64_t hours = absl::ToInt64Hours(left);
    std::string when =
        hours >= 48 ? absl::StrCat(hours / 24, " days") : absl::StrCat(hours, " hours");
    out.Warning(f.location, "expiring-soon",
                absl::StrCat(FlowLabel(f), " expires in ", when, " (", FormatRfc3339(*f.expires),
                             "); renew it or let the connections it allows end."));
  }
}

// Ranges of at most this many ports from an external zone are what a
// published service needs; a wider one opens more than anyone reviews.
constexpr int kWideRange = 16;

// The first item of the flow's services that is `any` or a tcp/udp/sctp
// range wider than kWideRange ports, as written.
std::optional<std::string> WideItem(const Policy& policy, const Flow& f) {
  for (ServiceId s : f.services) {
    for (const ServicePort& p : policy.services[s].ports) {
      bool wide = p.protocol == Protocol::kAny ||
                  (!IsIcmp(p.protocol) && int{p.hi} - int{p.lo} + 1 > kWideRange);
      if (wide)
        return absl::StrCat(ServicePortLabel(p), " (service `", policy.services[s].name, "`)");
    }
  }
  return std::nullopt;
}

void CheckWideExposure(const Policy& policy, DiagnosticList& out) {
  for (const Flow& f : policy.flows) {
    if (!IsActiveAllow(f)) continue;
    bool from_external = std::any_of(f.from.begin(), f.from.end(), [&](const Endpoint& e) {
      return policy.zones[policy.ZoneOf(e)].external;
    });
    if (!from_external) continue;
    if (std::optional<std::string> item = WideItem(policy, f)) {
      out.Warning(f.location, "wide-exposure",
                  absl::StrCat(FlowLabel(f), " opens ", *item, " from an external zone: more than ",
                               kWideRange,
                               " ports to whatever the outside can send. Name the ports it "
                               "needs."));
    }
  }
}

}  // namespace

absl::StatusOr<absl::Duration> ParseExpiryWindow(std::string_view text) {
  if (text == "0") return absl::ZeroDuration();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(end, text.data() + text.size() - end);
  if (ec != std::errc() || end == text.data() || n < 0) unit = "?";
  if (unit == "d") return absl::Hours(24 * n);
  if (unit == "h") return absl::Hours(n);
  if (unit == "m") return absl::Minutes(n);
  return absl::InvalidArgumentError(
      absl::StrCat("`", std::string(text), "` is not a window; write e.g. 14d, 36h or 90m"));
}

void Lint(const Policy& policy, const ZoneGraph& graph, const LintOptions& options,
          DiagnosticList& out) {
  CheckNegatedAndUnusedDenies(policy, graph, out);
  CheckFlowsThatMatchNothing(policy, graph, out);
  CheckShadowed(policy, graph, out);
  CheckUnused(policy, out);
  CheckWideExposure(policy, out);
  CheckExpiringSoon(policy, options, out);
}

}  // namespace polder
