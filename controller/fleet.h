// The controller's domain core: which revision is served, what each host
// should run, which agents are connected, and what they reported. gRPC
// services translate messages into calls on a Fleet and nothing more.
//
// Rules it enforces:
//  - A policy that fails to compile is never rolled out; the last good
//    revision stays in force and the reason is kept for `status`.
//  - Each host receives only its own ruleset, and only when that ruleset's
//    hash differs from what the agent has applied.
//  - An agent for a host that is not in the policy is refused.
// Thread-safe: one mutex guards the state; a policy compile holds none of
// the locks agents' reports need. Sinks must not call back into the Fleet.
#ifndef POLDER_CONTROLLER_FLEET_H_
#define POLDER_CONTROLLER_FLEET_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/compiled_policy.h"
#include "controller/metrics.h"
#include "controller/state_store.h"

namespace polder::controller {

struct AssignmentInfo {
  std::string revision;
  std::shared_ptr<const std::string> ruleset;
  std::string hash;
  wire::Mode mode = wire::Mode::kEnforce;
  absl::Time confirm_deadline;
  std::shared_ptr<const wire::NftRuleset> nft_ruleset = nullptr;  // null: only the text is known
  uint64_t generation = 0;  // the controller's, when it was sent
};

// One connected agent stream, as the Fleet sees it.
class AgentSink {
 public:
  virtual ~AgentSink() = default;
  virtual void Assign(const AssignmentInfo& assignment) = 0;
  // The agent already runs what the controller wants for it: nothing to apply.
  virtual void InSync(const std::string& revision, uint64_t generation) {
    (void)revision;
    (void)generation;
  }
  // Ends the stream with `status` (e.g. replaced by a newer connection).
  virtual void Close(const absl::Status& status) = 0;
};

struct HelloInfo {
  std::string host;
  std::string agent_version;
  std::string applied_revision;
  std::string ruleset_hash;
  std::vector<std::string> degraded = {};  // what the agent says keeps it from working fully
  uint64_t applied_generation = 0;         // of the assignment it applied; 0 when unknown
};

struct HostStatusInfo {
  std::string host;
  std::string zone;
  bool connected = false;
  std::string desired_revision;
  std::string applied_revision;  // verified: the answer to an assignment this controller sent
  bool drift = false;
  std::optional<absl::Time> last_report;
  bool quarantined = false;
  std::string last_error;
  // What the agent itself last claimed to run, when that differs from applied_revision.
  std::string reported_revision;
  // "kind: detail" per problem: the agent's own (store-error, kernel-read-error) and the
  // controller's (clock-skew). Empty when healthy.
  std::vector<std::string> degraded = {};
};

struct FleetStatus {
  std::string revision;
  std::string policy_error;
  std::vector<HostStatusInfo> hosts;
  std::vector<QuarantineRecord> quarantines;
  // Targets of quarantines in force that the store has not recorded yet (it is retried).
  std::set<std::string> unrecorded_quarantines;
  std::optional<PostureRecord> posture;  // the active posture, if any
};

struct FleetOptions {
  absl::Duration confirm_timeout = absl::Seconds(30);
  // An agent whose heartbeat's time is further than this from the controller's clock is
  // degraded (clock-skew): its certificates, expiries and logs would be judged wrongly.
  absl::Duration max_clock_skew = absl::Seconds(60);
  // How long a quarantine's answer waits for the store to record it. The quarantine is in force
  // on the agents before that; past it (a store without quorum answers after seconds), the
  // answer says it is not recorded yet, and the writer thread keeps trying.
  absl::Duration order_record_wait = absl::Seconds(2);
};

class Fleet {
 public:
  // Writes to `store` go through a writer thread in batched transactions,
  // so a thousand apply results cost one commit and no agent waits on disk.
  Fleet(StateStore* store, PolicyCompiler compiler, FleetOptions options = {});
  ~Fleet();  // flushes pending writes
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Restores state from the store, then compiles and rolls out.
  absl::Status Start(absl::Time now);
  // Compiles again (policy changed or a flow expired) and rolls out changes; `reason` goes to
  // the audit log's rollout entry.
  // `audited`: false when the new policy came from the store, published by another controller
  // that audited its rollout already (the shared audit log holds each rollout once).
  absl::Status Reload(absl::Time now, const std::string& reason = "policy recompiled",
                      bool audited = true);
  // A new policy was refused before it reached this Fleet's compiler (a directory that does not
  // compile is not published): kept for status and audited as policy-rejected, as a refusal of
  // Reload's compile is; the served revision stays.
  void RefusePolicy(absl::Time now, const std::string& actor, const std::string& reason,
                    const absl::Status& error);
  // Several controllers on one store: takes the quarantines and posture the store holds (other
  // controllers' orders) and rolls them out when they differ from what this one serves, and
  // adopts the store's generation when it is newer. True when something was rolled out.
  // Serialised with this controller's own orders, so it never sees one half-recorded.
  absl::StatusOr<bool> SyncFromStore(absl::Time now);

  // An agent stream said Hello. Returns a session id for later calls.
  absl::StatusOr<uint64_t> Connect(const HelloInfo& hello, AgentSink* sink, absl::Time now);
  void Disconnect(const std::string& host, uint64_t session, absl::Time now);
  // Takes a result only as the answer to an assignment sent on this session (its revision, and
  // for a success its ruleset hash, must match), or as a success with exactly the ruleset this
  // controller wants the host to run. Anything else is logged, counted and kept only as the
  // host's reported revision: an agent cannot make `polder status` show what it likes.
  void OnApplyResult(const std::string& host, uint64_t session, const ApplyRecord& r);
  void OnDrift(const std::string& host, uint64_t session, const DriftRecord& d);
  // `agent_time` is the agent's clock (compared with `now`, the controller's); `degraded` the
  // agent's whole degraded state, replacing the last one it sent.
  void OnHeartbeat(const std::string& host, uint64_t session, absl::Time now,
                   std::optional<absl::Time> agent_time = std::nullopt,
                   std::optional<std::vector<std::string>> degraded = std::nullopt);

  // Admin operations; both return the revision now served.
  // A quarantine the store has not recorded within order_record_wait is an error that says
  // so, but it stays in force and is recorded as soon as the store takes it (before any later
  // write of this controller): an acknowledged order is always in the store.
  absl::StatusOr<std::string> Quarantine(QuarantineRecord order, absl::Time now);
  absl::StatusOr<std::string> Release(const std::string& target, const std::string& actor,
                                      absl::Time now, const std::string& reason = "");
  // Switches posture `order.name` on fleet-wide (spec §6a): refused while
  // another posture is active, for a posture the policy does not have, and
  // for one whose keep entries `check` finds violated unless order.forced.
  // The posture applies first, then the active quarantines. Audited (with
  // the force, and what it overrode) and on disk before it returns.
  absl::StatusOr<std::string> ActivatePosture(PostureRecord order, absl::Time now);
  // Switches the active posture off; an error when `name` is not the active one.
  absl::StatusOr<std::string> ReleasePosture(const std::string& name, const std::string& actor,
                                             absl::Time now, const std::string& reason = "");
  FleetStatus Status() const;
  // Newest first; only entries at or after `since` when given.
  absl::StatusOr<std::vector<AuditRecord>> AuditLog(int limit,
                                                    std::optional<absl::Time> since = std::nullopt);
  // Writes everything pending to the store now; the first error, if any.
  absl::Status Flush();
  // Runs `f` on the store after the pending writes, serialised with the Fleet's own (the
  // policy bundle's reads and compare-and-swap publishes go through here).
  absl::Status UseStore(const std::function<absl::Status(StateStore&)>& f);

  std::optional<absl::Time> NextExpiry() const;
  MetricsSnapshot Metrics() const;

  // The generation served now (grows with every rollout that changes something).
  uint64_t Generation() const;
  // Number of connected hosts whose applied ruleset equals the desired one.
  int ConnectedInSync() const;
  // Blocks until ConnectedInSync() >= n or the timeout passes.
  bool WaitConnectedInSync(int n, absl::Duration timeout) const;

 private:
  struct Host {
    std::string zone;
    std::shared_ptr<const std::string> ruleset;
    // The same table, structured; null after a restart until the policy compiles again.
    std::shared_ptr<const wire::NftRuleset> nft_ruleset;
    std::string hash;     // of the whole text: what the agent reports back
    std::string content;  // of the rules without leading comments
    // The revision the ruleset was compiled for, as its header says; older than the served
    // one when later revisions left this host's rules alone.
    std::string ruleset_revision;
    std::string applied_revision;
    std::string applied_hash;
    bool drift = false;
    std::optional<absl::Time> last_report;
    std::string last_error;
    std::string agent_version;
    // The generation of the newest assignment the agent confirmed (verified), and the one its
    // Hello claimed: the controller sends nothing while its own generation is lower.
    uint64_t applied_generation = 0;
    uint64_t agent_generation = 0;
    AgentSink* sink = nullptr;
    uint64_t session = 0;
    std::optional<absl::Time> sent_at;
    std::string sent_hash;
    // (revision, ruleset hash) of the assignments sent on this session, newest last; a few,
    // since an agent may answer one that a newer assignment replaced.
    struct Sent {
      std::string revision;
      std::string hash;
      uint64_t generation = 0;
    };
    std::deque<Sent> sent_this_session;
    // The agent's own last claim (Hello or result), kept apart from what was verified.
    std::string reported_revision;
    std::string reported_hash;
    std::vector<std::string> agent_degraded;     // the agent's last word (Hello or heartbeat)
    std::optional<absl::Duration> clock_offset;  // agent's clock minus ours, last heartbeat
  };

  // Loads what the store kept (served revision, hosts, quarantines) into memory.
  absl::Status Restore();
  std::vector<QuarantineRecord> CurrentQuarantines() const;
  std::optional<PostureRecord> CurrentPosture() const;
  // Compiles with `posture` and `quarantines` holding no lock but reload_mu_, then installs
  // the result (posture_ and quarantines_ included), runs `installed` under mu_, and delivers
  // the assignments. A compile failure is recorded as the policy's refusal and returned.
  // `commit_first` (may be null) runs after the compile and before anything is installed,
  // with the revision compiled; when it fails nothing is installed and its error is returned.
  absl::Status CompileAndRollout(
      absl::Time now, const std::string& actor, const std::string& reason,
      std::optional<PostureRecord> posture, std::vector<QuarantineRecord> quarantines,
      const std::function<void()>& installed, bool audited = true,
      const std::function<absl::Status(const std::string& revision)>& commit_first = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  using Write = std::function<absl::Status(StateStore&)>;

  // An operator's quarantine, release or posture switch, as audited and logged.
  struct AdminOrder {
    std::string kind;  // "quarantine", "release", "posture-activate" or "posture-release"
    std::string actor;
    std::string target;
    std::string detail;  // for the audit log
    std::string reason;  // the admin's --reason
    std::string log;
  };
  // Release of a quarantine this controller knows of (NotFound otherwise).
  absl::StatusOr<std::string> ReleaseKnown(const std::string& target, const std::string& actor,
                                           absl::Time now, const std::string& reason);
  // Rolls out `posture` and `quarantines` for `order` and commits `record` together with the
  // order's audit entry, in one transaction, before it is acknowledged; returns the revision
  // now served. A quarantine only tightens, so it reaches the agents before the commit (a slow
  // store does not delay it); a release or posture switch may open paths, so it is committed
  // first and pushed only then, and one the store did not take changes nothing.
  // `record` must hold copies, not references: a quarantine's may run after this returns.
  absl::StatusOr<std::string> CarryOut(const AdminOrder& order,
                                       std::optional<PostureRecord> posture,
                                       std::vector<QuarantineRecord> quarantines, Write record,
                                       absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // A quarantine in force, in the queue of orders the store has yet to record.
  struct UnrecordedOrder {
    std::string target;  // only quarantines wait here
    Write write;         // the order and its audit entry, one transaction
    absl::Time since;
    absl::Notification first_attempt;  // after the first try, recorded or not
    absl::Status first_status;         // that try's result; written before the notification
    bool failing = false;              // the last try failed (logged once); under store_mu_
  };
  // Records the queued orders, oldest first, stopping at the first the store refuses.
  absl::Status RecordOrders() ABSL_EXCLUSIVE_LOCKS_REQUIRED(store_mu_);
  // Writes the assignments a rollout queued. Caller holds sinks_mu_, not mu_.
  void DeliverOutbox();
  AssignmentInfo AssignLocked(Host& h, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefuseLocked(absl::Time now, const std::string& actor, const std::string& reason,
                    const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `audited`: false for a rollout another controller's order or publish caused (it audited
  // it); logged here either way.
  void RolloutLocked(CompiledPolicy compiled, absl::Time now, const std::string& actor,
                     const std::string& reason, bool audited) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked(Host& h, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The agent applied a newer generation than this controller serves (it talked to a newer
  // controller, or this one's store was restored from an old copy): sending would roll it back.
  bool AheadOfUsLocked(const Host& h) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Records the agent's own claim when it changes (memory and store).
  void NoteReportedLocked(const std::string& host, Host& h, const std::string& revision,
                          const std::string& hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Host* SessionHost(const std::string& host, uint64_t session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool QuarantinedLocked(const std::string& host, const Host& h) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Audits with the revision now served.
  void AuditLocked(absl::Time now, std::string kind, std::string actor, std::string target,
                   std::string detail, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> DegradedLocked(const Host& h) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  static void StoreError(const absl::Status& s);  // logs it

  void Persist(Write write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes now, outside any batch, and returns that write's own status.
  absl::Status StoreNow(const Write& write);
  void WriterLoop();

  StateStore* const store_;
  const PolicyCompiler compiler_;
  const FleetOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, Host> hosts_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> zones_ ABSL_GUARDED_BY(mu_);
  std::string revision_ ABSL_GUARDED_BY(mu_);
  // Grows with every rollout that changes the revision or a host's ruleset; kept in the store.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  wire::Mode mode_ ABSL_GUARDED_BY(mu_) = wire::Mode::kEnforce;
  std::string policy_error_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> next_expiry_ ABSL_GUARDED_BY(mu_);
  std::vector<QuarantineRecord> quarantines_ ABSL_GUARDED_BY(mu_);
  std::optional<PostureRecord> posture_ ABSL_GUARDED_BY(mu_);
  // The last compiled policy's postures: name -> why check finds it broken, or "".
  std::map<std::string, std::string> postures_ ABSL_GUARDED_BY(mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  int connected_ ABSL_GUARDED_BY(mu_) = 0;
  int in_sync_ ABSL_GUARDED_BY(mu_) = 0;  // connected and applied == desired
  MetricsSnapshot metrics_ ABSL_GUARDED_BY(mu_);
  std::vector<Write> pending_ ABSL_GUARDED_BY(mu_);
  // This controller's quarantines in force but not in the store yet, oldest first. They are
  // written before anything else, and SyncFromStore leaves the orders alone while any is
  // queued: the store's view, which lacks them, would lift them.
  std::deque<std::shared_ptr<UnrecordedOrder>> unrecorded_ ABSL_GUARDED_BY(mu_);
  // Wakes the writer thread before its next 50 ms round (a queued order).
  bool writer_woken_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar writer_wake_;

  std::vector<std::pair<AgentSink*, AssignmentInfo>> outbox_ ABSL_GUARDED_BY(mu_);

  // Lock order: reload_mu_, sinks_mu_, store_mu_, mu_. reload_mu_ lets one
  // compile-and-rollout (reload, quarantine, release) run at a time while
  // the others stay free during the compile. sinks_mu_ is held while
  // rollouts write to sinks outside mu_, and by Disconnect, so a sink is
  // never destroyed while being written to.
  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(sinks_mu_);
  // Counts this controller's orders, twice each (odd while one is being carried out), so that
  // SyncFromStore can read the store without reload_mu_ (a store without quorum answers in
  // seconds, and an operator's quarantine must not wait behind such a read) and still drop a
  // read that raced with an order of ours.
  std::atomic<uint64_t> own_orders_{0};
  absl::Mutex sinks_mu_ ABSL_ACQUIRED_BEFORE(store_mu_);
  absl::Mutex store_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Notification stop_;
  std::thread writer_;  // last: starts once everything above exists
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_FLEET_H_
