#include "compiler/verify/policy_diff.h"

#include <boost/dynamic_bitset.hpp>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/verdict.h"
#include "compiler/verify/address_classes.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

// Zone names of `from` mapped to ids of `to` (-1 when absent there).
std::vector<ZoneId> MapZones(const Policy& from, const Policy& to) {
  std::map<std::string, ZoneId> ids;
  for (ZoneId z = 0; z < static_cast<ZoneId>(to.zones.size()); ++z) ids[to.zones[z].name] = z;
  std::vector<ZoneId> out;
  for (const Zone& z : from.zones) {
    auto it = ids.find(z.name);
    out.push_back(it == ids.end() ? -1 : it->second);
  }
  return out;
}

void DiffEdges(const Policy& before, const ZoneGraph& bg, const Policy& after, const ZoneGraph& ag,
               PolicyDiff& diff) {
  std::vector<ZoneId> to_after = MapZones(before, after);
  std::vector<ZoneId> to_before = MapZones(after, before);
  for (const ZoneGraph::Arc& arc : bg.arcs()) {
    ZoneId a = arc.from, b = arc.to;
    const ZoneEdge& old_edge = bg.edge(arc);
    const ZoneEdge* new_edge =
        to_after[a] < 0 || to_after[b] < 0 ? nullptr : ag.Edge(to_after[a], to_after[b]);
    if (new_edge && new_edge->services == old_edge.services) continue;
    EdgeChange c{new_edge ? Change::kChanged : Change::kRemoved,
                 before.zones[a].name,
                 before.zones[b].name,
                 old_edge.services.ToString(),
                 "",
                 EdgeCitations(before, old_edge)};
    if (new_edge) {
      c.services_after = new_edge->services.ToString();
      c.flows = EdgeCitations(after, *new_edge);
    }
    diff.edges.push_back(std::move(c));
  }
  for (const ZoneGraph::Arc& arc : ag.arcs()) {
    ZoneId a = arc.from, b = arc.to;
    if (to_before[a] >= 0 && to_before[b] >= 0 && bg.Edge(to_before[a], to_before[b])) continue;
    diff.edges.push_back({Change::kAdded, after.zones[a].name, after.zones[b].name, "",
                          ag.edge(arc).services.ToString(), EdgeCitations(after, ag.edge(arc))});
  }
}

// Pairs reachable in `g` (policy `p`) but not in `other` (zones mapped by
// `map`), with a shortest path in `g`.
void OneSidedPairs(const Policy& p, const ZoneGraph& g, const std::vector<std::vector<bool>>& reach,
                   const std::vector<std::vector<bool>>& other_reach,
                   const std::vector<ZoneId>& map, Change change, PolicyDiff& diff) {
  for (ZoneId a = 0; a < g.zone_count(); ++a) {
    std::optional<PathsFrom> paths;
    for (ZoneId b = 0; b < g.zone_count(); ++b) {
      if (!reach[a][b]) continue;
      if (map[a] >= 0 && map[b] >= 0 && other_reach[map[a]][map[b]]) continue;
      if (!paths) paths = ShortestPathsFrom(g, a);
      auto path = paths->PathTo(b);
      diff.pairs.push_back({change, p.zones[a].name, p.zones[b].name,
                            path ? DescribePath(p, g, *path) : std::vector<PathStep>{}});
    }
  }
}

// How a flow is recognised across revisions: its declared name, or, for an
// unnamed flow (named by its file:line, which moves with every edit above it),
// what it connects.
std::string FlowKey(const Policy& p, const Flow& f) {
  if (f.name != f.location.FileLine()) return absl::StrCat("name:", f.name);
  std::string key = f.action == Action::kDeny ? "deny:" : "allow:";
  for (const Endpoint& e : f.from) absl::StrAppend(&key, p.EndpointName(e), ",");
  absl::StrAppend(&key, ">");
  for (const Endpoint& e : f.to) absl::StrAppend(&key, p.EndpointName(e), ",");
  absl::StrAppend(&key, ":");
  for (ServiceId s : f.services) absl::StrAppend(&key, p.services[s].name, ",");
  return key;
}

std::string ExpiryText(const Flow& f) { return f.expires ? FormatRfc3339(*f.expires) : ""; }

void DiffMetadata(const Policy& before, const Policy& after, PolicyDiff& diff) {
  std::map<std::string, const Flow*> old_flows;
  for (const Flow& f : before.flows) old_flows.emplace(FlowKey(before, f), &f);
  for (const Flow& f : after.flows) {
    auto it = old_flows.find(FlowKey(after, f));
    if (it == old_flows.end()) continue;
    const Flow& o = *it->second;
    for (const auto& [field, was, now] : {std::tuple<const char*, std::string, std::string>{
                                              "expires", ExpiryText(o), ExpiryText(f)},
                                          {"owner", o.owner, f.owner},
                                          {"ticket", o.ticket, f.ticket}}) {
      if (was == now) continue;
      diff.metadata.push_back({f.name, f.location.FileLine(), field, was, now});
    }
  }
}

// ---------------------------------------------------------------- access

// Who an address is in one revision: a host that some flow of either revision
// names, else its zone.
struct Party {
  std::string name;
  bool host = false;
  friend auto operator<=>(const Party&, const Party&) = default;
};

class AccessDiffer {
 public:
  AccessDiffer(const Policy& before, const Policy& after) : before_(before), after_(after) {
    for (const Policy* p : {&before, &after}) {
      for (const Flow& f : p->flows) {
        for (const std::vector<Endpoint>* side : {&f.from, &f.to}) {
          for (const Endpoint& e : *side) {
            if (e.kind == Endpoint::Kind::kHost) named_.insert(p->hosts[e.id].name);
          }
        }
      }
    }
  }

  // Only address pairs inside the rectangle of a flow that is not in both revisions alike
  // (or, when the hosts or the controller change, of the anti-lockout) can change access, so
  // only those are split into classes and compared; a one-flow change to a large policy stays
  // a small computation.
  void Run(PolicyDiff& diff) {
    std::vector<std::pair<AddressSet, AddressSet>> changed = ChangedRectangles();
    if (changed.empty()) return;
    AddressSet sources, destinations;
    for (const auto& [s, d] : changed) {
      sources = sources.Union(s);
      destinations = destinations.Union(d);
    }
    // The flows of either revision that may decide some pair of the region, and the cuts that
    // tell the region's addresses apart: those flows, the changed rectangles, every host and
    // zone (both name parties), the controller.
    std::vector<AddressSet> source_cuts, destination_cuts;
    for (const auto& [s, d] : changed) {
      source_cuts.push_back(s);
      destination_cuts.push_back(d);
    }
    for (int r = 0; r < 2; ++r) {
      const Policy& p = r == 0 ? before_ : after_;
      for (const Flow& f : p.flows) {
        if (!f.active) continue;
        AddressSet fs = FlowSourceAddresses(p, f), fd = FlowDestinationAddresses(p, f);
        if (!fs.Overlaps(sources) || !fd.Overlaps(destinations)) continue;
        candidates_.push_back(
            {r, f.action == Action::kDeny, SpaceOfServices(p, f.services), fs, fd});
        source_cuts.push_back(std::move(fs));
        destination_cuts.push_back(std::move(fd));
      }
      for (HostId h = 0; h < static_cast<HostId>(p.hosts.size()); ++h) {
        AddressSet a = p.AddressesOf({Endpoint::Kind::kHost, h});
        if (a.Overlaps(sources)) source_cuts.push_back(a);
        if (a.Overlaps(destinations)) destination_cuts.push_back(std::move(a));
      }
      for (const Zone& z : p.zones) {
        if (z.effective.Overlaps(sources)) source_cuts.push_back(z.effective);
        if (z.effective.Overlaps(destinations)) destination_cuts.push_back(z.effective);
      }
      if (p.settings.controller) {
        AddressSet c;
        for (const Address& a : p.settings.controller->addresses) c.Add(a);
        destination_cuts.push_back(std::move(c));
      }
    }
    src_classes_ = AddressClasses(sources, source_cuts);
    dst_classes_ = AddressClasses(destinations, destination_cuts);
    // Which candidate flows and changed rectangles hold each class (by one address of it:
    // a class lies wholly inside or outside each of them).
    auto bits = [](const std::vector<AddressSet>& classes, size_t n, auto&& holds) {
      std::vector<boost::dynamic_bitset<>> out(classes.size(), boost::dynamic_bitset<>(n));
      for (size_t i = 0; i < classes.size(); ++i) {
        Address a = Lowest(classes[i]);
        for (size_t k = 0; k < n; ++k) out[i][k] = holds(k, a);
      }
      return out;
    };
    auto src_flows = bits(src_classes_, candidates_.size(), [&](size_t k, const Address& a) {
      return candidates_[k].sources.Contains(a);
    });
    auto dst_flows = bits(dst_classes_, candidates_.size(), [&](size_t k, const Address& a) {
      return candidates_[k].destinations.Contains(a);
    });
    auto src_rects = bits(src_classes_, changed.size(),
                          [&](size_t k, const Address& a) { return changed[k].first.Contains(a); });
    auto dst_rects = bits(dst_classes_, changed.size(), [&](size_t k, const Address& a) {
      return changed[k].second.Contains(a);
    });
    // Cells: (change, from, to, services) -> the class pairs that change so.
    std::map<std::tuple<Change, Party, Party, std::string>, std::vector<Cell>> groups;
    for (size_t i = 0; i < src_classes_.size(); ++i) {
      for (size_t j = 0; j < dst_classes_.size(); ++j) {
        if (!(src_rects[i] & dst_rects[j]).any()) continue;
        std::optional<std::pair<Address, Address>> ends = Ends(i, j);
        if (!ends) continue;
        auto [s, d] = *ends;
        boost::dynamic_bitset<> matching = src_flows[i] & dst_flows[j];
        ServiceSpace old_space = Allowed(0, matching, s, d);
        ServiceSpace new_space = Allowed(1, matching, s, d);
        if (old_space == new_space) continue;
        for (auto [change, space_of, policy] :
             {std::tuple{Change::kAdded, new_space.Subtract(old_space), &after_},
              std::tuple{Change::kRemoved, old_space.Subtract(new_space), &before_}}) {
          if (space_of.Empty()) continue;
          std::optional<Party> from = PartyOf(*policy, s), to = PartyOf(*policy, d);
          if (!from || !to) continue;
          groups[{change, *from, *to, space_of.ToString()}].push_back({i, j, s, d, space_of});
        }
      }
    }
    for (const auto& [key, cells] : groups) AddRectangles(key, cells, diff);
  }

 private:
  struct Cell {
    size_t from_class, to_class;
    Address source, destination;
    ServiceSpace services;
  };

  // An active flow of one revision (0: before, 1: after) as AllowedServices() sees it.
  struct Candidate {
    int revision;
    bool deny;
    ServiceSpace services;
    AddressSet sources, destinations;
  };

  // What a flow changes nothing about when it is in both revisions with the same effect.
  // A key, not text for people: the intervals' bytes, since formatting every address of
  // 50,000 flows cost more than the rest of the diff.
  static std::string FlowEffect(const Policy& p, const Flow& f) {
    std::string key(f.action == Action::kDeny ? "deny " : "allow ");
    for (const AddressSet& set : {FlowSourceAddresses(p, f), FlowDestinationAddresses(p, f)}) {
      for (Family fam : {Family::kV4, Family::kV6}) {
        const std::vector<Interval>& v = set.intervals(fam);
        uint64_t count = v.size();  // a count first, so that no two sets share a key
        key.append(reinterpret_cast<const char*>(&count), sizeof(count));
        key.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(Interval));
      }
    }
    return absl::StrCat(key, SpaceOfServices(p, f.services).ToString());
  }

  static AddressSet HostAddresses(const Policy& p) {
    AddressSet out;
    for (const Host& h : p.hosts) {
      for (const Address& a : h.addresses) out.Add(a);
    }
    return out;
  }

  static AddressSet ControllerAddresses(const Policy& p) {
    AddressSet out;
    if (p.settings.controller) {
      for (const Address& a : p.settings.controller->addresses) out.Add(a);
    }
    return out;
  }

  // The (sources, destinations) of every active flow whose effect is not in the other
  // revision, and of the anti-lockout when the hosts or the controller differ.
  std::vector<std::pair<AddressSet, AddressSet>> ChangedRectangles() const {
    // Each flow's effect is written once per revision: it is text over every address of the
    // flow, the larger part of a one-flow diff of a big policy.
    std::vector<std::string> effect_of[2];
    std::multiset<std::string> effects[2];
    for (int r = 0; r < 2; ++r) {
      const Policy& p = r == 0 ? before_ : after_;
      effect_of[r].resize(p.flows.size());
      for (size_t i = 0; i < p.flows.size(); ++i) {
        if (!p.flows[i].active) continue;
        effect_of[r][i] = FlowEffect(p, p.flows[i]);
        effects[r].insert(effect_of[r][i]);
      }
    }
    std::vector<std::pair<AddressSet, AddressSet>> out;
    for (int r = 0; r < 2; ++r) {
      const Policy& p = r == 0 ? before_ : after_;
      std::multiset<std::string>& unmatched = effects[1 - r];
      for (size_t i = 0; i < p.flows.size(); ++i) {
        const Flow& f = p.flows[i];
        if (!f.active) continue;
        auto it = unmatched.find(effect_of[r][i]);
        if (it != unmatched.end()) {
          unmatched.erase(it);
          continue;
        }
        out.push_back({FlowSourceAddresses(p, f), FlowDestinationAddresses(p, f)});
      }
    }
    const auto& c0 = before_.settings.controller;
    const auto& c1 = after_.settings.controller;
    bool controller_changed = c0.has_value() != c1.has_value() || (c0 && c0->port != c1->port) ||
                              !(ControllerAddresses(before_) == ControllerAddresses(after_));
    if (controller_changed || !(HostAddresses(before_) == HostAddresses(after_))) {
      out.push_back({HostAddresses(before_).Union(HostAddresses(after_)),
                     ControllerAddresses(before_).Union(ControllerAddresses(after_))});
    }
    return out;
  }

  // AllowedServices() of one revision for the pair (s, d), from the candidate flows that
  // hold both.
  ServiceSpace Allowed(int revision, const boost::dynamic_bitset<>& matching, const Address& s,
                       const Address& d) const {
    const Policy& p = revision == 0 ? before_ : after_;
    ServiceSpace allowed, denied;
    for (size_t k = matching.find_first(); k != boost::dynamic_bitset<>::npos;
         k = matching.find_next(k)) {
      const Candidate& c = candidates_[k];
      if (c.revision != revision) continue;
      (c.deny ? denied : allowed).Add(c.services);
    }
    allowed = allowed.Subtract(denied);
    const auto& ctl = p.settings.controller;
    if (ctl && ControllerAddresses(p).Contains(d) && p.HostWithAddress(s) && p.Classify(d)) {
      allowed.Add(ServiceSpace::Of(ServicePort{Protocol::kTcp, ctl->port, ctl->port}));
    }
    return allowed;
  }

  static Address Lowest(const AddressSet& s) {
    Family f = s.intervals(Family::kV4).empty() ? Family::kV6 : Family::kV4;
    return Address{f, s.intervals(f).front().lo};
  }

  // One address of each class (two distinct ones when they are the same address), or nullopt
  // for a pair that is no connection (two families, or one address to itself: loopback).
  std::optional<std::pair<Address, Address>> Ends(size_t i, size_t j) const {
    const AddressSet& b = dst_classes_[j];
    Address s = Lowest(src_classes_[i]);
    Address d = Lowest(b);
    if (s.family != d.family) return std::nullopt;
    if (s != d) return std::pair{s, d};
    const Interval& first = b.intervals(d.family).front();
    if (first.hi != first.lo) return std::pair{s, Address{d.family, first.lo + 1}};
    if (b.intervals(d.family).size() > 1) {
      return std::pair{s, Address{d.family, b.intervals(d.family)[1].lo}};
    }
    return std::nullopt;
  }

  std::optional<Party> PartyOf(const Policy& p, const Address& a) const {
    if (auto h = p.HostWithAddress(a); h && named_.count(p.hosts[*h].name)) {
      return Party{p.hosts[*h].name, true};
    }
    if (auto z = p.Classify(a)) return Party{p.zones[*z].name, false};
    return std::nullopt;
  }

  // Every address that is `party` in `p`: a host's addresses, or a zone's effective space
  // without the hosts named by flows.
  AddressSet AddressesOf(const Policy& p, const Party& party) const {
    if (party.host) return p.AddressesOf({Endpoint::Kind::kHost, *p.FindHost(party.name)});
    ZoneId z = *p.FindZone(party.name);
    AddressSet out = p.zones[z].effective;
    for (HostId h : p.zones[z].hosts) {
      if (named_.count(p.hosts[h].name))
        out = out.Subtract(p.AddressesOf({Endpoint::Kind::kHost, h}));
    }
    return out;
  }

  // Whether `part` is all of `whole` in the families `part` has.
  static bool Whole(const AddressSet& whole, const AddressSet& part) {
    AddressSet same_families;
    for (Family f : {Family::kV4, Family::kV6}) {
      if (part.intervals(f).empty()) continue;
      same_families =
          same_families.Union(whole.Intersect(AddressSet::Of(Prefix{Address{f, 0}, 0})));
    }
    return same_families.Subtract(part).Empty();
  }

  std::vector<std::string> Cite(const std::vector<FlowId>& ids, const Policy& p) const {
    std::vector<std::string> out;
    for (FlowId f : ids) out.push_back(p.flows[f].location.FileLine());
    return out;
  }

  // The cells of one group as exact rectangles: destinations per source class, then the
  // source classes with the same destinations merged.
  void AddRectangles(const std::tuple<Change, Party, Party, std::string>& key,
                     const std::vector<Cell>& cells, PolicyDiff& diff) const {
    const auto& [change, from, to, label] = key;
    std::map<size_t, std::set<size_t>> to_of;
    for (const Cell& c : cells) to_of[c.from_class].insert(c.to_class);
    std::map<std::set<size_t>, std::vector<size_t>> from_of;
    for (const auto& [i, js] : to_of) from_of[js].push_back(i);
    const Policy& p = change == Change::kAdded ? after_ : before_;
    for (const auto& [js, is] : from_of) {
      AccessChange a;
      a.change = change;
      a.from = from.name;
      a.to = to.name;
      a.from_is_host = from.host;
      a.to_is_host = to.host;
      for (size_t i : is) a.from_addresses = a.from_addresses.Union(src_classes_[i]);
      for (size_t j : js) a.to_addresses = a.to_addresses.Union(dst_classes_[j]);
      a.from_whole = Whole(AddressesOf(p, from), a.from_addresses);
      a.to_whole = Whole(AddressesOf(p, to), a.to_addresses);
      // Named copies: clang 14 cannot capture structured bindings.
      const size_t first_from = is.front();
      const std::set<size_t>& to_set = js;
      const Cell& c = *std::find_if(cells.begin(), cells.end(), [&](const Cell& x) {
        return x.from_class == first_from && to_set.count(x.to_class);
      });
      a.services = c.services;
      ServicePort first = c.services.Items().front();
      Protocol proto = first.protocol == Protocol::kAny ? Protocol::kTcp : first.protocol;
      Connection conn{c.source, c.destination, proto,
                      first.protocol == Protocol::kAny ? uint16_t{1} : first.lo};
      Verdict v = Decide(p, conn);
      a.flows = Cite(v.allowing, p);
      if (v.anti_lockout)
        a.flows.push_back(p.settings.location.FileLine() + " (settings.controller)");
      if (change == Change::kRemoved) a.denied_by = Cite(Decide(after_, conn).denying, after_);
      diff.access.push_back(std::move(a));
    }
  }

  const Policy& before_;
  const Policy& after_;
  std::set<std::string> named_;
  std::vector<Candidate> candidates_;
  std::vector<AddressSet> src_classes_, dst_classes_;
};

std::string PartyText(const std::string& name, bool whole, const AddressSet& addresses) {
  if (whole) return name;
  return absl::StrCat(name, " (", ShortAddressText(addresses), " only)");
}

std::string Citations(const std::vector<std::string>& flows) {
  return flows.empty() ? "" : absl::StrCat(" (", absl::StrJoin(flows, ", "), ")");
}

}  // namespace

std::vector<std::vector<bool>> TransitiveClosure(const ZoneGraph& graph) {
  const int n = graph.zone_count();
  std::vector<int> comp(n);
  // Boost.Graph finds the strongly connected components; the zone graph's own
  // storage is plain adjacency lists, so it is copied into Boost's form here.
  boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS> bg(n);
  for (const ZoneGraph::Arc& arc : graph.arcs()) boost::add_edge(arc.from, arc.to, bg);
  int count = boost::strong_components(
      bg, boost::make_iterator_property_map(comp.begin(), boost::get(boost::vertex_index, bg)));
  std::vector<std::vector<ZoneId>> members(count);
  for (ZoneId z = 0; z < n; ++z) members[comp[z]].push_back(z);
  // Tarjan numbers components in reverse topological order: every edge
  // leaving component c goes to a component with a smaller number.
  std::vector<boost::dynamic_bitset<>> reach(count, boost::dynamic_bitset<>(n));
  for (int c = 0; c < count; ++c) {
    for (ZoneId u : members[c]) {
      for (const ZoneGraph::Arc& arc : graph.out(u)) {
        ZoneId v = arc.to;
        reach[c].set(v);
        if (comp[v] != c) reach[c] |= reach[comp[v]];
      }
    }
    // Inside a cycle every member reaches every other (and itself).
    if (reach[c].any() && (members[c].size() > 1 || reach[c].test(members[c][0]))) {
      for (ZoneId m : members[c]) reach[c].set(m);
    }
  }
  std::vector<std::vector<bool>> out(n, std::vector<bool>(n, false));
  for (ZoneId a = 0; a < n; ++a) {
    const auto& bits = reach[comp[a]];
    for (auto b = bits.find_first(); b != boost::dynamic_bitset<>::npos; b = bits.find_next(b)) {
      out[a][b] = true;
    }
  }
  return out;
}

PolicyDiff DiffPolicies(const Policy& before, const ZoneGraph& before_graph, const Policy& after,
                        const ZoneGraph& after_graph) {
  PolicyDiff diff;
  AccessDiffer(before, after).Run(diff);
  DiffEdges(before, before_graph, after, after_graph, diff);
  auto rb = TransitiveClosure(before_graph);
  auto ra = TransitiveClosure(after_graph);
  OneSidedPairs(after, after_graph, ra, rb, MapZones(after, before), Change::kAdded, diff);
  OneSidedPairs(before, before_graph, rb, ra, MapZones(before, after), Change::kRemoved, diff);
  DiffMetadata(before, after, diff);
  return diff;
}

std::string FormatDiff(const PolicyDiff& diff, size_t max_pairs) {
  if (diff.Empty()) return "no change in access, reachability or flow metadata\n";
  std::string out;
  if (!diff.access.empty()) {
    absl::StrAppend(&out, "access (by host where a flow names the host, else by zone):\n");
  }
  size_t shown_access = 0;
  for (const AccessChange& a : diff.access) {
    if (shown_access++ == max_pairs) {
      absl::StrAppend(&out, "  ... and ", diff.access.size() - max_pairs, " more access changes\n");
      break;
    }
    bool added = a.change == Change::kAdded;
    absl::StrAppend(&out, added ? "  + " : "  - ",
                    PartyText(a.from, a.from_whole, a.from_addresses), " -> ",
                    PartyText(a.to, a.to_whole, a.to_addresses), ": ", a.services.ToString(),
                    added ? " becomes allowed" : " becomes denied");
    if (added) {
      absl::StrAppend(&out, Citations(a.flows));
    } else {
      if (!a.flows.empty())
        absl::StrAppend(&out, "; was allowed by ", absl::StrJoin(a.flows, ", "));
      if (!a.denied_by.empty())
        absl::StrAppend(&out, "; now denied by ", absl::StrJoin(a.denied_by, ", "));
    }
    absl::StrAppend(&out, "\n");
  }
  if (!diff.edges.empty()) absl::StrAppend(&out, "edges:\n");
  for (const EdgeChange& e : diff.edges) {
    switch (e.change) {
      case Change::kAdded:
        absl::StrAppend(&out, "  + ", e.from, " -> ", e.to, " [", e.services_after, "]",
                        Citations(e.flows), "\n");
        break;
      case Change::kRemoved:
        absl::StrAppend(&out, "  - ", e.from, " -> ", e.to, " [", e.services_before, "]",
                        e.flows.empty() ? "" : " was allowed by ", absl::StrJoin(e.flows, ", "),
                        "\n");
        break;
      case Change::kChanged:
        absl::StrAppend(&out, "  ~ ", e.from, " -> ", e.to, " [", e.services_before, "] => [",
                        e.services_after, "]", Citations(e.flows), "\n");
        break;
    }
  }
  if (!diff.pairs.empty()) absl::StrAppend(&out, "reachability:\n");
  size_t shown = 0;
  for (const PairChange& p : diff.pairs) {
    if (shown++ == max_pairs) {
      absl::StrAppend(&out, "  ... and ", diff.pairs.size() - max_pairs, " more zone pairs\n");
      break;
    }
    bool added = p.change == Change::kAdded;
    absl::StrAppend(&out, added ? "  + " : "  - ", p.to, " is ", added ? "now" : "no longer",
                    " reachable from ", p.from, added ? " by " : "; it was by ",
                    PathToString(p.path), "\n");
  }
  if (!diff.metadata.empty()) absl::StrAppend(&out, "flow metadata:\n");
  for (const MetadataChange& m : diff.metadata) {
    absl::StrAppend(&out, "  ~ ", m.location, "  flow `", m.flow, "` ", m.field, ": ",
                    m.before.empty() ? "(none)" : m.before, " => ",
                    m.after.empty() ? "(none)" : m.after, "\n");
  }
  size_t added = 0;
  for (const PairChange& p : diff.pairs) added += p.change == Change::kAdded;
  size_t allowed = 0;
  for (const AccessChange& a : diff.access) allowed += a.change == Change::kAdded;
  absl::StrAppend(&out, allowed, " access changes became allowed, ", diff.access.size() - allowed,
                  " became denied; ", diff.edges.size(), " edge changes; ", added,
                  " zone pairs became reachable, ", diff.pairs.size() - added,
                  " became unreachable; ", diff.metadata.size(), " flow metadata changes\n");
  return out;
}

}  // namespace polder
