// Diagnostics: the errors and warnings polder reports about a policy.
//
// A Diagnostic is a value (severity, stable code, message, location, and for
// invariant violations the invariant and a path of zones). DiagnosticList
// collects them in order and stops accepting errors past a bound, so that a
// badly broken policy produces a useful report instead of a flood.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "compiler/model/source_location.h"

namespace polder {

enum class Severity { kError, kWarning };

// One step of a counterexample path: the zone reached and the flows
// ("file:line") that make the edge into it (empty for the first zone).
struct PathStep {
  std::string zone;
  std::vector<std::string> flows;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // e.g. "unknown-key"; see spec §9
  std::string message;
  SourceLocation location;
  std::string invariant;       // set for invariant-violated
  std::vector<PathStep> path;  // set for path violations
  std::string posture;         // set for a violated `keep` entry of a posture (spec §6a)
};

class DiagnosticList {
 public:
  static constexpr size_t kMaxErrors = 100;

  void Error(const SourceLocation& loc, std::string code, std::string message);
  void Warning(const SourceLocation& loc, std::string code, std::string message);
  void Add(Diagnostic d);

  bool HasErrors() const { return error_count_ > 0; }
  size_t error_count() const { return error_count_; }
  // True once kMaxErrors errors were collected; later errors are dropped.
  bool Full() const { return error_count_ >= kMaxErrors; }
  const std::vector<Diagnostic>& items() const { return items_; }
  void Append(const DiagnosticList& other);

  // Orders diagnostics by file, line, column so output is stable.
  void Sort();

 private:
  std::vector<Diagnostic> items_;
  size_t error_count_ = 0;
};

}  // namespace polder
