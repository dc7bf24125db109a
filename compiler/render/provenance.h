// Provenance of a host's counters (issue 11, docs/traffic.md): for every counter the kernel
// keeps in the host's table (an allow set's element, a peer range of a verdict map, the
// named counter of an allow of `any`), the flows it counts for and, for a peer range, the
// declared prefixes it lies in with the YAML line of each. The renderer records it while it
// builds the table; `polder compile` writes it as FILE.provenance.json beside the ruleset,
// and the agent's hits name their counter by the same id (wire/counter_id.h).
#pragma once

#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "compiler/model/policy.h"
#include "compiler/model/verdict.h"
#include "wire/ruleset_header.h"

namespace polder {

struct CounterProvenance {
  enum class Kind {
    kPeerRange,  // an element of a peer-range verdict map: every new packet from/to the range
    kService,    // an element of a profile's allow set: allowed (profile, service) packets
    kAny,        // the named counter of a profile's allow of `any`
  };
  Kind kind = Kind::kService;
  std::string counter;  // wire::ElementCounterId or wire::NamedCounterId
  std::string set;      // the set or map holding the element; the counter's name for kAny
  std::string element;  // the key as nft prints it ("10.10.2.0/24", "tcp . 22"); "" for kAny
  bool inbound = true;
  std::string chain;  // kPeerRange: the profile it jumps to; else the profile it counts in
  Family family = Family::kV4;  // kPeerRange: its addresses
  absl::uint128 lo = 0, hi = 0;
  std::vector<FlowId> flows;  // sorted, distinct: kPeerRange all actions, else allows
};

struct Provenance {
  std::vector<CounterProvenance> counters;  // in table order
};

// What `polder compile` appends to a ruleset file's name for its provenance map.
inline constexpr char kProvenanceSuffix[] = ".provenance.json";

// The JSON document of one host (shape in docs/traffic.md).
std::string ProvenanceJson(const Policy& policy, const wire::RulesetHeader& header,
                           const Provenance& provenance);

}  // namespace polder
