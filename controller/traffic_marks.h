// TrafficMarks: each host's observed-traffic high-water mark (epoch, sequence) where every
// controller of a fleet sees it. Traffic itself stays in each controller's own database (too
// large for etcd, docs/traffic.md); an agent that fails over sends its new controller again the
// batches the old one never acknowledged, and the new one takes a batch only above the mark, so
// a batch the old controller stored is not counted twice across the fleet.
//
//   TrafficMarks::Mark m = marks->Get("db-1");          // {0, 0}: none yet
//   if (batch <= m) { ...a resend: acknowledge, count as duplicate... }
//   ...store it locally...
//   marks->Advance("db-1", {epoch, sequence});          // never lowers it
//
// The mark is advanced after the local store: a controller that dies in between leaves a batch
// that another controller stores again (counted twice once the first is back), never one that
// nobody stored, which for `polder unused` is the safe side.
//
// It also records which controllers hold traffic, and when each last stored a batch: the CLI
// asks every holder in its window, so a dead controller's traffic is named as missing rather
// than silently left out. Thread-safe.
#ifndef POLDER_CONTROLLER_TRAFFIC_MARKS_H_
#define POLDER_CONTROLLER_TRAFFIC_MARKS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}

namespace polder::controller {

class TrafficMarks {
 public:
  using Mark = std::pair<uint64_t, uint64_t>;  // (epoch, sequence), compared in that order
  virtual ~TrafficMarks() = default;
  // Unavailable when the store cannot be read: the caller then leaves the batch
  // unacknowledged, and the agent sends it again.
  virtual absl::StatusOr<Mark> Get(const std::string& host) = 0;
  // Raises the host's mark to `to` unless it is already at or above it.
  virtual absl::Status Advance(const std::string& host, Mark to) = 0;

  struct Holder {
    std::string id, address;
    absl::Time last_stored;
  };
  // This controller stored a batch at `now` (recorded at most once a minute).
  virtual absl::Status NoteStored(absl::Time now) = 0;
  virtual absl::StatusOr<std::vector<Holder>> Holders() = 0;
  // This controller's id among the holders.
  virtual const std::string& id() const = 0;
};

// On etcd: marks under /polder/v1/traffic-marks/<host>, holders under
// /polder/v1/traffic-holders/<id>; each call bounded by `timeout`. `id` and `address` name this
// controller (its membership id and listen address).
std::unique_ptr<TrafficMarks> EtcdTrafficMarks(std::shared_ptr<grpc::Channel> channel,
                                               std::string id, std::string address,
                                               absl::Duration timeout = absl::Seconds(2));

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_TRAFFIC_MARKS_H_
