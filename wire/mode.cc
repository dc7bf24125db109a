#include "wire/mode.h"

namespace polder::wire {

absl::string_view ModeName(Mode mode) { return mode == Mode::kAudit ? "audit" : "enforce"; }

std::optional<Mode> ParseMode(absl::string_view name) {
  if (name == "enforce") return Mode::kEnforce;
  if (name == "audit") return Mode::kAudit;
  return std::nullopt;
}

}  // namespace polder::wire
