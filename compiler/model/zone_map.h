// ZoneMap: longest-prefix classification of the whole address space (§2).
//
// Builds, from every zone's prefixes, the sorted list of disjoint segments
// each owned by the zone with the longest prefix containing it, and from that
// each zone's effective address space. Runs in O(n log n) for n prefixes.
#pragma once

#include <vector>

#include "compiler/model/policy.h"

namespace polder {

struct ZonePrefix {
  Prefix prefix;
  ZoneId zone;
};

// Prefixes must be distinct (the resolver reports duplicates first).
std::vector<ZoneSegment> BuildZoneSegments(std::vector<ZonePrefix> prefixes);

// effective[z] = union of z's segments.
std::vector<AddressSet> EffectiveSpaces(const std::vector<ZoneSegment>& segments, int zone_count);

}  // namespace polder
