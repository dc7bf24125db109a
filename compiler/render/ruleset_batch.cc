#include "compiler/render/ruleset_batch.h"

#include <memory>
#include <thread>

#include "compiler/model/parallel_for.h"

namespace polder {

std::vector<HostRuleset> RenderAllRulesetsParallel(const Policy& policy, int jobs) {
  int threads =
      jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The last group holds hosts without a zone, should a caller render a policy with errors.
  std::vector<std::vector<HostId>> by_zone(policy.zones.size() + 1);
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    ZoneId z = policy.hosts[h].zone;
    bool known = z >= 0 && static_cast<size_t>(z) < policy.zones.size();
    by_zone[known ? static_cast<size_t>(z) : policy.zones.size()].push_back(h);
  }
  std::vector<HostRuleset> out(policy.hosts.size());
  // One renderer per thread, made on the thread's first zone.
  std::vector<std::unique_ptr<RulesetRenderer>> renderers(ParallelWorkers(by_zone.size(), threads));
  ParallelForWorkers(by_zone.size(), threads, [&](size_t worker, size_t zone) {
    if (by_zone[zone].empty()) return;
    std::unique_ptr<RulesetRenderer>& renderer = renderers[worker];
    if (!renderer) renderer = std::make_unique<RulesetRenderer>(policy);
    for (HostId h : by_zone[zone]) out[h] = renderer->RenderHost(h);  // text, header, structured
  });
  return out;
}

}  // namespace polder
