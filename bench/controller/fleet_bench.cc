// Fleet simulator: N agents (callback-API streams, one TCP connection each
// unless --per-channel says otherwise) against one controller running in a
// forked child, over insecure loopback.
//
// Measures (1) the controller's resident memory per connected agent, and
// (2) the time from a one-flow policy change until every agent has applied
// and acknowledged its new ruleset, as the controller sees it.
//
//   controller_fleet_bench [N=1000] [--per-channel K=1] [--ruleset-bytes B=2000]
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/process_tuning.h"
#include "controller/server.h"
#include "wire/sha256.h"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/ruleset_header.h"

namespace polder::bench {
namespace {

std::atomic<bool> g_stopping{false};  // the run is over

using controller::CompiledPolicy;
using controller::QuarantineRecord;

std::string HostName(int i) { return absl::StrFormat("h%05d", i); }

long RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// A synthetic policy: every host gets a ruleset of about `bytes` bytes,
// unique to it, plus one line standing for a flow that every host enforces
// (say mgmt -> all on ssh). Changing that flow changes every ruleset.
struct SyntheticPolicy {
  int hosts;
  int bytes;
  std::atomic<int> flow_port{22};

  absl::StatusOr<CompiledPolicy> Compile(absl::Time, const std::vector<QuarantineRecord>&) {
    CompiledPolicy c;
    int port = flow_port.load();
    c.revision = wire::Sha256Hex(absl::StrCat("rev", port));
    c.zones = {"zone"};
    std::string filler;
    while (static_cast<int>(filler.size()) < bytes)
      absl::StrAppend(&filler, "    add element inet polder allow_in { 10.0.", filler.size() % 250,
                      ".0/24 . tcp . ", 1000 + filler.size(), " }\n");
    for (int i = 0; i < hosts; ++i) {
      std::string name = HostName(i);
      c.hosts[name] = {"zone", absl::StrCat(wire::FormatRulesetHeader({name, c.revision, wire::Mode::kEnforce}),
                                            "table inet polder\n",
                                            "delete table inet polder\n# host ", i, "\n", filler,
                                            "    add element inet polder allow_in { 10.9.0.0/24 "
                                            ". tcp . ",
                                            port, " }\n")};
    }
    return c;
  }
};

// ---------------------------------------------------------------- child

// CPU time this process used, all threads: on a shared, loaded machine it
// says more about the controller's cost than wall time does.
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void RunController(int hosts, int bytes, int cmd_fd, int reply_fd) {
  controller::TuneProcessForManyAgents();  // as polder-controller does
  controller::SetLogEnabled(false);
  std::string db = absl::StrCat("/tmp/polder-fleet-bench-", getpid(), ".db");
  SyntheticPolicy policy{hosts, bytes};
  auto store = std::move(*controller::StateStore::Open(db));
  controller::Fleet fleet(store.get(), [&](absl::Time t, const std::vector<QuarantineRecord>& q,
                                           const std::string& /*posture*/) {
    return policy.Compile(t, q);
  });
  if (!fleet.Start(absl::Now()).ok()) _exit(3);
  auto server = controller::ControllerServer::Start(&fleet, {"127.0.0.1:0", std::nullopt});
  if (!server.ok()) _exit(4);
  auto reply = [&](const std::string& s) {
    std::string line = s + "\n";
    if (write(reply_fd, line.data(), line.size()) < 0) _exit(5);
  };
  reply(absl::StrCat((*server)->port()));
  char c;
  while (read(cmd_fd, &c, 1) == 1) {
    if (c == 's') {
      reply(absl::StrCat(fleet.Metrics().agents_connected, " ", fleet.ConnectedInSync()));
    } else if (c == 'c') {
      // One flow changes; time until every agent acknowledged it.
      double cpu0 = CpuSeconds();
      absl::Time start = absl::Now();
      policy.flow_port = policy.flow_port + 1;
      fleet.Reload(absl::Now()).IgnoreError();
      absl::Duration compile = absl::Now() - start;
      bool ok = fleet.WaitConnectedInSync(hosts, absl::Seconds(120));
      reply(absl::StrCat(ok ? 1 : 0, " ", absl::ToDoubleSeconds(compile), " ",
                         absl::ToDoubleSeconds(absl::Now() - start), " ", CpuSeconds() - cpu0));
    } else if (c == 'q') {
      break;
    }
  }
  for (const char* s : {"", "-wal", "-shm"}) unlink((db + s).c_str());
  _exit(0);
}

// ---------------------------------------------------------------- agents

class SimAgent final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  SimAgent(v1::AgentService::Stub* stub, const std::string& host, std::atomic<int>* applied)
      : applied_(applied) {
    stub->async()->Connect(&context_, this);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_host(host);
    hello.mutable_hello()->set_agent_version("fleet-bench");
    Queue(std::move(hello));
    StartRead(&in_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_assignment()) {
      v1::AgentMessage ack;
      auto* r = ack.mutable_apply_result();
      r->set_ok(true);
      r->set_revision(in_.assignment().revision());
      r->set_ruleset_hash(wire::Sha256Hex(in_.assignment().ruleset()));
      Queue(std::move(ack));
      applied_->fetch_add(1);
    }
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (ok && !queue_.empty()) StartWrite(&queue_.front());
  }
  void OnDone(const grpc::Status& s) override {
    // Streams end by the thousand when the controller quits at the end of the run.
    if (!s.ok() && !g_stopping.load())
      std::fprintf(stderr, "agent stream ended: %s\n", s.error_message().c_str());
  }
  void Cancel() { context_.TryCancel(); }

 private:
  void Queue(v1::AgentMessage m) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(m));
    if (queue_.size() == 1) StartWrite(&queue_.front());
  }
  std::atomic<int>* applied_;
  grpc::ClientContext context_;
  v1::ControllerMessage in_;
  absl::Mutex mu_;
  std::deque<v1::AgentMessage> queue_ ABSL_GUARDED_BY(mu_);
};

struct Child {
  pid_t pid;
  FILE* replies;
  int cmd_fd;
  std::string Ask(char c) {
    if (write(cmd_fd, &c, 1) != 1) return "";
    char buf[256];
    return fgets(buf, sizeof buf, replies) ? std::string(buf) : "";
  }
};

std::pair<int, int> Counts(Child& child) {
  int connected = 0, in_sync = 0;
  std::sscanf(child.Ask('s').c_str(), "%d %d", &connected, &in_sync);
  return {connected, in_sync};
}

int Main(int argc, char** argv) {
  int n = 1000, per_channel = 1, bytes = 2000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--per-channel") && i + 1 < argc)
      per_channel = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--ruleset-bytes") && i + 1 < argc)
      bytes = std::atoi(argv[++i]);
    else
      n = std::atoi(argv[i]);
  }
  // The simulated agents stand for other machines: their lock bookkeeping (Debian's abseil
  // tracks every mutex for deadlock detection) must not eat the controller's two cores.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int to_child[2], from_child[2];
  if (pipe(to_child) || pipe(from_child)) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    RunController(n, bytes, to_child[0], from_child[1]);
  }
  close(to_child[0]);
  close(from_child[1]);
  Child child{pid, fdopen(from_child[0], "r"), to_child[1]};
  char buf[64];
  if (!fgets(buf, sizeof buf, child.replies)) return 2;
  std::string target = absl::StrCat("127.0.0.1:", std::atoi(buf));
  absl::SleepFor(absl::Milliseconds(300));
  long rss_before = RssKb(pid);

  std::atomic<int> applied{0};
  std::vector<std::unique_ptr<v1::AgentService::Stub>> stubs;
  std::vector<std::unique_ptr<SimAgent>> agents;
  absl::Time t0 = absl::Now();
  for (int i = 0; i < n; ++i) {
    if (i % per_channel == 0) {
      grpc::ChannelArguments args;
      // A private subchannel pool gives each channel its own TCP connection,
      // as separate agent machines would have.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      stubs.push_back(v1::AgentService::NewStub(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args)));
    }
    agents.push_back(std::make_unique<SimAgent>(stubs.back().get(), HostName(i), &applied));
    // Connect in waves so the listen backlog is never the bottleneck.
    if (i % 500 == 499)
      while (Counts(child).first < i + 1 - 500) absl::SleepFor(absl::Milliseconds(20));
  }
  std::pair<int, int> c;
  absl::Time deadline = absl::Now() + absl::Seconds(180);
  while ((c = Counts(child)).second < n && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(50));
  double connect_s = absl::ToDoubleSeconds(absl::Now() - t0);
  absl::SleepFor(absl::Milliseconds(500));
  long rss_after = RssKb(pid);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("agents            %d (%d per connection), %ld CPUs, load average %.1f\n", n,
              per_channel, sysconf(_SC_NPROCESSORS_ONLN), load[0]);
  std::printf("connected/in sync %d / %d after %.2f s\n", c.first, c.second, connect_s);
  std::printf("controller RSS    %ld KiB before, %ld KiB with agents\n", rss_before, rss_after);
  std::printf("memory per agent  %.1f KiB (goal < 40 KB)\n",
              static_cast<double>(rss_after - rss_before) / n);

  for (int round = 0; round < 3; ++round) {
    int ok = 0;
    double compile = 0, total = 0, cpu = 0;
    std::sscanf(child.Ask('c').c_str(), "%d %lf %lf %lf", &ok, &compile, &total, &cpu);
    std::printf(
        "one-flow change   %s: %.3f s to every ack (compile+diff+send %.3f s; controller CPU "
        "%.3f s) (goal < 2 s)\n",
        ok ? "all acknowledged" : "TIMED OUT", total, compile, cpu);
  }
  g_stopping = true;
  child.Ask('q');
  waitpid(pid, nullptr, 0);
  for (auto& a : agents) a->Cancel();
  std::fflush(stdout);
  _exit(0);  // skip tearing down thousands of streams
}

}  // namespace
}  // namespace polder::bench

int main(int argc, char** argv) { return polder::bench::Main(argc, argv); }
