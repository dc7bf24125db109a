// RulesetApplier owns "the ruleset this host should have": it validates a new ruleset, applies
// it in one atomic kernel transaction (the script replaces table inet polder, nothing else),
// reads the table back as the desired state, and later compares the kernel against that state
// and restores it. On any failure the last good ruleset stays in force, in the kernel (a
// rejected transaction changes nothing) and here.
#ifndef POLDER_AGENT_RULESET_APPLIER_H_
#define POLDER_AGENT_RULESET_APPLIER_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/nft_kernel.h"
#include "agent/ruleset.h"

namespace polder::agent {

class RulesetApplier {
 public:
  struct Options {
    // Let the kernel check the transaction before committing it. The commit is atomic anyway;
    // the dry run only separates "refused" from "failed while applying" in reports.
    bool dry_run = true;
    // Tables with more set elements are compared and reported at the netlink level only.
    size_t max_elements_for_text_diff = 1000;
    // Reads what Apply(text) is given; null: nft text only (ParseRuleset). The agent's
    // process passes one that also takes the wire form (uplink/ruleset_file.h).
    RulesetParser parse = nullptr;
  };

  enum class Outcome { kApplied, kAdopted, kUnchanged };
  struct Result {
    Outcome outcome;
    absl::Duration duration;
  };

  RulesetApplier(NftKernel* kernel, Options options)
      : kernel_(kernel), options_(std::move(options)) {}

  // Makes `text` the enforced ruleset. The first call adopts a matching table already in the
  // kernel (an agent restart) instead of replacing it.
  absl::StatusOr<Result> Apply(std::string text);
  // The same for a ruleset already parsed. A structured one goes through libnftnl: one batch
  // of only the differences from the kernel's table, without a dry run (the kernel checks the
  // batch as a whole and commits all or nothing).
  absl::StatusOr<Result> Apply(Ruleset ruleset);

  // Differences between the kernel's table and the desired one; empty when in sync.
  // `changed_sets`: the sets whose elements a foreign change touched (from its notification);
  // only those are read from the kernel, the others are taken as desired. Null: read all.
  // `read` (may be null) receives the kernel's table as read when it differs, for a Restore
  // right after.
  // `changed_chains` (with `changed_sets` only): the chains whose rules a foreign change
  // touched; only their rules are read, the others' are taken as desired (on a host with 2,000
  // chains a dump of every rule costs ~30 ms). Null: read every chain's rules.
  absl::StatusOr<std::vector<std::string>> Check(
      const std::set<std::string>* changed_sets = nullptr,
      std::optional<TableSnapshot>* read = nullptr,
      const std::set<std::string>* changed_chains = nullptr);

  // Puts the desired ruleset back in one atomic transaction: for a structured ruleset only what
  // differs (a foreign rule deleted, a flushed chain refilled, elements put back); a full
  // reload when the table is gone.
  // `just_read`: the table as the Check before it read it (same `changed_sets`), so that it is
  // not dumped again: on a host with 2,000 chains each dump of the rules costs ~30 ms.
  absl::StatusOr<absl::Duration> Restore(const std::set<std::string>* changed_sets = nullptr,
                                         std::optional<TableSnapshot> just_read = std::nullopt);

  // Replaces the table with the current structured ruleset in one batch and reads it back
  // again: for when a foreign commit may have landed between the last commit and its read-back
  // (the read-back would then hold the foreign change as desired).
  absl::StatusOr<absl::Duration> Reload();

  const std::optional<Ruleset>& current() const { return current_; }
  const TableSnapshot& desired_snapshot() const { return desired_snapshot_; }
  // Empty for tables too big for text diffs.
  const std::string& desired_listing() const { return desired_listing_; }

 private:
  absl::Status Commit(const Ruleset& ruleset);
  absl::StatusOr<Result> ApplyStructured(Ruleset ruleset, absl::Time start);
  void KeepDesired(TableSnapshot snapshot);

  NftKernel* kernel_;
  Options options_;
  std::optional<Ruleset> current_;
  TableSnapshot desired_snapshot_;
  std::string desired_listing_;
  // The kernel's table was desired_snapshot_ at the last commit or comparison. Only then may a
  // check read just what a notification names and take the rest as desired: a drift left in
  // place (no remediation, a failed restore) would otherwise vanish from the next report.
  bool kernel_known_ = false;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_RULESET_APPLIER_H_
