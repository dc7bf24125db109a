#include "cli/explain_command.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/cli_common.h"
#include "compiler/model/verdict.h"

namespace polder::cli {
namespace {

// Up to two addresses per family of the zone that no host has (within a few
// tries), so that explain answers about the zone's flows, not one host's, and
// a zone can be asked about connections inside itself.
std::vector<Address> ZoneAddresses(const Policy& policy, const Zone& zone) {
  std::vector<Address> out;
  for (Family f : {Family::kV4, Family::kV6}) {
    int found = 0, tries = 0;
    for (const Interval& r : zone.effective.intervals(f)) {
      for (absl::uint128 v = r.lo; found < 2 && tries < 64; ++v, ++tries) {
        if (!policy.HostWithAddress(Address{f, v})) {
          out.push_back(Address{f, v});
          ++found;
        }
        if (v == r.hi) break;
      }
    }
  }
  if (out.empty()) out.push_back(zone.effective.Representative());
  return out;
}

// The addresses --from/--to may stand for: a literal address, a host's
// addresses, or representative addresses of a zone.
absl::StatusOr<std::vector<Address>> AddressesNamed(const Policy& policy, const std::string& text) {
  if (auto a = Address::Parse(text); a.ok()) return std::vector<Address>{*a};
  if (auto h = policy.FindHost(text)) return policy.hosts[*h].addresses;
  auto z = policy.FindZone(text);
  if (!z) return absl::NotFoundError(absl::StrCat("`", text, "` is not an address, host or zone"));
  return ZoneAddresses(policy, policy.zones[*z]);
}

void NotePick(const Policy& policy, const std::string& text, const Address& a, std::string& note) {
  if (Address::Parse(text).ok()) return;
  note += policy.FindHost(text) ? absl::StrCat("using ", a.ToString(), " for host ", text, "\n")
                                : absl::StrCat("using ", a.ToString(),
                                               " as a representative address of zone ", text, "\n");
}

absl::StatusOr<Connection> ParseConnection(const Policy& policy, const std::string& from,
                                           const std::string& to, const std::string& port,
                                           std::string& note) {
  absl::StatusOr<ServicePort> sp = ServicePort::Parse(port);
  if (!sp.ok()) return absl::InvalidArgumentError(absl::StrCat("--port: ", sp.status().message()));
  if (sp->protocol == Protocol::kAny || sp->lo != sp->hi) {
    return absl::InvalidArgumentError(absl::StrCat("--port `", port,
                                                   "`: name one protocol and one port or type, "
                                                   "e.g. tcp/5432, udp/53 or icmp/echo-request"));
  }
  absl::StatusOr<std::vector<Address>> sources = AddressesNamed(policy, from);
  if (!sources.ok()) return sources.status();
  absl::StatusOr<std::vector<Address>> destinations = AddressesNamed(policy, to);
  if (!destinations.ok()) return destinations.status();
  // One host or one address on both ends is loopback; a zone on both ends means two of its
  // addresses. The ends share an address family: a connection joins two IPv4 or two IPv6.
  bool same_end = from == to && !policy.FindZone(from);
  for (const Address& s : *sources) {
    for (const Address& d : *destinations) {
      if (s.family != d.family || (s == d && !same_end)) continue;
      NotePick(policy, from, s, note);
      NotePick(policy, to, d, note);
      return Connection{s, d, sp->protocol, sp->lo};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("`", from, "` and `", to,
                   "` share no address family; a connection joins two IPv4 or two IPv6 addresses"));
}

std::string FlowLine(const Policy& policy, FlowId f, const char* role) {
  const Flow& flow = policy.flows[f];
  std::string cite = flow.location.FileLine();
  if (flow.name == cite) return absl::StrCat("  ", role, " ", cite, "\n");
  return absl::StrCat("  ", role, " ", cite, "  flow `", flow.name, "`\n");
}

std::string ZoneOf(const Policy& policy, std::optional<ZoneId> z) {
  return z ? policy.zones[*z].name : "no zone";
}

// 1 is an answer (denied): a policy with errors, already printed, leaves explain unable to
// answer (2).
absl::StatusOr<int> RunExplain(const std::string& dir, const std::string& now,
                               const std::string& from, const std::string& to,
                               const std::string& port) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(dir, now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& policy = (*loaded)->policy;
  std::string note;
  absl::StatusOr<Connection> parsed = ParseConnection(policy, from, to, port, note);
  if (!parsed.ok()) return parsed.status();
  const Connection& c = *parsed;
  if (c.source == c.destination) {
    std::cout << note << c.source.ToString() << " -> itself " << port
              << ": ALLOWED\n  loopback: a host's connections to itself never leave it and are "
                 "always allowed (spec §5)\n";
    return kExitOk;
  }
  Verdict v = Decide(policy, c);
  std::cout << note << c.source.ToString() << " (" << ZoneOf(policy, v.source_zone) << ") -> "
            << c.destination.ToString() << " (" << ZoneOf(policy, v.destination_zone) << ") "
            << port << ": " << (v.allowed ? "ALLOWED" : "DENIED") << "\n  " << v.reason << "\n";
  if (v.anti_lockout) {
    std::cout << "  by " << policy.settings.location.FileLine() << "  settings.controller\n";
  }
  for (FlowId f : v.denying) std::cout << FlowLine(policy, f, "deny ");
  for (FlowId f : v.allowing) {
    std::cout << FlowLine(policy, f, v.denying.empty() ? "allow" : "allow (overridden by deny)");
  }
  return v.allowed ? kExitOk : kExitFindings;
}

}  // namespace

void AddExplainCommand(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string dir, now, from, to, port;
  };
  auto args = std::make_shared<Args>();
  CLI::App* explain = app.add_subcommand(
      "explain", "The verdict for one connection and the flows or denies that decide it");
  explain->add_option("DIR", args->dir, "Policy directory")->required();
  explain->add_option("--from", args->from, "Source address, host or zone")->required();
  explain->add_option("--to", args->to, "Destination address, host or zone")->required();
  explain->add_option("--port", args->port, "e.g. tcp/5432, udp/53, icmp/echo-request")->required();
  explain->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  OnChosen(explain, chosen,
           [args] { return RunExplain(args->dir, args->now, args->from, args->to, args->port); });
}

}  // namespace polder::cli
