#include "controller/server.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const fs::path& dir) {
  auto ca = Read(dir / "ca.crt");
  auto cert = Read(dir / "controller.crt");
  auto key = Read(dir / "controller.key");
  for (auto* s : {&ca, &cert, &key})
    if (!s->ok()) return s->status();
  // REQUIRE_..._AND_VERIFY: a client without a certificate never gets in.
  // (REQUEST_..._AND_VERIFY would admit it.)
  grpc::SslServerCredentialsOptions opts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = *ca;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientCredentials(
    const fs::path& dir) {
  auto ca = Read(dir / "ca.crt");
  if (!ca.ok()) return ca.status();
  for (const char* stem : {"admin", "agent"}) {
    std::error_code ec;
    if (!fs::exists(dir / absl::StrCat(stem, ".crt"), ec)) continue;
    auto cert = Read(dir / absl::StrCat(stem, ".crt"));
    auto key = Read(dir / absl::StrCat(stem, ".key"));
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    grpc::SslCredentialsOptions opts{*ca, *key, *cert};
    return grpc::SslCredentials(opts);
  }
  return absl::NotFoundError(
      absl::StrCat(dir.string(), " holds neither admin.crt nor agent.crt (see polder pki issue)"));
}

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    Fleet* fleet, const ServerOptions& options) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.tls_dir) {
    auto c = LoadServerCredentials(*options.tls_dir);
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
  builder.SetMaxReceiveMessageSize(4 << 20);
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
