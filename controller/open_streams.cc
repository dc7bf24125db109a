#include "controller/open_streams.h"

namespace polder::controller {

bool OpenStreams::Add(AgentSink* stream, const std::string& serial, absl::Time not_after) {
  absl::MutexLock lock(&mu_);
  if (revoked_ != nullptr && revoked_->IsRevoked(serial)) return false;
  open_[stream] = {serial, not_after, "", 0};
  return true;
}

void OpenStreams::SetHost(AgentSink* stream, const std::string& host) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(stream);
  if (it == open_.end()) return;
  it->second.host = host;
  it->second.hello = ++hellos_;
}

std::map<std::string, absl::Time> OpenStreams::CertExpiries() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::pair<uint64_t, absl::Time>> newest;
  for (const auto& [stream, s] : open_) {
    if (s.host.empty()) continue;
    auto& n = newest[s.host];
    if (s.hello > n.first) n = {s.hello, s.not_after};
  }
  std::map<std::string, absl::Time> out;
  for (const auto& [host, n] : newest) out[host] = n.second;
  return out;
}

void OpenStreams::Remove(AgentSink* stream) {
  absl::MutexLock lock(&mu_);
  open_.erase(stream);
}

int OpenStreams::CloseRevoked() {
  if (revoked_ == nullptr) return 0;
  // Held while closing: a stream removes itself (OnDone) only after its
  // Finish completes, which gRPC never runs inline in Close().
  absl::MutexLock lock(&mu_);
  int closed = 0;
  for (auto& [stream, s] : open_) {
    if (!revoked_->IsRevoked(s.serial)) continue;
    stream->Close(absl::PermissionDeniedError(
        "the client certificate has been revoked (polder pki revoke); issue a new one"));
    ++closed;
  }
  return closed;
}

int OpenStreams::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(open_.size());
}

}  // namespace polder::controller
