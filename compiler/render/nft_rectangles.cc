#include "compiler/render/nft_rectangles.h"

#include <algorithm>
#include <map>
#include <utility>

namespace polder {
namespace {

AddressSet OnlyFamily(const AddressSet& s, Family family) {
  AddressSet out;
  for (const Interval& i : s.intervals(family)) out.Add(AddressRange{family, i.lo, i.hi});
  return out;
}

}  // namespace

std::vector<Rectangle> DisjointRectangles(const std::vector<PortBlock>& blocks, Family family) {
  // Flows mostly share a few services, so grouping by port range first keeps
  // the sweep below quadratic only in the number of distinct ranges.
  std::map<std::pair<uint16_t, uint16_t>, AddressSet> by_range;
  for (const PortBlock& b : blocks) {
    AddressSet peers = OnlyFamily(b.peers, family);
    if (peers.Empty()) continue;
    AddressSet& acc = by_range[{b.lo, b.hi}];
    acc = acc.Union(peers);
  }
  std::vector<uint32_t> cuts;
  for (const auto& [range, peers] : by_range) {
    cuts.push_back(range.first);
    cuts.push_back(uint32_t{range.second} + 1);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  // Elementary pieces [cuts[i], cuts[i+1]-1] with the peers covering them;
  // equal neighbours are merged so a range written once stays one element.
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, AddressSet>> pieces;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    uint32_t lo = cuts[i], hi = cuts[i + 1] - 1;
    AddressSet peers;
    for (const auto& [range, set] : by_range) {
      if (range.first <= lo && hi <= range.second) peers = peers.Union(set);
    }
    if (peers.Empty()) continue;
    if (!pieces.empty() && pieces.back().first.second + 1 == lo && pieces.back().second == peers) {
      pieces.back().first.second = hi;
    } else {
      pieces.push_back({{lo, hi}, std::move(peers)});
    }
  }
  std::vector<Rectangle> out;
  for (const auto& [range, peers] : pieces) {
    for (const Interval& i : peers.intervals(family)) {
      out.push_back(Rectangle{AddressRange{family, i.lo, i.hi}, static_cast<uint16_t>(range.first),
                              static_cast<uint16_t>(range.second)});
    }
  }
  return out;
}

}  // namespace polder
