// Counter ids: the stable name of one counter the kernel keeps in table `inet polder`, as the
// compiler's provenance map (docs/traffic.md) and the agent's TrafficReport hits spell it.
//
//   set element   "<set>/<key>"     the element's key as the kernel stores it, in hex: the
//                                   start of the element (an interval's first value), each
//                                   part of a concatenation padded to 4 bytes:
//                                   "in4/0a0a0200" for the peer range 10.10.2.0/24,
//                                   "in_p3_l4/0600000000160000" for tcp . 22
//   named counter "counter/<name>"  "counter/in_p2_any"
//
// Elements of one set never overlap, so the start names an element; the agent computes the
// same id from the key bytes it reads back from the kernel, knowing nothing of the key's type.
#ifndef POLDER_WIRE_COUNTER_ID_H_
#define POLDER_WIRE_COUNTER_ID_H_

#include <string>

#include "absl/strings/string_view.h"
#include "wire/nft_ruleset.h"

namespace polder::wire {

// From the compiler's element.
std::string ElementCounterId(absl::string_view set, const NftElement& element);
// From the key bytes the kernel gives back (NFTNL_SET_ELEM_KEY).
std::string KernelElementCounterId(absl::string_view set, absl::string_view key);
std::string NamedCounterId(absl::string_view name);

}  // namespace polder::wire

#endif  // POLDER_WIRE_COUNTER_ID_H_
