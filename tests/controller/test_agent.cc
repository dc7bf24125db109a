#include "tests/controller/test_agent.h"

#include "wire/sha256.h"

namespace polder::testing {

TestAgent::TestAgent(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds)
    : stub_(v1::AgentService::NewStub(grpc::CreateChannel(target, creds))) {
  // Bounded: a test never hangs on a stream.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  stream_ = stub_->Connect(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

TestAgent::~TestAgent() {
  context_.TryCancel();
  reader_.join();
}

void TestAgent::ReadLoop() {
  v1::ControllerMessage m;
  while (stream_->Read(&m)) {
    absl::MutexLock lock(&mu_);
    if (m.has_assignment()) got_.push_back(m.assignment());
    if (m.has_traffic_ack()) acks_.push_back(m.traffic_ack());
  }
  grpc::Status s = stream_->Finish();
  absl::MutexLock lock(&mu_);
  end_ = s;
}

std::vector<v1::TrafficAck> TestAgent::WaitTrafficAcks(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return acks_.size() >= n || end_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return acks_;
}

bool TestAgent::Send(const v1::AgentMessage& m) { return stream_->Write(m); }

bool TestAgent::SendHello(const std::string& host, const std::string& ruleset_hash) {
  v1::AgentMessage m;
  m.mutable_hello()->set_host(host);
  m.mutable_hello()->set_agent_version("test-agent 0");
  m.mutable_hello()->set_ruleset_hash(ruleset_hash);
  return Send(m);
}

bool TestAgent::Ack(const v1::Assignment& a) {
  v1::AgentMessage m;
  auto* r = m.mutable_apply_result();
  r->set_ok(true);
  r->set_revision(a.revision());
  r->set_ruleset_hash(wire::Sha256Hex(a.ruleset()));
  r->mutable_duration()->set_nanos(1000000);
  return Send(m);
}

std::vector<v1::Assignment> TestAgent::WaitAssignments(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return got_.size() >= n || end_; };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return got_;
}

std::vector<v1::Assignment> TestAgent::Assignments() {
  absl::MutexLock lock(&mu_);
  return got_;
}

std::optional<grpc::Status> TestAgent::WaitEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
  return end_;
}

void TestAgent::CloseSend() { stream_->WritesDone(); }

}  // namespace polder::testing
