#include "compiler/model/quarantine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "compiler/model/revision.h"

namespace polder {
namespace {

// Every zone that is neither allowed nor, when the target is external, itself
// external (external-to-external flows are meaningless, spec §5).
std::vector<Endpoint> OtherSide(const Policy& p, const std::vector<ZoneId>& allowed,
                                bool target_external) {
  std::vector<Endpoint> out;
  for (ZoneId z = 0; z < static_cast<ZoneId>(p.zones.size()); ++z) {
    if (std::find(allowed.begin(), allowed.end(), z) != allowed.end()) continue;
    if (target_external && p.zones[z].external) continue;
    out.push_back({Endpoint::Kind::kZone, z});
  }
  return out;
}

Flow DenyFlow(const QuarantineOrder& order, std::string direction, std::vector<Endpoint> from,
              std::vector<Endpoint> to) {
  return DenyEverythingFlow(absl::StrCat("quarantine-", order.target, "-", direction),
                            std::move(from), std::move(to), order.reason, "polder-quarantine",
                            {kQuarantineFile, 0, 0});
}

}  // namespace

absl::Status ApplyQuarantine(Policy& policy, const QuarantineOrder& order) {
  Endpoint target;
  bool external = false;
  if (auto z = policy.FindZone(order.target)) {
    target = {Endpoint::Kind::kZone, *z};
    external = policy.zones[*z].external;
  } else if (auto h = policy.FindHost(order.target)) {
    target = {Endpoint::Kind::kHost, *h};
  } else {
    return absl::NotFoundError(absl::StrCat("'", order.target, "' is neither a zone nor a host"));
  }
  std::vector<ZoneId> allowed;
  for (const auto& name : order.allow) {
    auto z = policy.FindZone(name);
    if (!z) return absl::NotFoundError(absl::StrCat("'", name, "' is not a zone"));
    if (policy.ZoneOf(target) == *z)
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' holds the target itself; allowing it would cut nothing"));
    allowed.push_back(*z);
  }
  std::vector<Endpoint> others = OtherSide(policy, allowed, external);
  if (others.empty()) return absl::OkStatus();
  if (policy.services.empty() || !policy.services[0].builtin)
    return absl::InternalError("policy lacks the built-in `any` service");
  policy.flows.push_back(DenyFlow(order, "in", others, {target}));
  policy.flows.push_back(DenyFlow(order, "out", {target}, others));
  return absl::OkStatus();
}

absl::StatusOr<Policy> Quarantined(Policy policy, const std::vector<QuarantineOrder>& orders) {
  if (orders.empty()) return policy;
  for (const auto& o : orders) {
    if (auto s = ApplyQuarantine(policy, o); !s.ok()) return s;
  }
  policy.revision = ComputeRevision(policy);
  return policy;
}

}  // namespace polder
