#include "compiler/render/diagnostic_format.h"

#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

void AppendPath(std::string& out, const Diagnostic& d) {
  if (d.path.empty()) return;
  std::vector<std::string> zones;
  for (const PathStep& s : d.path) zones.push_back(s.zone);
  absl::StrAppend(&out, "  path: ", absl::StrJoin(zones, " -> "), "\n");
  for (size_t i = 1; i < d.path.size(); ++i) {
    absl::StrAppend(&out, "    ", d.path[i - 1].zone, " -> ", d.path[i].zone, ": ",
                    absl::StrJoin(d.path[i].flows, ", "), "\n");
  }
}

}  // namespace

std::string FormatText(const DiagnosticList& diagnostics, const std::vector<SourceFile>& sources) {
  std::string out;
  SourceIndex index(sources);
  for (const Diagnostic& d : diagnostics.items()) {
    absl::StrAppend(&out, d.location.FileLineColumn(), ": ", SeverityName(d.severity), ": ",
                    d.message, " [", d.code, "]\n");
    AppendQuote(out, d, index);
    AppendPath(out, d);
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
  return absl::StrCat(errors, errors == 1 ? " error" : " errors", ", ", warnings,
                      warnings == 1 ? " warning" : " warnings");
}

}  // namespace polder
