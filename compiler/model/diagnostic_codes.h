// The catalogue of diagnostic codes: what each one means and how to fix it.
//
// Every code a diagnostic may carry is listed here once. SARIF takes its rule
// descriptions and help from it, `polder help codes` prints it, and
// docs/diagnostics.md is generated from it (a test keeps the two equal and
// fails when a source file emits a code that is not listed).
//
//   const DiagnosticCode* c = FindDiagnosticCode("invalid-cidr");
//   if (c) std::cout << c->summary << ": " << c->fix;
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polder {

struct DiagnosticCode {
  const char* code;     // e.g. "invalid-cidr" (spec §9 fixes some of them)
  const char* summary;  // one line: what is wrong
  const char* fix;      // how to fix it
};

// Every code, sorted by name.
const std::vector<DiagnosticCode>& AllDiagnosticCodes();
// nullptr for a code that is not in the catalogue.
const DiagnosticCode* FindDiagnosticCode(absl::string_view code);
// docs/diagnostics.md: a heading per code (its anchor is the code).
std::string DiagnosticCodesMarkdown();

}  // namespace polder
