// Disjoint rectangles: turning overlapping (addresses x port range) blocks into
// the non-overlapping elements an nftables interval set accepts.
//
// The kernel rejects overlapping intervals in a concatenated set, and flows
// overlap all the time (two flows from `internet` to the same zone on ports
// 80 and 80-90). So before a block becomes a set element, the port axis is cut
// at every block boundary, each piece gets the union of the addresses of the
// blocks covering it, and neighbouring pieces with equal addresses are merged
// again. The result covers exactly the union of the blocks, no more, no less.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/model/address_set.h"

namespace polder {

// Some peers on an inclusive range of ports (or ICMP types).
struct PortBlock {
  AddressSet peers;
  uint16_t lo = 0;
  uint16_t hi = 0;
};

struct Rectangle {
  AddressRange addresses;
  uint16_t lo = 0;
  uint16_t hi = 0;
  friend bool operator==(const Rectangle&, const Rectangle&) = default;
};

// Pairwise disjoint rectangles of `family` whose union is the union of the
// blocks (restricted to that family), ordered by port range, then address.
std::vector<Rectangle> DisjointRectangles(const std::vector<PortBlock>& blocks, Family family);

}  // namespace polder
