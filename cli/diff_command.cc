#include "cli/diff_command.h"

#include <iostream>
#include <memory>

#include "cli/cli_common.h"
#include "compiler/verify/policy_diff.h"
#include "compiler/verify/zone_graph.h"

namespace polder::cli {
namespace {

// 1 is an answer (something changed): a policy with errors, already printed, leaves diff unable
// to answer (2).
absl::StatusOr<int> RunDiff(const std::string& old_dir, const std::string& new_dir,
                            const std::string& now, size_t max_pairs) {
  absl::StatusOr<std::optional<LoadResult>> before = LoadOrReport(old_dir, now);
  if (!before.ok()) return before.status();
  if (!*before) return kExitCannotRun;
  absl::StatusOr<std::optional<LoadResult>> after = LoadOrReport(new_dir, now);
  if (!after.ok()) return after.status();
  if (!*after) return kExitCannotRun;
  const Policy& p0 = (*before)->policy;
  const Policy& p1 = (*after)->policy;
  PolicyDiff diff = DiffPolicies(p0, BuildZoneGraph(p0), p1, BuildZoneGraph(p1));
  std::cout << FormatDiff(diff, max_pairs);
  return diff.Empty() ? kExitOk : kExitFindings;
}

}  // namespace

void AddDiffCommand(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string old_dir, new_dir, now;
    size_t max_pairs = 200;
  };
  auto args = std::make_shared<Args>();
  CLI::App* diff = app.add_subcommand(
      "diff", "Edges and zone pairs that become (un)reachable between two policy revisions");
  diff->add_option("OLD_DIR", args->old_dir, "The policy before")->required();
  diff->add_option("NEW_DIR", args->new_dir, "The policy after")->required();
  diff->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  diff->add_option("--max-pairs", args->max_pairs,
                   "Show at most this many reachability changes (default 200)");
  OnChosen(diff, chosen,
           [args] { return RunDiff(args->old_dir, args->new_dir, args->now, args->max_pairs); });
}

}  // namespace polder::cli
