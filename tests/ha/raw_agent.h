// A hostile agent for controller tests, built from proto/ alone: it opens the Connect stream
// with the credentials it is given, sends whatever the test wants (in any order), and records
// every message the controller sends back (assignments and in-sync replies alike) and how the
// stream ended.
#ifndef POLDER_TESTS_HA_RAW_AGENT_H_
#define POLDER_TESTS_HA_RAW_AGENT_H_

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

class RawAgent {
 public:
  RawAgent(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds);
  ~RawAgent();

  bool Send(const v1::AgentMessage& m);
  bool SendHello(const std::string& host, const std::string& ruleset_hash = "",
                 uint64_t applied_generation = 0, const std::string& applied_revision = "");
  // Answers `a` as applied, echoing its revision, hash and generation.
  bool Ack(const v1::Assignment& a);

  // Waits until at least `n` messages arrived (or the stream ended); returns them all.
  std::vector<v1::ControllerMessage> WaitMessages(size_t n, absl::Duration timeout);
  std::vector<v1::ControllerMessage> Messages();
  // Waits for the stream to end; its status (nullopt on timeout).
  std::optional<grpc::Status> WaitEnd(absl::Duration timeout);

 private:
  void ReadLoop();
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<v1::ControllerMessage> got_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
};

// How a call carrying raw bytes went.
struct RawCallResult {
  grpc::Status status;
  bool got_reply = false;  // the controller sent a message back
};

// Sends `payload` as the one request message of a Connect call, bytes as they are (no
// protobuf encoding), half-closes, and returns how the call ended.
RawCallResult SendRawBytes(const std::string& target,
                           std::shared_ptr<grpc::ChannelCredentials> creds,
                           const std::string& payload);

}  // namespace polder::testing

#endif  // POLDER_TESTS_HA_RAW_AGENT_H_
