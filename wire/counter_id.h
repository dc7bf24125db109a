// Counter ids: the stable name of one counter the kernel keeps in table `inet polder`, as the
// compiler's provenance map (docs/traffic.md) and the agent's TrafficReport hits spell it.
//
//   set element   "<set>/<key>"     the key's first value of each part, in hex (network byte
//                                   order), parts joined by '.': "in4/0a0a0200" for the peer
//                                   range 10.10.2.0/24, "in_p3_l4/06.0016" for tcp . 22
//   named counter "counter/<name>"  "counter/in_p2_any"
//
// Elements of one set never overlap, so the start of each part names an element; the agent
// computes the same id from a key it reads back from the kernel.
#ifndef POLDER_WIRE_COUNTER_ID_H_
#define POLDER_WIRE_COUNTER_ID_H_

#include <string>

#include "absl/strings/string_view.h"
#include "wire/nft_ruleset.h"

namespace polder::wire {

std::string ElementCounterId(absl::string_view set, const NftElement& element);
std::string NamedCounterId(absl::string_view name);

}  // namespace polder::wire

#endif  // POLDER_WIRE_COUNTER_ID_H_
