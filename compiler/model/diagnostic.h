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

// The stage of loading that found a problem. Errors are reported stage by stage, so that a
// root cause (a YAML error, a zone whose prefix is invalid) comes before what it causes (a
// host that cannot be placed, a flow naming that host). Everything after loading, and every
// warning, is kAnalysis and keeps plain file order.
enum class Phase : unsigned char { kParse, kZones, kDefinitions, kReferences, kAnalysis };

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
  std::string invariant;           // set for invariant-violated
  std::vector<PathStep> path;      // set for path violations
  std::string posture;             // set for a violated `keep` entry of a posture (spec §6a)
  Phase phase = Phase::kAnalysis;  // set by DiagnosticList::Add from its current phase
};

class DiagnosticList {
 public:
  static constexpr size_t kMaxErrors = 100;

  void Error(const SourceLocation& loc, std::string code, std::string message);
  void Warning(const SourceLocation& loc, std::string code, std::string message);
  // Stamps `d` with the current phase.
  void Add(Diagnostic d);
  // The phase that later additions belong to (kAnalysis until set).
  void SetPhase(Phase phase) { phase_ = phase; }

  bool HasErrors() const { return error_count_ > 0; }
  size_t error_count() const { return error_count_; }
  // True once kMaxErrors errors were collected; later errors are dropped.
  bool Full() const { return error_count_ >= kMaxErrors; }
  const std::vector<Diagnostic>& items() const { return items_; }
  void Append(const DiagnosticList& other);

  // Orders errors by phase, then everything by file, line, column, so that root causes come
  // first and output is stable.
  void Sort();

 private:
  std::vector<Diagnostic> items_;
  Phase phase_ = Phase::kAnalysis;
  size_t error_count_ = 0;
};

}  // namespace polder
