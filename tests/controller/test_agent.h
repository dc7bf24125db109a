// A scripted agent for controller tests: opens the Connect stream with the
// given credentials, collects whatever the controller sends on a background
// thread, and records how the stream ended.
#ifndef POLDER_TESTS_CONTROLLER_TEST_AGENT_H_
#define POLDER_TESTS_CONTROLLER_TEST_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "polder/v1/polder.grpc.pb.h"

namespace polder::testing {

class TestAgent {
 public:
  TestAgent(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds);
  ~TestAgent();

  bool Send(const v1::AgentMessage& m);
  bool SendHello(const std::string& host, const std::string& ruleset_hash = "");
  // Acknowledges an assignment as applied.
  bool Ack(const v1::Assignment& a);

  // Waits until at least `n` assignments arrived; returns them all.
  std::vector<v1::Assignment> WaitAssignments(size_t n, absl::Duration timeout);
  std::vector<v1::Assignment> Assignments();
  // Waits until at least `n` TrafficAcks arrived; returns them all, in order.
  std::vector<v1::TrafficAck> WaitTrafficAcks(size_t n, absl::Duration timeout);
  // Waits for the stream to end; returns its status (nullopt on timeout).
  std::optional<grpc::Status> WaitEnd(absl::Duration timeout);
  void CloseSend();

 private:
  void ReadLoop();
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<v1::Assignment> got_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TrafficAck> acks_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polder::testing

#endif  // POLDER_TESTS_CONTROLLER_TEST_AGENT_H_
