#include "controller/server.h"

#include "absl/strings/str_cat.h"
#include "wire/limits.h"
#include "wire/tls_credentials.h"

namespace polder::controller {
absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    Fleet* fleet, const ServerOptions& options) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.tls_dir) {
    auto c = wire::LoadServerCredentials(*options.tls_dir);
    if (!c.ok()) return c.status();
    creds = *c;
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  std::unique_ptr<ControllerServer> server(new ControllerServer(fleet, !options.tls_dir));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &server->port_);
  builder.RegisterService(&server->agents_);
  builder.RegisterService(&server->admin_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxMessageToControllerBytes));
  // Agents that vanish without closing their TCP connection are noticed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  // Idle agent connections dominate the controller's memory; a smaller
  // initial read buffer per connection (it grows for large messages) keeps
  // each one cheap. Measured with bench/controller/fleet_bench.cc.
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, 2048);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  return server;
}

void ControllerServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

ControllerServer::~ControllerServer() { Shutdown(); }

}  // namespace polder::controller
