// ControllerClient is polder-agent's controller mode: it keeps one Connect stream open to the
// controller (mutual TLS with the agent's certificate, or --insecure), says Hello with what is
// applied, applies each validated Assignment through the Enforcer, reports ApplyResults,
// DriftReports (from the Enforcer's events) and heartbeats, and reconnects with bounded, jittered
// exponential backoff. While disconnected it never changes the rules: the Enforcer keeps the
// last ruleset in force.
//
// Commit confirmed: after applying an assignment that carries a confirm deadline, the agent
// proves it can still reach the controller through the new rules by opening a fresh connection
// (TCP and TLS handshake; the established stream would survive a cut-off ruleset thanks to
// conntrack). If it cannot before the deadline, it goes back to the previous ruleset, reports
// "rolled back: ..." once it can talk to the controller again, and does not apply that same
// ruleset again (the controller would otherwise resend it on every reconnect). Only confirmed
// rulesets are stored (RulesetStore) and enforced again after a restart.
#ifndef POLDER_AGENT_UPLINK_CONTROLLER_CLIENT_H_
#define POLDER_AGENT_UPLINK_CONTROLLER_CLIENT_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_event.h"
#include "agent/clock.h"
#include "agent/enforcer.h"
#include "agent/ruleset_store.h"
#include "agent/uplink/traffic_outbox.h"
#include "polder/v1/polder.pb.h"

namespace grpc {
class Channel;
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace polder::agent {

class ControllerClient {
 public:
  struct Options {
    // HOST:PORT, or several (HOST:PORT,HOST:PORT,...): tried in rendezvous order for `host`
    // (controller_list.h); when one fails or its stream ends, the next after a random delay
    // of up to `failover_delay_max`; after a whole round of failures, a backoff wait and the
    // preferred one again.
    std::string target;
    std::string host;     // this agent's host name in the policy
    std::string tls_dir;  // ca.crt, agent.crt, agent.key; empty = insecure
    std::string agent_version = "polder-agent";
    absl::Duration heartbeat_interval = absl::Seconds(5);
    absl::Duration connect_timeout = absl::Seconds(5);
    absl::Duration backoff_initial = absl::Milliseconds(200);
    absl::Duration backoff_max = absl::Seconds(5);
    absl::Duration failover_delay_max = absl::Seconds(1);
    // Bounds on the confirm window the controller asks for: at least `confirm_min` (the
    // deadline travels in whole seconds), at most `confirm_max`.
    absl::Duration confirm_min = absl::Seconds(2);
    absl::Duration confirm_max = absl::Minutes(10);
    absl::Duration confirm_attempt = absl::Seconds(2);  // one probe connection
    // Whether the controller can be reached anew before the deadline. Unset: open fresh
    // connections (TCP + TLS handshake) until one succeeds. Tests replace it.
    std::function<bool(absl::Time deadline)> reachable;
    // Every time the client measures or waits for (not gRPC's own timeouts). Not owned.
    Clock* clock = Clock::Real();
    // Observed traffic to send on each stream, until acknowledged (null: none). Not owned.
    TrafficOutbox* traffic = nullptr;
  };
  // One JSON object per line (ends with '\n'): what the client did or what went wrong.
  using LogSink = std::function<void(const std::string& line)>;

  // Reads the agent's credentials from options.tls_dir (unless insecure).
  static absl::StatusOr<std::unique_ptr<ControllerClient>> Create(Options options,
                                                                  Enforcer* enforcer,
                                                                  RulesetStore* store, LogSink log);
  ~ControllerClient();

  // Enforces the stored ruleset, if any, before the controller is reached (adopting a matching
  // table left by a previous run). A corrupt or foreign store is reported and ignored.
  void RestoreStored() ABSL_LOCKS_EXCLUDED(mu_);

  // The traffic outbox has a new batch (any thread): the stream's pump sends it.
  void TrafficReady() ABSL_LOCKS_EXCLUDED(mu_);

  // Feed the Enforcer's events here (any thread): drift and restores become DriftReports.
  void OnEnforcerEvent(const AgentEvent& event) ABSL_LOCKS_EXCLUDED(mu_);

  // Connects, serves and reconnects until Stop(). Call from one thread.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);  // Any thread; Run returns soon after.

  // The controllers in the order this agent tries them (the preferred first).
  const std::vector<std::string>& targets() const { return targets_; }
  // The controller of the current (or last) stream.
  std::string current_target() const ABSL_LOCKS_EXCLUDED(mu_);

  // What is applied and confirmed (empty before the first), for tests.
  std::string applied_hash() const ABSL_LOCKS_EXCLUDED(mu_);
  // The generation of what is applied (0 before the first, or when no controller said), for
  // tests.
  uint64_t applied_generation() const ABSL_LOCKS_EXCLUDED(mu_);

  // What keeps the agent from doing its job fully, as "kind: detail" lines the controller shows
  // in `polder status`: store-error (the last good ruleset could not be stored or read back, so
  // a restart without the controller would not enforce it), kernel-read-error (the table
  // cannot be read, so drift goes unseen). Sent in Hello, and in a heartbeat at once when it
  // changes. Empty when healthy.
  std::vector<std::string> Degraded() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Applied {
    std::string revision;
    Ruleset ruleset;  // text, and the structured form when it came with one
    std::string hash;
    uint64_t generation = 0;  // of the assignment it came in (0: unknown)
  };
  struct Inbox {
    // Only the newest assignment matters, and the controller sends nothing else; one slot
    // keeps the inbox bounded while an apply waits for its confirmation.
    std::optional<v1::Assignment> assignment;
    bool closed = false;
  };

  ControllerClient(Options options, std::vector<std::string> targets,
                   std::shared_ptr<grpc::ChannelCredentials> creds, Enforcer* enforcer,
                   RulesetStore* store, LogSink log);

  struct Session;

  // One stream to the controller, in stages: connect and say Hello, read assignments (its own
  // thread), pump (send queued messages and heartbeats, handle assignments), requeue what could
  // not be sent, end. True when the stream counts as established (backoff resets).
  bool RunSession() ABSL_LOCKS_EXCLUDED(mu_);
  // Null when the controller cannot be reached or Stop() came first.
  std::unique_ptr<Session> ConnectAndSayHello() ABSL_LOCKS_EXCLUDED(mu_);
  // Until the stream ends: the newest assignment into the inbox, then inbox_.closed.
  void ReadAssignments(Session& s) ABSL_LOCKS_EXCLUDED(mu_);
  // Until Stop(), the stream's end, or a failed write.
  void Pump(Session& s) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes `out` in order; what a broken stream did not take goes back to the outbox's front.
  bool SendOrRequeue(Session& s, std::deque<v1::AgentMessage> out) ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes the call, logs why it ended, and judges it (the 2-second rule).
  bool End(Session& s) ABSL_LOCKS_EXCLUDED(mu_);
  void HandleAssignment(const v1::Assignment& a) ABSL_LOCKS_EXCLUDED(mu_);
  // The controller says the agent runs what it wants: its generation is adopted when newer.
  void HandleInSync(const v1::InSync& in_sync) ABSL_LOCKS_EXCLUDED(mu_);
  // Stores the applied generation beside the ruleset (a failure is a store-error).
  void SaveGeneration(uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);
  bool ConfirmReachable(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitForConnected(grpc::Channel& channel, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Queued until a stream can take it.
  void Send(v1::AgentMessage m) ABSL_LOCKS_EXCLUDED(mu_);
  bool SleepUnlessStopped(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopped() const ABSL_LOCKS_EXCLUDED(mu_);
  // What the session's pump waits for: a stop, the stream's end, an assignment or messages.
  bool PumpHasWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Log(const std::string& event, const std::string& message);
  // Logs a store failure and keeps it as the store-error of Degraded().
  void StoreError(const std::string& message) ABSL_LOCKS_EXCLUDED(mu_);

  // The credentials for a new connection: read again from options_.tls_dir each time, so a
  // certificate renewed by `polder pki renew` is used without a restart; when the files
  // cannot be read (or the key does not match the certificate) the last good ones are kept.
  std::shared_ptr<grpc::ChannelCredentials> Credentials() ABSL_LOCKS_EXCLUDED(creds_mu_);

  const Options options_;
  const std::vector<std::string> targets_;  // rendezvous order; never empty
  absl::Mutex creds_mu_;
  std::shared_ptr<grpc::ChannelCredentials> creds_ ABSL_GUARDED_BY(creds_mu_);
  std::string creds_error_ ABSL_GUARDED_BY(creds_mu_);  // the last one logged
  Enforcer* const enforcer_;
  RulesetStore* const store_;
  const LogSink log_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The enforcer reported an error (a table it could not read, say): the
  // pump looks at the degraded state now instead of at the next heartbeat.
  bool degraded_may_have_changed_ ABSL_GUARDED_BY(mu_) = false;
  // A traffic batch was added, or an acknowledgement made room for more.
  bool traffic_ready_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* live_context_ ABSL_GUARDED_BY(mu_) = nullptr;  // cancelled by Stop
  Inbox inbox_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::AgentMessage> outbox_ ABSL_GUARDED_BY(mu_);
  std::optional<Applied> applied_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> last_drift_ ABSL_GUARDED_BY(mu_);
  std::string store_error_ ABSL_GUARDED_BY(mu_);  // the last store failure; "" once one works
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;       // index into targets_
  // Touched by Run's thread only, so unguarded.
  std::set<std::string> rolled_back_;  // hashes
  uint64_t probe_counter_ = 0;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_CONTROLLER_CLIENT_H_
