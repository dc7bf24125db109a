// AddressClasses: a piece of the address space split where some set tells its
// addresses apart.
//
// `explain` answers for a whole zone or host and `diff` compares two
// revisions address by address; both need to ask Decide() about one address
// per class instead of every address. A class is the set of addresses of
// `space` that every cut either holds entirely or not at all, and that share
// one family: when the cuts are the address sets of every flow, the hosts and
// the controller, any address of a class stands for all of them.
#pragma once

#include <vector>

#include "compiler/model/address_set.h"
#include "compiler/model/policy.h"

namespace polder {

// The classes of `space` under `cuts`: disjoint, non-empty, covering `space`,
// ordered by their lowest address (IPv4 first).
std::vector<AddressSet> AddressClasses(const AddressSet& space,
                                       const std::vector<AddressSet>& cuts);

// The addresses a flow's `from` (narrowed by `sources`) and `to` stand for.
AddressSet FlowSourceAddresses(const Policy& policy, const Flow& flow);
AddressSet FlowDestinationAddresses(const Policy& policy, const Flow& flow);

// Every set Decide() tells addresses apart by, for any port: each active
// flow's sources and destinations, each host's addresses, the controller's
// addresses and each zone's effective space.
std::vector<AddressSet> PolicyAddressCuts(const Policy& policy);

// At most `max_ranges` of the set's ranges as text, and how many more there are:
// "10.0.0.0/24, 10.0.2.7 and 3 more ranges" (one address without /32).
std::string ShortAddressText(const AddressSet& set, size_t max_ranges = 4);

}  // namespace polder
