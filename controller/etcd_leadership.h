// Controller membership and leader election on etcd (issue 12), with plain KV and Lease calls:
//
// - Each controller holds one short lease (default 3 s, renewed every third of it) and, on it,
//   /polder/v1/members/<id> (its agent-facing address), so `polder status` can name the live
//   members: a controller that dies or pauses drops out when its lease runs out.
// - The leader is whoever created /polder/v1/election/leader (a Txn: create_revision == 0, put
//   on its lease). The key's create_revision is the leader's Fence: every leader write compares
//   it in its own Txn, so a leader paused past its lease and resumed (its key gone, another
//   leader's key created at a higher revision) has its stale writes refused by etcd itself.
//   Plain "am I the leader?" checks are not enough under pauses; the fence is.
//
// The election API of v3election.proto does the same (Campaign also puts a key on a lease and
// returns its revision), but Campaign blocks until elected: a campaign attempt per renewal keeps
// one thread and lets a follower say who leads.
//
//   auto l = EtcdLeadership::Start(store->channel(), {"ctl-a", "10.0.0.1:7443"});
//   if (auto fence = (*l)->fence()) store->TrimAudit(before, *fence);  // refused once stale
#ifndef POLDER_CONTROLLER_ETCD_LEADERSHIP_H_
#define POLDER_CONTROLLER_ETCD_LEADERSHIP_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/state_store.h"

namespace grpc {
class Channel;
}

namespace polder::controller {

struct LeadershipOptions {
  std::string member_id;  // unique per controller (default in controller_main: host:port)
  std::string address;    // what agents dial, shown by status
  absl::Duration ttl = absl::Seconds(3);
  absl::Duration timeout = absl::Seconds(2);  // per etcd call
};

class EtcdLeadership {
 public:
  // Grants the lease, registers the member and campaigns once before returning (so a sole
  // controller is the leader at once); then renews and campaigns on its own thread.
  static absl::StatusOr<std::unique_ptr<EtcdLeadership>> Start(
      std::shared_ptr<grpc::Channel> channel, LeadershipOptions options);
  // Revokes the lease: membership and leadership end at once, not a TTL later.
  ~EtcdLeadership();

  // The fence of this controller's leadership as last renewed, or nullopt when it is not the
  // leader (or has not renewed within the TTL). Writes made with a stale fence are refused.
  std::optional<Fence> fence() const;
  bool leader() const { return fence().has_value(); }
  const std::string& member_id() const { return options_.member_id; }

  // Live members (their lease holds) and which one leads, read from etcd.
  absl::StatusOr<std::vector<MemberInfo>> Members() const;

  // Test hook standing in for SIGSTOP: stops renewing and campaigning, but keeps the fence it
  // had (a paused process's memory), so a test can show that its writes are refused.
  void PauseRenewalsForTest();

 private:
  struct Impl;
  explicit EtcdLeadership(LeadershipOptions options);
  void Loop();
  // One renewal and campaign round; errors are logged once per change by the loop.
  absl::Status Tick();

  const LeadershipOptions options_;
  std::unique_ptr<Impl> impl_;
  absl::Notification stop_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::optional<Fence> fence_ ABSL_GUARDED_BY(mu_);
  absl::Time valid_until_ ABSL_GUARDED_BY(mu_);  // the lease's end as last renewed
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_ETCD_LEADERSHIP_H_
