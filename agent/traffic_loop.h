// TrafficLoop runs the agent's traffic collection (issue 11): every `interval` it reads the
// observation sets of table inet polder (TrafficCollector), appends what grew to the spool
// (TrafficSpool) and prints one `traffic` event line. It starts where the spool left off
// (same epoch, next sequence, and the counter values of its last report, so nothing is counted
// twice; when those are missing its first read only sets them, and a `traffic_baseline` event
// says what was skipped) and stops within one interval.
//
//   TrafficLoop loop(host, "/var/lib/polder-agent/traffic.jsonl", absl::Seconds(60));
//   loop.Start();  ...  loop.Stop();
#ifndef POLDER_AGENT_TRAFFIC_LOOP_H_
#define POLDER_AGENT_TRAFFIC_LOOP_H_

#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/clock.h"
#include "wire/traffic_report.h"

namespace polder::agent {

class TrafficLoop {
 public:
  TrafficLoop(std::string host, std::filesystem::path spool, absl::Duration interval,
              Clock& clock = *Clock::Real());
  ~TrafficLoop();

  // Called (on the loop's thread) after each report is in the spool, with where its line
  // starts: controller mode sends it on (TrafficOutbox). Set before Start().
  using OnSpooled = std::function<void(const wire::TrafficReport&, uint64_t line_offset)>;
  void set_on_spooled(OnSpooled f) { on_spooled_ = std::move(f); }

  // Beside the spool: the counter values its last report was computed from
  // (traffic_baseline.h), so that a restart does not report them again.
  static std::filesystem::path BaselinePath(const std::filesystem::path& spool);

  void Start();
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  std::string host_;
  std::filesystem::path spool_;
  absl::Duration interval_;
  Clock& clock_;
  OnSpooled on_spooled_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TRAFFIC_LOOP_H_
