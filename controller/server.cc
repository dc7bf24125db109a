#include "controller/server.h"

#include "absl/strings/str_cat.h"
#include "controller/log.h"
#include "controller/peer_auth.h"
#include "wire/limits.h"
#include "wire/tls_credentials.h"

namespace polder::controller {
namespace {

// Refuses every call whose client certificate is revoked, before any service
// sees it: the agent stream's first message and every admin RPC alike.
class RevocationCheck final : public grpc::AuthMetadataProcessor {
 public:
  explicit RevocationCheck(const RevocationList* revoked) : revoked_(revoked) {}
  // A lookup in memory: run inline on gRPC's thread instead of a hop to a thread pool per call.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    if (auto s = CheckNotRevoked(*context, *revoked_); !s.ok()) {
      Log(absl::StrCat("call refused: ", s.message()));
      return ToGrpc(s);
    }
    return grpc::Status::OK;
  }

 private:
  const RevocationList* const revoked_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    Fleet* fleet, const ServerOptions& options) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  std::unique_ptr<RevocationList> revoked;
  if (options.tls_dir) {
    auto c = wire::LoadServerCredentials(*options.tls_dir);
    if (!c.ok()) return c.status();
    creds = *c;
    auto list = RevocationList::Load(*options.tls_dir / "crl.pem", *options.tls_dir / "ca.crt");
    if (!list.ok()) return list.status();
    revoked = std::move(*list);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  std::unique_ptr<ControllerServer> server(new ControllerServer(
      fleet, std::move(revoked), options.max_new_streams_per_second, options.bundles,
      options.members, options.traffic, options.traffic_marks));
  if (server->revoked_) {
    creds->SetAuthMetadataProcessor(std::make_shared<RevocationCheck>(server->revoked_.get()));
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &server->port_);
  builder.RegisterService(&server->agents_);
  builder.RegisterService(&server->admin_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxMessageToControllerBytes));
  // Agents that vanish without closing their TCP connection are noticed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 4000);
  // Idle agent connections dominate the controller's memory; a smaller
  // initial read buffer per connection (it grows for large messages) keeps
  // each one cheap. Measured with bench/controller/fleet_bench.cc.
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, 2048);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  if (server->revoked_) {
    ControllerServer* s = server.get();
    absl::Duration period = options.crl_check_period;
    server->sweeper_ = std::thread([s, period] { s->SweepLoop(period); });
  }
  return server;
}

void ControllerServer::SweepLoop(absl::Duration period) {
  std::string last_error;
  while (!stop_.WaitForNotificationWithTimeout(period)) {
    absl::StatusOr<bool> changed = revoked_->Refresh();
    if (!changed.ok()) {
      // Said once per distinct problem; the last good list stays in force.
      std::string e(changed.status().message());
      if (e != last_error) Log(absl::StrCat("CRL not reloaded, the previous one stays: ", e));
      last_error = std::move(e);
      continue;
    }
    last_error.clear();
    if (!*changed) continue;
    int closed = open_.CloseRevoked();
    Log(absl::StrCat("CRL reloaded: ", revoked_->size(), " revoked certificate(s); closed ", closed,
                     " open agent stream(s)"));
    absl::MutexLock lock(&mu_);
    ++crl_reloads_;
  }
}

int ControllerServer::crl_reloads() const {
  absl::MutexLock lock(&mu_);
  return crl_reloads_;
}

void ControllerServer::Shutdown() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (sweeper_.joinable()) sweeper_.join();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

ControllerServer::~ControllerServer() { Shutdown(); }

}  // namespace polder::controller
