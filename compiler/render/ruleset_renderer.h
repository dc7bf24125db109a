// Rulesets: the nftables script each managed host enforces (spec §8).
//
// For one host the renderer selects the active flows that concern it
// (inbound: `to` covers the host; outbound: `from` covers it and `sources`
// admits its address), turns their endpoints into effective address spaces
// and their services into disjoint set elements, and writes a script that
// replaces table `inet polder` in one transaction. Every lookup goes through
// a handful of named concatenated sets, so the cost of a packet does not grow
// with the number of flows. Packet semantics follow Decide() (verdict.h):
// anti-lockout first, then denies, then allows, then the default.
//
// Output is deterministic. Hosts whose rulesets would be equal (same zone,
// same flows) share one rendering: the body is cached by a key built from
// what selects it, and only the header line names the host.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/model/policy.h"

namespace polder {

struct HostRuleset {
  std::string host;
  std::string text;  // the whole nftables script, header comment included
};

// Renders rulesets of one policy, remembering bodies by content key. The
// policy must outlive the renderer.
class RulesetRenderer {
 public:
  explicit RulesetRenderer(const Policy& policy);
  ~RulesetRenderer();
  RulesetRenderer(const RulesetRenderer&) = delete;
  RulesetRenderer& operator=(const RulesetRenderer&) = delete;

  // The whole script of one managed host.
  std::string Render(HostId host);
  // How many distinct bodies were rendered so far (the rest came from cache).
  size_t distinct_bodies() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The first line of every ruleset; the agent reads host, revision and mode
// from it.
std::string RulesetHeader(const Policy& policy, HostId host);

// Convenience: one host, or every host in host order.
std::string RenderRuleset(const Policy& policy, HostId host);
std::vector<HostRuleset> RenderAllRulesets(const Policy& policy);

}  // namespace polder
