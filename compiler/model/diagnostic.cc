#include "compiler/model/diagnostic.h"

#include <algorithm>
#include <tuple>

namespace polder {

void DiagnosticList::Error(const SourceLocation& loc, std::string code, std::string message) {
  Diagnostic d;
  d.code = std::move(code);
  d.message = std::move(message);
  d.location = loc;
  Add(std::move(d));
}

void DiagnosticList::Warning(const SourceLocation& loc, std::string code, std::string message) {
  Diagnostic d;
  d.severity = Severity::kWarning;
  d.code = std::move(code);
  d.message = std::move(message);
  d.location = loc;
  Add(std::move(d));
}

void DiagnosticList::Add(Diagnostic d) {
  d.phase = phase_;
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
  // Warnings never cause errors, so they stay in file order with the analysis.
  auto phase = [](const Diagnostic& d) {
    return d.severity == Severity::kError ? d.phase : Phase::kAnalysis;
  };
  std::stable_sort(items_.begin(), items_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    Phase pa = phase(a), pb = phase(b);
    return std::tie(pa, a.location.file, a.location.line, a.location.column) <
           std::tie(pb, b.location.file, b.location.line, b.location.column);
  });
}

}  // namespace polder
