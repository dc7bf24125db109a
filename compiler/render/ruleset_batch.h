// Every host's ruleset, rendered on several threads.
//
// RulesetRenderer remembers bodies by content, so it is not shared between
// threads: each thread has its own. Hosts are handed out a zone at a time,
// since hosts of one zone are the ones most likely to share a body; a body is
// then rendered about once however many threads there are. Each ruleset is a
// function of the policy and the host alone, so the result is byte-identical
// for any thread count (ruleset_batch_test checks it).
#pragma once

#include <vector>

#include "compiler/model/policy.h"
#include "compiler/render/ruleset_renderer.h"

namespace polder {

// In host order, as RenderAllRulesets. `jobs` threads; 0 means one per core.
std::vector<HostRuleset> RenderAllRulesetsParallel(const Policy& policy, int jobs);

}  // namespace polder
