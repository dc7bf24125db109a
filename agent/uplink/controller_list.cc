#include "agent/uplink/controller_list.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "wire/sha256.h"

namespace polder::agent {

absl::StatusOr<std::vector<std::string>> ParseControllerList(const std::string& list) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    size_t colon = part.rfind(':');
    int port = 0;
    bool ok = colon != absl::string_view::npos && colon > 0 &&
              absl::SimpleAtoi(part.substr(colon + 1), &port) && port > 0 && port <= 65535;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--controller '", part, "' is not HOST:PORT (give HOST:PORT[,HOST:PORT...])"));
    }
    if (!seen.insert(std::string(part)).second) {
      return absl::InvalidArgumentError(absl::StrCat("--controller names ", part, " twice"));
    }
    out.emplace_back(part);
  }
  return out;
}

std::vector<std::string> RendezvousOrder(std::vector<std::string> targets,
                                         const std::string& host) {
  auto weight = [&](const std::string& target) {
    return wire::Sha256Hex(absl::StrCat(host, "\n", target));
  };
  std::stable_sort(targets.begin(), targets.end(),
                   [&](const auto& a, const auto& b) { return weight(a) > weight(b); });
  return targets;
}

}  // namespace polder::agent
