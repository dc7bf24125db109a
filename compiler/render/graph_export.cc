#include "compiler/render/graph_export.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

constexpr size_t kMaxLabel = 48;

// Invariants whose counterexample paths use each edge / zone.
struct Marks {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> edges;
  std::set<std::string> zones;
};

Marks MarkViolations(const DiagnosticList& violations) {
  Marks m;
  for (const Diagnostic& d : violations.items()) {
    if (d.code != "invariant-violated" || !d.posture.empty()) continue;
    for (size_t i = 0; i < d.path.size(); ++i) {
      m.zones.insert(d.path[i].zone);
      if (i > 0) m.edges[{d.path[i - 1].zone, d.path[i].zone}].insert(d.invariant);
    }
  }
  return m;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";  // dot's own line break
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Shorten(const std::string& s) {
  if (s.size() <= kMaxLabel) return s;
  size_t cut = s.rfind(", ", kMaxLabel);
  return s.substr(0, cut == std::string::npos ? kMaxLabel : cut) + ", ...";
}

// "cut in lockdown; narrowed in lockdown-registry-open" per edge.
std::map<std::pair<ZoneId, ZoneId>, std::string> CutLabels(const std::vector<PostureCut>& cuts) {
  std::map<std::pair<ZoneId, ZoneId>, std::vector<std::string>> removed, narrowed;
  for (const PostureCut& c : cuts) {
    (c.removed ? removed : narrowed)[{c.from, c.to}].push_back(c.posture);
  }
  std::map<std::pair<ZoneId, ZoneId>, std::string> out;
  for (auto& [arc, names] : removed) out[arc] = "cut in " + absl::StrJoin(names, ", ");
  for (auto& [arc, names] : narrowed) {
    std::string& label = out[arc];
    absl::StrAppend(&label, label.empty() ? "" : "; ", "narrowed in ", absl::StrJoin(names, ", "));
  }
  return out;
}

}  // namespace

std::vector<PostureCut> PostureCuts(const std::string& posture, const ZoneGraph& graph,
                                    const ZoneGraph& posture_graph) {
  std::vector<PostureCut> out;
  for (const ZoneGraph::Arc& arc : graph.arcs()) {
    const ZoneEdge* kept = posture_graph.Edge(arc.from, arc.to);
    if (kept != nullptr && kept->services == graph.edge(arc).services) continue;
    out.push_back({posture, arc.from, arc.to, kept == nullptr});
  }
  return out;
}

std::string EdgeLabel(const Policy& policy, const ZoneEdge& edge) {
  std::set<ServiceId> ids;
  for (FlowId f : edge.flows) {
    for (ServiceId s : policy.flows[f].services) ids.insert(s);
  }
  ServiceSpace by_flows;
  for (ServiceId s : ids) by_flows.Add(ServiceSpace::Of(policy.services[s]));
  ServiceSpace controller;
  if (edge.anti_lockout) {
    uint16_t port = policy.settings.controller->port;
    controller = ServiceSpace::Of(ServicePort{Protocol::kTcp, port, port});
  }
  ServiceSpace named = by_flows;
  named.Add(controller);
  std::string label;
  if (!edge.flows.empty() && (edge.services == by_flows || edge.services == named)) {
    // No deny narrows the edge: the service names say it best.
    std::vector<std::string> names;
    for (ServiceId s : ids) names.push_back(policy.services[s].name);
    label = absl::StrJoin(names, ", ");
  } else if (!edge.flows.empty()) {
    label = edge.services.ToString();
  }
  if (edge.anti_lockout) {
    absl::StrAppend(&label, label.empty() ? "" : " + ", "controller tcp/",
                    policy.settings.controller->port);
  }
  return label;
}

std::string ToDot(const Policy& policy, const ZoneGraph& graph, const DiagnosticList& violations,
                  const std::vector<PostureCut>& cuts) {
  Marks marks = MarkViolations(violations);
  std::map<std::pair<ZoneId, ZoneId>, std::string> cut_labels = CutLabels(cuts);
  std::string out = absl::StrCat(
      "digraph polder {\n"
      "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, nodesep=0.25, ranksep=0.9,\n"
      "         label=",
      Quote(absl::StrCat(
          "polder zone graph",
          policy.revision.empty() ? "" : absl::StrCat(" ", policy.revision.substr(0, 12)),
          marks.zones.empty() ? "" : "  (red: paths that violate invariants)",
          cut_labels.empty() ? "" : "  (dashed orange: cut by a posture)")),
      ", labelloc=t];\n"
      "  node [shape=ellipse, style=filled, fillcolor=\"#e8f0fb\", fontname=\"Helvetica\", "
      "fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#666666\", arrowsize=0.6];\n");
  // Edges that only the anti-lockout makes run from nearly every zone to
  // the controller's; drawn one by one they bury the graph, so they are
  // summarised on the controller's zone unless a violation uses them.
  std::map<ZoneId, int> lockout_only;
  for (const ZoneGraph::Arc& arc : graph.arcs()) {
    const ZoneEdge& edge = graph.edge(arc);
    const std::string& from = policy.zones[arc.from].name;
    const std::string& to = policy.zones[arc.to].name;
    if (edge.flows.empty() && !marks.edges.count({from, to})) {
      ++lockout_only[arc.to];
    }
  }
  for (ZoneId id = 0; id < static_cast<ZoneId>(policy.zones.size()); ++id) {
    const Zone& z = policy.zones[id];
    std::vector<std::string> attrs;
    std::string label = z.name;
    if (z.external) {
      attrs = {"shape=box", "style=\"filled,dashed\"", "fillcolor=\"#f0f0f0\""};
      label += "\n(external)";
    }
    if (auto it = lockout_only.find(id); it != lockout_only.end()) {
      absl::StrAppend(&label, "\n(controller: tcp/", policy.settings.controller->port, " from ",
                      it->second, it->second == 1 ? " zone" : " zones", ")");
      attrs.push_back("color=\"#3366cc\"");
    }
    if (label != z.name) attrs.push_back(absl::StrCat("label=", Quote(label)));
    if (marks.zones.count(z.name)) attrs.push_back("color=red, penwidth=2");
    absl::StrAppend(&out, "  ", Quote(z.name),
                    attrs.empty() ? "" : absl::StrCat(" [", absl::StrJoin(attrs, ", "), "]"),
                    ";\n");
  }
  for (const ZoneGraph::Arc& arc : graph.arcs()) {
    const ZoneEdge& edge = graph.edge(arc);
    const std::string& from = policy.zones[arc.from].name;
    const std::string& to = policy.zones[arc.to].name;
    std::string label = Shorten(EdgeLabel(policy, edge));
    std::vector<std::string> attrs;
    auto it = marks.edges.find({from, to});
    auto cut = cut_labels.find({arc.from, arc.to});
    if (edge.flows.empty() && it == marks.edges.end()) continue;  // summarised above
    if (cut != cut_labels.end()) absl::StrAppend(&label, "\n", cut->second);
    if (it != marks.edges.end()) {
      absl::StrAppend(&label, "\nviolates ", absl::StrJoin(it->second, ", "));
      attrs = {"color=red", "fontcolor=red", "penwidth=2"};
      if (cut != cut_labels.end()) attrs.push_back("style=dashed");
    } else if (cut != cut_labels.end()) {
      attrs = {"style=dashed", "color=\"#e07000\"", "fontcolor=\"#b05000\"", "penwidth=1.5"};
    } else if (edge.flows.empty()) {
      attrs = {"style=dashed", "color=\"#3366cc\"", "fontcolor=\"#3366cc\""};
    }
    attrs.insert(attrs.begin(), absl::StrCat("label=", Quote(label)));
    absl::StrAppend(&out, "  ", Quote(from), " -> ", Quote(to), " [", absl::StrJoin(attrs, ", "),
                    "];\n");
  }
  return out + "}\n";
}

std::string ToGraphJson(const Policy& policy, const ZoneGraph& graph,
                        const DiagnosticList& violations) {
  Marks marks = MarkViolations(violations);
  nlohmann::json zones = nlohmann::json::array(), edges = nlohmann::json::array();
  for (const Zone& z : policy.zones) {
    zones.push_back({{"name", z.name},
                     {"external", z.external},
                     {"hosts", z.hosts.size()},
                     {"addresses", z.effective.ToString()},
                     {"on_violation_path", marks.zones.count(z.name) > 0}});
  }
  for (const ZoneGraph::Arc& arc : graph.arcs()) {
    const ZoneEdge& edge = graph.edge(arc);
    const std::string& from = policy.zones[arc.from].name;
    const std::string& to = policy.zones[arc.to].name;
    nlohmann::json services = nlohmann::json::array(), flows = nlohmann::json::array(),
                   narrowing = nlohmann::json::array();
    for (const ServicePort& p : edge.services.Items()) services.push_back(ServicePortLabel(p));
    for (FlowId f : edge.flows) {
      flows.push_back(
          {{"name", policy.flows[f].name}, {"location", policy.flows[f].location.FileLine()}});
    }
    for (FlowId f : edge.narrowing) {
      narrowing.push_back(
          {{"name", policy.flows[f].name}, {"location", policy.flows[f].location.FileLine()}});
    }
    auto it = marks.edges.find({from, to});
    nlohmann::json violates = nlohmann::json::array();
    if (it != marks.edges.end()) {
      for (const auto& name : it->second) violates.push_back(name);
    }
    edges.push_back({{"from", from},
                     {"to", to},
                     {"label", EdgeLabel(policy, edge)},
                     {"services", services},
                     {"flows", flows},
                     {"narrowed_by", narrowing},
                     {"anti_lockout", edge.anti_lockout},
                     {"violates", violates}});
  }
  nlohmann::json out = {{"revision", policy.revision}, {"zones", zones}, {"edges", edges}};
  return out.dump(2) + "\n";
}

}  // namespace polder
