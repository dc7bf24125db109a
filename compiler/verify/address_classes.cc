#include "compiler/verify/address_classes.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace polder {
namespace {

struct Piece {
  absl::uint128 lo = 0, hi = 0;
  std::vector<int> cuts;  // the cuts that hold the piece, ascending
};

// `space`'s intervals of one family split at every cut boundary.
std::vector<Piece> Pieces(Family f, const AddressSet& space, const std::vector<AddressSet>& cuts) {
  std::set<absl::uint128> starts;  // a piece starts at each of these
  for (const AddressSet& cut : cuts) {
    for (const Interval& i : cut.intervals(f)) {
      starts.insert(i.lo);
      if (i.hi != FamilyMax(f)) starts.insert(i.hi + 1);
    }
  }
  std::vector<Piece> out;
  for (const Interval& i : space.intervals(f)) {
    absl::uint128 lo = i.lo;
    for (auto it = starts.upper_bound(i.lo); it != starts.end() && *it <= i.hi; ++it) {
      out.push_back({lo, *it - 1, {}});
      lo = *it;
    }
    out.push_back({lo, i.hi, {}});
  }
  for (int c = 0; c < static_cast<int>(cuts.size()); ++c) {
    for (const Interval& i : cuts[c].intervals(f)) {
      // Pieces never straddle a cut's boundary: each lies inside i or outside it.
      auto first = std::lower_bound(out.begin(), out.end(), i.lo,
                                    [](const Piece& p, absl::uint128 v) { return p.hi < v; });
      for (auto it = first; it != out.end() && it->lo <= i.hi; ++it) it->cuts.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::vector<AddressSet> AddressClasses(const AddressSet& space,
                                       const std::vector<AddressSet>& cuts) {
  std::vector<AddressSet> out;
  for (Family f : {Family::kV4, Family::kV6}) {
    std::map<std::vector<int>, size_t> index;  // signature -> class in `out`
    for (const Piece& p : Pieces(f, space, cuts)) {
      auto [it, fresh] = index.emplace(p.cuts, out.size());
      if (fresh) out.emplace_back();
      out[it->second].Add(AddressRange{f, p.lo, p.hi});
    }
  }
  return out;
}

AddressSet FlowSourceAddresses(const Policy& policy, const Flow& flow) {
  AddressSet out;
  for (const Endpoint& e : flow.from) out = out.Union(policy.AddressesOf(e));
  if (flow.sources) {
    AddressSet narrowed;
    for (const Prefix& p : *flow.sources) narrowed.Add(p);
    out = out.Intersect(narrowed);
  }
  return out;
}

AddressSet FlowDestinationAddresses(const Policy& policy, const Flow& flow) {
  AddressSet out;
  for (const Endpoint& e : flow.to) out = out.Union(policy.AddressesOf(e));
  return out;
}

std::vector<AddressSet> PolicyAddressCuts(const Policy& policy) {
  std::vector<AddressSet> cuts;
  for (const Flow& f : policy.flows) {
    if (!f.active) continue;
    cuts.push_back(FlowSourceAddresses(policy, f));
    cuts.push_back(FlowDestinationAddresses(policy, f));
  }
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    cuts.push_back(policy.AddressesOf({Endpoint::Kind::kHost, h}));
  }
  if (policy.settings.controller) {
    AddressSet controller;
    for (const Address& a : policy.settings.controller->addresses) controller.Add(a);
    cuts.push_back(std::move(controller));
  }
  for (const Zone& z : policy.zones) cuts.push_back(z.effective);
  return cuts;
}

std::string ShortAddressText(const AddressSet& set, size_t max_ranges) {
  std::vector<AddressRange> ranges = set.Ranges();
  std::string out;
  for (size_t i = 0; i < ranges.size() && i < max_ranges; ++i) {
    const AddressRange& r = ranges[i];
    absl::StrAppend(&out, i == 0 ? "" : ", ",
                    r.lo == r.hi ? Address{r.family, r.lo}.ToString() : r.ToString());
  }
  if (ranges.size() > max_ranges) {
    absl::StrAppend(&out, " and ", ranges.size() - max_ranges, " more ranges");
  }
  return out;
}

}  // namespace polder
