#include "cli/diff_command.h"

#include <iostream>
#include <memory>

#include "cli/cli_common.h"
#include "compiler/verify/policy_diff.h"
#include "compiler/verify/zone_graph.h"
#include "nlohmann/json.hpp"

namespace polder::cli {
namespace {

using nlohmann::json;

json Ranges(const AddressSet& set) {
  json out = json::array();
  for (const AddressRange& r : set.Ranges()) {
    out.push_back(r.lo == r.hi ? Address{r.family, r.lo}.ToString() : r.ToString());
  }
  return out;
}

json Ports(const ServiceSpace& space) {
  json out = json::array();
  for (const ServicePort& p : space.Items()) out.push_back(ServicePortLabel(p));
  return out;
}

json PathJson(const std::vector<PathStep>& path) {
  json out = json::array();
  for (const PathStep& s : path) out.push_back({{"zone", s.zone}, {"flows", s.flows}});
  return out;
}

const char* EdgeChangeName(Change c) {
  switch (c) {
    case Change::kAdded:
      return "added";
    case Change::kRemoved:
      return "removed";
    case Change::kChanged:
      return "changed";
  }
  return "changed";
}

json DiffJson(const Policy& before, const Policy& after, const PolicyDiff& diff) {
  json access = json::array();
  for (const AccessChange& a : diff.access) {
    access.push_back({{"change", a.change == Change::kAdded ? "allowed" : "denied"},
                      {"from",
                       {{"name", a.from},
                        {"kind", a.from_is_host ? "host" : "zone"},
                        {"addresses", Ranges(a.from_addresses)},
                        {"whole", a.from_whole}}},
                      {"to",
                       {{"name", a.to},
                        {"kind", a.to_is_host ? "host" : "zone"},
                        {"addresses", Ranges(a.to_addresses)},
                        {"whole", a.to_whole}}},
                      {"services", Ports(a.services)},
                      {"flows", a.flows},
                      {"denied_by", a.denied_by}});
  }
  json edges = json::array();
  for (const EdgeChange& e : diff.edges) {
    edges.push_back({{"change", EdgeChangeName(e.change)},
                     {"from", e.from},
                     {"to", e.to},
                     {"services_before", e.services_before},
                     {"services_after", e.services_after},
                     {"flows", e.flows}});
  }
  json pairs = json::array();
  for (const PairChange& p : diff.pairs) {
    pairs.push_back({{"change", p.change == Change::kAdded ? "reachable" : "unreachable"},
                     {"from", p.from},
                     {"to", p.to},
                     {"path", PathJson(p.path)}});
  }
  json metadata = json::array();
  for (const MetadataChange& m : diff.metadata) {
    metadata.push_back({{"flow", m.flow},
                        {"location", m.location},
                        {"field", m.field},
                        {"before", m.before.empty() ? json(nullptr) : json(m.before)},
                        {"after", m.after.empty() ? json(nullptr) : json(m.after)}});
  }
  return {{"old_revision", before.revision}, {"new_revision", after.revision},
          {"changed", !diff.Empty()},        {"access", std::move(access)},
          {"edges", std::move(edges)},       {"reachability", std::move(pairs)},
          {"metadata", std::move(metadata)}};
}

// 1 is an answer (something changed): a policy with errors, already printed, leaves diff unable
// to answer (2).
absl::StatusOr<int> RunDiff(const std::string& old_dir, const std::string& new_dir,
                            const std::string& now, size_t max_pairs, const std::string& format) {
  absl::StatusOr<std::optional<LoadResult>> before = LoadOrReport(old_dir, now);
  if (!before.ok()) return before.status();
  if (!*before) return kExitCannotRun;
  absl::StatusOr<std::optional<LoadResult>> after = LoadOrReport(new_dir, now);
  if (!after.ok()) return after.status();
  if (!*after) return kExitCannotRun;
  const Policy& p0 = (*before)->policy;
  const Policy& p1 = (*after)->policy;
  PolicyDiff diff = DiffPolicies(p0, BuildZoneGraph(p0), p1, BuildZoneGraph(p1));
  if (format == "json") {
    std::cout << DiffJson(p0, p1, diff).dump(2) << "\n";
  } else {
    std::cout << FormatDiff(diff, max_pairs);
  }
  return diff.Empty() ? kExitOk : kExitFindings;
}

}  // namespace

void AddDiffCommand(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string old_dir, new_dir, now, format = "text";
    size_t max_pairs = 200;
  };
  auto args = std::make_shared<Args>();
  CLI::App* diff = app.add_subcommand(
      "diff",
      "What becomes allowed or denied between two policy revisions (by host, zone and port), "
      "zone edges and paths, and changed flow metadata");
  diff->add_option("OLD_DIR", args->old_dir, "The policy before")->required();
  diff->add_option("NEW_DIR", args->new_dir, "The policy after")->required();
  diff->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  diff->add_option("--max-pairs", args->max_pairs,
                   "In text, show at most this many access and reachability changes each "
                   "(default 200; JSON has them all)");
  diff->add_option("--format", args->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  OnChosen(diff, chosen, [args] {
    return RunDiff(args->old_dir, args->new_dir, args->now, args->max_pairs, args->format);
  });
}

}  // namespace polder::cli
