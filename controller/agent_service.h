// The AgentService gRPC endpoint: one bidirectional stream per agent, turned
// into Fleet calls. It checks that the first message is a Hello for the host
// the client certificate names, validates every message, and writes
// assignments the Fleet hands it. Uses the callback API, so an idle stream
// costs no thread.
#ifndef POLDER_CONTROLLER_AGENT_SERVICE_H_
#define POLDER_CONTROLLER_AGENT_SERVICE_H_

#include "controller/fleet.h"
#include "polder/v1/polder.grpc.pb.h"

namespace polder::controller {

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // `insecure`: no client certificates; any Hello for a known host is taken.
  AgentServiceImpl(Fleet* fleet, bool insecure) : fleet_(fleet), insecure_(insecure) {}

  grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Connect(
      grpc::CallbackServerContext* context) override;

 private:
  Fleet* const fleet_;
  const bool insecure_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_AGENT_SERVICE_H_
