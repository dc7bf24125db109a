// TrafficOutbox: the controller-mode agent's batches of observed traffic that the controller
// has not acknowledged yet (issue 11, docs/traffic.md). The reports live in the spool
// (TrafficSpool); the outbox indexes the unacknowledged ones by where their line starts, so
// memory stays small while a controller is away for days. Each stream gets at most
// wire::kMaxTrafficBatchesInFlight unacknowledged batches at a time; a stream's end puts its
// in-flight batches back, and they go out again on the next one (a resend is harmless: the
// controller keeps a high-water mark per host). What is acknowledged is remembered in
// `acked_file` ("EPOCH SEQUENCE"), so a restarted agent replays only what is still owed.
//
//   TrafficOutbox outbox(state_dir / "traffic.jsonl", state_dir / "traffic.acked", log);
//   outbox.Load();                          // before the TrafficLoop starts appending
//   outbox.Add(report, offset);             // after each append
//   for (auto& m : outbox.Take()) stream.Write(m);
//   outbox.Acked(epoch, sequence);          // on a TrafficAck
//   outbox.StreamEnded();
#ifndef POLDER_AGENT_UPLINK_TRAFFIC_OUTBOX_H_
#define POLDER_AGENT_UPLINK_TRAFFIC_OUTBOX_H_

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "polder/v1/polder.pb.h"
#include "wire/traffic_report.h"

namespace polder::agent {

class TrafficOutbox {
 public:
  // `warn` gets one sentence for each thing given up (a batch clipped, a line unreadable).
  using Warn = std::function<void(const std::string& message)>;
  TrafficOutbox(std::filesystem::path spool, std::filesystem::path acked_file, Warn warn = {},
                size_t max_pending = 0 /* 0: wire::kMaxTrafficBatchesPending */);

  // Indexes the spool's reports after the acknowledged position. A missing spool is empty.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  // A report just appended at `line_offset`.
  void Add(const wire::TrafficReport& report, uint64_t line_offset) ABSL_LOCKS_EXCLUDED(mu_);
  // The next batches to send on this stream, oldest first, so that at most
  // kMaxTrafficBatchesInFlight are unacknowledged. Each is clipped to the wire's limits (the
  // samples beyond kMaxTrafficSamplesPerBatch are counted in `lost`).
  std::vector<v1::AgentMessage> Take() ABSL_LOCKS_EXCLUDED(mu_);
  // The controller has the batch: it is never sent again (an unknown one is ignored).
  void Acked(uint64_t epoch, uint64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream is gone: what was in flight is owed again.
  void StreamEnded() ABSL_LOCKS_EXCLUDED(mu_);

  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);    // not acknowledged
  size_t in_flight() const ABSL_LOCKS_EXCLUDED(mu_);  // sent on this stream, not acknowledged
  // Batches given up without an acknowledgement (over max_pending, or unreadable), for the
  // log and tests: never silently.
  uint64_t given_up() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Position = std::pair<uint64_t, uint64_t>;  // (epoch, sequence)
  struct Entry {
    Position position;
    uint64_t offset = 0;
    bool in_flight = false;
    bool acked = false;
  };
  void AddLocked(Position p, uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SaveAcked(Position p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::filesystem::path spool_, acked_file_;
  const Warn warn_;
  const size_t max_pending_;
  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);  // spool order; acked ones leave the front
  Position acked_through_ ABSL_GUARDED_BY(mu_) = {0, 0};
  Position last_ ABSL_GUARDED_BY(mu_) = {0, 0};  // the newest indexed
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t given_up_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_TRAFFIC_OUTBOX_H_
