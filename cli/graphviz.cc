#include "cli/graphviz.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/lab/lab_process.h"

namespace polder::cli {
namespace {

// Where `program` is on PATH, or "" when it is not there.
std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

// Graphviz's SVG of `dot_text`. Missing or failing Graphviz is no reason to
// withhold the rest of the report; the page and stderr say what happened.
Picture RenderSvg(const std::string& dot_text) {
  std::string dot = FindOnPath("dot");
  if (dot.empty()) {
    return {"", "Graphviz's `dot` is not installed (on Debian: apt-get install graphviz)"};
  }
  char name[] = "/tmp/polder-report-XXXXXX.dot";
  int fd = mkstemps(name, 4);
  if (fd < 0) return {"", absl::StrCat("cannot make a temporary file: ", strerror(errno))};
  bool written =
      write(fd, dot_text.data(), dot_text.size()) == static_cast<ssize_t>(dot_text.size());
  close(fd);
  Picture picture;
  if (!written) {
    picture.note = "cannot write the graph to a temporary file";
  } else {
    absl::StatusOr<std::string> svg = RunCommand({dot, "-Tsvg", name}, absl::Seconds(60));
    if (svg.ok()) {
      picture.svg = *std::move(svg);
    } else {
      picture.note = absl::StrCat("Graphviz failed: ", svg.status().message());
    }
  }
  unlink(name);
  return picture;
}

}  // namespace polder::cli
