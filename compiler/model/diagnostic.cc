#include "compiler/model/diagnostic.h"

#include <algorithm>
#include <tuple>

namespace polder {

void DiagnosticList::Error(const SourceLocation& loc, std::string code, std::string message) {
  Add(Diagnostic{Severity::kError, std::move(code), std::move(message), loc, {}, {}});
}

void DiagnosticList::Warning(const SourceLocation& loc, std::string code, std::string message) {
  Add(Diagnostic{Severity::kWarning, std::move(code), std::move(message), loc, {}, {}});
}

void DiagnosticList::Add(Diagnostic d) {
  if (d.severity == Severity::kError) {
    if (Full()) return;
    ++error_count_;
  }
  items_.push_back(std::move(d));
}

void DiagnosticList::Append(const DiagnosticList& other) {
  for (const Diagnostic& d : other.items_) Add(d);
}

void DiagnosticList::Sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.location.file, a.location.line, a.location.column) <
           std::tie(b.location.file, b.location.line, b.location.column);
  });
}

}  // namespace polder
