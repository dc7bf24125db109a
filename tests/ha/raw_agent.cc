#include "tests/ha/raw_agent.h"

#include <grpcpp/generic/generic_stub.h>

#include "wire/sha256.h"

namespace polder::testing {

RawAgent::RawAgent(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds)
    : stub_(v1::AgentService::NewStub(grpc::CreateChannel(target, creds))) {
  // Bounded: a test never hangs on a stream.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  stream_ = stub_->Connect(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

RawAgent::~RawAgent() {
  context_.TryCancel();
  reader_.join();
}

void RawAgent::ReadLoop() {
  v1::ControllerMessage m;
  while (stream_->Read(&m)) {
    absl::MutexLock lock(&mu_);
    got_.push_back(m);
  }
  grpc::Status s = stream_->Finish();
  absl::MutexLock lock(&mu_);
  end_ = s;
}

bool RawAgent::Send(const v1::AgentMessage& m) { return stream_->Write(m); }

bool RawAgent::SendHello(const std::string& host, const std::string& ruleset_hash,
                         uint64_t applied_generation, const std::string& applied_revision) {
  v1::AgentMessage m;
  auto* h = m.mutable_hello();
  h->set_host(host);
  h->set_agent_version("hostile-agent 0");
  h->set_ruleset_hash(ruleset_hash);
  h->set_applied_revision(applied_revision);
  h->set_applied_generation(applied_generation);
  return Send(m);
}

bool RawAgent::Ack(const v1::Assignment& a) {
  v1::AgentMessage m;
  auto* r = m.mutable_apply_result();
  r->set_ok(true);
  r->set_revision(a.revision());
  r->set_ruleset_hash(wire::Sha256Hex(a.ruleset()));
  r->set_generation(a.generation());
  r->mutable_duration()->set_nanos(1000000);
  return Send(m);
}

std::vector<v1::ControllerMessage> RawAgent::WaitMessages(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return got_.size() >= n || end_; };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return got_;
}

std::vector<v1::ControllerMessage> RawAgent::Messages() {
  absl::MutexLock lock(&mu_);
  return got_;
}

std::optional<grpc::Status> RawAgent::WaitEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
  return end_;
}

RawCallResult SendRawBytes(const std::string& target,
                           std::shared_ptr<grpc::ChannelCredentials> creds,
                           const std::string& payload) {
  grpc::GenericStub stub(grpc::CreateChannel(target, creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, "/polder.v1.AgentService/Connect", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  grpc::Slice slice(payload);
  grpc::ByteBuffer buffer(&slice, 1);
  call->Write(buffer, reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  call->WritesDone(reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer reply;
  RawCallResult result;
  call->Read(&reply, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  result.got_reply = ok;
  call->Finish(&result.status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace polder::testing
