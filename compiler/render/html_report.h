// The policy report for people who do not read YAML (a CISO, an auditor):
// one self-contained HTML page (inline CSS and SVG, no scripts, nothing
// fetched) with the zone graph, the invariants and their state, the exposure
// of every external zone, the flows that expire soon grouped by owner, and the
// postures with their last drill (spec §9 `polder report`).
//
// The builder only formats what it is given: the check pipeline's
// diagnostics, the zone graph and its picture (the CLI runs Graphviz; the
// compiler runs no programs). Every string that comes from the policy, the
// drill file or the picture's caption is HTML-escaped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/render/drill_result.h"
#include "compiler/render/graph_export.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

struct HtmlReportInput {
  const Policy* policy = nullptr;
  // Everything the check pipeline (VerifyLoaded) found: invariant violations,
  // posture `keep` violations (Diagnostic::posture set) and lint findings.
  const DiagnosticList* diagnostics = nullptr;
  const ZoneGraph* graph = nullptr;
  std::string title;  // e.g. the policy directory's name
  // Graphviz's SVG of the zone graph; when empty, `graph_note` says why
  // (shown in its place, never silently left out).
  std::string graph_svg;
  std::string graph_note;
  // Edges the postures cut, per posture (the posture section counts them).
  std::vector<PostureCut> posture_cuts;
  // False while the check pipeline does not verify postures' `keep` lists:
  // the page then says they were not verified instead of showing them as
  // holding.
  bool postures_verified = true;
  std::optional<DrillResult> drill;
  std::string drill_file;  // where the drill came from, for the page
  absl::Duration expiring_within = absl::Hours(24 * 90);
  std::string generator;  // "polder 0.1.0"
};

// The page. Requires policy, diagnostics and graph.
std::string RenderHtmlReport(const HtmlReportInput& input);

// The <svg> element of Graphviz's output without its XML prolog and DOCTYPE,
// ready to inline; nullopt when it has no <svg> element or carries a script,
// foreign object or event handler (it is never inlined then).
std::optional<std::string> InlineSvg(absl::string_view svg);

// Active allow flows whose `expires` lies within `within` after the policy's
// now, grouped by owner ("" for none), owners in name order and flows by
// expiry then location.
std::vector<std::pair<std::string, std::vector<FlowId>>> ExpiringFlowsByOwner(
    const Policy& policy, absl::Duration within);

}  // namespace polder
