#include "cli/explain_command.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/cli_common.h"
#include "compiler/model/service_space.h"
#include "compiler/verify/address_classes.h"
#include "compiler/verify/explain.h"
#include "nlohmann/json.hpp"
#include "wire/rfc3339.h"

namespace polder::cli {
namespace {

using nlohmann::json;

std::string FlowLine(const Policy& policy, FlowId f, const std::string& role) {
  const Flow& flow = policy.flows[f];
  std::string cite = flow.location.FileLine();
  if (flow.name == cite) return absl::StrCat("  ", role, " ", cite, "\n");
  return absl::StrCat("  ", role, " ", cite, "  flow `", flow.name, "`\n");
}

std::string ExpiredLine(const Policy& policy, FlowId f) {
  const Flow& flow = policy.flows[f];
  std::string line = FlowLine(policy, f, "expired");
  line.pop_back();
  return absl::StrCat(line, ", expired ", flow.expires ? FormatRfc3339(*flow.expires) : "",
                      ": it would have ", flow.action == Action::kDeny ? "denied" : "allowed",
                      " this, but has no effect (spec §5)\n");
}

// "zone `office` (10.20.0.0/16)" or "host `db-1` (10.10.3.10)".
std::string EndText(const ExplainEnd& e) {
  switch (e.kind) {
    case ExplainEnd::Kind::kAddress:
      return e.name;
    case ExplainEnd::Kind::kHost:
      return absl::StrCat("host ", e.name, " (", ShortAddressText(e.addresses), ")");
    case ExplainEnd::Kind::kZone:
      return absl::StrCat("zone ", e.name, " (", ShortAddressText(e.addresses), ")");
  }
  return e.name;
}

// Which address of a named end the verdict rests on.
std::string UsingLine(const ExplainEnd& e, const Address& a) {
  switch (e.kind) {
    case ExplainEnd::Kind::kAddress:
      return "";
    case ExplainEnd::Kind::kHost:
      return absl::StrCat("  using ", a.ToString(), " for host ", e.name, "\n");
    case ExplainEnd::Kind::kZone:
      return absl::StrCat("  using ", a.ToString(), " of zone ", e.name, "\n");
  }
  return "";
}

// The part of an end's addresses (of the families the port runs over) that `allowed` covers,
// when it is not all of them.
std::string OnlyPart(const char* word, const ExplainEnd& e, const AddressSet& allowed,
                     const ServicePort& port) {
  if (e.kind == ExplainEnd::Kind::kAddress || allowed.Empty()) return "";
  AddressSet relevant;
  for (const Address& a : {Address{Family::kV4, 0}, Address{Family::kV6, 0}}) {
    bool runs = port.protocol == Protocol::kIcmp     ? a.family == Family::kV4
                : port.protocol == Protocol::kIcmpv6 ? a.family == Family::kV6
                                                     : true;
    if (runs && !allowed.intervals(a.family).empty()) {
      relevant = relevant.Union(e.addresses.Intersect(AddressSet::Of(Prefix{a, 0})));
    }
  }
  AddressSet rest = relevant.Subtract(allowed);
  if (rest.Empty()) return "";
  // Name the smaller side: "from 10.1.0.0/24 only" or "except from 203.0.113.0/24".
  if (rest.Ranges().size() < allowed.Ranges().size()) {
    return absl::StrCat("except ", word, " ", ShortAddressText(rest));
  }
  return absl::StrCat(word, " ", ShortAddressText(allowed), " only");
}

std::string FormatText(const Policy& policy, const Explanation& ex) {
  std::string out;
  if (!ex.service.empty()) {
    absl::StrAppend(&out, "service ", ex.service, ": one verdict per port (spec §9)\n");
  }
  for (const PortVerdict& v : ex.verdicts) {
    std::string label = ServicePortLabel(v.port);
    const char* word = v.allowed ? "ALLOWED" : "DENIED";
    std::string basis = v.basis == ExplainBasis::kHostEssential ? " (host-essential)"
                        : v.basis == ExplainBasis::kAntiLockout ? " (anti-lockout)"
                                                                : "";
    if (v.basis == ExplainBasis::kLoopback || v.basis == ExplainBasis::kNoAddress) {
      absl::StrAppend(&out, ex.from.name, " -> ", ex.to.name, " ", label, ": ", word, "\n  ",
                      v.reason, "\n");
      continue;
    }
    const Connection& c = *v.example;
    auto zone = [&](const Address& a) {
      auto z = policy.Classify(a);
      return z ? policy.zones[*z].name : std::string("no zone");
    };
    absl::StrAppend(&out, c.source.ToString(), " (", zone(c.source), ") -> ",
                    c.destination.ToString(), " (", zone(c.destination), ") ", label, ": ", word,
                    basis, "\n");
    absl::StrAppend(&out, UsingLine(ex.from, c.source), UsingLine(ex.to, c.destination));
    absl::StrAppend(&out, "  ", v.reason, "\n");
    if (v.allowed) {
      std::string from_part = OnlyPart("from", ex.from, v.allowed_sources, v.port);
      std::string to_part = OnlyPart("to", ex.to, v.allowed_destinations, v.port);
      if (v.partial || !from_part.empty() || !to_part.empty()) {
        absl::StrAppend(
            &out, "  allowed ", from_part, from_part.empty() || to_part.empty() ? "" : " ", to_part,
            from_part.empty() && to_part.empty() ? "for some address pairs" : "",
            "; other address pairs of ", EndText(ex.from), " -> ", EndText(ex.to), " are denied\n");
      } else if (ex.from.kind != ExplainEnd::Kind::kAddress ||
                 ex.to.kind != ExplainEnd::Kind::kAddress) {
        absl::StrAppend(&out, "  every address pair of ", EndText(ex.from), " -> ", EndText(ex.to),
                        " answers alike\n");
      }
    }
    if (v.basis == ExplainBasis::kAntiLockout) {
      absl::StrAppend(&out, "  by ", policy.settings.location.FileLine(),
                      "  settings.controller\n");
    }
    for (FlowId f : v.denying) {
      absl::StrAppend(&out,
                      FlowLine(policy, f, v.allowed ? "deny (for the other pairs)" : "deny "));
    }
    for (FlowId f : v.allowing) {
      bool overridden = !v.allowed && !v.denying.empty();
      absl::StrAppend(&out,
                      FlowLine(policy, f, overridden ? "allow (overridden by deny)" : "allow"));
    }
    for (FlowId f : v.expired) absl::StrAppend(&out, ExpiredLine(policy, f));
  }
  if (ex.verdicts.size() > 1) {
    size_t allowed = 0;
    for (const PortVerdict& v : ex.verdicts) allowed += v.allowed;
    absl::StrAppend(&out, allowed, " of ", ex.verdicts.size(), " port classes allowed\n");
  }
  return out;
}

json Ranges(const AddressSet& set) {
  json out = json::array();
  for (const AddressRange& r : set.Ranges()) {
    out.push_back(r.lo == r.hi ? Address{r.family, r.lo}.ToString() : r.ToString());
  }
  return out;
}

json FlowRef(const Policy& policy, FlowId f) {
  const Flow& flow = policy.flows[f];
  json out = {{"name", flow.name},
              {"action", flow.action == Action::kDeny ? "deny" : "allow"},
              {"file", flow.location.file},
              {"line", flow.location.line}};
  if (flow.expires) out["expires"] = FormatRfc3339(*flow.expires);
  return out;
}

json Flows(const Policy& policy, const std::vector<FlowId>& ids) {
  json out = json::array();
  for (FlowId f : ids) out.push_back(FlowRef(policy, f));
  return out;
}

json EndJson(const ExplainEnd& e) {
  const char* kind = e.kind == ExplainEnd::Kind::kAddress ? "address"
                     : e.kind == ExplainEnd::Kind::kHost  ? "host"
                                                          : "zone";
  return {{"name", e.name}, {"kind", kind}, {"addresses", Ranges(e.addresses)}};
}

json FormatJson(const Policy& policy, const Explanation& ex) {
  json verdicts = json::array();
  for (const PortVerdict& v : ex.verdicts) {
    json j = {{"port", ServicePortLabel(v.port)},
              {"protocol", ProtocolName(v.port.protocol)},
              {"port_range", {v.port.lo, v.port.hi}},
              {"allowed", v.allowed},
              {"basis", ExplainBasisName(v.basis)},
              {"reason", v.reason},
              {"partial", v.partial},
              {"allowed_sources", Ranges(v.allowed_sources)},
              {"allowed_destinations", Ranges(v.allowed_destinations)},
              {"allowing", Flows(policy, v.allowing)},
              {"denying", Flows(policy, v.denying)},
              {"expired", Flows(policy, v.expired)},
              {"example", nullptr},
              {"anti_lockout", nullptr}};
    if (v.example) {
      j["example"] = {{"source", v.example->source.ToString()},
                      {"destination", v.example->destination.ToString()}};
    }
    if (v.basis == ExplainBasis::kAntiLockout) {
      j["anti_lockout"] = {{"file", policy.settings.location.file},
                           {"line", policy.settings.location.line}};
    }
    json cases = json::array();
    for (const ExplainCase& c : v.cases) {
      const char* basis = c.verdict.allowed  ? (c.verdict.anti_lockout ? "anti-lockout" : "flows")
                          : c.host_essential ? "host-essential"
                                             : "denied";
      cases.push_back({{"sources", Ranges(c.sources)},
                       {"destinations", Ranges(c.destinations)},
                       {"example",
                        {{"source", c.example.source.ToString()},
                         {"destination", c.example.destination.ToString()}}},
                       {"allowed", c.allowed()},
                       {"basis", basis},
                       {"allowing", Flows(policy, c.verdict.allowing)},
                       {"denying", Flows(policy, c.verdict.denying)}});
    }
    j["cases"] = std::move(cases);
    verdicts.push_back(std::move(j));
  }
  return {{"from", EndJson(ex.from)},
          {"to", EndJson(ex.to)},
          {"service", ex.service.empty() ? json(nullptr) : json(ex.service)},
          {"now", FormatRfc3339(policy.now)},
          {"revision", policy.revision},
          {"allowed", ex.AllAllowed()},
          {"verdicts", std::move(verdicts)}};
}

// 1 is an answer (denied): a policy with errors, already printed, leaves explain unable to
// answer (2).
absl::StatusOr<int> RunExplain(const std::string& dir, const std::string& now,
                               const std::string& from, const std::string& to,
                               const std::string& port, const std::string& format) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(dir, now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& policy = (*loaded)->policy;
  absl::StatusOr<ExplainPorts> ports = ResolveExplainPorts(policy, port);
  if (!ports.ok()) return ports.status();
  absl::StatusOr<ExplainEnd> source = ResolveExplainEnd(policy, from);
  if (!source.ok()) return source.status();
  absl::StatusOr<ExplainEnd> destination = ResolveExplainEnd(policy, to);
  if (!destination.ok()) return destination.status();
  absl::StatusOr<Explanation> ex = Explain(policy, *source, *destination, *ports);
  if (!ex.ok()) return ex.status();
  if (format == "json") {
    std::cout << FormatJson(policy, *ex).dump(2) << "\n";
  } else {
    std::cout << FormatText(policy, *ex);
  }
  return ex->AllAllowed() ? kExitOk : kExitFindings;
}

}  // namespace

void AddExplainCommand(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string dir, now, from, to, port, format = "text";
  };
  auto args = std::make_shared<Args>();
  CLI::App* explain = app.add_subcommand(
      "explain",
      "The verdict for connections between two ends and the flows or denies that decide it");
  explain->add_option("DIR", args->dir, "Policy directory")->required();
  explain->add_option("--from", args->from, "Source address, host or zone")->required();
  explain->add_option("--to", args->to, "Destination address, host or zone")->required();
  explain
      ->add_option("--port", args->port,
                   "A port item (tcp/5432, udp/53, icmpv6/echo-request, tcp/8000-8099) or a "
                   "service name; one verdict per port class")
      ->required();
  explain->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  explain->add_option("--format", args->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  OnChosen(explain, chosen, [args] {
    return RunExplain(args->dir, args->now, args->from, args->to, args->port, args->format);
  });
}

}  // namespace polder::cli
