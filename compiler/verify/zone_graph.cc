#include "compiler/verify/zone_graph.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

using PairKey = uint64_t;

PairKey KeyOf(ZoneId from, ZoneId to) {
  return (static_cast<uint64_t>(from) << 32) | static_cast<uint32_t>(to);
}
ZoneId FromOf(PairKey k) { return static_cast<ZoneId>(k >> 32); }
ZoneId ToOf(PairKey k) { return static_cast<ZoneId>(k & 0xffffffffu); }

// One flow restricted to one zone pair: the addresses it covers on each side
// and its services. Flows that name several zones become several boxes.
struct Box {
  FlowId flow = -1;
  const AddressSet* src = nullptr;
  const AddressSet* dst = nullptr;
  const ServiceSpace* services = nullptr;
};

struct Entry {
  PairKey key;
  bool deny;
  Box box;
};

// What a flow's `from` (or `to`) list covers, split by the zone each address
// classifies into. `sources`, when given, narrows every part.
std::map<ZoneId, AddressSet> PartsByZone(const Policy& policy, const std::vector<Endpoint>& ends,
                                         const AddressSet* sources) {
  std::map<ZoneId, AddressSet> parts;
  std::vector<ZoneId> whole;
  for (const Endpoint& e : ends) {
    if (e.kind == Endpoint::Kind::kZone) {
      whole.push_back(e.id);
      continue;
    }
    for (const Address& a : policy.hosts[e.id].addresses) {
      std::optional<ZoneId> z = policy.Classify(a);
      if (z) parts[*z].Add(a);
    }
  }
  // A zone's effective space already holds the addresses of its hosts.
  for (ZoneId z : whole) parts[z] = policy.zones[z].effective;
  for (auto it = parts.begin(); it != parts.end();) {
    if (sources) it->second = it->second.Intersect(*sources);
    it = it->second.Empty() ? parts.erase(it) : std::next(it);
  }
  return parts;
}

// Splits `space`'s addresses of family `f` where the given sets start and end,
// and returns, for each distinct combination, which of the sets cover a piece
// (indices, sorted). Pieces with the same combination are equivalent for the
// pair at hand.
std::vector<std::vector<int>> CoverClasses(const AddressSet& space,
                                           const std::vector<const AddressSet*>& sets, Family f) {
  std::vector<std::vector<int>> classes;
  std::vector<absl::uint128> cuts;
  for (const AddressSet* s : sets) {
    for (const Interval& i : s->intervals(f)) {
      cuts.push_back(i.lo);
      if (i.hi != FamilyMax(f)) cuts.push_back(i.hi + 1);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (const Interval& i : space.intervals(f)) {
    // Piece starts: i.lo and every cut strictly inside the interval.
    std::vector<absl::uint128> starts{i.lo};
    for (auto it = std::upper_bound(cuts.begin(), cuts.end(), i.lo);
         it != cuts.end() && *it <= i.hi; ++it) {
      starts.push_back(*it);
    }
    for (absl::uint128 start : starts) {
      std::vector<int> cover;
      for (int k = 0; k < static_cast<int>(sets.size()); ++k) {
        if (sets[k]->Contains(Address{f, start})) cover.push_back(k);
      }
      classes.push_back(std::move(cover));
    }
  }
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  return classes;
}

class GraphBuilder {
 public:
  explicit GraphBuilder(const Policy& policy) : policy_(policy) {}

  ZoneGraph Build() {
    ZoneGraph g(static_cast<int>(policy_.zones.size()));
    g.allow_effective.assign(policy_.flows.size(), false);
    g.deny_used.assign(policy_.flows.size(), false);
    g.denied_by.assign(policy_.flows.size(), {});
    graph_ = &g;
    CollectBoxes();
    EvaluatePairs();
    AddAntiLockout();
    std::sort(results_.begin(), results_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [key, edge] : results_) {
      if (edge.flows.empty() && !edge.anti_lockout) continue;
      std::sort(edge.flows.begin(), edge.flows.end());
      edge.flows.erase(std::unique(edge.flows.begin(), edge.flows.end()), edge.flows.end());
      std::sort(edge.narrowing.begin(), edge.narrowing.end());
      edge.narrowing.erase(std::unique(edge.narrowing.begin(), edge.narrowing.end()),
                           edge.narrowing.end());
      g.AddEdge(FromOf(key), ToOf(key), std::move(edge));
    }
    return g;
  }

 private:
  void CollectBoxes() {
    services_.reserve(policy_.flows.size());
    for (FlowId id = 0; id < static_cast<FlowId>(policy_.flows.size()); ++id) {
      const Flow& f = policy_.flows[id];
      services_.push_back(SpaceOfServices(policy_, f.services));
      if (!f.active || services_.back().Empty()) continue;
      AddressSet sources;
      if (f.sources) {
        for (const Prefix& p : *f.sources) sources.Add(p);
      }
      auto from = PartsByZone(policy_, f.from, f.sources ? &sources : nullptr);
      if (from.empty()) continue;
      auto to = PartsByZone(policy_, f.to, nullptr);
      std::vector<const AddressSet*> to_sets;
      for (auto& [zone, set] : to) {
        storage_.push_back(std::move(set));
        to_sets.push_back(&storage_.back());
      }
      for (auto& [from_zone, from_set] : from) {
        storage_.push_back(std::move(from_set));
        const AddressSet* src = &storage_.back();
        int k = 0;
        for (const auto& [to_zone, unused] : to) {
          entries_.push_back({KeyOf(from_zone, to_zone), f.action == Action::kDeny,
                              Box{id, src, to_sets[k++], &services_.back()}});
        }
      }
    }
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.key < b.key; });
  }

  void EvaluatePairs() {
    std::vector<const Box*> allows, denies;
    for (size_t i = 0; i < entries_.size();) {
      size_t j = i;
      allows.clear();
      denies.clear();
      for (; j < entries_.size() && entries_[j].key == entries_[i].key; ++j) {
        (entries_[j].deny ? denies : allows).push_back(&entries_[j].box);
      }
      if (!allows.empty()) {
        ZoneEdge edge;
        for (const Box* a : allows) EvaluateAllow(*a, denies, edge);
        // Kept even when denies took everything: the anti-lockout may still
        // add the edge, and then these denies narrow it.
        if (!edge.flows.empty() || !edge.narrowing.empty()) {
          results_.emplace_back(entries_[i].key, std::move(edge));
        }
      }
      i = j;
    }
  }

  // Adds to `edge` what `allow` still allows once the pair's denies are taken
  // away, per class of equivalent (source, destination) addresses.
  void EvaluateAllow(const Box& allow, const std::vector<const Box*>& denies, ZoneEdge& edge) {
    std::vector<const Box*> relevant;
    for (const Box* d : denies) {
      if (d->services->Overlaps(*allow.services) && d->src->Overlaps(*allow.src) &&
          d->dst->Overlaps(*allow.dst)) {
        relevant.push_back(d);
      }
    }
    // A connection joins two addresses of one family: an IPv6 source never
    // reaches an IPv4 destination, so each family is a pair of its own.
    std::vector<Family> families;
    for (Family f : {Family::kV4, Family::kV6}) {
      if (!allow.src->intervals(f).empty() && !allow.dst->intervals(f).empty()) {
        families.push_back(f);
      }
    }
    if (families.empty()) return;
    if (relevant.empty()) {
      edge.services.Add(*allow.services);
      MarkEffective(allow.flow, edge);
      return;
    }
    std::vector<const AddressSet*> srcs, dsts;
    for (const Box* d : relevant) {
      srcs.push_back(d->src);
      dsts.push_back(d->dst);
    }
    bool effective = false;
    for (Family f : families) effective |= EvaluateFamily(allow, relevant, srcs, dsts, f, edge);
    if (effective) MarkEffective(allow.flow, edge);
    auto& by = graph_->denied_by[allow.flow];
    std::sort(by.begin(), by.end());
    by.erase(std::unique(by.begin(), by.end()), by.end());
  }

  // Adds to `edge` what `allow` still allows between addresses of family `f`
  // once `relevant` denies (whose address sets are `srcs`, `dsts`) are taken
  // away; true if anything is left.
  bool EvaluateFamily(const Box& allow, const std::vector<const Box*>& relevant,
                      const std::vector<const AddressSet*>& srcs,
                      const std::vector<const AddressSet*>& dsts, Family f, ZoneEdge& edge) {
    bool effective = false;
    std::vector<int> both;
    std::vector<std::vector<int>> dst_classes = CoverClasses(*allow.dst, dsts, f);
    for (const auto& sc : CoverClasses(*allow.src, srcs, f)) {
      for (const auto& dc : dst_classes) {
        both.clear();
        std::set_intersection(sc.begin(), sc.end(), dc.begin(), dc.end(), std::back_inserter(both));
        ServiceSpace removed;
        for (int k : both) {
          removed.Add(*relevant[k]->services);
          graph_->deny_used[relevant[k]->flow] = true;
          graph_->denied_by[allow.flow].push_back(relevant[k]->flow);
          edge.narrowing.push_back(relevant[k]->flow);
        }
        ServiceSpace rest = allow.services->Subtract(removed);
        if (rest.Empty()) continue;
        edge.services.Add(rest);
        effective = true;
      }
    }
    return effective;
  }

  void MarkEffective(FlowId flow, ZoneEdge& edge) {
    graph_->allow_effective[flow] = true;
    edge.flows.push_back(flow);
  }

  // Managed hosts may always reach the controller (spec §7), whatever the
  // flows and denies say, so this is added after them.
  void AddAntiLockout() {
    const auto& ctl = policy_.settings.controller;
    if (!ctl) return;
    // By family: a host reaches a controller address of its own address family only.
    std::set<std::pair<ZoneId, Family>> managed, targets;
    for (const Host& h : policy_.hosts) {
      for (const Address& a : h.addresses) {
        if (policy_.Classify(a) == h.zone) managed.insert({h.zone, a.family});
      }
    }
    for (const Address& a : ctl->addresses) {
      if (auto z = policy_.Classify(a)) targets.insert({*z, a.family});
    }
    ServiceSpace port = ServiceSpace::Of(ServicePort{Protocol::kTcp, ctl->port, ctl->port});
    std::map<PairKey, size_t> index;
    for (size_t i = 0; i < results_.size(); ++i) index[results_[i].first] = i;
    for (const auto& [z, zf] : managed) {
      for (const auto& [t, tf] : targets) {
        if (zf != tf) continue;
        PairKey key = KeyOf(z, t);
        auto it = index.find(key);
        if (it == index.end()) {
          it = index.emplace(key, results_.size()).first;
          results_.emplace_back(key, ZoneEdge{});
        }
        ZoneEdge& edge = results_[it->second].second;
        edge.anti_lockout = true;
        edge.services.Add(port);
      }
    }
  }

  const Policy& policy_;
  ZoneGraph* graph_ = nullptr;
  std::vector<ServiceSpace> services_;  // per flow
  std::deque<AddressSet> storage_;      // stable addresses for Box pointers
  std::vector<Entry> entries_;
  std::vector<std::pair<PairKey, ZoneEdge>> results_;
};

}  // namespace

const ZoneEdge* ZoneGraph::Edge(ZoneId from, ZoneId to) const {
  if (from < 0 || to < 0 || from >= zone_count() || to >= zone_count()) return nullptr;
  for (const Arc& a : out_[from]) {
    if (a.to == to) return &edges_[a.id];
  }
  return nullptr;
}

void ZoneGraph::AddEdge(ZoneId from, ZoneId to, ZoneEdge edge) {
  Arc arc{from, to, static_cast<int>(arcs_.size())};
  arcs_.push_back(arc);
  edges_.push_back(std::move(edge));
  out_[from].push_back(arc);
  in_[to].push_back(arc);
}

ZoneGraph BuildZoneGraph(const Policy& policy) { return GraphBuilder(policy).Build(); }

std::vector<FlowPart> FlowParts(const Policy& policy, const Flow& flow) {
  AddressSet sources;
  if (flow.sources) {
    for (const Prefix& p : *flow.sources) sources.Add(p);
  }
  auto from = PartsByZone(policy, flow.from, flow.sources ? &sources : nullptr);
  auto to = PartsByZone(policy, flow.to, nullptr);
  std::vector<FlowPart> parts;
  for (const auto& [fz, fs] : from) {
    for (const auto& [tz, ts] : to) parts.push_back({fz, tz, fs, ts});
  }
  return parts;
}

namespace {

// What a breadth-first visit does with a zone it reaches.
enum class Step { kSkip, kEnqueue, kStop };

// Breadth-first from `start` along the edges (or against them, with
// `backwards`). `start` is never marked on the way in, so a traversal of
// paths of one or more edges meets it again only through a cycle; `visit(u,
// v)` sees each edge u -> v (v -> u backwards) whose far end is new.
template <typename Visit>
void BreadthFirst(const ZoneGraph& g, ZoneId start, bool backwards, Visit visit) {
  std::vector<bool> seen(g.zone_count(), false);
  std::deque<ZoneId> queue{start};
  while (!queue.empty()) {
    ZoneId u = queue.front();
    queue.pop_front();
    for (const ZoneGraph::Arc& a : backwards ? g.in(u) : g.out(u)) {
      ZoneId v = backwards ? a.from : a.to;
      if (seen[v]) continue;
      seen[v] = true;
      Step step = visit(u, v);
      if (step == Step::kStop) return;
      if (step == Step::kEnqueue) queue.push_back(v);
    }
  }
}

// The path from `from` to `last` along `parent` links (parent[last] first).
ZonePath PathBack(const std::vector<ZoneId>& parent, ZoneId from, ZoneId last) {
  ZonePath path{last};
  for (ZoneId z = parent[last]; z != from; z = parent[z]) path.push_back(z);
  path.push_back(from);
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace

std::optional<ZonePath> PathsFrom::PathTo(ZoneId z) const {
  if (parent[z] < 0) return std::nullopt;
  return PathBack(parent, from, z);
}

PathsFrom ShortestPathsFrom(const ZoneGraph& g, ZoneId from) {
  PathsFrom out{from, std::vector<ZoneId>(g.zone_count(), -1)};
  BreadthFirst(g, from, /*backwards=*/false, [&](ZoneId u, ZoneId v) {
    out.parent[v] = u;
    return Step::kEnqueue;
  });
  return out;
}

std::optional<ZonePath> ShortestPath(const ZoneGraph& g, ZoneId from,
                                     const std::vector<bool>& targets,
                                     const std::vector<bool>& blocked) {
  std::vector<ZoneId> parent(g.zone_count(), -1);
  std::optional<ZonePath> found;
  BreadthFirst(g, from, /*backwards=*/false, [&](ZoneId u, ZoneId v) {
    if (!blocked.empty() && blocked[v]) return Step::kSkip;
    parent[v] = u;
    if (!targets[v]) return Step::kEnqueue;
    found = PathBack(parent, from, v);
    return Step::kStop;
  });
  return found;
}

std::optional<ZonePath> ShortestPathEndingWith(
    const ZoneGraph& g, ZoneId from, const std::vector<bool>& targets,
    const std::function<bool(const ZoneEdge&)>& last_edge_ok, const std::vector<bool>& blocked) {
  // Breadth-first distances from `from` (0 for itself), then the first zone
  // in that order with a qualifying last edge gives a shortest path: its
  // prefix may be any shortest path to the zone before the last edge.
  std::vector<ZoneId> parent(g.zone_count(), -1);
  std::vector<bool> seen(g.zone_count(), false);
  std::vector<ZoneId> order{from};
  seen[from] = true;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const ZoneGraph::Arc& a : g.out(order[i])) {
      if (seen[a.to] || (!blocked.empty() && blocked[a.to])) continue;
      seen[a.to] = true;
      parent[a.to] = order[i];
      order.push_back(a.to);
    }
  }
  for (ZoneId u : order) {
    for (const ZoneGraph::Arc& a : g.out(u)) {
      if (!targets[a.to] || (!blocked.empty() && blocked[a.to]) || !last_edge_ok(g.edge(a))) {
        continue;
      }
      ZonePath path = u == from ? ZonePath{from} : PathBack(parent, from, u);
      path.push_back(a.to);
      return path;
    }
  }
  return std::nullopt;
}

ZonePath PathsTo::PathFrom(ZoneId z) const {
  ZonePath path{z};
  for (int steps = distance[z]; steps > 0; --steps) {
    z = next[z];
    path.push_back(z);
  }
  return path;
}

PathsTo ShortestPathsTo(const ZoneGraph& g, ZoneId target) {
  const int n = g.zone_count();
  PathsTo out{std::vector<int>(n, -1), std::vector<ZoneId>(n, -1)};
  // Distances are to `target` by one or more edges, so the target itself is
  // only reached through a cycle.
  BreadthFirst(g, target, /*backwards=*/true, [&](ZoneId v, ZoneId u) {
    // Only the first visit of `target` relaxes its own in-edges (a cycle back to it finds them
    // seen), so its distance counts as 0 there.
    out.distance[u] = (v == target ? 0 : out.distance[v]) + 1;
    out.next[u] = v;
    return Step::kEnqueue;
  });
  return out;
}

std::vector<bool> ReachableFrom(const ZoneGraph& g, ZoneId from) {
  std::vector<bool> reached(g.zone_count(), false);
  BreadthFirst(g, from, /*backwards=*/false, [&](ZoneId, ZoneId v) {
    reached[v] = true;
    return Step::kEnqueue;
  });
  return reached;
}

std::vector<std::string> EdgeCitations(const Policy& policy, const ZoneEdge& edge) {
  std::vector<std::string> out;
  for (FlowId f : edge.flows) out.push_back(policy.flows[f].location.FileLine());
  if (edge.anti_lockout) {
    out.push_back(absl::StrCat(policy.settings.location.FileLine(), " ", kAntiLockoutCitation));
  }
  return out;
}

std::vector<PathStep> DescribePath(const Policy& policy, const ZoneGraph& g, const ZonePath& path) {
  std::vector<PathStep> steps;
  for (size_t i = 0; i < path.size(); ++i) {
    PathStep step{policy.zones[path[i]].name, {}};
    if (i > 0) {
      if (const ZoneEdge* e = g.Edge(path[i - 1], path[i])) step.flows = EdgeCitations(policy, *e);
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

std::string PathToString(const std::vector<PathStep>& steps) {
  constexpr size_t kShown = 3;
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, " -> ");
    absl::StrAppend(&out, steps[i].zone);
    const auto& flows = steps[i].flows;
    if (flows.empty()) continue;
    std::vector<std::string> shown(flows.begin(), flows.begin() + std::min(kShown, flows.size()));
    if (flows.size() > kShown)
      shown.push_back(absl::StrCat("and ", flows.size() - kShown, " more"));
    absl::StrAppend(&out, " (", absl::StrJoin(shown, ", "), ")");
  }
  return out;
}

}  // namespace polder
