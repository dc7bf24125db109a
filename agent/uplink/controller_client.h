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

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/agent_event.h"
#include "agent/enforcer.h"
#include "agent/ruleset_store.h"
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
    std::string target;   // HOST:PORT
    std::string host;     // this agent's host name in the policy
    std::string tls_dir;  // ca.crt, agent.crt, agent.key; empty = insecure
    std::string agent_version = "polder-agent";
    absl::Duration heartbeat_interval = absl::Seconds(5);
    absl::Duration connect_timeout = absl::Seconds(5);
    absl::Duration backoff_initial = absl::Milliseconds(200);
    absl::Duration backoff_max = absl::Seconds(5);
    // Bounds on the confirm window the controller asks for: at least `confirm_min` (the
    // deadline travels in whole seconds), at most `confirm_max`.
    absl::Duration confirm_min = absl::Seconds(2);
    absl::Duration confirm_max = absl::Minutes(10);
    absl::Duration confirm_attempt = absl::Seconds(2);  // one probe connection
    // Whether the controller can be reached anew before the deadline. Unset: open fresh
    // connections (TCP + TLS handshake) until one succeeds. Tests replace it.
    std::function<bool(absl::Time deadline)> reachable;
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
  void RestoreStored();

  // Feed the Enforcer's events here (any thread): drift and restores become DriftReports.
  void OnEnforcerEvent(const AgentEvent& event);

  // Connects, serves and reconnects until Stop(). Call from one thread.
  void Run();
  void Stop();  // Any thread; Run returns soon after.

  // What is applied and confirmed (empty before the first), for tests.
  std::string applied_hash() const;

 private:
  struct Applied {
    std::string revision;
    std::string text;
    std::string hash;
  };
  struct Inbox {
    // Only the newest assignment matters, and the controller sends nothing else; one slot
    // keeps the inbox bounded while an apply waits for its confirmation.
    std::optional<v1::Assignment> assignment;
    bool closed = false;
  };

  ControllerClient(Options options, std::shared_ptr<grpc::ChannelCredentials> creds,
                   Enforcer* enforcer, RulesetStore* store, LogSink log);

  bool RunSession();  // True when the stream was established (backoff resets).
  void HandleAssignment(const v1::Assignment& a);
  bool ConfirmReachable(absl::Time deadline);
  bool WaitForConnected(grpc::Channel& channel, absl::Time deadline);
  void Send(v1::AgentMessage m);  // Queued until a stream can take it.
  bool SleepUnlessStopped(absl::Duration d);
  void Log(const std::string& event, const std::string& message);

  const Options options_;
  const std::shared_ptr<grpc::ChannelCredentials> creds_;
  Enforcer* const enforcer_;
  RulesetStore* const store_;
  const LogSink log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                            // Guarded by mu_.
  grpc::ClientContext* live_context_ = nullptr;  // Guarded by mu_; cancelled by Stop.
  Inbox inbox_;                                  // Guarded by mu_.
  std::deque<v1::AgentMessage> outbox_;          // Guarded by mu_.
  std::optional<Applied> applied_;               // Guarded by mu_.
  std::vector<std::string> last_drift_;          // Guarded by mu_.
  std::set<std::string> rolled_back_;            // Hashes; touched by Run's thread only.
  uint64_t probe_counter_ = 0;                   // Run's thread only.
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_CONTROLLER_CLIENT_H_
