#include "compiler/render/diagnostic_format.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/verify/zone_graph.h"
#include "nlohmann/json.hpp"

namespace polder {
namespace {

const char* SeverityName(Severity s) { return s == Severity::kError ? "error" : "warning"; }

// Quotes source lines by index: diagnostics can number in the thousands, so
// each file's line starts are found once, not per diagnostic.
class SourceIndex {
 public:
  explicit SourceIndex(const std::vector<SourceFile>& sources) {
    for (const SourceFile& f : sources) {
      std::vector<size_t>& starts = files_[f.path].starts;
      files_[f.path].content = &f.content;
      starts.push_back(0);
      for (size_t i = 0; i < f.content.size(); ++i) {
        if (f.content[i] == '\n') starts.push_back(i + 1);
      }
    }
  }

  // The 1-based line of `file`, without its newline; "" if unknown.
  std::string Line(const std::string& file, int line) const {
    auto it = files_.find(file);
    if (it == files_.end() || line < 1 || static_cast<size_t>(line) > it->second.starts.size()) {
      return "";
    }
    const std::string& content = *it->second.content;
    size_t start = it->second.starts[line - 1];
    size_t end = content.find('\n', start);
    std::string text = content.substr(start, end == std::string::npos ? end : end - start);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return text;
  }

 private:
  struct File {
    const std::string* content = nullptr;
    std::vector<size_t> starts;
  };
  std::unordered_map<std::string, File> files_;
};

void AppendQuote(std::string& out, const Diagnostic& d, const SourceIndex& sources) {
  std::string line = sources.Line(d.location.file, d.location.line);
  if (line.empty()) return;
  // Columns count bytes; the caret counts characters (a UTF-8 continuation byte adds none).
  std::string caret;
  for (int i = 1; i < d.location.column && i <= static_cast<int>(line.size()); ++i) {
    unsigned char c = line[i - 1];
    if ((c & 0xc0) != 0x80) caret += c == '\t' ? '\t' : ' ';
  }
  // The line goes to a terminal: no control character of the file reaches it.
  for (char& c : line) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
  }
  absl::StrAppend(&out, line, "\n", caret, "^\n");
}

// `what`, when given, says what the path violates ("office reaches backup").
void AppendPath(std::string& out, const Diagnostic& d, const std::string& what) {
  if (d.path.empty()) return;
  std::vector<std::string> zones;
  for (const PathStep& s : d.path) zones.push_back(s.zone);
  absl::StrAppend(&out, "  path: ", absl::StrJoin(zones, " -> "),
                  what.empty() ? "" : absl::StrCat(" (", what, ")"), "\n");
  for (size_t i = 1; i < d.path.size(); ++i) {
    absl::StrAppend(&out, "    ", d.path[i - 1].zone, " -> ", d.path[i].zone, ": ",
                    absl::StrJoin(d.path[i].flows, ", "), "\n");
  }
}

// The path kinds of invariant (no_path, isolate, via) report one diagnostic
// per offending source zone, each with its shortest path; JSON keeps them
// apart (spec §9), but a reader wants one diagnostic per violated invariant.
// Diagnostics of one invariant (and posture) at one place form a group.
class InvariantGroups {
 public:
  explicit InvariantGroups(const DiagnosticList& diagnostics) {
    for (const Diagnostic& d : diagnostics.items()) {
      if (IsPathViolation(d)) groups_[KeyOf(d)].push_back(&d);
    }
  }

  // The group `d` belongs to, or nullptr when it is no path violation.
  const std::vector<const Diagnostic*>* Find(const Diagnostic& d) const {
    if (!IsPathViolation(d)) return nullptr;
    auto it = groups_.find(KeyOf(d));
    return it == groups_.end() ? nullptr : &it->second;
  }
  size_t size() const { return groups_.size(); }

  static bool IsPathViolation(const Diagnostic& d) {
    return d.code == "invariant-violated" && !d.path.empty();
  }

 private:
  using Key = std::tuple<std::string, std::string, std::string, int, int>;
  static Key KeyOf(const Diagnostic& d) {
    return {d.invariant, d.posture, d.location.file, d.location.line, d.location.column};
  }
  std::map<Key, std::vector<const Diagnostic*>> groups_;
};

constexpr char kShortestPath[] = "; shortest path: ";

// "office reaches backup, which only mgmt may reach" out of an invariant's
// path message "invariant `X` is violated: WHAT; shortest path: ...", or ""
// when the message is not of that shape.
std::string Violation(const std::string& message) {
  size_t violated = message.find(" is violated");
  size_t path = message.find(kShortestPath);
  if (violated == std::string::npos || path == std::string::npos) return "";
  size_t start = message.find(": ", violated);
  if (start == std::string::npos || start > path) return "";
  return message.substr(start + 2, path - start - 2);
}

// "invariant `X` is violated" as the message words it (a posture's keep
// entry may say more), else built from the invariant's name.
std::string ViolatedHead(const Diagnostic& d) {
  size_t violated = d.message.find(" is violated");
  if (violated != std::string::npos) {
    size_t end = d.message.find(':', violated);
    return d.message.substr(0, end == std::string::npos ? violated : end);
  }
  return absl::StrCat("invariant `", d.invariant, "` is violated");
}

// One message for every path of one violated invariant: its sources, and
// whether some path uses the controller's anti-lockout (spec §7), which no
// flow makes.
std::string GroupMessage(const std::vector<const Diagnostic*>& group) {
  std::vector<std::string> sources;
  std::vector<std::string> lockout;
  for (const Diagnostic* d : group) {
    sources.push_back(d->path.front().zone);
    for (size_t i = 1; i < d->path.size(); ++i) {
      for (const std::string& cite : d->path[i].flows) {
        if (cite.find(kAntiLockoutCitation) == std::string::npos) continue;
        std::string edge = absl::StrCat(d->path[i - 1].zone, " -> ", d->path[i].zone, " (",
                                        cite.substr(0, cite.find(' ')), ")");
        if (std::find(lockout.begin(), lockout.end(), edge) == lockout.end())
          lockout.push_back(edge);
      }
    }
  }
  std::string message =
      absl::StrCat(ViolatedHead(*group.front()), " by ", group.size(),
                   " paths, one shortest path per offending source zone (", group.size(),
                   " sources: ", absl::StrJoin(sources, ", "),
                   "). Below, each path lists per edge the flows (file:line) that make it; "
                   "changing one flow on every path restores the invariant.");
  if (!lockout.empty()) {
    absl::StrAppend(&message, " Some paths use the anti-lockout of settings.controller, which no ",
                    "flow or deny removes: ", absl::StrJoin(lockout, ", "),
                    "; give the controller's addresses a zone of their own.");
  }
  return message;
}

}  // namespace

std::string FormatText(const DiagnosticList& diagnostics, const std::vector<SourceFile>& sources) {
  std::string out;
  SourceIndex index(sources);
  InvariantGroups groups(diagnostics);
  for (const Diagnostic& d : diagnostics.items()) {
    const std::vector<const Diagnostic*>* group = groups.Find(d);
    if (group && group->size() > 1) {
      // One diagnostic per violated invariant, at its first path's place.
      if (group->front() != &d) continue;
      absl::StrAppend(&out, d.location.FileLineColumn(), ": ", SeverityName(d.severity), ": ",
                      GroupMessage(*group), " [", d.code, "]\n");
      AppendQuote(out, d, index);
      for (const Diagnostic* member : *group) AppendPath(out, *member, Violation(member->message));
      continue;
    }
    absl::StrAppend(&out, d.location.FileLineColumn(), ": ", SeverityName(d.severity), ": ",
                    d.message, " [", d.code, "]\n");
    AppendQuote(out, d, index);
    AppendPath(out, d, "");
  }
  return out;
}

std::string FormatJson(const DiagnosticList& diagnostics, const std::string& revision) {
  nlohmann::json list = nlohmann::json::array();
  for (const Diagnostic& d : diagnostics.items()) {
    nlohmann::json j = {{"severity", SeverityName(d.severity)},
                        {"code", d.code},
                        {"file", d.location.file},
                        {"line", d.location.line},
                        {"column", d.location.column},
                        {"message", d.message}};
    if (!d.invariant.empty()) j["invariant"] = d.invariant;
    if (!d.posture.empty()) j["posture"] = d.posture;
    if (!d.path.empty()) {
      nlohmann::json zones = nlohmann::json::array(), flows = nlohmann::json::array();
      for (const PathStep& s : d.path) {
        zones.push_back(s.zone);
        flows.push_back(s.flows);
      }
      j["path"] = zones;
      j["path_flows"] = flows;  // path_flows[i]: flows making the edge into path[i]
    }
    list.push_back(std::move(j));
  }
  nlohmann::json doc = {{"revision", revision}, {"diagnostics", list}};
  return doc.dump(2) + "\n";
}

std::string Summary(const DiagnosticList& diagnostics) {
  size_t errors = diagnostics.error_count();
  size_t warnings = diagnostics.items().size() - errors;
  if (errors == 0 && warnings == 0) return "no problems";
  // As FormatText shows them: one error per violated invariant, however many
  // paths violate it.
  InvariantGroups groups(diagnostics);
  size_t paths = 0;
  for (const Diagnostic& d : diagnostics.items()) paths += InvariantGroups::IsPathViolation(d);
  errors = errors - paths + groups.size();
  std::string detail;
  if (groups.size() > 0) {
    detail = absl::StrCat(" (", groups.size(), groups.size() == 1 ? " invariant" : " invariants",
                          " violated by ", paths, paths == 1 ? " path" : " paths", ")");
  }
  return absl::StrCat(errors, errors == 1 ? " error" : " errors", detail, ", ", warnings,
                      warnings == 1 ? " warning" : " warnings");
}

}  // namespace polder
