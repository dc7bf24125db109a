#include "compiler/render/sarif.h"

#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "compiler/model/diagnostic_codes.h"

namespace polder {
namespace {

using nlohmann::json;

std::string Uri(const SarifOptions& options, const std::string& file) {
  if (options.uri_prefix.empty()) return file.empty() ? "." : file;
  std::string prefix = options.uri_prefix;
  if (prefix.back() != '/') prefix += '/';
  return prefix + file;
}

json Location(const SarifOptions& options, const std::string& file, int line, int column) {
  json physical = {{"artifactLocation", {{"uri", Uri(options, file)}}}};
  if (line > 0) {
    physical["region"] = {{"startLine", line}, {"startColumn", std::max(column, 1)}};
  }
  return {{"physicalLocation", physical}};
}

// "flows.yaml:12" or "settings.yaml:2 (settings.controller anti-lockout)".
json CitedLocation(const SarifOptions& options, const std::string& citation, int id,
                   const std::string& zone) {
  std::string head = citation.substr(0, citation.find(' '));
  size_t colon = head.rfind(':');
  int line = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(head.substr(colon + 1), &line)) {
    colon = head.size();
  }
  json loc = Location(options, head.substr(0, colon), line, 1);
  loc["id"] = id;
  loc["message"] = {{"text", absl::StrCat("makes the edge into ", zone)}};
  return loc;
}


std::string RuleSummary(const std::string& code) {
  const DiagnosticCode* c = FindDiagnosticCode(code);
  return c ? c->summary : absl::StrCat("polder ", code);
}

}  // namespace

std::string ToSarif(const DiagnosticList& diagnostics, const SarifOptions& options) {
  json rules = json::array(), results = json::array();
  std::map<std::string, int> rule_index;
  for (const Diagnostic& d : diagnostics.items()) {
    const char* level = d.severity == Severity::kError ? "error" : "warning";
    auto [it, fresh] = rule_index.emplace(d.code, static_cast<int>(rule_index.size()));
    if (fresh) {
      rules.push_back({{"id", d.code},
                       {"name", d.code},
                       {"shortDescription", {{"text", RuleSummary(d.code)}}},
                       {"defaultConfiguration", {{"level", level}}},
                       {"helpUri", absl::StrCat(options.help_base_uri, "#", d.code)}});
      if (const DiagnosticCode* c = FindDiagnosticCode(d.code)) {
        rules.back()["help"] = {{"text", c->fix}};
      }
    }
    json result = {
        {"ruleId", d.code},
        {"ruleIndex", it->second},
        {"level", level},
        {"message", {{"text", d.message}}},
        {"locations",
         json::array({Location(options, d.location.file, d.location.line, d.location.column)})}};
    json related = json::array();
    for (const PathStep& step : d.path) {
      for (const std::string& flow : step.flows) {
        related.push_back(
            CitedLocation(options, flow, static_cast<int>(related.size()), step.zone));
      }
    }
    if (!related.empty()) result["relatedLocations"] = related;
    if (!d.invariant.empty()) result["properties"] = {{"invariant", d.invariant}};
    if (!d.posture.empty()) result["properties"]["posture"] = d.posture;
    results.push_back(std::move(result));
  }
  json run = {{"tool",
               {{"driver",
                 {{"name", "polder"},
                  {"version", options.tool_version},
                  {"informationUri", "https://github.com/polder/polder"},
                  {"rules", rules}}}}},
              {"results", results}};
  if (!options.revision.empty()) run["properties"] = {{"revision", options.revision}};
  json sarif = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                {"version", "2.1.0"},
                {"runs", json::array({run})}};
  return sarif.dump(2) + "\n";
}

}  // namespace polder
