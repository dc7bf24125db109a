// Keeps this controller serving the policy bundle the state store says every controller should
// serve (DesiredPolicy), and publishes new bundles with compare-and-swap on the version this
// controller last adopted, so that two controllers never flip-flop: a publish that loses the
// race adopts the winner's bundle instead.
//
// The Fleet compiles through Compiler(), which compiles the adopted bundle as written out under
// `cache_dir/<revision>/` (before any is adopted: the --policy directory).
//
//   BundleSync sync({policy_dir, cache_dir, adopt_at_start}, use_store, reload);
//   Fleet fleet(store, sync.Compiler());
//   sync.Start(now);   // adopt the store's bundle, or publish policy_dir into an empty store
//   fleet.Start(now);
//   ... sync.Poll() every 100 ms; sync.Publish(bundle, actor, reason) on an edit or admin RPC.
//
// Thread-safe: one call at a time runs (publish, poll, start); `reload` runs inside it.
#ifndef POLDER_CONTROLLER_BUNDLE_SYNC_H_
#define POLDER_CONTROLLER_BUNDLE_SYNC_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/compiled_policy.h"
#include "controller/policy_bundle.h"
#include "controller/state_store.h"

namespace polder::controller {

struct BundleSyncOptions {
  std::filesystem::path policy_dir;  // --policy
  std::filesystem::path cache_dir;   // where adopted bundles are written out (created)
  // A shared store (etcd): at start, serve the store's bundle and only warn when policy_dir
  // differs, so a controller restarted on an old checkout cannot roll the fleet back. A store
  // of one controller (SQLite): policy_dir is published at start when it differs.
  bool adopt_at_start = true;
};

struct PublishResult {
  bool published = false;  // false: unchanged, or lost the race (then `revision` is the winner's)
  bool lost_race = false;
  std::string revision;  // the desired policy's revision after the call
  std::string previous_revision;
  std::string digest;
};

class BundleSync {
 public:
  // Runs `f` on the store with access serialised against the Fleet's own writes.
  using UseStore = std::function<absl::Status(const std::function<absl::Status(StateStore&)>& f)>;
  // Recompiles and rolls out (Fleet::Reload) after a bundle was adopted; `reason` for the audit.
  // `adopted`: the policy is another controller's publish (it audited the rollout); false for
  // this controller's own.
  using Reload = std::function<absl::Status(const std::string& reason, bool adopted)>;

  BundleSync(BundleSyncOptions options, UseStore use_store, Reload reload);

  PolicyCompiler Compiler();

  // Before the Fleet starts (no reload): adopts the store's desired bundle, or publishes
  // policy_dir when the store holds none (or, without adopt_at_start, when it differs).
  absl::Status Start(absl::Time now);
  // Publishes `bundle` by `actor` after checking that it compiles: a CAS on the adopted version,
  // with an audit entry ("publish") in the same transaction; then adopts it and reloads. When
  // another controller published first, adopts that one (result.lost_race). An error leaves
  // everything as it was.
  absl::StatusOr<PublishResult> Publish(const PolicyBundle& bundle, const std::string& actor,
                                        const std::string& reason, absl::Time now);
  // Adopts (and reloads) when the store's desired policy changed. True when it did.
  absl::StatusOr<bool> Poll();

  std::optional<DesiredPolicy> adopted() const;

 private:
  // `theirs`: the desired policy is another controller's publish.
  absl::Status AdoptLocked(const DesiredPolicy& desired, bool reload, const std::string& reason,
                           bool theirs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<PublishResult> PublishLocked(const PolicyBundle& bundle, const std::string& actor,
                                              const std::string& reason, absl::Time now,
                                              bool reload) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `bundle` out (if not there yet) and compiles it plain: its revision, or why not.
  absl::StatusOr<std::string> CheckCompiles(const PolicyBundle& bundle, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::filesystem::path BundleDir(const std::string& name) const;

  const BundleSyncOptions options_;
  const UseStore use_store_;
  const Reload reload_;

  mutable absl::Mutex mu_ ABSL_ACQUIRED_BEFORE(compiler_mu_);
  std::optional<DesiredPolicy> adopted_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex compiler_mu_;
  std::shared_ptr<const PolicyCompiler> compiler_ ABSL_GUARDED_BY(compiler_mu_);
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_BUNDLE_SYNC_H_
