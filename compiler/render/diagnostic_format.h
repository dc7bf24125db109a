// Rendering diagnostics for people (text) and for tools (JSON, spec §9).
//
// Text: `FILE:LINE:COLUMN: error|warning: MESSAGE [CODE]`, then the source
// line and a caret under the column, then for invariant violations the path
// with the flows behind each edge. The paths of one violated invariant (one
// per offending source zone) are one text diagnostic; JSON keeps one entry
// per path (spec §9).
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/frontend/policy_loader.h"

namespace polder {

std::string FormatText(const DiagnosticList& diagnostics, const std::vector<SourceFile>& sources);
std::string FormatJson(const DiagnosticList& diagnostics, const std::string& revision);
// "2 errors, 1 warning", "1 error (1 invariant violated by 12 paths), 0
// warnings" (counted as FormatText shows them) or "no problems".
std::string Summary(const DiagnosticList& diagnostics);

}  // namespace polder
