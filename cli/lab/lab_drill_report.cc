#include "cli/lab/lab_drill_report.h"

#include "absl/strings/str_cat.h"
#include "compiler/render/markup_escape.h"
#include "nlohmann/json.hpp"
#include "wire/rfc3339.h"

namespace polder::cli {
namespace {

using Json = nlohmann::ordered_json;

Json OptionalMs(const std::optional<int64_t>& ms) { return ms ? Json(*ms) : Json(nullptr); }

Json TimingJson(const DrillTiming& t, bool with_hosts) {
  Json j;
  j["enforced_ms"] = OptionalMs(t.enforced_ms);
  j["timeout_ms"] = t.timeout_ms;
  j["resolution_ms"] = t.resolution_ms;
  if (with_hosts) {
    j["hosts"] = Json::array();
    for (const DrillTiming::Host& h : t.hosts) {
      j["hosts"].push_back({{"host", h.host}, {"enforced_ms", OptionalMs(h.enforced_ms)}});
    }
  }
  if (!t.error.empty()) j["error"] = t.error;
  return j;
}

Json ProbeJson(const DrillProbe& p) {
  if (!p.ran) return nullptr;
  Json j;
  j["cases"] = p.cases;
  j["probed"] = p.probed;
  j["skipped"] = p.skipped;
  j["disagree"] = p.disagreements.size();
  j["disagreements"] = Json::array();
  for (const DrillDisagreement& d : p.disagreements) {
    j["disagreements"].push_back({{"from", d.from},
                                  {"to", d.to},
                                  {"protocol", d.protocol},
                                  {"port", d.port},
                                  {"expected", d.expected},
                                  {"observed", d.observed}});
  }
  j["skips"] = Json::array();
  for (const auto& [reason, n] : p.skips) j["skips"].push_back({{"reason", reason}, {"cases", n}});
  return j;
}

std::string Ms(const std::optional<int64_t>& ms, int64_t timeout_ms) {
  return ms ? absl::StrCat(*ms, " ms") : absl::StrCat("NOT within ", timeout_ms, " ms");
}

std::string TimingLine(const char* what, const DrillTiming& t) {
  if (!t.ran) return absl::StrCat(what, ": not done (the drill stopped before)\n");
  if (!t.error.empty()) return absl::StrCat(what, ": FAILED: ", t.error, "\n");
  std::string out = absl::StrCat(what, ": enforced on every host in ", Ms(t.enforced_ms, t.timeout_ms),
                                 " (seen in the controller's status, looked at every <= ",
                                 t.resolution_ms, " ms: each time is at most that late)\n");
  for (const DrillTiming::Host& h : t.hosts) {
    absl::StrAppend(&out, "    ", h.host, ": ", Ms(h.enforced_ms, t.timeout_ms), "\n");
  }
  return out;
}

std::string ProbeLine(const char* what, const DrillProbe& p) {
  if (!p.ran) return absl::StrCat(what, ": not probed (the drill stopped before)\n");
  std::string out = absl::StrCat(what, ": ", p.cases, " cases, ", p.probed, " probed, ", p.skipped,
                                 " skipped, ", p.disagreements.size(), " disagree\n");
  for (const auto& [reason, n] : p.skips) {
    absl::StrAppend(&out, "    skipped ", n, ": ", reason, "\n");
  }
  for (const DrillDisagreement& d : p.disagreements) {
    absl::StrAppend(&out, "    DISAGREE ", d.from, " -> ", d.to, " ", d.protocol, "/", d.port,
                    ": expected ", d.expected, ", observed ", d.observed, "\n");
  }
  return out;
}

std::string Verdict(bool ok) {
  return ok ? "<span class=ok>agrees</span>" : "<span class=bad>DISAGREES</span>";
}

std::string TimingHtml(const char* what, const DrillTiming& t) {
  std::string out = absl::StrCat("<h2>", what, "</h2>\n");
  if (!t.ran) return out + "<p class=bad>Not done: the drill stopped before.</p>\n";
  if (!t.error.empty()) return out + "<p class=bad>Failed: " + MarkupEscape(t.error) + "</p>\n";
  absl::StrAppend(&out, "<p>Enforced on every host in <b>",
                  MarkupEscape(Ms(t.enforced_ms, t.timeout_ms)), "</b>.</p>\n");
  if (t.hosts.empty()) return out;
  absl::StrAppend(&out, "<table><tr><th>host</th><th>enforced after</th></tr>\n");
  for (const DrillTiming::Host& h : t.hosts) {
    absl::StrAppend(&out, "<tr><td>", MarkupEscape(h.host), "</td><td",
                    h.enforced_ms ? ">" : " class=bad>",
                    MarkupEscape(Ms(h.enforced_ms, t.timeout_ms)), "</td></tr>\n");
  }
  return out + "</table>\n";
}

std::string ProbeHtml(const char* what, const DrillProbe& p) {
  std::string out = absl::StrCat("<h2>", what, "</h2>\n");
  if (!p.ran) return out + "<p class=bad>Not probed: the drill stopped before.</p>\n";
  absl::StrAppend(&out, "<p>", Verdict(p.agrees()), ": ", p.cases,
                  " cases (source, destination, port class), ", p.probed, " probed, ", p.skipped,
                  " skipped, ", p.disagreements.size(), " disagree.</p>\n");
  if (!p.skips.empty()) {
    absl::StrAppend(&out, "<table><tr><th>skipped cases</th><th>why</th></tr>\n");
    for (const auto& [reason, n] : p.skips) {
      absl::StrAppend(&out, "<tr><td>", n, "</td><td>", MarkupEscape(reason), "</td></tr>\n");
    }
    absl::StrAppend(&out, "</table>\n");
  }
  if (p.disagreements.empty()) return out;
  absl::StrAppend(&out,
                  "<table><tr><th>from</th><th>to</th><th>protocol</th><th>port</th>"
                  "<th>expected</th><th>observed</th></tr>\n");
  for (const DrillDisagreement& d : p.disagreements) {
    absl::StrAppend(&out, "<tr class=bad><td>", MarkupEscape(d.from), "</td><td>",
                    MarkupEscape(d.to), "</td><td>", MarkupEscape(d.protocol), "</td><td>", d.port,
                    "</td><td>", MarkupEscape(d.expected), "</td><td>", MarkupEscape(d.observed),
                    "</td></tr>\n");
  }
  return out + "</table>\n";
}

}  // namespace

std::string DrillReportJson(const DrillReport& r) {
  Json j;
  j["policy_revision"] = r.policy_revision;
  j["posture"] = r.posture;
  j["posture_revision"] = r.posture_revision;
  j["started"] = FormatRfc3339(r.started);
  j["lab"] = r.lab;
  j["activate"] = r.activate.ran ? TimingJson(r.activate, true) : Json(nullptr);
  j["probe_posture"] = ProbeJson(r.probe_posture);
  j["release"] = r.release.ran ? TimingJson(r.release, true) : Json(nullptr);
  j["probe_normal"] = ProbeJson(r.probe_normal);
  j["agree"] = r.agree();
  return j.dump(2) + "\n";
}

std::string DrillReportText(const DrillReport& r) {
  std::string out = absl::StrCat("drill of posture ", r.posture, " in lab ", r.lab, ", started ",
                                 FormatRfc3339(r.started), "\n");
  absl::StrAppend(&out, "  policy revision  ", r.policy_revision, "\n", "  posture revision ",
                  r.posture_revision, "\n");
  absl::StrAppend(&out, TimingLine("activate", r.activate));
  absl::StrAppend(&out, ProbeLine("probe during the posture", r.probe_posture));
  absl::StrAppend(&out, TimingLine("release", r.release));
  absl::StrAppend(&out, ProbeLine("probe after the release", r.probe_normal));
  absl::StrAppend(&out, r.agree()
                            ? "drill PASSED: every probe agrees and every host enforced in time\n"
                            : "drill FAILED\n");
  return out;
}

std::string DrillReportHtml(const DrillReport& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
      "<title>polder drill: " +
      MarkupEscape(r.posture) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}\n"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .6em;"
      "text-align:left}\n"
      ".ok{color:#176b1d;font-weight:bold}.bad{color:#b00020;font-weight:bold}\n"
      "code{font-size:.9em}\n</style></head><body>\n";
  absl::StrAppend(&out, "<h1>Drill of posture <code>", MarkupEscape(r.posture), "</code>: ",
                  r.agree() ? "<span class=ok>passed</span>" : "<span class=bad>FAILED</span>",
                  "</h1>\n");
  absl::StrAppend(&out, "<p>Lab <code>", MarkupEscape(r.lab), "</code>, started ",
                  MarkupEscape(FormatRfc3339(r.started)), ".<br>Policy revision <code>",
                  MarkupEscape(r.policy_revision), "</code><br>Posture revision <code>",
                  MarkupEscape(r.posture_revision), "</code></p>\n");
  absl::StrAppend(&out, TimingHtml("Activate", r.activate));
  absl::StrAppend(&out, ProbeHtml("Probe during the posture", r.probe_posture));
  absl::StrAppend(&out, TimingHtml("Release", r.release));
  absl::StrAppend(&out, ProbeHtml("Probe after the release", r.probe_normal));
  return out + "</body></html>\n";
}

}  // namespace polder::cli
