// Simulated agents against several controllers, for bench/ha/ha_fleet_bench.sh: each host keeps
// one stream (its own TCP connection) to the controller rendezvous hashing prefers for it, says
// Hello with what it applied, acknowledges assignments, and when its stream ends or a connection
// is refused moves to its next controller after a random delay, as `polder-agent --controller
// A,B,C` does (agent/uplink/controller_client.h): up to 1 s, and after a whole round of failures
// a backoff wait (200 ms doubling to 5 s) before the preferred one again.
//
//   polder_ha_fleet_sim --controllers A,B,C --first I --count N --dir D
//
// It is driven by files in D, so that several simulator processes (the open-files limit is
// 20,000 per process) run one measurement together:
//   D/ready.I               written once all its hosts are in sync: "<hosts> <seconds>"
//   D/change.K              "<t0 unix ms> <revision>": waits until every host acknowledged an
//                           assignment of `revision`; writes D/changed.K.I:
//                           "<acked> <hosts> <last ack unix ms> <p50 ms> <p99 ms> <reapplied>"
//   D/kill                  "<t0 unix ms> <HOST:PORT>": that controller was killed; waits until
//                           every host that was on it is in sync on another one; writes
//                           D/failover.I: "<moved> <resettled> <p50 ms> <p99 ms> <max ms>
//                           <within 10 s> <dropped elsewhere> <reapplied>"
//   D/settle.K              "<t0 unix ms>": waits until every host is in sync and no assignment
//                           came for 1 s; writes D/settled.K.I: "<in sync> <hosts> <ms from t0
//                           to the last sync or acknowledgement> <generation regressions>"
//   D/stop                  exits
// Times are measured at the agents: an acknowledgement counts when it is queued on the stream.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/uplink/controller_list.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/sha256.h"

namespace polder::bench {

// What a simulated agent reads of a ControllerMessage: an assignment's revision, ruleset text
// and generation, or an InSync. The structured ruleset (Assignment field 30), which only a real
// agent's kernel writer needs, is skipped unparsed: the simulated agents stand for other
// machines, and parsing 10,000 of them here took a fifth of the two cores the controllers and
// etcd share.
struct ControllerEvent {
  enum Kind { kOther, kAssignment, kInSync } kind = kOther;
  std::string revision;
  std::string ruleset;
  uint64_t generation = 0;
};

// Reads ControllerMessage.assignment (1) or .in_sync (20) from `in`, skipping the rest.
bool ParseControllerEvent(google::protobuf::io::CodedInputStream& in, ControllerEvent* out) {
  using google::protobuf::internal::WireFormatLite;
  while (uint32_t tag = in.ReadTag()) {
    int field = WireFormatLite::GetTagFieldNumber(tag);
    if ((field != 1 && field != 20) ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    out->kind = field == 1 ? ControllerEvent::kAssignment : ControllerEvent::kInSync;
    uint32_t length;
    if (!in.ReadVarint32(&length)) return false;
    auto limit = in.PushLimit(static_cast<int>(length));
    while (uint32_t inner = in.ReadTag()) {
      int f = WireFormatLite::GetTagFieldNumber(inner);
      uint32_t len;
      bool ok;
      if (f == 1 || (f == 2 && out->kind == ControllerEvent::kAssignment)) {
        ok = in.ReadVarint32(&len) &&
             in.ReadString(f == 1 ? &out->revision : &out->ruleset, static_cast<int>(len));
      } else if ((f == 20 && out->kind == ControllerEvent::kAssignment) ||
                 (f == 2 && out->kind == ControllerEvent::kInSync)) {
        ok = in.ReadVarint64(&out->generation);
      } else {
        ok = WireFormatLite::SkipField(&in, inner);
      }
      if (!ok) return false;
    }
    in.PopLimit(limit);
  }
  return true;
}

}  // namespace polder::bench

template <>
class grpc::SerializationTraits<polder::bench::ControllerEvent> {
 public:
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, polder::bench::ControllerEvent* out) {
    grpc::Slice slice;
    grpc::Status dumped = buffer->DumpToSingleSlice(&slice);
    buffer->Clear();
    if (!dumped.ok()) return dumped;
    google::protobuf::io::CodedInputStream in(slice.begin(), static_cast<int>(slice.size()));
    in.SetTotalBytesLimit(64 << 20);
    *out = {};
    if (!polder::bench::ParseControllerEvent(in, out))
      return grpc::Status(grpc::StatusCode::INTERNAL, "malformed ControllerMessage");
    return grpc::Status::OK;
  }
  static grpc::Status Serialize(const polder::bench::ControllerEvent&, grpc::ByteBuffer*, bool*) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "the simulator only reads these");
  }
};

namespace polder::bench {
namespace {

constexpr absl::Duration kFailoverDelayMax = absl::Seconds(1);
constexpr absl::Duration kBackoffInitial = absl::Milliseconds(200);
constexpr absl::Duration kBackoffMax = absl::Seconds(5);

std::string HostName(int i) { return absl::StrFormat("h%05d", i); }

int64_t UnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

class Sim;

// What one simulated host knows; guarded by Sim::mu_.
struct SimHost {
  std::string name;
  std::vector<std::string> order;  // rendezvous order of the controllers
  size_t current = 0;              // index into order
  int failures_this_round = 0;
  absl::Duration backoff = kBackoffInitial;
  std::string applied_revision, applied_hash;
  uint64_t applied_generation = 0;
  bool in_sync = false;  // on a live stream, and the controller said in sync or sent what it acked
  absl::Time synced_at = absl::InfinitePast();
  // The controller of the last stream that got in sync, and of the one before it: a host killed
  // controller had may already be on another when the simulator hears of the kill.
  std::string synced_on, synced_on_before;
  absl::Time acked_at = absl::InfinitePast();  // the last assignment acknowledged
  int streams_ended = 0;
  int reapplied = 0;    // assignments of the ruleset it had applied already
  int regressions = 0;  // assignments of a lower generation than one it had applied
};

class Stream final : public grpc::ClientBidiReactor<v1::AgentMessage, ControllerEvent> {
 public:
  Stream(Sim* sim, int host, const std::string& target, v1::AgentMessage hello);
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& s) override;
  void Cancel() { context_.TryCancel(); }

 private:
  void Queue(v1::AgentMessage m);
  Sim* const sim_;
  const int host_;
  const std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext context_;
  ControllerEvent in_;
  absl::Mutex mu_;
  std::deque<v1::AgentMessage> queue_ ABSL_GUARDED_BY(mu_);
};

class Sim {
 public:
  Sim(std::vector<std::string> controllers, int first, int count) : rng_(first + 1) {
    for (int i = 0; i < count; ++i) {
      SimHost h;
      h.name = HostName(first + i);
      h.order = agent::RendezvousOrder(controllers, h.name);
      hosts_.push_back(std::move(h));
    }
    reconnector_ = std::thread([this] { ReconnectLoop(); });
  }

  int size() const { return static_cast<int>(hosts_.size()); }

  void Connect(int i) ABSL_LOCKS_EXCLUDED(mu_) {
    v1::AgentMessage hello;
    std::string target;
    {
      absl::MutexLock lock(&mu_);
      SimHost& h = hosts_[i];
      auto* m = hello.mutable_hello();
      m->set_host(h.name);
      m->set_agent_version("ha-fleet-sim");
      m->set_applied_revision(h.applied_revision);
      m->set_ruleset_hash(h.applied_hash);
      m->set_applied_generation(h.applied_generation);
      target = h.order[h.current];
    }
    new Stream(this, i, target, std::move(hello));  // deletes itself when done
  }

  // The controller sent `a`: the acknowledgement to queue.
  v1::AgentMessage OnAssignment(int i, const ControllerEvent& a) ABSL_LOCKS_EXCLUDED(mu_) {
    std::string hash = wire::Sha256Hex(a.ruleset);
    absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    SimHost& h = hosts_[i];
    if (hash == h.applied_hash) ++h.reapplied;
    if (a.generation != 0 && a.generation < h.applied_generation) ++h.regressions;
    h.applied_revision = a.revision;
    h.applied_hash = hash;
    h.applied_generation = std::max(h.applied_generation, a.generation);
    h.acked_at = now;
    last_assignment_ = now;
    MarkInSyncLocked(h, now);
    v1::AgentMessage ack;
    auto* r = ack.mutable_apply_result();
    r->set_ok(true);
    r->set_revision(a.revision);
    r->set_ruleset_hash(hash);
    r->set_generation(a.generation);
    return ack;
  }

  void OnInSync(int i, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    SimHost& h = hosts_[i];
    h.applied_generation = std::max(h.applied_generation, generation);
    MarkInSyncLocked(h, now);
  }

  void OnStreamDone(int i, const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    SimHost& h = hosts_[i];
    bool was_in_sync = h.in_sync;
    h.in_sync = false;
    if (was_in_sync) {
      ++h.streams_ended;
      h.failures_this_round = 0;
      h.backoff = kBackoffInitial;
    } else {
      ++h.failures_this_round;
      if (errors_.size() < 5) errors_.push_back(status.error_message());
    }
    absl::Duration delay = absl::Milliseconds(
        std::uniform_int_distribution<int>(0, absl::ToInt64Milliseconds(kFailoverDelayMax))(rng_));
    h.current = (h.current + 1) % h.order.size();
    if (h.failures_this_round >= static_cast<int>(h.order.size())) {
      // A whole round failed: wait, then the preferred one again.
      h.failures_this_round = 0;
      h.current = 0;
      delay = h.backoff / 2 + absl::Milliseconds(std::uniform_int_distribution<int>(
                                  0, absl::ToInt64Milliseconds(h.backoff / 2))(rng_));
      h.backoff = std::min(h.backoff * 2, kBackoffMax);
    }
    due_.emplace(absl::Now() + delay, i);
  }

  // Blocks until `done(index, host)` holds for every host or `timeout` passes.
  template <typename F>
  bool WaitAll(F done, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        bool all = true;
        for (size_t i = 0; all && i < hosts_.size(); ++i) all = done(i, hosts_[i]);
        if (all) return true;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  template <typename F>
  auto Read(F f) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return f(hosts_);
  }

  absl::Time LastAssignment() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return last_assignment_;
  }

  std::vector<std::string> Errors() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

 private:
  void MarkInSyncLocked(SimHost& h, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!h.in_sync) {
      h.synced_at = now;
      h.synced_on_before = h.synced_on;
      h.synced_on = h.order[h.current];
    }
    h.in_sync = true;
    h.failures_this_round = 0;
    h.backoff = kBackoffInitial;
  }

  void ReconnectLoop() ABSL_LOCKS_EXCLUDED(mu_) {
    while (true) {
      std::vector<int> now_due;
      {
        absl::MutexLock lock(&mu_);
        absl::Time now = absl::Now();
        while (!due_.empty() && due_.begin()->first <= now) {
          now_due.push_back(due_.begin()->second);
          due_.erase(due_.begin());
        }
      }
      for (int i : now_due) Connect(i);
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  absl::Mutex mu_;
  std::vector<SimHost> hosts_ ABSL_GUARDED_BY(mu_);
  absl::Time last_assignment_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::multimap<absl::Time, int> due_ ABSL_GUARDED_BY(mu_);  // reconnections
  std::mt19937 rng_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);  // the first few, for the log
  std::thread reconnector_;  // runs until the process _exit()s (no teardown of 10,000 streams)
};

Stream::Stream(Sim* sim, int host, const std::string& target, v1::AgentMessage hello)
    : sim_(sim), host_(host), target_(target) {
  grpc::ChannelArguments args;
  // Its own TCP connection, as a separate machine would have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(2));
  // AgentService.Connect as the generated stub calls it, with ControllerEvent as the reply type.
  grpc::internal::ClientCallbackReaderWriterFactory<v1::AgentMessage, ControllerEvent>::Create(
      channel_.get(),
      grpc::internal::RpcMethod("/polder.v1.AgentService/Connect",
                                grpc::internal::RpcMethod::BIDI_STREAMING, channel_),
      &context_, this);
  Queue(std::move(hello));
  StartRead(&in_);
  StartCall();
}

void Stream::OnReadDone(bool ok) {
  if (!ok) return;
  if (in_.kind == ControllerEvent::kAssignment) Queue(sim_->OnAssignment(host_, in_));
  if (in_.kind == ControllerEvent::kInSync) sim_->OnInSync(host_, in_.generation);
  StartRead(&in_);
}

void Stream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  queue_.pop_front();
  if (ok && !queue_.empty()) StartWrite(&queue_.front());
}

void Stream::OnDone(const grpc::Status& s) {
  sim_->OnStreamDone(host_, s);
  delete this;
}

void Stream::Queue(v1::AgentMessage m) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(m));
  if (queue_.size() == 1) StartWrite(&queue_.front());
}

// ---------------------------------------------------------------- driving files

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text << "\n";
  std::filesystem::rename(tmp, path);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

void Change(Sim& sim, const std::string& dir, const std::string& k, const std::string& self) {
  std::vector<std::string> f = absl::StrSplit(ReadFile(absl::StrCat(dir, "/change.", k)), ' ');
  int64_t t0 = std::stoll(f.at(0));
  std::string revision(absl::StripAsciiWhitespace(f.at(1)));
  int reapplied0 = sim.Read([](std::vector<SimHost>& hs) {
    int n = 0;
    for (auto& h : hs) n += h.reapplied;
    return n;
  });
  sim.WaitAll([&](size_t, const SimHost& h) { return h.applied_revision == revision; },
              absl::Seconds(120));
  std::string line = sim.Read([&](std::vector<SimHost>& hs) {
    std::vector<double> ms;
    int64_t last = 0;
    int reapplied = 0;
    for (auto& h : hs) {
      reapplied += h.reapplied;
      if (h.applied_revision != revision) continue;
      ms.push_back(static_cast<double>(UnixMs(h.acked_at) - t0));
      last = std::max(last, UnixMs(h.acked_at));
    }
    return absl::StrFormat("%d %d %d %.0f %.0f %d", ms.size(), hs.size(), last, Percentile(ms, 0.5),
                           Percentile(ms, 0.99), reapplied - reapplied0);
  });
  WriteFile(absl::StrCat(dir, "/changed.", k, ".", self), line);
}

void Failover(Sim& sim, const std::string& dir, const std::string& self) {
  std::vector<std::string> f = absl::StrSplit(ReadFile(dir + "/kill"), ' ');
  int64_t t0 = std::stoll(f.at(0));
  std::string killed(absl::StripAsciiWhitespace(f.at(1)));
  struct Before {
    bool moved;
    int ended, reapplied;
  };
  std::vector<Before> before = sim.Read([&](std::vector<SimHost>& hs) {
    std::vector<Before> b;
    for (auto& h : hs) {
      bool on_killed =
          h.synced_on == killed || (UnixMs(h.synced_at) >= t0 && h.synced_on_before == killed);
      b.push_back({on_killed, h.streams_ended, h.reapplied});
    }
    return b;
  });
  auto resettled = [&](const SimHost& h) {
    return h.in_sync && h.synced_on != killed && UnixMs(h.synced_at) >= t0;
  };
  sim.WaitAll([&](size_t i, const SimHost& h) { return !before[i].moved || resettled(h); },
              absl::Seconds(60));
  std::string line = sim.Read([&](std::vector<SimHost>& hs) {
    std::vector<double> ms;
    int moved = 0, dropped = 0, reapplied = 0, within10 = 0;
    for (size_t k = 0; k < hs.size(); ++k) {
      reapplied += hs[k].reapplied - before[k].reapplied;
      if (!before[k].moved) {
        dropped += hs[k].streams_ended - before[k].ended;
        continue;
      }
      ++moved;
      if (!resettled(hs[k])) continue;
      double d = static_cast<double>(UnixMs(hs[k].synced_at) - t0);
      ms.push_back(d);
      if (d <= 10000) ++within10;
    }
    return absl::StrFormat("%d %d %.0f %.0f %.0f %d %d %d", moved, ms.size(), Percentile(ms, 0.5),
                           Percentile(ms, 0.99), Percentile(ms, 1.0), within10, dropped, reapplied);
  });
  WriteFile(dir + "/failover." + self, line);
}

// Until every host is in sync on a live stream and no assignment came for a second: when the
// fleet has converged after the faults, and whether any host was ever sent an older generation.
void Settle(Sim& sim, const std::string& dir, const std::string& k, const std::string& self) {
  int64_t t0 = std::stoll(ReadFile(absl::StrCat(dir, "/settle.", k)));
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool settled = false;
  while (!settled && absl::Now() < deadline) {
    settled = sim.WaitAll([](size_t, const SimHost& h) { return h.in_sync; }, absl::Seconds(1)) &&
              absl::Now() - sim.LastAssignment() >= absl::Seconds(1);
    if (!settled) absl::SleepFor(absl::Milliseconds(50));
  }
  std::string line = sim.Read([&](std::vector<SimHost>& hs) {
    int in_sync = 0, regressions = 0;
    int64_t last = t0;
    for (auto& h : hs) {
      in_sync += h.in_sync;
      regressions += h.regressions;
      last = std::max({last, UnixMs(h.synced_at), UnixMs(h.acked_at)});
    }
    return absl::StrFormat("%d %d %d %d", in_sync, hs.size(), last - t0, regressions);
  });
  WriteFile(absl::StrCat(dir, "/settled.", k, ".", self), line);
}

int Main(int argc, char** argv) {
  std::string controllers, dir;
  int first = 0, count = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--controllers")
      controllers = argv[i + 1];
    else if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--first")
      first = std::atoi(argv[i + 1]);
    else if (flag == "--count")
      count = std::atoi(argv[i + 1]);
  }
  auto list = agent::ParseControllerList(controllers);
  if (!list.ok() || dir.empty() || count <= 0) {
    std::fprintf(stderr, "usage: %s --controllers A,B,C --first I --count N --dir D\n", argv[0]);
    return 2;
  }
  // One connection per host, and a few spare descriptors.
  rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < static_cast<rlim_t>(count) + 200) {
    std::fprintf(stderr, "open-files limit %lu is too low for %d hosts: run more processes\n",
                 static_cast<unsigned long>(nofile.rlim_cur), count);
    return 2;
  }
  // The simulated agents stand for other machines: their lock bookkeeping must not eat the
  // controllers' two cores.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string self = absl::StrCat(first);
  Sim sim(*list, first, count);
  absl::Time t0 = absl::Now();
  // In waves, so that the controllers' new-stream limits (1,000/s each) do not turn the start
  // into a failover storm.
  for (int i = 0; i < sim.size(); ++i) {
    sim.Connect(i);
    if (i % 250 == 249) absl::SleepFor(absl::Milliseconds(150));
  }
  bool ready = sim.WaitAll([](size_t, const SimHost& h) { return h.in_sync; }, absl::Seconds(180));
  WriteFile(absl::StrCat(dir, "/ready.", self),
            absl::StrFormat("%d %.2f %s", ready ? sim.size() : 0,
                            absl::ToDoubleSeconds(absl::Now() - t0), ready ? "" : "NOT READY"));
  for (const std::string& e : sim.Errors()) std::fprintf(stderr, "stream error: %s\n", e.c_str());

  std::set<std::string> done;
  while (!std::filesystem::exists(dir + "/stop")) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::string name = entry.path().filename();
      if (done.count(name) || absl::EndsWith(name, ".tmp")) continue;
      if (name.rfind("change.", 0) == 0) {
        done.insert(name);
        Change(sim, dir, name.substr(7), self);
      } else if (name.rfind("settle.", 0) == 0) {
        done.insert(name);
        Settle(sim, dir, name.substr(7), self);
      } else if (name == "kill") {
        done.insert(name);
        Failover(sim, dir, self);
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::fflush(stdout);
  _exit(0);  // skip tearing down thousands of streams
}

}  // namespace
}  // namespace polder::bench

int main(int argc, char** argv) { return polder::bench::Main(argc, argv); }
