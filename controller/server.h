// Runs the controller's gRPC endpoint (AgentService + Admin) for a Fleet,
// with mutual TLS from a --tls-dir made by `polder pki init`, or insecure
// for local trials.
#ifndef POLDER_CONTROLLER_SERVER_H_
#define POLDER_CONTROLLER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "controller/admin_service.h"
#include "controller/agent_service.h"
#include "controller/fleet.h"

namespace polder::controller {

struct ServerOptions {
  std::string listen;                            // HOST:PORT; port 0 picks a free one
  std::optional<std::filesystem::path> tls_dir;  // unset = insecure
};

class ControllerServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(Fleet* fleet,
                                                                 const ServerOptions& options);
  ~ControllerServer();
  int port() const { return port_; }
  const AgentServiceImpl& agent_service() const { return agents_; }
  void Shutdown();

 private:
  ControllerServer(Fleet* fleet, bool insecure)
      : agents_(fleet, insecure), admin_(fleet, insecure) {}
  AgentServiceImpl agents_;
  AdminServiceImpl admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_SERVER_H_
