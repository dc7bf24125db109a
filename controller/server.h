// Runs the controller's gRPC endpoint (AgentService + Admin) for a Fleet,
// with mutual TLS from a --tls-dir made by `polder pki init` (its
// controller/ directory: ca.crt, controller.crt, controller.key, crl.pem), or
// insecure for local trials.
//
// Revocation: every call (each new agent stream, each admin RPC) is refused
// when its client certificate's serial is in crl.pem, and the file is
// re-read every `crl_check_period`; when it changes, open agent streams of
// newly revoked certificates are closed. No restart is needed.
#ifndef POLDER_CONTROLLER_SERVER_H_
#define POLDER_CONTROLLER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/admin_service.h"
#include "controller/agent_service.h"
#include "controller/bundle_sync.h"
#include "controller/fleet.h"
#include "controller/open_streams.h"
#include "controller/revocation_list.h"
#include "controller/stream_rate_limit.h"

namespace polder::controller {

struct ServerOptions {
  std::string listen;                            // HOST:PORT; port 0 picks a free one
  std::optional<std::filesystem::path> tls_dir;  // unset = insecure
  // How often crl.pem is re-read. Open streams of a revoked certificate end
  // within this period of the file changing (plus the time to close them).
  absl::Duration crl_check_period = absl::Seconds(2);
  // New agent streams taken per second (a reconnect storm beyond it is refused with
  // RESOURCE_EXHAUSTED and the agents try elsewhere); <= 0: no limit. Burst: one second's worth.
  double max_new_streams_per_second = 1000;
  // The policy bundle in the store, for the admin Publish call; null: Publish is refused.
  BundleSync* bundles = nullptr;
  // The live controllers on the shared store, for Status; empty: a store of one controller.
  AdminServiceImpl::MembersFn members = nullptr;
  // Where agents' TrafficBatches are stored and Admin.Traffic answers from (not owned; must
  // outlive the server). Null: batches are refused and Traffic fails.
  TrafficStore* traffic = nullptr;
  // Each host's traffic high-water mark shared by the fleet's controllers (not owned); null: a
  // controller alone, whose own store's mark is the only one.
  TrafficMarks* traffic_marks = nullptr;
};

class ControllerServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(Fleet* fleet,
                                                                 const ServerOptions& options);
  ~ControllerServer();
  int port() const { return port_; }
  const AgentServiceImpl& agent_service() const { return agents_; }
  // Agent streams open now (a signal for tests).
  int open_streams() const { return open_.size(); }
  // How many times the CRL was found changed and applied (a signal for tests).
  int crl_reloads() const;
  void Shutdown();

 private:
  ControllerServer(Fleet* fleet, std::unique_ptr<RevocationList> revoked, double streams_per_second,
                   BundleSync* bundles, AdminServiceImpl::MembersFn members,
                   TrafficStore* traffic, TrafficMarks* traffic_marks)
      : revoked_(std::move(revoked)),
        open_(revoked_.get()),
        new_streams_(streams_per_second, streams_per_second),
        agents_(fleet, revoked_ == nullptr, &open_, &new_streams_, traffic, traffic_marks),
        admin_(fleet, revoked_ == nullptr, &open_, bundles, std::move(members), traffic,
               traffic_marks) {}
  // Re-reads the CRL every `period` until Shutdown; closes revoked streams.
  void SweepLoop(absl::Duration period);

  const std::unique_ptr<RevocationList> revoked_;  // null when insecure
  OpenStreams open_;
  StreamRateLimit new_streams_;
  AgentServiceImpl agents_;
  AdminServiceImpl admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  int crl_reloads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread sweeper_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_SERVER_H_
