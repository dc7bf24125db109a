#include "compiler/render/html_report.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/render/markup_escape.h"
#include "compiler/verify/invariants.h"

namespace polder {
namespace {

constexpr size_t kMaxDisagreementsShown = 50;

// Print-friendly and readable without colour: every state is also a word.
constexpr char kStyle[] = R"css(
:root { --ok: #1b7f3b; --bad: #c62828; --warn: #a15c00; --muted: #666; --line: #dde3ea; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 24px 32px 48px; color: #1d2733; line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta, .note { color: var(--muted); font-size: 13px; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; background: #f3f5f8;
       padding: 0 3px; border-radius: 3px; }
nav a { margin-right: 14px; color: #2456a6; text-decoration: none; font-size: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 200px;
        flex: 1; }
.card .big { font-size: 22px; font-weight: bold; }
.card.bad { border-color: var(--bad); } .card.ok { border-color: var(--ok); }
.card.warn { border-color: var(--warn); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: #f3f5f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: bold; white-space: nowrap; }
.holds { color: var(--ok); } .violated { color: var(--bad); } .unknown { color: var(--warn); }
.path { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
.path .zone { font-weight: bold; }
.path .cite { color: var(--muted); }
.box { border-left: 4px solid var(--line); padding: 6px 12px; margin: 8px 0; background: #fafbfc; }
.box.bad { border-color: var(--bad); } .box.ok { border-color: var(--ok); }
.box.warn { border-color: var(--warn); }
.graph { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.graph svg { max-width: 100%; height: auto; }
.legend span { margin-right: 18px; font-size: 13px; }
.swatch { display: inline-block; width: 28px; height: 0; vertical-align: middle; margin-right: 6px;
          border-top: 3px solid; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { nav { display: none; } h2 { page-break-after: avoid; } }
)css";

std::string Zones(const Policy& p, const std::vector<ZoneId>& zones) {
  std::vector<std::string> names;
  for (ZoneId z : zones) names.push_back(p.zones[z].name);
  return absl::StrJoin(names, ", ");
}

std::string Services(const Policy& p, const std::vector<ServiceId>& services) {
  std::vector<std::string> names;
  for (ServiceId s : services) names.push_back(p.services[s].name);
  return absl::StrJoin(names, ", ");
}

std::string Endpoints(const Policy& p, const std::vector<Endpoint>& endpoints) {
  std::vector<std::string> names;
  for (const Endpoint& e : endpoints) names.push_back(p.EndpointName(e));
  return absl::StrJoin(names, ", ");
}

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::string Code(absl::string_view text) {
  return absl::StrCat("<code>", MarkupEscape(text), "</code>");
}

// What the invariant states, in words (escaped HTML).
std::string Statement(const Policy& p, const Invariant& inv) {
  std::string services = inv.services.empty() ? "" : MarkupEscape(Services(p, inv.services));
  switch (inv.kind) {
    case InvariantKind::kNoPath:
      return absl::StrCat("no path from <b>", MarkupEscape(Zones(p, inv.from)), "</b> to <b>",
                          MarkupEscape(Zones(p, inv.to)), "</b>",
                          services.empty() ? "" : absl::StrCat(" ending on ", services));
    case InvariantKind::kIsolate:
      return absl::StrCat(
          "no zone but <b>", MarkupEscape(Zones(p, inv.to)), "</b>",
          inv.except.empty() ? ""
                             : absl::StrCat(" and <b>", MarkupEscape(Zones(p, inv.except)), "</b>"),
          " reaches <b>", MarkupEscape(Zones(p, inv.to)), "</b>, by any path");
    case InvariantKind::kVia:
      return absl::StrCat("every path from <b>", MarkupEscape(Zones(p, inv.from)), "</b> to <b>",
                          MarkupEscape(Zones(p, inv.to)), "</b>",
                          services.empty() ? "" : absl::StrCat(" ending on ", services),
                          " passes through <b>", MarkupEscape(Zones(p, inv.through)), "</b>");
    case InvariantKind::kExposure:
      return absl::StrCat("<b>", MarkupEscape(Zones(p, inv.from)), "</b> reaches at most ", inv.max,
                          " ports in one edge");
    case InvariantKind::kReach:
      return absl::StrCat("<b>", MarkupEscape(Zones(p, inv.to)), "</b> reachable from <b>",
                          MarkupEscape(Zones(p, inv.from)), "</b>",
                          services.empty() ? "" : absl::StrCat(" on every port of ", services),
                          inv.direct ? ", in one edge" : "");
  }
  return "";
}

absl::string_view KindName(InvariantKind kind) {
  switch (kind) {
    case InvariantKind::kNoPath:
      return "no_path";
    case InvariantKind::kIsolate:
      return "isolate";
    case InvariantKind::kVia:
      return "via";
    case InvariantKind::kExposure:
      return "exposure";
    case InvariantKind::kReach:
      return "reach";
  }
  return "";
}

// The violations of one invariant (of the policy when `posture` is empty).
std::vector<const Diagnostic*> ViolationsOf(const DiagnosticList& d, const std::string& invariant,
                                            const std::string& posture) {
  std::vector<const Diagnostic*> out;
  for (const Diagnostic& item : d.items()) {
    if (item.code == "invariant-violated" && item.invariant == invariant &&
        item.posture == posture) {
      out.push_back(&item);
    }
  }
  return out;
}

// "internet → web (flows.yaml:3) → db (flows.yaml:9)", each part escaped.
std::string PathHtml(const std::vector<PathStep>& path) {
  std::string out = "<div class=\"path\">";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += " &rarr; ";
    absl::StrAppend(&out, "<span class=\"zone\">", MarkupEscape(path[i].zone), "</span>");
    if (!path[i].flows.empty()) {
      absl::StrAppend(&out, " <span class=\"cite\">(",
                      MarkupEscape(absl::StrJoin(path[i].flows, ", ")), ")</span>");
    }
  }
  return out + "</div>";
}

// The message without the path it spells out again (the path is drawn).
std::string ViolationHtml(const Diagnostic& d) {
  std::string message = d.message;
  if (!d.path.empty()) {
    size_t cut = message.find("; shortest path:");
    if (cut != std::string::npos) message = message.substr(0, cut) + ". Shortest path:";
  }
  std::string out = absl::StrCat("<div>", MarkupEscape(message), "</div>");
  if (!d.path.empty()) out += PathHtml(d.path);
  return out;
}

// One table row per invariant: name, statement, state and why.
std::string InvariantRow(const Policy& p, const DiagnosticList& d, const Invariant& inv,
                         const std::string& posture, bool verified, int* holding) {
  std::vector<const Diagnostic*> violations = ViolationsOf(d, inv.name, posture);
  std::string state, detail;
  if (!verified) {
    state = "<span class=\"state unknown\">not verified</span>";
    detail = "this build of <code>polder check</code> does not verify postures yet";
  } else if (violations.empty()) {
    state = "<span class=\"state holds\">&#10004; holds</span>";
    ++*holding;
  } else {
    state = "<span class=\"state violated\">&#10008; violated</span>";
    for (const Diagnostic* v : violations) detail += ViolationHtml(*v);
  }
  return absl::StrCat("<tr><td><b>", MarkupEscape(inv.name), "</b><br><span class=\"note\">",
                      KindName(inv.kind), " &middot; ", MarkupEscape(inv.location.FileLine()),
                      "</span></td><td>", Statement(p, inv), "</td><td>", state, "</td><td>",
                      detail, "</td></tr>\n");
}

constexpr char kInvariantHeader[] =
    "<table><tr><th>invariant</th><th>states</th><th>state</th><th>why</th></tr>\n";

struct Counts {
  int invariants_holding = 0;
  int64_t external_ports = 0;
  int expiring = 0;
};

std::string GraphSection(const HtmlReportInput& in) {
  std::string out = "<section id=\"graph\"><h2>Zone graph</h2>\n";
  absl::StrAppend(&out,
                  "<p class=\"note\">One node per zone, an arrow where some address of one may "
                  "open a connection to the other, labelled with what it carries (after denies "
                  "and expiry).</p>\n");
  std::optional<std::string> svg = InlineSvg(in.graph_svg);
  if (svg) {
    absl::StrAppend(&out, "<div class=\"graph\">", *svg, "</div>\n");
  } else {
    std::string why = in.graph_note.empty() ? "no picture of the graph was made" : in.graph_note;
    if (!in.graph_svg.empty()) why = "Graphviz's picture was refused: it is not a plain SVG";
    absl::StrAppend(&out, "<div class=\"box warn\"><b>No picture of the zone graph:</b> ",
                    MarkupEscape(why),
                    ". The tables below are complete without it; <code>polder graph</code> "
                    "prints the graph as dot or JSON.</div>\n");
  }
  absl::StrAppend(
      &out,
      "<p class=\"legend\"><span><i class=\"swatch\" style=\"border-color:#c62828\"></i>on the "
      "shortest path of a violated invariant</span><span><i class=\"swatch\" "
      "style=\"border-color:#e07000;border-top-style:dashed\"></i>cut or narrowed by a "
      "posture</span><span><i class=\"swatch\" style=\"border-color:#3366cc;"
      "border-top-style:dashed\"></i>controller (anti-lockout) only</span><span>dashed box: "
      "external zone</span></p>\n</section>\n");
  return out;
}

std::string InvariantSection(const HtmlReportInput& in, Counts& counts) {
  const Policy& p = *in.policy;
  std::string out = "<section id=\"invariants\"><h2>Invariants</h2>\n";
  if (p.invariants.empty()) {
    return out +
           "<div class=\"box warn\">The policy states no invariants: nothing about its "
           "segmentation is verified.</div></section>\n";
  }
  std::string rows;
  for (const Invariant& inv : p.invariants) {
    rows += InvariantRow(p, *in.diagnostics, inv, "", true, &counts.invariants_holding);
  }
  int total = static_cast<int>(p.invariants.size());
  absl::StrAppend(&out, "<p>", counts.invariants_holding, " of ", total,
                  total == 1 ? " invariant holds" : " invariants hold",
                  " in the policy as written (checked by the same pipeline as <code>polder "
                  "check</code>).</p>\n",
                  kInvariantHeader, rows, "</table>\n</section>\n");
  return out;
}

std::string ExposureSection(const HtmlReportInput& in, Counts& counts) {
  const Policy& p = *in.policy;
  std::string out = absl::StrCat(
      "<section id=\"exposure\"><h2>Exposure</h2>\n<p class=\"note\">What each external zone "
      "reaches in one edge, counted in ports as the <code>exposure</code> invariant counts "
      "them: each tcp, udp or sctp port once per target zone, each port of a range, each ICMP "
      "type once, <code>any</code> as 197,117.</p>\n");
  bool any_external = false;
  for (ZoneId z = 0; z < static_cast<ZoneId>(p.zones.size()); ++z) {
    if (!p.zones[z].external) continue;
    any_external = true;
    std::vector<ExposureItem> items = Exposure(*in.graph, {z});
    int64_t total = ExposureCount(items);
    counts.external_ports += total;
    absl::StrAppend(&out, "<h3>", MarkupEscape(p.zones[z].name), ": ",
                    Plural(total, "port", "ports"), "</h3>\n");
    for (const Invariant& inv : p.invariants) {
      if (inv.kind != InvariantKind::kExposure ||
          std::find(inv.from.begin(), inv.from.end(), z) == inv.from.end()) {
        continue;
      }
      absl::StrAppend(&out, "<p>Budget: at most ", inv.max, " (invariant <b>",
                      MarkupEscape(inv.name), "</b>",
                      inv.from.size() > 1
                          ? absl::StrCat(", for ", MarkupEscape(Zones(p, inv.from)), " together")
                          : "",
                      ").</p>\n");
    }
    if (items.empty()) {
      out += "<p>Reaches nothing in one edge.</p>\n";
      continue;
    }
    // One row per target zone.
    out += "<table><tr><th>reaches zone</th><th>on</th><th class=\"num\">ports</th></tr>\n";
    for (size_t i = 0; i < items.size();) {
      size_t j = i;
      std::vector<std::string> labels;
      int64_t zone_total = 0;
      for (; j < items.size() && items[j].zone == items[i].zone; ++j) {
        labels.push_back(ServicePortLabel(items[j].port));
        zone_total += PortCount(items[j].port);
      }
      absl::StrAppend(&out, "<tr><td>", MarkupEscape(p.zones[items[i].zone].name), "</td><td>",
                      MarkupEscape(absl::StrJoin(labels, ", ")), "</td><td class=\"num\">",
                      zone_total, "</td></tr>\n");
      i = j;
    }
    out += "</table>\n";
  }
  if (!any_external) out += "<p>The policy has no external zone.</p>\n";
  return out + "</section>\n";
}

std::string ExpiringSection(const HtmlReportInput& in, Counts& counts) {
  const Policy& p = *in.policy;
  int64_t days = absl::ToInt64Hours(in.expiring_within) / 24;
  std::string out = absl::StrCat("<section id=\"expiring\"><h2>Flows expiring within ",
                                 Plural(days, "day", "days"), "</h2>\n<p class=\"note\">Between ",
                                 Day(p.now), " and ", Day(p.now + in.expiring_within),
                                 ", grouped by the owner who answers for them.</p>\n");
  auto groups = ExpiringFlowsByOwner(p, in.expiring_within);
  if (groups.empty()) {
    absl::StrAppend(&out, "<p>No flow expires before ", Day(p.now + in.expiring_within), ".</p>\n");
  }
  for (const auto& [owner, flows] : groups) {
    counts.expiring += static_cast<int>(flows.size());
    absl::StrAppend(&out, "<h3>",
                    owner.empty() ? "No owner" : absl::StrCat("Owner: ", MarkupEscape(owner)), " (",
                    Plural(static_cast<int64_t>(flows.size()), "flow", "flows"), ")</h3>\n",
                    "<table><tr><th>flow</th><th>from &rarr; to</th><th>services</th>"
                    "<th>expires</th><th>ticket</th><th>where</th></tr>\n");
    for (FlowId f : flows) {
      const Flow& flow = p.flows[f];
      absl::StrAppend(
          &out, "<tr><td>", MarkupEscape(flow.name),
          flow.action == Action::kDeny ? " <b>(deny: access returns when it expires)</b>" : "",
          flow.reason.empty()
              ? ""
              : absl::StrCat("<br><span class=\"note\">", MarkupEscape(flow.reason), "</span>"),
          "</td><td>", MarkupEscape(Endpoints(p, flow.from)), " &rarr; ",
          MarkupEscape(Endpoints(p, flow.to)), "</td><td>",
          MarkupEscape(Services(p, flow.services)), "</td><td>", Day(*flow.expires), "</td><td>",
          flow.ticket.empty() ? "<span class=\"unknown\">none</span>" : MarkupEscape(flow.ticket),
          "</td><td>", Code(flow.location.FileLine()), "</td></tr>\n");
    }
    out += "</table>\n";
  }
  int expired = 0;
  for (const Flow& f : p.flows) expired += f.active ? 0 : 1;
  if (expired > 0) {
    absl::StrAppend(&out, "<p class=\"note\">", Plural(expired, "flow has", "flows have"),
                    " already expired and no longer take effect (see the findings below).</p>\n");
  }
  return out + "</section>\n";
}

std::string ProbeHtml(absl::string_view what, const DrillProbe& probe) {
  std::string out = absl::StrCat("<p><b>", what, ":</b> ", probe.probed, " of ",
                                 Plural(probe.cases, "case", "cases"), " probed, ", probe.disagree,
                                 " disagreed with the expected verdict");
  if (probe.skipped > 0) {
    std::vector<std::string> reasons;
    for (const auto& [reason, n] : probe.skips) reasons.push_back(absl::StrCat(n, " ", reason));
    absl::StrAppend(
        &out, "; <span class=\"unknown\"><b>", probe.skipped,
        " not probed</b> (nothing is known about them",
        reasons.empty() ? "" : absl::StrCat(": ", MarkupEscape(absl::StrJoin(reasons, "; "))),
        ")</span>");
  }
  out += ".</p>\n";
  if (!probe.disagreements.empty()) {
    out += "<ul>\n";
    for (size_t i = 0; i < probe.disagreements.size() && i < kMaxDisagreementsShown; ++i) {
      absl::StrAppend(&out, "<li class=\"path\">", MarkupEscape(probe.disagreements[i]), "</li>\n");
    }
    if (probe.disagreements.size() > kMaxDisagreementsShown) {
      absl::StrAppend(&out, "<li>and ", probe.disagreements.size() - kMaxDisagreementsShown,
                      " more in the drill file</li>\n");
    }
    out += "</ul>\n";
  }
  return out;
}

// "<b>Activation:</b> the posture was enforced on every host 412 ms after the
// order", with the hosts; a failed or timed-out order says so.
std::string TimingHtml(absl::string_view what, absl::string_view done,
                       const std::optional<DrillTimingResult>& timing) {
  if (!timing) {
    return absl::StrCat("<p class=\"unknown\"><b>", what,
                        ":</b> not done (the drill stopped before it).</p>\n");
  }
  auto ms = [&](const std::optional<int64_t>& v) {
    return v ? absl::StrCat(*v, " ms")
             : absl::StrCat("<span class=\"violated\">not within ", timing->timeout_ms,
                            " ms</span>");
  };
  std::string out;
  if (!timing->error.empty()) {
    absl::StrAppend(&out, "<p class=\"violated\"><b>", what, " failed:</b> ",
                    MarkupEscape(timing->error), "</p>\n");
  } else {
    absl::StrAppend(&out, "<p><b>", what, ":</b> ", done, " ", ms(timing->enforced_ms),
                    timing->enforced_ms ? " after the order" : "", ".</p>\n");
  }
  if (!timing->hosts.empty()) {
    out += "<table><tr><th>host</th><th class=\"num\">enforced after</th></tr>\n";
    for (const DrillHostTiming& h : timing->hosts) {
      absl::StrAppend(&out, "<tr><td>", MarkupEscape(h.host), "</td><td class=\"num\">",
                      ms(h.enforced_ms), "</td></tr>\n");
    }
    out += "</table>\n";
  }
  return out;
}

std::string DrillHtml(const HtmlReportInput& in) {
  const DrillResult& d = *in.drill;
  std::string out = absl::StrCat(
      "<div class=\"box ", d.agree ? "ok" : "bad", "\"><h4>Last drill",
      d.started.empty() ? "" : absl::StrCat(", started ", MarkupEscape(d.started)), ": ",
      d.agree ? "<span class=\"state holds\">&#10004; every probe agreed</span>"
              : "<span class=\"state violated\">&#10008; disagreements found</span>",
      "</h4>\n");
  if (!in.drill_file.empty()) {
    absl::StrAppend(&out, "<p class=\"note\">From ", Code(in.drill_file), ".</p>\n");
  }
  if (d.policy_revision != in.policy->revision) {
    absl::StrAppend(&out, "<p class=\"unknown\"><b>This drill ran against policy revision ",
                    Code(d.policy_revision.substr(0, 12)),
                    ", not the current one</b>: what it proved may not hold for this policy. "
                    "Drill again (<code>polder lab drill</code>).</p>\n");
  } else {
    out += "<p>It ran against this revision of the policy.</p>\n";
  }
  out += TimingHtml("Activation", "the posture was enforced on every host", d.activate);
  if (d.probe_posture) out += ProbeHtml("Probe in the posture", *d.probe_posture);
  out += TimingHtml("Release", "the normal rulesets were back on every host", d.release);
  if (d.probe_normal) out += ProbeHtml("Probe after the release", *d.probe_normal);
  if (!d.probe_posture || !d.probe_normal) {
    out += "<p class=\"unknown\">The drill file lacks a probe result; that part is unknown.</p>\n";
  }
  return out + "</div>\n";
}

std::string PostureSection(const HtmlReportInput& in) {
  const Policy& p = *in.policy;
  std::string out = "<section id=\"postures\"><h2>Postures</h2>\n";
  out +=
      "<p class=\"note\">Crisis plans decided in advance: while one is active, the isolated "
      "zones and hosts keep only the access their <code>allow</code> list names; a posture only "
      "removes access, so the invariants above hold in it too. Its <code>keep</code> list says "
      "what must still work.</p>\n";
  if (in.drill && p.FindPosture(in.drill->posture) == nullptr) {
    absl::StrAppend(&out, "<div class=\"box warn\">The drill file ", Code(in.drill_file),
                    " is for posture ", Code(in.drill->posture),
                    ", which this policy does not have; it is not shown.</div>\n");
  }
  if (p.postures.empty()) {
    return out + "<p>The policy has no postures: no crisis plan is written down.</p></section>\n";
  }
  for (const Posture& posture : p.postures) {
    absl::StrAppend(
        &out, "<h3 id=\"posture-", MarkupEscape(posture.name), "\">", MarkupEscape(posture.name),
        "</h3>\n<p class=\"note\">", MarkupEscape(posture.location.FileLine()),
        posture.owner.empty() ? "" : absl::StrCat(" &middot; owner ", MarkupEscape(posture.owner)),
        "</p>\n");
    if (!posture.reason.empty())
      absl::StrAppend(&out, "<p>", MarkupEscape(posture.reason), "</p>\n");
    absl::StrAppend(&out, "<p><b>Isolates:</b> ", MarkupEscape(Endpoints(p, posture.isolate)),
                    "</p>\n");
    std::vector<std::string> allows;
    for (const PostureAllow& a : posture.allow) {
      allows.push_back(absl::StrCat(
          "<b>", MarkupEscape(p.zones[a.zone].name), "</b> (",
          a.services.empty() ? "every service it had" : MarkupEscape(Services(p, a.services)),
          ")"));
    }
    absl::StrAppend(&out, "<p><b>Keeps access:</b> ",
                    allows.empty() ? "nobody" : absl::StrJoin(allows, ", "), "</p>\n");
    int removed = 0, narrowed = 0;
    std::vector<std::string> cut_edges;
    for (const PostureCut& c : in.posture_cuts) {
      if (c.posture != posture.name) continue;
      (c.removed ? removed : narrowed) += 1;
      cut_edges.push_back(absl::StrCat(MarkupEscape(p.zones[c.from].name), " &rarr; ",
                                       MarkupEscape(p.zones[c.to].name),
                                       c.removed ? "" : " (narrowed)"));
    }
    if (!cut_edges.empty()) {
      absl::StrAppend(&out, "<p><b>Edges of the zone graph it changes:</b> ",
                      Plural(removed, "cut", "cut"), ", ", Plural(narrowed, "narrowed", "narrowed"),
                      ": <span class=\"path\">", absl::StrJoin(cut_edges, "; "), "</span></p>\n");
    }
    if (posture.keep.empty()) {
      out +=
          "<p class=\"unknown\">Its <code>keep</code> list is empty: nothing is required to "
          "keep working.</p>\n";
    } else {
      int holding = 0;
      std::string rows;
      for (const Invariant& keep : posture.keep) {
        rows +=
            InvariantRow(p, *in.diagnostics, keep, posture.name, in.postures_verified, &holding);
      }
      absl::StrAppend(&out, "<p><b>Must keep working:</b> ",
                      in.postures_verified
                          ? absl::StrCat(holding, " of ", posture.keep.size(), " hold")
                          : "not verified",
                      "</p>\n", kInvariantHeader, rows, "</table>\n");
    }
    if (in.drill && in.drill->posture == posture.name) {
      out += DrillHtml(in);
    } else {
      out +=
          "<p class=\"note\">No drill report for this posture was given (<code>polder report "
          "--drill FILE.json</code>, written by <code>polder lab drill</code>).</p>\n";
    }
  }
  return out + "</section>\n";
}

std::string FindingsSection(const HtmlReportInput& in) {
  std::string rows;
  for (const Diagnostic& d : in.diagnostics->items()) {
    if (d.code == "invariant-violated") continue;  // shown with their invariants
    absl::StrAppend(&rows, "<tr><td>", Code(d.location.FileLineColumn()), "</td><td class=\"",
                    d.severity == Severity::kError ? "violated" : "unknown", "\">",
                    d.severity == Severity::kError ? "error" : "warning", "</td><td>",
                    MarkupEscape(d.message), " <span class=\"note\">[", MarkupEscape(d.code),
                    "]</span></td></tr>\n");
  }
  std::string out = "<section id=\"findings\"><h2>Other findings</h2>\n";
  if (rows.empty()) return out + "<p>polder check has nothing else to report.</p></section>\n";
  return absl::StrCat(out, "<table><tr><th>where</th><th>severity</th><th>finding</th></tr>\n",
                      rows, "</table>\n</section>\n");
}

// Whether some tag of `lower_svg` has an attribute named on...= (onload=).
bool HasEventHandler(const std::string& lower_svg) {
  bool in_tag = false;
  for (size_t i = 0; i < lower_svg.size(); ++i) {
    char c = lower_svg[i];
    if (c == '<') in_tag = true;
    if (c == '>') in_tag = false;
    if (!in_tag || !absl::ascii_isspace(static_cast<unsigned char>(c))) continue;
    if (lower_svg.compare(i + 1, 2, "on") != 0) continue;
    size_t end = lower_svg.find_first_not_of("abcdefghijklmnopqrstuvwxyz", i + 3);
    if (end != std::string::npos && end > i + 3 && lower_svg[end] == '=') return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> InlineSvg(absl::string_view svg) {
  size_t start = svg.find("<svg");
  size_t end = svg.rfind("</svg>");
  if (start == absl::string_view::npos || end == absl::string_view::npos || end < start) {
    return std::nullopt;
  }
  std::string element(svg.substr(start, end + 6 - start));
  std::string lower = absl::AsciiStrToLower(element);
  // Graphviz writes none of these; an SVG with them is not Graphviz's plain
  // picture, and inlined it could run code in the reader's browser.
  for (absl::string_view bad : {"<script", "<foreignobject", "javascript:"}) {
    if (absl::StrContains(lower, bad)) return std::nullopt;
  }
  if (HasEventHandler(lower)) return std::nullopt;
  return element;
}

std::vector<std::pair<std::string, std::vector<FlowId>>> ExpiringFlowsByOwner(
    const Policy& policy, absl::Duration within) {
  std::map<std::string, std::vector<FlowId>> by_owner;
  for (FlowId f = 0; f < static_cast<FlowId>(policy.flows.size()); ++f) {
    const Flow& flow = policy.flows[f];
    if (!flow.active || !flow.expires || *flow.expires <= policy.now ||
        *flow.expires > policy.now + within) {
      continue;
    }
    by_owner[flow.owner].push_back(f);
  }
  std::vector<std::pair<std::string, std::vector<FlowId>>> out;
  for (auto& [owner, flows] : by_owner) {
    std::stable_sort(flows.begin(), flows.end(), [&](FlowId a, FlowId b) {
      const Flow &fa = policy.flows[a], &fb = policy.flows[b];
      if (*fa.expires != *fb.expires) return *fa.expires < *fb.expires;
      return std::tie(fa.location.file, fa.location.line) <
             std::tie(fb.location.file, fb.location.line);
    });
    out.emplace_back(owner, std::move(flows));
  }
  // Flows nobody answers for come last: the owners are who a reader calls.
  std::stable_partition(out.begin(), out.end(), [](const auto& g) { return !g.first.empty(); });
  return out;
}

std::string RenderHtmlReport(const HtmlReportInput& in) {
  const Policy& p = *in.policy;
  Counts counts;
  // Sections first: they count what the summary cards show.
  std::string graph = GraphSection(in);
  std::string invariants = InvariantSection(in, counts);
  std::string exposure = ExposureSection(in, counts);
  std::string expiring = ExpiringSection(in, counts);
  std::string postures = PostureSection(in);
  std::string findings = FindingsSection(in);

  int total = static_cast<int>(p.invariants.size());
  bool all_hold = counts.invariants_holding == total;
  int external = 0, hosts = static_cast<int>(p.hosts.size()), active = 0;
  for (const Zone& z : p.zones) external += z.external ? 1 : 0;
  for (const Flow& f : p.flows) active += f.active ? 1 : 0;
  std::string drill_card = "no drill given";
  std::string drill_class = "warn";
  if (in.drill) {
    drill_card = absl::StrCat(MarkupEscape(in.drill->posture), ": ",
                              in.drill->agree ? "agreed" : "disagreed");
    drill_class = in.drill->agree && in.drill->policy_revision == p.revision ? "ok" : "bad";
  }
  std::string title = in.title.empty() ? "policy" : in.title;
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">\n"
      "<title>Segmentation report: ",
      MarkupEscape(title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<header>\n",
      "<h1>Segmentation report: ", MarkupEscape(title), "</h1>\n<p class=\"meta\">Policy revision ",
      Code(p.revision), " &middot; evaluated at ",
      MarkupEscape(absl::FormatTime(absl::RFC3339_sec, p.now, absl::UTCTimeZone())),
      in.generator.empty() ? "" : absl::StrCat(" &middot; ", MarkupEscape(in.generator)),
      "</p>\n<div class=\"cards\">\n<div class=\"card ", all_hold ? "ok" : "bad",
      "\"><div class=\"big\">", counts.invariants_holding, " / ", total,
      "</div>invariants hold</div>\n<div class=\"card\"><div class=\"big\">", counts.external_ports,
      "</div>ports open to ", Plural(external, "external zone", "external zones"),
      "</div>\n<div class=\"card", counts.expiring > 0 ? " warn" : "", "\"><div class=\"big\">",
      counts.expiring, "</div>flows expire within ", absl::ToInt64Hours(in.expiring_within) / 24,
      " days</div>\n<div class=\"card ", drill_class, "\"><div class=\"big\">", p.postures.size(),
      "</div>", p.postures.size() == 1 ? "posture" : "postures", " &middot; ", drill_card,
      "</div>\n", "</div>\n<p class=\"meta\">",
      Plural(static_cast<int64_t>(p.zones.size()), "zone", "zones"), ", ",
      Plural(hosts, "managed host", "managed hosts"), ", ",
      Plural(active, "active flow", "active flows"), ".</p>\n",
      "<nav><a href=\"#graph\">Zone graph</a><a href=\"#invariants\">Invariants</a>"
      "<a href=\"#exposure\">Exposure</a><a href=\"#expiring\">Expiring flows</a>"
      "<a href=\"#postures\">Postures</a><a href=\"#findings\">Other findings</a></nav>\n"
      "</header>\n",
      graph, invariants, exposure, expiring, postures, findings,
      "<footer>Made by <code>polder report</code> from the policy files alone; nothing on this "
      "page was fetched or runs code.</footer>\n</body>\n</html>\n");
  return out;
}

}  // namespace polder
