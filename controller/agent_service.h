// The AgentService gRPC endpoint: one bidirectional stream per agent, turned
// into Fleet calls. It checks that the first message is a Hello for the host
// the client certificate names, validates every message, and writes
// assignments the Fleet hands it. Uses the callback API, so an idle stream
// costs no thread.
#ifndef POLDER_CONTROLLER_AGENT_SERVICE_H_
#define POLDER_CONTROLLER_AGENT_SERVICE_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "controller/fleet.h"
#include "controller/open_streams.h"
#include "controller/stream_rate_limit.h"
#include "controller/traffic_marks.h"
#include "controller/traffic_store.h"
#include "polder/v1/polder.grpc.pb.h"

namespace polder::controller {

// Streams that have not said Hello yet, per client certificate. A stream costs the
// controller memory until it ends, and a peer holding a valid certificate could otherwise
// open them without end and never speak; an agent needs one at a time.
class SilentStreams {
 public:
  static constexpr int kMaxPerPeer = 4;
  bool Admit(const std::string& peer);
  void Release(const std::string& peer);
  // How many of `peer`'s streams have not said Hello yet.
  int Count(const std::string& peer) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> count_ ABSL_GUARDED_BY(mu_);
};

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // `insecure`: no client certificates; any Hello for a known host is taken.
  // `open` (optional) records every stream with its certificate's serial, so
  // that streams of a certificate revoked later can be closed.
  // `new_streams` (optional) bounds how many streams are taken per second.
  // `traffic` (optional) stores agents' TrafficBatches, each acknowledged once stored (or
  // found at or below its host's high-water mark); without it a batch is refused.
  // `marks` (optional): the fleet-wide marks (traffic_marks.h), read before and raised after
  // each batch is stored; a batch whose mark cannot be read is not acknowledged.
  AgentServiceImpl(Fleet* fleet, bool insecure, OpenStreams* open = nullptr,
                   StreamRateLimit* new_streams = nullptr, TrafficStore* traffic = nullptr,
                   TrafficMarks* marks = nullptr)
      : fleet_(fleet),
        insecure_(insecure),
        open_(open),
        new_streams_(new_streams),
        traffic_(traffic),
        marks_(marks) {}

  grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Connect(
      grpc::CallbackServerContext* context) override;
  // Streams of a certificate's common name that have not said Hello (a signal for tests).
  int StreamsWithoutHello(const std::string& peer) const { return silent_.Count(peer); }

 private:
  Fleet* const fleet_;
  const bool insecure_;
  OpenStreams* const open_;
  StreamRateLimit* const new_streams_;
  TrafficStore* const traffic_;
  TrafficMarks* const marks_;
  SilentStreams silent_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_AGENT_SERVICE_H_
