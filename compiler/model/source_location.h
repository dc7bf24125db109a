// Where a value came from in the policy: the file (relative to the policy
// directory) and the 1-based line and column. Every policy object and every
// diagnostic carries one, so that users can always be pointed at the exact
// place to fix.
#pragma once

#include <string>

namespace polder {

struct SourceLocation {
  std::string file;  // relative to the policy directory
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown

  // "file:line", the short form used to cite flows.
  std::string FileLine() const { return file + ":" + std::to_string(line); }
  // "file:line:column", the form diagnostics open with and cite earlier
  // declarations by, e.g. "zones.yaml:7:13".
  std::string FileLineColumn() const { return FileLine() + ":" + std::to_string(column); }
};

}  // namespace polder
