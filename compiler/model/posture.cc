#include "compiler/model/posture.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "compiler/model/revision.h"
#include "compiler/model/service_space.h"

namespace polder {
namespace {

// What one isolated end keeps towards the other end's zone.
struct Keep {
  bool cut = false;                     // nothing
  bool restricted = false;              // only `space`
  ServiceSpace space;                   // when restricted
  const SourceLocation* why = nullptr;  // the allow entry that restricts

  static Keep All() { return {}; }
  static Keep Cut() { return {true, false, {}, nullptr}; }
  // Both answers apply.
  Keep And(const Keep& other) const {
    if (cut || other.cut) return Cut();
    if (!restricted) return other;
    if (!other.restricted) return *this;
    return {false, true, space.Intersect(other.space), why};
  }
  bool operator==(const Keep& o) const {
    return cut == o.cut && restricted == o.restricted && (!restricted || space == o.space);
  }
};

// One side of a flow item after the posture splits it: an endpoint, the
// `sources` it is narrowed to, whether its addresses are isolated, and (for a
// destination zone that holds isolated hosts) those hosts.
struct Atom {
  Endpoint endpoint;
  std::optional<std::vector<Prefix>> sources;
  bool isolated = false;
  ZoneId zone = -1;
  std::vector<HostId> isolated_inside;  // destination only
};

// The prefixes that make up `set`, largest first within each range.
std::vector<Prefix> PrefixesOf(const AddressSet& set) {
  std::vector<Prefix> out;
  for (const AddressRange& r : set.Ranges()) {
    int bits = FamilyBits(r.family);
    auto mask = [](int k) { return k >= 128 ? absl::Uint128Max() : (absl::uint128(1) << k) - 1; };
    absl::uint128 lo = r.lo;
    for (;;) {
      int k = 0;
      while (k < bits && (lo & mask(k + 1)) == 0 && r.hi - lo >= mask(k + 1)) ++k;
      out.push_back(Prefix{Address{r.family, lo}, bits - k});
      if (r.hi - lo == mask(k)) break;
      lo += mask(k) + 1;
    }
  }
  return out;
}

class PostureTransform {
 public:
  PostureTransform(Policy& policy, const Posture& posture)
      : p_(policy),
        posture_(posture),
        zone_isolated_(policy.zones.size(), false),
        host_isolated_(policy.hosts.size(), false),
        allow_(policy.zones.size()) {
    for (const Endpoint& e : posture.isolate) {
      if (e.kind == Endpoint::Kind::kZone) {
        zone_isolated_[e.id] = true;
      } else {
        host_isolated_[e.id] = true;
      }
    }
    for (const PostureAllow& a : posture.allow) {
      Keep k = Keep::All();
      if (!a.services.empty()) {
        ServiceSpace s = SpaceOfServices(policy, a.services);
        if (!s.IsEverything()) k = {false, true, s, &a.location};
      }
      // The same zone named twice keeps what either entry keeps.
      if (!allow_[a.zone]) {
        allow_[a.zone] = k;
      } else if (!k.restricted) {
        allow_[a.zone] = Keep::All();
      } else if (allow_[a.zone]->restricted) {
        allow_[a.zone]->space.Add(k.space);
      }
    }
  }

  void Run() {
    std::vector<Flow> flows;
    std::vector<Flow> extra_denies;
    bool any_restricted = false;
    for (const auto& a : allow_) any_restricted |= a && a->restricted;
    for (Flow& f : p_.flows) {
      if (!any_restricted || f.action != Action::kAllow || !f.active) {
        flows.push_back(std::move(f));
        continue;
      }
      Narrow(f, flows, extra_denies);
    }
    p_.flows = std::move(flows);
    for (Flow& d : extra_denies) p_.flows.push_back(std::move(d));
    AddCuts();
  }

 private:
  bool HostIsolated(HostId h) const {
    return host_isolated_[h] || zone_isolated_[p_.hosts[h].zone];
  }

  // What an isolated end keeps towards an address of `zone`.
  Keep Towards(ZoneId zone) const {
    if (zone_isolated_[zone]) return Keep::All();
    if (allow_[zone]) return *allow_[zone];
    return Keep::Cut();
  }

  Keep PairKeep(bool src_isolated, ZoneId src_zone, bool dst_isolated, ZoneId dst_zone) const {
    Keep k = Keep::All();
    if (src_isolated) k = k.And(Towards(dst_zone));
    if (dst_isolated) k = k.And(Towards(src_zone));
    return k;
  }

  std::vector<HostId> IsolatedHostsOf(ZoneId z) const {
    std::vector<HostId> out;
    if (zone_isolated_[z]) return out;
    for (HostId h : p_.zones[z].hosts)
      if (host_isolated_[h]) out.push_back(h);
    return out;
  }

  std::vector<Atom> SourceAtoms(const Flow& f) const {
    std::vector<Atom> out;
    for (const Endpoint& e : f.from) {
      if (e.kind == Endpoint::Kind::kHost) {
        out.push_back({e, f.sources, HostIsolated(e.id), p_.hosts[e.id].zone, {}});
        continue;
      }
      std::vector<HostId> inside = IsolatedHostsOf(e.id);
      if (inside.empty()) {
        out.push_back({e, f.sources, zone_isolated_[e.id], e.id, {}});
        continue;
      }
      // The zone's other addresses keep the flow; `sources` tells them apart.
      AddressSet rest = p_.zones[e.id].effective;
      if (f.sources) {
        AddressSet allowed;
        for (const Prefix& pre : *f.sources) allowed.Add(pre);
        rest = rest.Intersect(allowed);
      }
      for (HostId h : inside)
        for (const Address& a : p_.hosts[h].addresses)
          rest = rest.Subtract(AddressSet::Of(Prefix::Host(a)));
      if (!rest.Empty()) out.push_back({e, PrefixesOf(rest), false, e.id, {}});
      for (HostId h : inside) {
        out.push_back({{Endpoint::Kind::kHost, h}, f.sources, true, e.id, {}});
      }
    }
    return out;
  }

  std::vector<Atom> DestinationAtoms(const Flow& f) const {
    std::vector<Atom> out;
    for (const Endpoint& e : f.to) {
      if (e.kind == Endpoint::Kind::kHost) {
        out.push_back({e, std::nullopt, HostIsolated(e.id), p_.hosts[e.id].zone, {}});
      } else {
        out.push_back({e, std::nullopt, zone_isolated_[e.id], e.id, IsolatedHostsOf(e.id)});
      }
    }
    return out;
  }

  // A service of exactly `space`, cited at the allow entry that asks for it.
  ServiceId ServiceOf(const ServiceSpace& space, const SourceLocation& where) {
    Service s;
    s.name = absl::StrCat("posture-", posture_.name, "-", p_.services.size());
    s.ports = space.Items();
    s.location = where;
    p_.services.push_back(std::move(s));
    return static_cast<ServiceId>(p_.services.size() - 1);
  }

  // `f` with services narrowed to `keep`; false when nothing is left.
  bool NarrowServices(Flow& piece, const Keep& keep) {
    if (!keep.restricted || keep.cut) return true;
    ServiceSpace had = SpaceOfServices(p_, piece.services);
    ServiceSpace left = had.Intersect(keep.space);
    if (left.Empty()) return false;
    if (left == had) return true;
    piece.services = {ServiceOf(left, keep.why ? *keep.why : posture_.location)};
    return true;
  }

  // Appends `f`, or the pieces it splits into, to `out`; the denies that
  // narrow what it allows to an isolated host inside a destination zone go
  // to `denies`.
  void Narrow(Flow& f, std::vector<Flow>& out, std::vector<Flow>& denies) {
    std::vector<Atom> src = SourceAtoms(f), dst = DestinationAtoms(f);
    bool split = false;
    for (const Atom& s : src) {
      for (const Atom& d : dst) {
        Keep k = PairKeep(s.isolated, s.zone, d.isolated, d.zone);
        split |= k.restricted && !k.cut;
        // An isolated host inside the destination zone may keep less than the zone.
        if (d.isolated_inside.empty()) continue;
        Keep kh = PairKeep(s.isolated, s.zone, true, d.zone);
        if (kh == k || kh.cut || !kh.restricted) continue;
        Flow kept = f;
        if (!NarrowServices(kept, k)) continue;
        ServiceSpace taken = SpaceOfServices(p_, kept.services).Subtract(kh.space);
        if (taken.Empty()) continue;
        for (HostId h : d.isolated_inside) {
          Flow deny = DenyFlow(absl::StrCat("narrow-", p_.hosts[h].name), {s.endpoint},
                               {{Endpoint::Kind::kHost, h}});
          deny.sources = s.sources;
          deny.services = {ServiceOf(taken, kh.why ? *kh.why : posture_.location)};
          denies.push_back(std::move(deny));
        }
      }
    }
    if (!split) {
      out.push_back(std::move(f));
      return;
    }
    for (const Atom& s : src) {
      for (const Atom& d : dst) {
        Flow piece = f;
        piece.from = {s.endpoint};
        piece.to = {d.endpoint};
        piece.sources = s.sources;
        // Cut pairs are left as they are: the deny flows of AddCuts take them.
        if (NarrowServices(piece, PairKeep(s.isolated, s.zone, d.isolated, d.zone)))
          out.push_back(std::move(piece));
      }
    }
  }

  Flow DenyFlow(std::string suffix, std::vector<Endpoint> from, std::vector<Endpoint> to) const {
    return DenyEverythingFlow(absl::StrCat("posture-", posture_.name, "-", suffix), std::move(from),
                              std::move(to), posture_.reason,
                              posture_.owner.empty() ? "polder-posture" : posture_.owner,
                              posture_.location);
  }

  // Deny flows for every pair an isolated end may no longer use at all: to
  // and from each zone that is neither isolated nor allowed.
  void AddCuts() {
    std::vector<Endpoint> internal_isolated, external_isolated, others, internal_others;
    for (ZoneId z = 0; z < static_cast<ZoneId>(p_.zones.size()); ++z) {
      if (zone_isolated_[z]) {
        (p_.zones[z].external ? external_isolated : internal_isolated)
            .push_back({Endpoint::Kind::kZone, z});
      } else if (!allow_[z]) {
        others.push_back({Endpoint::Kind::kZone, z});
        if (!p_.zones[z].external) internal_others.push_back({Endpoint::Kind::kZone, z});
      }
    }
    for (HostId h = 0; h < static_cast<HostId>(p_.hosts.size()); ++h) {
      if (host_isolated_[h] && !zone_isolated_[p_.hosts[h].zone])
        internal_isolated.push_back({Endpoint::Kind::kHost, h});
    }
    // External to external is meaningless (spec §5) and refused by the renderer's callers.
    if (!internal_isolated.empty() && !others.empty()) {
      p_.flows.push_back(DenyFlow("in", others, internal_isolated));
      p_.flows.push_back(DenyFlow("out", internal_isolated, others));
    }
    if (!external_isolated.empty() && !internal_others.empty()) {
      p_.flows.push_back(DenyFlow("in-external", internal_others, external_isolated));
      p_.flows.push_back(DenyFlow("out-external", external_isolated, internal_others));
    }
  }

  Policy& p_;
  const Posture& posture_;
  std::vector<bool> zone_isolated_;
  std::vector<bool> host_isolated_;
  std::vector<std::optional<Keep>> allow_;  // per zone: what an isolated end keeps towards it
};

}  // namespace

Policy ApplyPosture(Policy policy, const Posture& posture) {
  PostureTransform(policy, posture).Run();
  policy.revision = ComputeRevision(policy);
  return policy;
}

absl::StatusOr<Policy> PostureApplied(Policy policy, std::string_view posture_name) {
  const Posture* found = policy.FindPosture(posture_name);
  if (found == nullptr) {
    std::string names;
    for (const Posture& p : policy.postures)
      absl::StrAppend(&names, names.empty() ? "" : ", ", p.name);
    return absl::NotFoundError(absl::StrCat(
        "the policy has no posture `", absl::string_view(posture_name.data(), posture_name.size()),
        "`", names.empty() ? " (it declares none)" : absl::StrCat("; it declares: ", names)));
  }
  Posture posture = *found;  // `policy` is changed below
  return ApplyPosture(std::move(policy), posture);
}

}  // namespace polder
