#include "cli/traffic_commands.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cli/audit_command.h"
#include "cli/fleet_commands.h"
#include "cli/graphviz.h"
#include "compiler/render/html_report.h"
#include "compiler/render/markup_escape.h"
#include "compiler/render/provenance.h"
#include "compiler/render/ruleset_renderer.h"
#include "compiler/verify/suggest.h"
#include "compiler/verify/traffic_table.h"
#include "compiler/verify/unused.h"
#include "nlohmann/json.hpp"
#include "wire/proto_convert.h"
#include "wire/rfc3339.h"
#include "wire/traffic_proto.h"

namespace polder::cli {
namespace {

using Json = nlohmann::ordered_json;

struct TrafficArgs {
  std::string local, policy, since, zone, host, format = "text", out;
  ControllerConnection conn;  // --controller HOST:PORT (--tls-dir DIR | --insecure)
  bool denied = false;
};

absl::StatusOr<Protocol> ProtocolOf(const std::string& name) {
  if (name == "tcp") return Protocol::kTcp;
  if (name == "udp") return Protocol::kUdp;
  if (name == "sctp") return Protocol::kSctp;
  if (name == "icmp") return Protocol::kIcmp;
  if (name == "icmpv6") return Protocol::kIcmpv6;
  return absl::InvalidArgumentError(absl::StrCat("unknown protocol ", name));
}

TrafficVerdict VerdictOf(const std::string& name) {
  if (name == "denied") return TrafficVerdict::kDenied;
  if (name == "would-deny") return TrafficVerdict::kWouldDeny;
  return TrafficVerdict::kAllowed;
}

// Everything the three commands read: the policy, the spool's rows since --since, and how
// complete they are.
struct Observed {
  LoadResult loaded;
  std::vector<TrafficRow> rows;
  ReportCoverage coverage;
  absl::Time since = absl::InfinitePast();
  absl::Time now;
  size_t reports = 0;
  std::set<std::string> hosts;
  uint64_t lost = 0;
  Spool spool;
  bool from_controller = false;
  uint64_t truncated_reports = 0;    // the controller's answer left these (oldest) out
  uint64_t dropped_connections = 0;  // the controller's store dropped these (its size budget)
  uint64_t dropped_hit_packets = 0;  // hit packets dropped by the store or left out by agents
  // On a shared store: the controllers whose traffic is in the answer, and those whose is not.
  std::vector<std::string> controllers, missing_controllers;
};

// The controller's stored reports since `since`, as a Spool (duplicates: batches it received
// again and ignored).
absl::Status ReadFromController(const TrafficArgs& a, Observed& o) {
  v1::TrafficRequest request;
  if (o.since != absl::InfinitePast()) wire::SetTimestamp(o.since, request.mutable_since());
  // --zone and --host select rows by either side, so every host's reports are needed.
  absl::StatusOr<FleetTraffic> fleet = FetchFleetTraffic(a.conn, request);
  if (!fleet.ok()) return fleet.status();
  o.controllers = fleet->answered;
  o.missing_controllers = fleet->missing;
  const v1::TrafficResponse* answer = &fleet->merged;
  for (int i = 0; i < answer->reports_size(); ++i) {
    absl::StatusOr<wire::TrafficReport> r = wire::FromProto(answer->reports(i));
    if (!r.ok())
      return absl::DataLossError(absl::StrCat("controller ", a.conn.controller, ": report ", i,
                                              ": ", r.status().message()));
    o.spool.reports.push_back(std::move(*r));
  }
  for (const v1::TrafficHostCoverage& c : answer->coverage())
    o.spool.duplicates += static_cast<size_t>(c.duplicates());
  o.truncated_reports = answer->truncated_reports();
  o.dropped_connections = answer->dropped_connections();
  o.dropped_hit_packets = answer->dropped_hit_packets();
  o.from_controller = true;
  return absl::OkStatus();
}

absl::StatusOr<Observed> ReadObserved(const TrafficArgs& a, bool since_required) {
  bool controller = !a.conn.controller.empty();
  if (controller && !a.local.empty())
    return absl::InvalidArgumentError("give --local STATE or --controller HOST:PORT, not both");
  if (!controller && a.local.empty())
    return absl::InvalidArgumentError(
        "give --local STATE (an agent's traffic spool) or --controller HOST:PORT");
  if (a.policy.empty())
    return absl::InvalidArgumentError("give --policy DIR: rows are attributed to its flows");
  if (since_required && a.since.empty())
    return absl::InvalidArgumentError("give --since, e.g. --since 90d");
  Observed o;
  o.now = absl::Now();
  if (!a.since.empty()) {
    absl::StatusOr<absl::Time> since = ParseSince(a.since, o.now);
    if (!since.ok()) return since.status();
    o.since = *since;
  }
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(a.policy, "", /*verify=*/false);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value())
    return absl::FailedPreconditionError(absl::StrCat(a.policy, " has errors (above)"));
  o.loaded = std::move(**loaded);
  if (controller) {
    if (absl::Status s = ReadFromController(a, o); !s.ok()) return s;
  } else {
    absl::StatusOr<Spool> spool = ReadSpool(a.local);
    if (!spool.ok()) return spool.status();
    o.spool = std::move(*spool);
  }
  const std::string source = controller ? a.conn.controller : a.local;
  TrafficTable table(o.loaded.policy);
  for (const wire::TrafficReport& r : o.spool.reports) {
    if (r.end < o.since) continue;
    ++o.reports;
    o.hosts.insert(r.host);
    o.lost += r.lost;
    o.coverage.Add(r.host, r.end);
    for (size_t i = 0; i < r.samples.size(); ++i) {
      const wire::TrafficReportSample& s = r.samples[i];
      absl::StatusOr<Address> local = Address::Parse(s.local);
      absl::StatusOr<Address> peer = Address::Parse(s.peer);
      absl::StatusOr<Protocol> proto = ProtocolOf(s.protocol);
      if (!local.ok() || !peer.ok() || !proto.ok() || local->family != peer->family) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": report ", r.host, " ", r.epoch,
                                                       "/", r.sequence, " samples[", i,
                                                       "]: addresses are not two of one family"));
      }
      table.Add(TrafficSample{.host = r.host,
                              .direction = s.direction == "in" ? TrafficDirection::kInbound
                                                               : TrafficDirection::kOutbound,
                              .local = *local,
                              .peer = *peer,
                              .protocol = *proto,
                              .port = static_cast<uint16_t>(s.port),
                              .verdict = VerdictOf(s.verdict),
                              .connections = s.connections,
                              .bytes = s.bytes,
                              .at = r.end});
    }
  }
  o.rows = table.Rows();
  return o;
}

// What the counts rest on, and what they lack, in one paragraph.
std::string EvidenceLines(const Observed& o) {
  std::string out = absl::StrCat(
      o.reports, " reports from ", o.hosts.size(), " hosts",
      o.since == absl::InfinitePast() ? "" : absl::StrCat(" since ", FormatRfc3339(o.since)), "\n");
  if (o.lost > 0) {
    absl::StrAppend(&out, "warning: agents could not record ", o.lost,
                    " tuples (observation sets full): counts are short by at least that\n");
  }
  if (o.spool.partial_lines > 0) {
    absl::StrAppend(
        &out,
        "warning: the spool's last line was cut (an interrupted write): one batch is missing\n");
  }
  if (o.spool.duplicates > 0) {
    absl::StrAppend(&out, o.spool.duplicates,
                    o.from_controller ? " batches reached the controller twice and counted once\n"
                                      : " batches were in the spool twice and counted once\n");
  }
  if (o.dropped_connections > 0) {
    absl::StrAppend(&out, "warning: the controller dropped ", o.dropped_connections,
                    " connections' rows to stay within its size budget (--traffic-max-bytes); "
                    "counts are short by that\n");
  }
  if (o.dropped_hit_packets > 0) {
    absl::StrAppend(&out, "warning: ", o.dropped_hit_packets,
                    " packets of the kernel's hit counters are missing (dropped by the "
                    "controller's size budget, or left out of agents' batches): hit counts "
                    "are short by that\n");
  }
  if (o.truncated_reports > 0) {
    absl::StrAppend(&out, "warning: the controller's answer left out the ", o.truncated_reports,
                    " oldest reports (too large for one answer): give a later --since\n");
  }
  if (o.controllers.size() > 1) {
    absl::StrAppend(&out, "from the controllers ", absl::StrJoin(o.controllers, ", "), "\n");
  }
  for (const std::string& m : o.missing_controllers) {
    absl::StrAppend(&out, "warning: traffic of the agents a controller served is missing: ", m,
                    "\n");
  }
  return out;
}

Json EvidenceJson(const Observed& o) {
  return Json{
      {"since", o.since == absl::InfinitePast() ? Json(nullptr) : Json(FormatRfc3339(o.since))},
      {"reports", o.reports},
      {"hosts", std::vector<std::string>(o.hosts.begin(), o.hosts.end())},
      {"lost_tuples", o.lost},
      {"partial_lines", o.spool.partial_lines},
      {"duplicate_batches", o.spool.duplicates},
      {"source", o.from_controller ? "controller" : "local"},
      {"dropped_connections", o.dropped_connections},
      {"dropped_hit_packets", o.dropped_hit_packets},
      {"truncated_reports", o.truncated_reports},
      {"controllers", o.controllers},
      {"missing_controllers", o.missing_controllers}};
}

std::string PortText(const TrafficKey& k) {
  return ServicePort{k.protocol, k.port, k.port}.ToString();
}

bool Selected(const Policy& policy, const TrafficArgs& a, const TrafficRow& row) {
  if (a.denied && row.key.verdict == TrafficVerdict::kAllowed) return false;
  if (!a.host.empty() && row.key.host != a.host && row.key.peer != a.host) return false;
  if (!a.zone.empty()) {
    auto host = policy.FindHost(row.key.host);
    bool local_in = host && policy.zones[policy.hosts[*host].zone].name == a.zone;
    if (!local_in && row.key.peer_zone != a.zone) return false;
  }
  return true;
}

// The observed zone graph: one edge per (from, to, allowed or not), weighted by connections,
// each connection drawn once (ReportedOnce).
std::string ObservedDot(const Policy& policy, const std::vector<const TrafficRow*>& rows) {
  struct Edge {
    uint64_t connections = 0;
    std::set<std::string> services;
  };
  std::map<std::tuple<std::string, std::string, bool>, Edge> edges;
  for (const TrafficRow* r : rows) {
    if (!ReportedOnce(policy, *r)) continue;
    bool inbound = r->key.direction == TrafficDirection::kInbound;
    auto host = policy.FindHost(r->key.host);
    std::string local = host ? policy.zones[policy.hosts[*host].zone].name : r->key.host;
    std::string peer = r->key.peer_zone.empty() ? r->key.peer : r->key.peer_zone;
    bool allowed = r->key.verdict == TrafficVerdict::kAllowed;
    Edge& e = edges[{inbound ? peer : local, inbound ? local : peer, allowed}];
    e.connections += r->connections;
    e.services.insert(PortText(r->key));
  }
  auto quote = [](const std::string& s) {
    return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\\\""}}), "\"");
  };
  std::string out = "digraph observed {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& [key, e] : edges) {
    const auto& [from, to, allowed] = key;
    std::string services = absl::StrJoin(e.services, ", ");
    if (services.size() > 60) services = absl::StrCat(services.substr(0, 57), "...");
    absl::StrAppend(&out, "  ", quote(from), " -> ", quote(to), " [label=",
                    quote(absl::StrCat(e.connections, allowed ? "" : " denied", "\\n", services)),
                    absl::StrFormat(", penwidth=%.1f", 1.0 + std::log10(1.0 + e.connections)),
                    allowed ? ", color=\"#2b6cb0\""
                            : ", color=\"#c53030\", style=dashed, fontcolor=\"#c53030\"",
                    "];\n");
  }
  return out + "}\n";
}

std::string ObservedHtml(const Observed& o, const std::vector<const TrafficRow*>& rows,
                         const std::string& dot) {
  Picture picture = RenderSvg(dot);
  std::optional<std::string> svg = picture.svg.empty() ? std::nullopt : InlineSvg(picture.svg);
  if (!svg && picture.note.empty()) picture.note = "Graphviz's picture could not be inlined";
  if (!picture.note.empty()) std::cerr << "polder traffic: " << picture.note << "\n";
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>polder: observed "
      "traffic</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.deny{color:#c53030}</style>"
      "</head><body>\n<h1>Observed traffic</h1>\n";
  absl::StrAppend(&out, "<p>", MarkupEscape(EvidenceLines(o)), "</p>\n");
  if (svg) {
    absl::StrAppend(&out, "<section id=\"graph\"><h2>Zone graph, as observed</h2>", *svg,
                    "<p>Blue: allowed; red, dashed: denied or would-deny. Width grows with "
                    "connections.</p></section>\n");
  } else {
    absl::StrAppend(
        &out, "<section id=\"graph\"><h2>Zone graph, as observed</h2><p class=\"deny\">",
        MarkupEscape(picture.note), "</p><pre>", MarkupEscape(dot), "</pre></section>\n");
  }
  absl::StrAppend(&out,
                  "<section id=\"rows\"><h2>Rows</h2><table><tr><th>dir</th><th>host</th>"
                  "<th>peer</th><th>service</th><th>verdict</th><th>connections</th>"
                  "<th>last seen</th><th>flow</th></tr>\n");
  for (const TrafficRow* r : rows) {
    bool allowed = r->key.verdict == TrafficVerdict::kAllowed;
    absl::StrAppend(&out, allowed ? "<tr>" : "<tr class=\"deny\">", "<td>",
                    TrafficDirectionName(r->key.direction), "</td><td>", MarkupEscape(r->key.host),
                    "</td><td>", MarkupEscape(r->key.peer), "</td><td>", PortText(r->key),
                    "</td><td>", TrafficVerdictName(r->key.verdict), "</td><td>", r->connections,
                    "</td><td>", FormatRfc3339(r->last_seen), "</td><td>",
                    MarkupEscape(allowed ? absl::StrJoin(r->flows, ", ") : ""), "</td></tr>\n");
  }
  return out + "</table></section>\n</body></html>\n";
}

absl::StatusOr<int> RunTraffic(const TrafficArgs& a) {
  absl::StatusOr<Observed> o = ReadObserved(a, false);
  if (!o.ok()) return o.status();
  const Policy& policy = o->loaded.policy;
  if (!a.zone.empty() && !policy.FindZone(a.zone))
    return absl::NotFoundError(absl::StrCat("no zone ", a.zone));
  if (!a.host.empty() && !policy.FindHost(a.host))
    return absl::NotFoundError(absl::StrCat("no host ", a.host));
  std::vector<const TrafficRow*> rows;
  for (const TrafficRow& r : o->rows) {
    if (Selected(policy, a, r)) rows.push_back(&r);
  }
  if (a.format == "dot" || a.format == "html") {
    std::string dot = ObservedDot(policy, rows);
    std::cout << (a.format == "dot" ? dot : ObservedHtml(*o, rows, dot));
    return kExitOk;
  }
  if (a.format == "json") {
    Json j = EvidenceJson(*o);
    Json list = Json::array();
    for (const TrafficRow* r : rows) {
      std::vector<int> hours;
      for (int h = 0; h < 168; ++h) {
        if (r->hours_of_week.test(h)) hours.push_back(h);
      }
      list.push_back(
          {{"direction", TrafficDirectionName(r->key.direction)},
           {"host", r->key.host},
           {"peer", r->key.peer},
           {"peer_zone", r->key.peer_zone.empty() ? Json(nullptr) : Json(r->key.peer_zone)},
           {"protocol", ProtocolName(r->key.protocol)},
           {"port", r->key.port},
           {"service", PortText(r->key)},
           {"verdict", TrafficVerdictName(r->key.verdict)},
           {"connections", r->connections},
           {"bytes", r->bytes},
           {"first_seen", FormatRfc3339(r->first_seen)},
           {"last_seen", FormatRfc3339(r->last_seen)},
           {"hours_of_week", hours},
           {"flows", r->flows}});
    }
    j["rows"] = std::move(list);
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-4s %-16s %-28s %-20s %-10s %8s %10s %-20s %s\n", "DIR", "HOST",
                               "PEER", "SERVICE", "VERDICT", "CONNS", "BYTES", "LAST SEEN", "FLOW");
  for (const TrafficRow* r : rows) {
    std::string flow = r->key.verdict == TrafficVerdict::kAllowed
                           ? absl::StrJoin(r->flows, ", ")
                           : TrafficVerdictName(r->key.verdict);
    std::cout << absl::StrFormat("%-4s %-16s %-28s %-20s %-10s %8d %10d %-20s %s\n",
                                 TrafficDirectionName(r->key.direction), r->key.host, r->key.peer,
                                 PortText(r->key), TrafficVerdictName(r->key.verdict),
                                 r->connections, r->bytes, FormatRfc3339(r->last_seen), flow);
  }
  std::cout << EvidenceLines(*o);
  return kExitOk;
}

// The agents' hits attributed to flows through each host's provenance map, as `polder compile`
// writes it for this policy. A flow counts on its inbound elements, and on its outbound ones
// only when no managed host receives it (that host's inbound element counts the same packets).
CounterEvidence CounterEvidenceOf(const Observed& o) {
  const Policy& policy = o.loaded.policy;
  CounterEvidence out;
  RulesetRenderer renderer(policy);
  std::map<std::string, std::map<std::string, const CounterProvenance*>> by_host;
  std::vector<std::shared_ptr<const Provenance>> keep;  // owns what by_host points into
  auto received_by_managed = [&](FlowId f) {
    for (const Endpoint& e : policy.flows[f].to) {
      if (e.kind == Endpoint::Kind::kHost || !policy.zones[e.id].hosts.empty()) return true;
    }
    return false;
  };
  for (const wire::TrafficReport& r : o.spool.reports) {
    if (r.end < o.since || r.hits.empty()) continue;
    auto host = by_host.find(r.host);
    if (host == by_host.end()) {
      host = by_host.emplace(r.host, std::map<std::string, const CounterProvenance*>{}).first;
      if (std::optional<HostId> h = policy.FindHost(r.host)) {
        keep.push_back(renderer.RenderHost(*h).provenance);
        for (const CounterProvenance& c : keep.back()->counters) host->second[c.counter] = &c;
      }
    }
    for (const wire::TrafficHit& hit : r.hits) {
      auto c = host->second.find(hit.counter);
      if (c == host->second.end()) {
        out.unattributed += hit.packets;
        continue;
      }
      const CounterProvenance& p = *c->second;
      if (p.kind == CounterProvenance::Kind::kPeerRange) continue;  // every verdict: no use
      if (p.flows.size() != 1) {
        out.shared += hit.packets;
        continue;
      }
      if (!p.inbound && received_by_managed(p.flows[0])) continue;
      CounterEvidence::Hits& h = out.flows[p.flows[0]];
      h.packets += hit.packets;
      h.last = std::max(h.last, r.end);
    }
  }
  return out;
}

absl::StatusOr<int> RunUnused(const TrafficArgs& a) {
  absl::StatusOr<Observed> o = ReadObserved(a, true);
  if (!o.ok()) return o.status();
  CounterEvidence counters = CounterEvidenceOf(*o);
  std::vector<UnusedEntry> entries =
      FindUnused(o->loaded.policy, o->rows, o->coverage, o->since, o->now, counters);
  // Rows a controller dropped or left out, or the traffic of a controller that did not answer,
  // could hold an entry's hits: nothing is called unused on such evidence.
  if (o->dropped_connections > 0 || o->dropped_hit_packets > 0 || o->truncated_reports > 0 ||
      !o->missing_controllers.empty()) {
    for (UnusedEntry& e : entries)
      if (e.status == UnusedEntry::Status::kUnused) e.status = UnusedEntry::Status::kUnknown;
  }
  auto evidence = [](const UnusedEntry& e) {
    return absl::StrCat(e.hosts_complete, "/", e.hosts_expected, " hosts reported every day, ",
                        e.days_complete, "/", e.days_window, " days fully reported");
  };
  if (a.format == "json") {
    Json j = EvidenceJson(*o);
    Json list = Json::array();
    for (const UnusedEntry& e : entries) {
      list.push_back(
          {{"kind", e.kind == UnusedEntry::Kind::kFlow ? "flow" : "prefix"},
           {"name", e.name},
           {"location", e.location},
           {"status", UnusedStatusName(e.status)},
           {"hits", e.hits},
           {"counter_hits", e.counter_hits},
           {"last_hit",
            e.last_hit == absl::InfinitePast() ? Json(nullptr) : Json(FormatRfc3339(e.last_hit))},
           {"hosts_expected", e.hosts_expected},
           {"hosts_complete", e.hosts_complete},
           {"days_window", e.days_window},
           {"days_complete", e.days_complete}});
    }
    j["entries"] = std::move(list);
    j["counter_hits_shared"] = counters.shared;
    j["counter_hits_unattributed"] = counters.unattributed;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-7s %-8s %-36s %-22s %10s %10s %-20s %s\n", "KIND", "STATUS",
                               "NAME", "AT", "HITS", "COUNTED", "LAST HIT", "EVIDENCE");
  for (const UnusedEntry& e : entries) {
    std::cout << absl::StrFormat(
        "%-7s %-8s %-36s %-22s %10d %10d %-20s %s\n",
        e.kind == UnusedEntry::Kind::kFlow ? "flow" : "prefix", UnusedStatusName(e.status), e.name,
        e.location, e.hits, e.counter_hits,
        e.last_hit == absl::InfinitePast() ? "never" : FormatRfc3339(e.last_hit), evidence(e));
  }
  std::cout << EvidenceLines(*o);
  if (counters.shared > 0) {
    std::cout << counters.shared
              << " counted packets were on allow elements shared by several flows: no evidence "
                 "for any one of them\n";
  }
  if (counters.unattributed > 0) {
    std::cout << "warning: " << counters.unattributed
              << " counted packets were on counters this policy's rulesets do not have (another "
                 "revision?): not attributed\n";
  }
  std::cout << "HITS: connections observed; COUNTED: packets the kernel counted on the flow's "
               "own allow elements.\n"
            << "An entry is `unused` only when every host enforcing it reported on every day; "
               "otherwise `unknown`.\n";
  return kExitOk;
}

absl::StatusOr<int> RunSuggest(const TrafficArgs& a) {
  if (a.out.empty()) return absl::InvalidArgumentError("give -o FILE.yaml");
  absl::StatusOr<Observed> o = ReadObserved(a, false);
  if (!o.ok()) return o.status();
  Suggestion s = Suggest(o->loaded.policy, DeniedConnections(o->rows),
                         SuggestOptions{.generated_at = o->now, .since = a.since});
  std::string text = s.yaml;
  if (o->lost > 0) {
    text = absl::StrCat("# warning: agents could not record ", o->lost,
                        " tuples (observation sets full): traffic may be missing here\n", text);
  }
  for (const std::string& m : o->missing_controllers) {
    text = absl::StrCat("# warning: traffic of the agents a controller served is missing: ", m,
                        "\n", text);
  }
  if (o->dropped_connections > 0 || o->truncated_reports > 0) {
    text = absl::StrCat("# warning: the controller dropped ", o->dropped_connections,
                        " connections (size budget) and left out ", o->truncated_reports,
                        " old reports: traffic may be missing here\n", text);
  }
  std::ofstream out(a.out, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", a.out));
  std::cout << "polder suggest: " << s.flows << " flows, " << s.services << " new services in "
            << a.out << "; " << s.refused << " left out (an invariant or a deny), "
            << s.unclassified << " with an end in no zone, " << s.already_allowed
            << " allowed already\n"
            << EvidenceLines(*o);
  return kExitOk;
}

void CommonOptions(CLI::App* cmd, TrafficArgs& a) {
  cmd->add_option(
      "--local", a.local,
      "An agent's traffic spool (TrafficReport lines), or a directory of them (*.jsonl)");
  auto* controller =
      cmd->add_option("--controller", a.conn.controller,
                      "Controller HOST:PORT: the traffic its agents reported (instead of --local)");
  auto* tls = cmd->add_option("--tls-dir", a.conn.tls_dir,
                              "With --controller: directory with ca.crt and admin.crt/admin.key");
  auto* ins = cmd->add_flag("--insecure", a.conn.insecure,
                            "With --controller: no TLS (controller runs --insecure)");
  tls->excludes(ins);
  tls->needs(controller);
  ins->needs(controller);
  cmd->add_option("--policy", a.policy, "Policy directory the rows are attributed to");
}

}  // namespace

namespace {

// Appends the reports of spool file `path` to `spool`, each (host, epoch, sequence) once over
// every file read into `seen`.
absl::Status ReadSpoolFile(const std::string& path, Spool& spool,
                           std::set<std::tuple<std::string, uint64_t, uint64_t>>& seen) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    absl::StatusOr<wire::TrafficReport> r = wire::ParseTrafficReportLine(line);
    if (!r.ok()) {
      if (in.eof()) {  // getline met the end before a newline: the last line was cut
        ++spool.partial_lines;
        break;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", r.status().message()));
    }
    if (!seen.insert({r->host, r->epoch, r->sequence}).second) {
      ++spool.duplicates;
      continue;
    }
    spool.reports.push_back(std::move(*r));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Spool> ReadSpool(const std::string& path) {
  Spool spool;
  std::set<std::tuple<std::string, uint64_t, uint64_t>> seen;
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    if (absl::Status st = ReadSpoolFile(path, spool, seen); !st.ok()) return st;
    return spool;
  }
  // A directory of spools (one per host, as `polder lab up` writes them): every *.jsonl in it,
  // in name order, so the result does not depend on the directory's order.
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".jsonl")
      files.push_back(entry.path().string());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", ec.message()));
  if (files.empty()) return absl::NotFoundError(absl::StrCat(path, " holds no spool (*.jsonl)"));
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    if (absl::Status st = ReadSpoolFile(f, spool, seen); !st.ok()) return st;
  }
  return spool;
}

void AddTrafficCommands(CLI::App& app, ChosenCommand& chosen) {
  auto args = std::make_shared<TrafficArgs>();
  CLI::App* traffic = app.add_subcommand(
      "traffic", "Observed connections, aggregated, with the flow that allowed each");
  CommonOptions(traffic, *args);
  traffic->add_option("--since", args->since, "Only reports since then (7d, 12h, or RFC 3339)");
  auto* zone = traffic->add_option("--zone", args->zone, "Only rows with this zone on either side");
  traffic->add_option("--host", args->host, "Only rows with this host on either side")
      ->excludes(zone);
  traffic->add_flag("--denied", args->denied, "Only denied and would-deny rows");
  traffic
      ->add_option("--format", args->format,
                   "text (default), json, dot or html (the observed zone graph)")
      ->check(CLI::IsMember({"text", "json", "dot", "html"}));
  OnChosen(traffic, chosen, [args] { return RunTraffic(*args); });

  auto uargs = std::make_shared<TrafficArgs>();
  CLI::App* unused = app.add_subcommand(
      "unused", "Allow flows and allowlist prefixes nobody used, with the evidence");
  CommonOptions(unused, *uargs);
  unused->add_option("--since", uargs->since, "The window, e.g. 90d");
  unused->add_option("--format", uargs->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  OnChosen(unused, chosen, [uargs] { return RunUnused(*uargs); });

  auto sargs = std::make_shared<TrafficArgs>();
  CLI::App* suggest =
      app.add_subcommand("suggest", "YAML flows that would allow observed denied traffic");
  CommonOptions(suggest, *sargs);
  suggest->add_option("--since", sargs->since, "Only reports since then (30d, or RFC 3339)");
  suggest->add_option("-o,--output", sargs->out, "The YAML file to write");
  OnChosen(suggest, chosen, [sargs] { return RunSuggest(*sargs); });
}

}  // namespace polder::cli
