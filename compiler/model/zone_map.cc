#include "compiler/model/zone_map.h"

#include <algorithm>

namespace polder {
namespace {

// Sweeps one family's prefixes, sorted by start then by length, with a stack
// of the prefixes that contain the current position. Prefixes are laminar
// (nested or disjoint), so the innermost open prefix owns each stretch.
class SegmentSweep {
 public:
  explicit SegmentSweep(Family family) : family_(family) {}

  void Push(const AddressRange& r, ZoneId zone) {
    while (!stack_.empty() && stack_.back().range.hi < r.lo) Pop();
    if (!stack_.empty() && cursor_ < r.lo) Emit(cursor_, r.lo - 1, stack_.back().zone);
    if (stack_.empty()) cursor_ = r.lo;
    cursor_ = std::max(cursor_, r.lo);
    stack_.push_back({r, zone});
  }

  std::vector<ZoneSegment> Finish() {
    while (!stack_.empty()) Pop();
    return std::move(out_);
  }

 private:
  struct Open {
    AddressRange range;
    ZoneId zone;
  };

  void Pop() {
    const Open top = stack_.back();
    stack_.pop_back();
    if (!exhausted_ && cursor_ <= top.range.hi) {
      Emit(cursor_, top.range.hi, top.zone);
      if (top.range.hi == FamilyMax(family_)) {
        exhausted_ = true;
      } else {
        cursor_ = top.range.hi + 1;
      }
    }
  }

  void Emit(absl::uint128 lo, absl::uint128 hi, ZoneId zone) {
    if (!out_.empty() && out_.back().zone == zone && out_.back().hi + 1 == lo) {
      out_.back().hi = hi;
      return;
    }
    out_.push_back(ZoneSegment{family_, lo, hi, zone});
  }

  Family family_;
  std::vector<Open> stack_;
  std::vector<ZoneSegment> out_;
  absl::uint128 cursor_ = 0;
  bool exhausted_ = false;
};

}  // namespace

std::vector<ZoneSegment> BuildZoneSegments(std::vector<ZonePrefix> prefixes) {
  std::sort(prefixes.begin(), prefixes.end(), [](const ZonePrefix& a, const ZonePrefix& b) {
    AddressRange ra = a.prefix.Range(), rb = b.prefix.Range();
    if (ra.family != rb.family) return ra.family < rb.family;
    if (ra.lo != rb.lo) return ra.lo < rb.lo;
    return a.prefix.length < b.prefix.length;
  });
  std::vector<ZoneSegment> out;
  for (Family family : {Family::kV4, Family::kV6}) {
    SegmentSweep sweep(family);
    for (const ZonePrefix& zp : prefixes) {
      if (zp.prefix.base.family == family) sweep.Push(zp.prefix.Range(), zp.zone);
    }
    std::vector<ZoneSegment> part = sweep.Finish();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<AddressSet> EffectiveSpaces(const std::vector<ZoneSegment>& segments, int zone_count) {
  std::vector<std::vector<AddressRange>> ranges(zone_count);
  for (const ZoneSegment& s : segments) ranges[s.zone].push_back({s.family, s.lo, s.hi});
  std::vector<AddressSet> out(zone_count);
  for (int z = 0; z < zone_count; ++z) {
    for (const AddressRange& r : ranges[z]) out[z].Add(r);
  }
  return out;
}

}  // namespace polder
