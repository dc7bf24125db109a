// Rulesets: the nftables script each managed host enforces (spec §8).
//
// For one host the renderer selects the active flows that concern it
// (inbound: `to` covers the host; outbound: `from` covers it and `sources`
// admits its address), turns their endpoints into effective address spaces
// and their services into disjoint peer ranges (peer_ranges.h), and builds
// the structured table (wire/nft_ruleset.h): per direction and family one
// interval verdict map from peer range to the chain of the range's service
// profile, where small sets keyed by (protocol, port) or ICMP type decide. A
// packet pays two lookups whatever the number of flows, and the kernel one
// element per range and per profile service (docs/ruleset-layout.md). The
// text is printed from that structure (nft_text.h) and replaces table
// `inet polder` in one transaction. Packet semantics follow Decide()
// (verdict.h): anti-lockout first, then denies, then allows, then the default.
//
// Output is deterministic. Hosts whose rulesets would be equal (same zone,
// same flows) share one rendering: the body is cached by a key built from
// what selects it, and only the header line names the host.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/model/policy.h"
#include "compiler/render/provenance.h"
#include "wire/nft_ruleset.h"
#include "wire/ruleset_header.h"

namespace polder {

struct HostRuleset {
  std::string host;
  std::string text;  // the whole nftables script, header comment included
  wire::RulesetHeader header;
  // The table `text` describes; shared by hosts with equal bodies.
  std::shared_ptr<const wire::NftRuleset> ruleset;
  // What each counter of `ruleset` counts for (provenance.h); shared like `ruleset`.
  std::shared_ptr<const Provenance> provenance;
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
  // The script, its header and the structured table of one managed host.
  HostRuleset RenderHost(HostId host);
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
