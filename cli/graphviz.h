// Graphviz for the pages polder writes (`polder report`, `polder traffic --format html`): the
// SVG of a dot graph, or why there is none. A missing or failing Graphviz is no reason to
// withhold the rest of a page; callers say on the page and on stderr what happened.
#pragma once

#include <string>

namespace polder::cli {

struct Picture {
  std::string svg;
  std::string note;  // why there is none
};

Picture RenderSvg(const std::string& dot_text);

}  // namespace polder::cli
