// Rendering diagnostics for people (text) and for tools (JSON, spec §9).
//
// Text: `FILE:LINE:COLUMN: error|warning: MESSAGE [CODE]`, then the source
// line and a caret under the column, then for invariant violations the path
// with the flows behind each edge.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/frontend/policy_loader.h"

namespace polder {

std::string FormatText(const DiagnosticList& diagnostics, const std::vector<SourceFile>& sources);
std::string FormatJson(const DiagnosticList& diagnostics, const std::string& revision);
// "2 errors, 1 warning" or "no problems".
std::string Summary(const DiagnosticList& diagnostics);

}  // namespace polder
