// BootLoad is `polder-agent --boot`: run once early in boot, before any network is configured, it
// puts the last good ruleset back into table inet polder so the host is never open between its
// network coming up and the agent starting. It loads the ruleset the agent stored (RulesetStore)
// or, when nothing usable is stored, an optional bootstrap ruleset file in the compiler's format,
// through RulesetApplier (scope check, dry run, one atomic transaction), and returns. It never
// flushes or deletes anything by itself: with nothing to load the kernel is left as it is.
// The normal agent started later finds the table already equal to the stored ruleset and adopts
// it without a transaction.
#ifndef POLDER_AGENT_BOOT_LOAD_H_
#define POLDER_AGENT_BOOT_LOAD_H_

#include <filesystem>
#include <functional>
#include <string>

#include "agent/nft_kernel.h"
#include "agent/ruleset.h"
#include "agent/ruleset_store.h"

namespace polder::agent {

struct BootLoadOptions {
  std::filesystem::path state_dir = "/var/lib/polder-agent";  // the agent's RulesetStore
  std::filesystem::path bootstrap;  // empty: none; a missing file counts as none too
  std::string host;                 // when set, a ruleset for another host is not loaded
  bool dry_run = true;              // RulesetApplier::Options::dry_run
  // Reads a stored or bootstrap file; null: nft text only. The agent passes one that also takes
  // the wire form (`--format wire`), loaded through libnftnl.
  RulesetParser parse = nullptr;
  // Reads the stored ruleset; null: its text through `parse`. The agent passes one that keeps
  // the structured form a controller sent with it, so the boot load goes through libnftnl.
  std::function<absl::StatusOr<Ruleset>(const StoredRuleset&)> parse_stored = nullptr;
};

// What BootLoad did, for the exit code and the tests.
enum class BootLoadOutcome {
  kLoadedStored,
  kLoadedBootstrap,
  kNothingToLoad,  // no stored ruleset and no bootstrap file: the kernel is untouched
  kFailed,         // there was a ruleset to load and none could be loaded
};

// Exit code of `polder-agent --boot`: 0 unless there was something to load and nothing loaded.
int BootExitCode(BootLoadOutcome outcome);

// `say` gets one line per step (what was found, what was loaded, why something was skipped).
BootLoadOutcome BootLoad(const BootLoadOptions& options, NftKernel* kernel,
                         const std::function<void(const std::string&)>& say);

}  // namespace polder::agent

#endif  // POLDER_AGENT_BOOT_LOAD_H_
