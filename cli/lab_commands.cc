#include "cli/lab_commands.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli_common.h"
#include "cli/compile_commands.h"
#include "cli/lab/lab_drill_report.h"
#include "cli/lab/lab_plan.h"
#include "cli/lab/lab_probe.h"
#include "cli/lab/lab_process.h"
#include "compiler/model/quarantine.h"
#include "compiler/model/verdict.h"
#if __has_include("compiler/model/posture.h")
#include "compiler/model/posture.h"
#define POLDER_HAVE_POSTURE 1
#else
#define POLDER_HAVE_POSTURE 0
#endif
#include "nlohmann/json.hpp"
#include "pki/pki.h"

namespace polder::cli {
namespace {

namespace fs = std::filesystem;

struct LabArgs {
  std::string dir;
  std::string name = "polder";
  std::string ns_prefix = "pl-";
  std::string now;
  std::string agent;
  bool apply_with_nft = false;
  bool no_agents = false;
  bool with_controller = false;  // up: agents under a polder-controller the lab runs
  bool for_drill = false;        // up: the lab belongs to this process's drill
  std::string format = "text";
  int timeout_ms = 800;
  bool complete = false;   // probe: a skipped case is a finding
  std::string controller;  // probe, drill: HOST:PORT (default: the policy's controller)
  std::string tls_dir;     // an admin certificate (polder pki issue DIR --admin NAME)
  bool insecure = false;
  std::string reason;  // drill: recorded in the controller's audit log
  std::string output;  // drill: -o FILE
  // up: how often the standalone agents append observed traffic to LAB/traffic/HOST.jsonl
  std::string traffic_interval = "2s";
};

absl::Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv).status();
}

#define RETURN_IF_ERROR(expr)  \
  do {                         \
    absl::Status _st = (expr); \
    if (!_st.ok()) return _st; \
  } while (0)

absl::Status BuildNetwork(const LabState& s) {
  const std::string& br = s.bridge_netns;
  RETURN_IF_ERROR(Ip({"netns", "add", br}));
  RETURN_IF_ERROR(Ip({"-n", br, "link", "set", "lo", "up"}));
  // Without snooping the bridge floods multicast, so IPv6 neighbour
  // discovery works even though the rulesets drop MLD reports.
  RETURN_IF_ERROR(Ip({"-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"}));
  RETURN_IF_ERROR(Ip({"-n", br, "link", "set", "br0", "up"}));
  for (size_t i = 0; i < s.endpoints.size(); ++i) {
    const LabEndpoint& e = s.endpoints[i];
    const std::string& ns = e.netns;
    std::string port = absl::StrCat("v", i);
    RETURN_IF_ERROR(Ip({"netns", "add", ns}));
    RETURN_IF_ERROR(
        Ip({"-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns}));
    RETURN_IF_ERROR(Ip({"-n", br, "link", "set", port, "master", "br0", "up"}));
    RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
    RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "eth0", "up"}));
    bool v4 = false, v6 = false;
    for (const Address& a : e.addresses) {
      bool is4 = a.family == Family::kV4;
      (is4 ? v4 : v6) = true;
      // Host routes only: every lab address is on-link over the bridge.
      if (is4) {
        RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", a.ToString() + "/32", "dev", "eth0"}));
      } else {
        RETURN_IF_ERROR(
            Ip({"-n", ns, "-6", "addr", "add", a.ToString() + "/128", "dev", "eth0", "nodad"}));
      }
    }
    if (v4) RETURN_IF_ERROR(Ip({"-n", ns, "route", "add", "default", "dev", "eth0"}));
    if (v6) RETURN_IF_ERROR(Ip({"-n", ns, "-6", "route", "add", "default", "dev", "eth0"}));
    // Ping sockets let the prober send ICMP echo without raw sockets.
    RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", ns, "sysctl", "-qw",
                                "net.ipv4.ping_group_range=0 2147483647"})
                        .status());
  }
  return absl::OkStatus();
}

std::string DefaultAgentPath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "polder-agent").string();
}

// Whether `pid` still runs `program` (and not a process that reused the pid).
bool ProcessRuns(int pid, absl::string_view program) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return absl::StrContains(cmd, program);
}

// HOST:PORT as gRPC takes it: an IPv6 address in brackets.
std::string HostPort(const Address& a, uint16_t port) {
  return a.family == Family::kV4 ? absl::StrCat(a.ToString(), ":", port)
                                 : absl::StrCat("[", a.ToString(), "]:", port);
}

// Waits until the agent logs that it applied its ruleset.
absl::Status WaitForAgent(const std::string& log, int pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (absl::StrContains(text, "\"applied\"") || absl::StrContains(text, "\"adopted\"") ||
        absl::StrContains(text, "\"unchanged\"")) {
      return absl::OkStatus();
    }
    if (kill(pid, 0) != 0 || absl::StrContains(text, "\"error\"")) {
      return absl::InternalError(absl::StrCat("agent failed, see ", log, ":\n", text));
    }
    usleep(20000);
  }
  return absl::DeadlineExceededError(absl::StrCat("agent did not apply its ruleset; see ", log));
}

absl::Status StartEnforcement(LabState& s, const std::string& agent,
                              const std::string& traffic_interval) {
  std::string lab = LabDir(s.name);
  std::error_code ec;
  if (s.apply == "agent") fs::create_directories(absl::StrCat(lab, "/traffic"), ec);
  for (const LabEndpoint& e : s.endpoints) {
    if (!e.managed || s.apply == "none") continue;
    std::string ruleset = absl::StrCat(lab, "/rulesets/", e.name, ".nft");
    if (s.apply == "nft") {
      RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", e.netns, "nft", "-f", ruleset}).status());
      continue;
    }
    std::string log = absl::StrCat(lab, "/agent-", e.name, ".log");
    // Each agent spools what its observation sets saw (docs/traffic.md), so `polder traffic
    // --local LAB/traffic` shows the lab's traffic and `polder suggest` learns from it.
    std::string spool = absl::StrCat(lab, "/traffic/", e.name, ".jsonl");
    absl::StatusOr<pid_t> pid = SpawnDetachedInNetns(
        e.netns,
        {agent, "--ruleset", ruleset, "--traffic-spool", spool, "--traffic-interval",
         traffic_interval},
        log);
    if (!pid.ok()) return pid.status();
    s.agents.push_back({e.name, *pid});
    RETURN_IF_ERROR(WriteLabState(s));
    RETURN_IF_ERROR(WaitForAgent(log, *pid, absl::Seconds(20)));
  }
  return absl::OkStatus();
}

// What StopAgents found still running and stopped.
struct Stopped {
  int agents = 0;
  bool controller = false;
};

// SIGTERM to each of `pids` still running `program`, SIGKILL to those still
// there 3 s later; returns how many were running.
int TerminateAll(const std::vector<int>& pids, absl::string_view program) {
  int running = 0;
  for (int pid : pids) {
    if (pid > 0 && ProcessRuns(pid, program)) {
      kill(pid, SIGTERM);
      ++running;
    }
  }
  absl::Time deadline = absl::Now() + absl::Seconds(3);
  for (int pid : pids) {
    while (pid > 0 && ProcessRuns(pid, program) && absl::Now() < deadline) usleep(20000);
    if (pid > 0 && ProcessRuns(pid, program)) kill(pid, SIGKILL);
  }
  return running;
}

// Stops the agents (and the controller) the lab started.
Stopped StopAgents(const LabState& s) {
  std::vector<int> agents;
  for (const AgentRecord& a : s.agents) agents.push_back(a.pid);
  Stopped stopped;
  stopped.agents = TerminateAll(agents, "polder-agent");
  // The controller last, so no agent sees it go and logs a lost stream first.
  stopped.controller = TerminateAll({s.controller_pid}, "polder-controller") == 1;
  return stopped;
}

// What TearDown found and removed, for `polder lab down` to report.
struct TornDown {
  bool had_state = false;    // the lab's state file was there
  absl::Status state_error;  // it was there but could not be read back
  std::string netns_prefix;
  int agents_stopped = 0;
  bool controller_stopped = false;  // `lab up --with-controller`'s polder-controller
  int processes_killed = 0;         // others still running in the namespaces
  std::vector<std::string> namespaces_removed;
  std::vector<std::string> namespaces_left;  // `ip netns del` failed
  absl::Status list_error;  // `ip netns list` failed: namespaces were not looked for
};

// Removes every namespace whose name starts with the lab's prefix, after
// killing what still runs inside (listeners of an interrupted probe), and the
// lab's directory. A state file that cannot be read back does not stop it:
// the namespaces are found by the prefix given on the command line instead.
TornDown TearDown(const std::string& name, const std::string& ns_prefix) {
  TornDown out;
  absl::StatusOr<LabState> state = ReadLabState(name);
  out.had_state = state.ok() || !absl::IsNotFound(state.status());
  if (!state.ok() && out.had_state) out.state_error = state.status();
  out.netns_prefix = LabNetnsPrefix(state.ok() ? state->ns_prefix : ns_prefix, name);
  if (state.ok()) {
    Stopped stopped = StopAgents(*state);
    out.agents_stopped = stopped.agents;
    out.controller_stopped = stopped.controller;
  }
  absl::StatusOr<std::string> list = RunCommand({"ip", "netns", "list"});
  if (!list.ok()) out.list_error = list.status();
  for (absl::string_view line : absl::StrSplit(list.value_or(""), '\n', absl::SkipEmpty())) {
    std::string ns(line.substr(0, line.find(' ')));
    if (!absl::StartsWith(ns, out.netns_prefix)) continue;
    if (auto pids = RunCommand({"ip", "netns", "pids", ns}); pids.ok()) {
      for (absl::string_view p : absl::StrSplit(*pids, '\n', absl::SkipEmpty())) {
        int pid = 0;
        if (absl::SimpleAtoi(p, &pid) && pid > 1 && pid != getpid() && kill(pid, SIGKILL) == 0) {
          ++out.processes_killed;
        }
      }
    }
    (RunCommand({"ip", "netns", "del", ns}).ok() ? out.namespaces_removed : out.namespaces_left)
        .push_back(ns);
  }
  std::error_code ec;
  fs::remove_all(LabDir(name), ec);
  return out;
}

bool ValidLabName(const std::string& name) {
  static const std::regex re("[a-z0-9][a-z0-9_.-]{0,62}");
  return std::regex_match(name, re);
}

absl::Status StartUnderController(LabState& s, const Policy& policy, const std::string& agent);

// Brings lab args.name up for `policy` (loaded from args.dir), saying so on `out`.
absl::StatusOr<int> UpLab(const LabArgs& args, const Policy& policy, std::ostream& out) {
  std::error_code ec;
  if (fs::exists(LabStatePath(args.name), ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("lab `", args.name, "` is up; run `polder lab down` first"));
  }
  LabState s;
  s.name = args.name;
  s.policy_dir = fs::absolute(args.dir, ec).string();
  s.ns_prefix = args.ns_prefix;
  if (args.for_drill) s.owner_pid = getpid();
  s.apply = args.no_agents         ? "none"
            : args.with_controller ? "controller"
            : args.apply_with_nft  ? "nft"
                                   : "agent";
  std::string prefix = LabNetnsPrefix(args.ns_prefix, args.name);
  s.bridge_netns = prefix + "br";
  s.endpoints = PlanEndpoints(policy);
  for (size_t i = 0; i < s.endpoints.size(); ++i) s.endpoints[i].netns = absl::StrCat(prefix, i);
  std::string agent = args.agent.empty() ? DefaultAgentPath() : args.agent;
  if ((s.apply == "agent" || s.apply == "controller") && access(agent.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no agent at ", agent, " (give --agent PATH)"));
  }
  fs::create_directories(LabDir(s.name), ec);
  absl::Status st = WriteLabState(s);
  if (st.ok()) st = BuildNetwork(s);
  if (st.ok()) st = WriteRulesets(policy, LabDir(s.name) + "/rulesets");
  if (st.ok()) {
    st = s.apply == "controller" ? StartUnderController(s, policy, agent)
                                 : StartEnforcement(s, agent, args.traffic_interval);
  }
  if (st.ok()) st = WriteLabState(s);
  if (!st.ok()) {
    // 1, not 2: the policy and the options were fine, the machine refused part of the lab
    // (a namespace, a ruleset, an agent), and what was built is torn down again.
    std::cerr << "polder lab up: " << st.message() << "\n";
    TearDown(s.name, s.ns_prefix);
    return kExitFindings;
  }
  out << "lab " << s.name << " is up: " << s.endpoints.size() << " namespaces (" << s.agents.size()
      << " agents), state in " << LabDir(s.name) << "\n";
  if (s.apply == "controller") {
    out << "  polder-controller listens on " << s.controller_address << " in " << s.controller_netns
        << "; admin certificate " << s.admin_tls_dir << "\n";
  }
  if (s.apply == "agent") {
    out << "  observed traffic: polder traffic --local " << LabDir(s.name) << "/traffic --policy "
        << s.policy_dir << "\n";
  }
  for (const LabEndpoint& e : s.endpoints) {
    out << "  " << e.netns << "  " << (e.managed ? "host " : "zone ") << e.name;
    for (const Address& a : e.addresses) out << " " << a.ToString();
    out << "\n";
  }
  return kExitOk;
}

absl::StatusOr<int> RunUp(const LabArgs& args) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(args.dir, args.now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitFindings;  // its errors are printed, as `polder check` would
  return UpLab(args, (*loaded)->policy, std::cout);
}

// "3 namespaces (a, b, c)", "1 agent", "no processes".
std::string Counted(size_t n, const char* one, const char* many,
                    const std::vector<std::string>& names = {}) {
  if (n == 0) return absl::StrCat("no ", many);
  std::string out = absl::StrCat(n, " ", n == 1 ? one : many);
  if (!names.empty()) absl::StrAppend(&out, " (", absl::StrJoin(names, ", "), ")");
  return out;
}

absl::StatusOr<int> RunDown(const LabArgs& args) {
  TornDown down = TearDown(args.name, args.ns_prefix);
  if (!down.state_error.ok()) {
    std::cerr << "polder lab down: " << down.state_error.message()
              << "; removing the namespaces starting " << down.netns_prefix << " anyway\n";
  }
  if (!down.list_error.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot list network namespaces: ", down.list_error.message()));
  }
  if (!down.had_state && down.namespaces_removed.empty() && down.namespaces_left.empty()) {
    std::cout << "lab " << args.name << ": nothing to remove (no state in " << LabDir(args.name)
              << ", no namespace starting " << down.netns_prefix << ")\n";
    return kExitOk;
  }
  std::cout << "lab " << args.name << " is down: removed "
            << Counted(down.namespaces_removed.size(), "namespace", "namespaces",
                       down.namespaces_removed)
            << ", stopped " << Counted(down.agents_stopped, "agent", "agents")
            << (down.controller_stopped ? " and the controller" : "") << ", killed "
            << Counted(down.processes_killed, "other process", "other processes") << "\n";
  if (!down.namespaces_left.empty()) {
    std::cerr << "polder lab down: "
              << Counted(down.namespaces_left.size(), "namespace", "namespaces",
                         down.namespaces_left)
              << " could not be removed\n";
    return kExitFindings;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// The full probe table: every (source address, destination address, port
// class) of the lab, each case's expected verdict from Decide() over the
// policy the agents are meant to enforce.

// What the probes are compared with: the policy files, or what a controller
// makes of them (its quarantine orders and posture applied).
struct Expectation {
  Policy policy;
  std::string description;  // "the policy files (revision 1a2b3c4d)", ...
};

struct ProbeCase {
  const LabEndpoint* source = nullptr;
  const LabEndpoint* destination = nullptr;
  Address source_address;
  Address destination_address;
  size_t port_class = 0;  // index into ProbeTable::classes
  Verdict expected;
  bool audit = false;  // audit mode: what the policy denies is logged, not dropped
  bool probed = false;
  ProbeRequest request;  // when probed
  ProbeOutcome observed = ProbeOutcome::kError;
};

struct ProbeTable {
  std::vector<PortClass> classes;
  std::vector<ProbeCase> cases;
};

bool Agrees(const ProbeCase& c) {
  return (c.observed == ProbeOutcome::kAllowed) == (c.expected.allowed || c.audit) &&
         c.observed != ProbeOutcome::kError;
}

bool Disagrees(const ProbeCase& c) { return c.probed && !Agrees(c); }

struct ProbeCounts {
  size_t cases = 0, probed = 0, skipped = 0, allowed = 0, disagree = 0;
  // Why cases were skipped, with how many, in the order first met.
  std::vector<std::pair<std::string, size_t>> skips;
};

ProbeCounts Count(const ProbeTable& t) {
  ProbeCounts n;
  std::map<std::string, size_t> at;
  for (const ProbeCase& c : t.cases) {
    ++n.cases;
    if (!c.probed) {
      ++n.skipped;
      const PortClass& k = t.classes[c.port_class];
      std::string why = absl::StrCat(k.Label(), ": ", k.skip_reason);
      auto [it, fresh] = at.emplace(why, n.skips.size());
      if (fresh) n.skips.push_back({why, 0});
      ++n.skips[it->second].second;
      continue;
    }
    ++n.probed;
    n.allowed += c.observed == ProbeOutcome::kAllowed;
    n.disagree += !Agrees(c);
  }
  return n;
}

// How many port classes a namespace may listen on: each costs one descriptor
// per address of the busiest namespace, and the listener keeps a reserve.
size_t ListenBudget(const LabState& s) {
  rlimit r{};
  rlim_t limit = getrlimit(RLIMIT_NOFILE, &r) == 0 ? r.rlim_max : 1024;
  if (limit == RLIM_INFINITY || limit > 65536) limit = 65536;
  size_t most = 1;
  for (const LabEndpoint& e : s.endpoints) most = std::max(most, e.addresses.size());
  size_t usable = limit > 128 ? static_cast<size_t>(limit) - 128 : 0;
  return usable / most;
}

ProbeTable PlanTable(const Policy& expected, const LabState& s) {
  ProbeTable t;
  t.classes = PlanPortClasses(expected, {KernelHasSctp(), ListenBudget(s)});
  for (const LabEndpoint& src : s.endpoints) {
    for (const LabEndpoint& dst : s.endpoints) {
      // Nothing enforces traffic between two unmanaged stand-ins.
      if (&src == &dst || (!src.managed && !dst.managed)) continue;
      for (const Address& sa : src.addresses) {
        for (const Address& da : dst.addresses) {
          if (sa.family != da.family) continue;
          for (size_t k = 0; k < t.classes.size(); ++k) {
            const PortClass& pc = t.classes[k];
            if (IsIcmp(pc.protocol) &&
                (pc.protocol == Protocol::kIcmp) != (sa.family == Family::kV4)) {
              continue;
            }
            ProbeCase c;
            c.source = &src;
            c.destination = &dst;
            c.source_address = sa;
            c.destination_address = da;
            c.port_class = k;
            uint16_t port = pc.probe.value_or(pc.members.front().lo);
            c.expected = Decide(expected, Connection{sa, da, pc.protocol, port});
            c.audit = expected.settings.mode == Mode::kAudit;
            c.probed = pc.probe.has_value();
            c.request = {sa, da, pc.protocol, port};
            t.cases.push_back(std::move(c));
          }
        }
      }
    }
  }
  return t;
}

// Starts a listener child in every namespace; returns them once all are ready.
absl::StatusOr<std::vector<NetnsChild>> StartListeners(const LabState& s,
                                                       const std::vector<PortClass>& classes) {
  std::vector<uint16_t> tcp, udp, sctp;
  for (const PortClass& c : classes) {
    if (!c.probe) continue;
    if (c.protocol == Protocol::kTcp) tcp.push_back(*c.probe);
    if (c.protocol == Protocol::kUdp) udp.push_back(*c.probe);
    if (c.protocol == Protocol::kSctp) sctp.push_back(*c.probe);
  }
  std::vector<NetnsChild> children;
  absl::Status failed;
  for (const LabEndpoint& e : s.endpoints) {
    auto child = ForkInNetns(e.netns, [&](int up, int down) {
      return ServeListeners(e.addresses, tcp, udp, sctp, up, down, absl::Minutes(10));
    });
    if (!child.ok()) {
      failed = child.status();
      break;
    }
    children.push_back(*child);
  }
  for (NetnsChild& c : children) {
    char byte = 1;
    if (failed.ok() && (read(c.from_child, &byte, 1) != 1 || byte != 0)) {
      failed = absl::InternalError("a listener could not bind its ports");
    }
  }
  if (failed.ok()) return children;
  for (NetnsChild& c : children) {
    close(c.to_child);
    close(c.from_child);
  }
  for (NetnsChild& c : children) WaitChild(c.pid, absl::Now() + absl::Seconds(5));
  return failed;
}

// Every namespace probes its cases at the same time, each in a child of its own.
absl::Status RunAllProbes(const LabState& s, ProbeTable& t, absl::Duration timeout) {
  struct Job {
    NetnsChild child;
    std::vector<size_t> cases;
  };
  std::vector<Job> jobs;
  for (const LabEndpoint& e : s.endpoints) {
    std::vector<size_t> mine;
    std::vector<ProbeRequest> requests;
    for (size_t i = 0; i < t.cases.size(); ++i) {
      if (t.cases[i].probed && t.cases[i].source == &e) {
        mine.push_back(i);
        requests.push_back(t.cases[i].request);
      }
    }
    if (mine.empty()) continue;
    auto child = ForkInNetns(e.netns, [&](int up, int) {
      std::vector<ProbeOutcome> out = RunProbes(requests, timeout);
      std::string bytes(out.size(), 0);
      for (size_t i = 0; i < out.size(); ++i) bytes[i] = static_cast<char>(out[i]);
      return write(up, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) ? 0 : 1;
    });
    if (!child.ok()) return child.status();
    jobs.push_back({*child, std::move(mine)});
  }
  absl::Time deadline = absl::Now() + absl::Minutes(5);
  absl::Status result;
  for (Job& j : jobs) {
    std::string bytes = ReadAll(j.child.from_child, deadline);
    close(j.child.to_child);
    WaitChild(j.child.pid, deadline);
    if (bytes.size() != j.cases.size()) {
      result = absl::InternalError("a prober died before reporting");
      continue;
    }
    for (size_t k = 0; k < j.cases.size(); ++k) {
      t.cases[j.cases[k]].observed = static_cast<ProbeOutcome>(bytes[k]);
    }
  }
  return result;
}

// Plans the full table over `expected` and probes every case that can be.
absl::StatusOr<ProbeTable> ProbeLab(const LabState& s, const Policy& expected,
                                    absl::Duration timeout) {
  ProbeTable t = PlanTable(expected, s);
  absl::StatusOr<std::vector<NetnsChild>> listeners = StartListeners(s, t.classes);
  if (!listeners.ok()) return listeners.status();
  absl::Status st = RunAllProbes(s, t, timeout);
  for (NetnsChild& c : *listeners) {
    close(c.to_child);
    close(c.from_child);
  }
  for (NetnsChild& c : *listeners) WaitChild(c.pid, absl::Now() + absl::Seconds(5));
  if (!st.ok()) return st;
  return t;
}

std::string ServiceText(const ProbeCase& c) {
  return ProbePort{c.request.protocol, c.request.port}.ToString();
}

// The host-essential ICMP types, which no class holds and no probe tries.
std::string HostEssentialNote() {
  std::vector<std::string> v4, v6;
  for (uint16_t t : HostEssentialIcmpTypes(false))
    v4.push_back(ProbePort{Protocol::kIcmp, t}.ToString());
  for (uint16_t t : HostEssentialIcmpTypes(true))
    v6.push_back(ProbePort{Protocol::kIcmpv6, t}.ToString());
  return absl::StrCat("host-essential ICMP types are expected allowed whatever the policy ",
                      "(spec §7) and not probed, since nothing answers them: ",
                      absl::StrJoin(v4, ", "), ", ", absl::StrJoin(v6, ", "));
}

void PrintText(const LabState& s, const Expectation& e, const ProbeTable& t) {
  ProbeCounts n = Count(t);
  std::cout << "lab " << s.name << ": " << n.cases << " cases (source, destination, port class), "
            << n.probed << " probed, " << n.skipped << " skipped, " << n.allowed << " got through, "
            << n.disagree << " disagree with " << e.description << "\n";
  std::map<std::string, std::vector<std::string>> open;  // "src addr -> dst addr" -> services
  for (const ProbeCase& c : t.cases) {
    if (!c.probed || c.observed != ProbeOutcome::kAllowed) continue;
    open[absl::StrCat(c.source->name, " ", c.source_address.ToString(), " -> ", c.destination->name,
                      " ", c.destination_address.ToString())]
        .push_back(ServiceText(c));
  }
  for (const auto& [pair, services] : open) {
    std::cout << "  " << pair << ":";
    for (const std::string& svc : services) std::cout << " " << svc;
    std::cout << "\n";
  }
  if (n.skipped > 0) {
    std::cout << "NOT PROBED: " << n.skipped << " of " << n.cases << " cases:\n";
    for (const auto& [why, count] : n.skips)
      std::cout << "  " << count << " cases of " << why << "\n";
  }
  std::cout << "note: " << HostEssentialNote() << "\n";
  if (n.disagree == 0) return;
  std::cout << "disagreements:\n";
  for (const ProbeCase& c : t.cases) {
    if (!Disagrees(c)) continue;
    std::cout << "  " << c.source->name << " " << c.source_address.ToString() << " -> "
              << c.destination->name << " " << c.destination_address.ToString() << " "
              << ServiceText(c) << " (class " << t.classes[c.port_class].Label() << "): observed "
              << OutcomeName(c.observed) << ", policy: " << c.expected.reason << "\n";
  }
}

std::string ExpectedText(const ProbeCase& c) {
  return c.expected.allowed || c.audit ? "allowed" : "blocked";
}

void PrintJson(const LabState& s, const Expectation& e, const ProbeTable& t) {
  ProbeCounts n = Count(t);
  nlohmann::ordered_json j;
  j["lab"] = s.name;
  j["compared_with"] = e.description;
  j["revision"] = e.policy.revision;
  j["cases"] = n.cases;
  j["probed"] = n.probed;
  j["skipped"] = n.skipped;
  j["skips"] = nlohmann::ordered_json::array();
  for (const auto& [why, count] : n.skips)
    j["skips"].push_back({{"reason", why}, {"cases", count}});
  j["probes"] = nlohmann::ordered_json::array();
  for (const ProbeCase& c : t.cases) {
    nlohmann::ordered_json row{{"source", c.source->name},
                               {"source_address", c.source_address.ToString()},
                               {"destination", c.destination->name},
                               {"destination_address", c.destination_address.ToString()},
                               {"class", t.classes[c.port_class].Label()},
                               {"service", c.probed ? nlohmann::ordered_json(ServiceText(c))
                                                    : nlohmann::ordered_json(nullptr)},
                               {"observed", c.probed ? OutcomeName(c.observed) : "not probed"},
                               {"expected", ExpectedText(c)},
                               {"policy", c.expected.allowed ? "allowed" : "denied"}};
    row["agrees"] = c.probed ? nlohmann::ordered_json(Agrees(c)) : nlohmann::ordered_json(nullptr);
    j["probes"].push_back(std::move(row));
  }
  j["disagreements"] = n.disagree;
  j["host_essential"] = HostEssentialNote();
  std::cout << j.dump(2) << "\n";
}

// ---------------------------------------------------------------------------
// Talking to the lab's controller: the `polder` fleet commands, run inside a
// namespace of the lab (the only place the controller can be reached from).

struct ControllerAccess {
  std::string address;  // HOST:PORT
  std::string tls_dir;  // admin certificate, or empty with insecure
  bool insecure = false;
  std::string netns;  // where the commands run
};

std::string SelfPath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "polder" : self.string();
}

// --controller, or the policy's controller when only --tls-dir / --insecure is
// given; commands run in the controller host's namespace, or a managed host's.
absl::StatusOr<std::optional<ControllerAccess>> ResolveController(const LabArgs& args,
                                                                  const LabState& s,
                                                                  const Policy& policy) {
  if (args.controller.empty() && args.tls_dir.empty() && !args.insecure) {
    if (s.apply != "controller") return std::nullopt;
    // `lab up --with-controller`: the lab's own controller and admin certificate.
    return ControllerAccess{s.controller_address, s.admin_tls_dir, false, s.controller_netns};
  }
  if (args.tls_dir.empty() && !args.insecure) {
    return absl::InvalidArgumentError("give --tls-dir DIR (an admin certificate) or --insecure");
  }
  ControllerAccess c;
  c.address = args.controller;
  c.tls_dir = args.tls_dir;
  c.insecure = args.insecure;
  std::optional<Address> controller_address;
  if (c.address.empty()) {
    if (!policy.settings.controller || policy.settings.controller->addresses.empty()) {
      return absl::InvalidArgumentError(
          "the policy names no controller (settings.controller); give --controller HOST:PORT");
    }
    const Address& a = policy.settings.controller->addresses.front();
    controller_address = a;
    c.address = HostPort(a, policy.settings.controller->port);
  } else {
    std::string host = c.address.substr(0, c.address.rfind(':'));
    if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))
      host = host.substr(1, host.size() - 2);
    if (auto a = Address::Parse(host); a.ok()) controller_address = *a;
  }
  for (const LabEndpoint& e : s.endpoints) {
    if (!e.managed) continue;
    if (c.netns.empty()) c.netns = e.netns;
    if (controller_address && std::find(e.addresses.begin(), e.addresses.end(),
                                        *controller_address) != e.addresses.end()) {
      c.netns = e.netns;
      break;
    }
  }
  if (c.netns.empty()) return absl::FailedPreconditionError("the lab has no managed host");
  return c;
}

// Runs `polder ARGS --controller C (--tls-dir D | --insecure)` inside the lab.
absl::StatusOr<std::string> RunFleetCommand(const ControllerAccess& c,
                                            const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip", "netns", "exec", c.netns, SelfPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--controller", c.address});
  if (c.insecure) {
    argv.push_back("--insecure");
  } else {
    argv.insert(argv.end(), {"--tls-dir", c.tls_dir});
  }
  return RunCommand(argv, absl::Seconds(30));
}

absl::StatusOr<nlohmann::json> ControllerStatus(const ControllerAccess& c) {
  absl::StatusOr<std::string> out = RunFleetCommand(c, {"status", "--format", "json"});
  if (!out.ok()) return out.status();
  nlohmann::json j = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("revision") || !j["revision"].is_string() ||
      !j.contains("hosts") || !j["hosts"].is_array()) {
    return absl::DataLossError(
        absl::StrCat("`polder status` of ", c.address, " did not print its JSON: ", *out));
  }
  return j;
}

// The active posture a status names: null, a name, or an object with "name".
std::optional<std::string> StatusPosture(const nlohmann::json& status) {
  auto it = status.find("posture");
  if (it == status.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("name") && (*it)["name"].is_string())
    return (*it)["name"].get<std::string>();
  return std::nullopt;
}

absl::StatusOr<std::vector<QuarantineOrder>> StatusQuarantines(const nlohmann::json& status) {
  std::vector<QuarantineOrder> orders;
  auto it = status.find("quarantines");
  if (it == status.end()) {
    return absl::FailedPreconditionError(
        "this polder's `status --format json` lists no quarantines; it is too old to compare "
        "with what the controller enforces");
  }
  for (const auto& q : *it) {
    QuarantineOrder o;
    o.target = q.value("target", "");
    o.reason = q.value("reason", "");
    for (const auto& z : q.value("allow", nlohmann::json::array())) {
      if (z.is_string()) o.allow.push_back(z.get<std::string>());
    }
    orders.push_back(std::move(o));
  }
  return orders;
}

std::string Short(const std::string& revision) { return revision.substr(0, 12); }

// The files as the controller turns them into rulesets: `posture` (if any)
// applied, then the quarantine orders in the controller's order.
absl::StatusOr<Expectation> EffectiveExpectation(const Policy& files,
                                                 const std::optional<std::string>& posture,
                                                 const std::vector<QuarantineOrder>& orders,
                                                 const std::string& controller) {
  Policy policy = files;
  std::vector<std::string> parts;
  if (posture) {
#if POLDER_HAVE_POSTURE
    absl::StatusOr<Policy> applied = PostureApplied(std::move(policy), *posture);
    if (!applied.ok()) return applied.status();
    policy = std::move(*applied);
    parts.push_back(absl::StrCat("posture ", *posture));
#else
    return absl::UnimplementedError(
        absl::StrCat("posture ", *posture, " is active, and this polder cannot apply postures"));
#endif
  }
  for (const QuarantineOrder& o : orders) {
    parts.push_back(absl::StrCat("quarantine of ", o.target, o.allow.empty() ? "" : " (allowing ",
                                 absl::StrJoin(o.allow, ", "), o.allow.empty() ? "" : ")"));
  }
  absl::StatusOr<Policy> quarantined = Quarantined(std::move(policy), orders);
  if (!quarantined.ok()) return quarantined.status();
  Expectation e;
  e.policy = std::move(*quarantined);
  e.description = absl::StrCat("what controller ", controller, " enforces: the policy files",
                               parts.empty() ? "" : " with ", absl::StrJoin(parts, " and "),
                               " (revision ", Short(e.policy.revision), ")");
  return e;
}

// The expectation for `lab probe`: what the controller enforces when one is
// named (its revision must be the one computed here, or the comparison would
// be with the wrong policy), else the files.
absl::StatusOr<Expectation> ProbeExpectation(const LabArgs& args, const LabState& s,
                                             const Policy& files) {
  absl::StatusOr<std::optional<ControllerAccess>> access = ResolveController(args, s, files);
  if (!access.ok()) return access.status();
  if (!*access) {
    return Expectation{files, absl::StrCat("the policy files (revision ", Short(files.revision),
                                           "; give --tls-dir or --insecure to compare with what "
                                           "a controller enforces)")};
  }
  absl::StatusOr<nlohmann::json> status = ControllerStatus(**access);
  if (!status.ok()) return status.status();
  absl::StatusOr<std::vector<QuarantineOrder>> orders = StatusQuarantines(*status);
  if (!orders.ok()) return orders.status();
  absl::StatusOr<Expectation> e =
      EffectiveExpectation(files, StatusPosture(*status), *orders, (*access)->address);
  if (!e.ok()) return e.status();
  std::string served = (*status)["revision"].get<std::string>();
  if (served != e->policy.revision) {
    return absl::FailedPreconditionError(absl::StrCat(
        "controller ", (*access)->address, " serves revision ", Short(served),
        ", but the policy files with its orders give ", Short(e->policy.revision),
        ": it has not loaded these files (or not yet), so the probes could not be compared "
        "with what it enforces"));
  }
  return e;
}

absl::StatusOr<int> RunProbe(const LabArgs& args) {
  absl::StatusOr<LabState> state = ReadLabState(args.name);
  if (!state.ok()) return state.status();
  absl::StatusOr<std::optional<LoadResult>> loaded =
      LoadOrReport(args.dir.empty() ? state->policy_dir : args.dir, args.now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;  // its errors are printed; 1 means the probes disagree
  absl::StatusOr<Expectation> expectation = ProbeExpectation(args, *state, (*loaded)->policy);
  if (!expectation.ok()) return expectation.status();
  absl::StatusOr<ProbeTable> table =
      ProbeLab(*state, expectation->policy, absl::Milliseconds(args.timeout_ms));
  if (!table.ok()) return table.status();
  if (args.format == "json") {
    PrintJson(*state, *expectation, *table);
  } else {
    PrintText(*state, *expectation, *table);
  }
  ProbeCounts n = Count(*table);
  if (n.disagree > 0) return kExitFindings;
  if (args.complete && n.skipped > 0) {
    std::cerr << "polder lab probe: --complete: " << n.skipped << " of " << n.cases
              << " cases were not probed\n";
    return kExitFindings;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// `polder lab drill`: a posture switched on through the controller, timed,
// probed, switched off, probed again.

constexpr absl::Duration kDrillEnforceTimeout = absl::Seconds(30);

// Polls the controller until every host has applied `revision`; records when
// each got there, counted from `order`.
DrillTiming WaitEnforced(const ControllerAccess& c, const std::string& revision, absl::Time order,
                         const std::atomic<bool>* order_failed = nullptr) {
  DrillTiming t;
  t.ran = true;
  t.timeout_ms = absl::ToInt64Milliseconds(kDrillEnforceTimeout);
  std::map<std::string, std::optional<int64_t>> hosts;
  absl::Time deadline = order + kDrillEnforceTimeout;
  absl::Time last_look = order;
  for (;;) {
    absl::StatusOr<nlohmann::json> status = ControllerStatus(c);
    absl::Time now = absl::Now();
    int64_t ms = absl::ToInt64Milliseconds(now - order);
    t.resolution_ms = std::max(t.resolution_ms, absl::ToInt64Milliseconds(now - last_look));
    last_look = now;
    bool all = status.ok();
    if (status.ok()) {
      for (const auto& h : (*status)["hosts"]) {
        std::string name = h.value("host", "");
        auto& at = hosts[name];
        if (!at && h.value("applied_revision", "") == revision) at = ms;
        all = all && at.has_value();
      }
      all = all && !hosts.empty();
    }
    if (all) {
      int64_t slowest = 0;
      for (const auto& [name, at] : hosts) slowest = std::max(slowest, *at);
      t.enforced_ms = slowest;
      break;
    }
    if (absl::Now() >= deadline || (order_failed && order_failed->load())) {
      if (!status.ok()) t.error = std::string(status.status().message());
      break;
    }
    usleep(20000);
  }
  for (const auto& [name, at] : hosts) t.hosts.push_back({name, at});
  return t;
}

// `lab up --with-controller`: the fleet as it runs in production, inside the
// lab. A PKI in the lab's directory (CA, the controller's certificate for the
// policy's settings.controller addresses, one per managed host, admin `lab`),
// polder-controller in the controller host's namespace, and an agent per
// managed host under it over mutual TLS; up when every host has applied the
// revision the controller serves.
absl::Status StartUnderController(LabState& s, const Policy& policy, const std::string& agent) {
  if (!policy.settings.controller || policy.settings.controller->addresses.empty()) {
    return absl::FailedPreconditionError(
        "--with-controller needs settings.controller (the controller's host and port)");
  }
  const auto& ctl = *policy.settings.controller;
  const Address& listen = ctl.addresses.front();
  for (const LabEndpoint& e : s.endpoints) {
    if (e.managed && std::find(e.addresses.begin(), e.addresses.end(), listen) != e.addresses.end())
      s.controller_netns = e.netns;
  }
  if (s.controller_netns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no host of the policy has the controller's address ", listen.ToString(),
                     " (settings.controller): the lab has nowhere to run polder-controller"));
  }
  s.controller_address = HostPort(listen, ctl.port);
  std::string lab = LabDir(s.name);
  fs::path pki_dir = fs::path(lab) / "pki";
  pki::InitOptions init;
  for (const Address& a : ctl.addresses) init.controller_addresses.push_back(a.ToString());
  if (absl::Status st = pki::InitPki(pki_dir, init); !st.ok()) return st;
  absl::StatusOr<fs::path> admin = pki::IssueAdmin(pki_dir, "lab");
  if (!admin.ok()) return admin.status();
  s.admin_tls_dir = admin->string();
  for (const LabEndpoint& e : s.endpoints) {
    if (!e.managed) continue;
    if (absl::StatusOr<fs::path> d = pki::IssueAgent(pki_dir, e.name); !d.ok()) return d.status();
  }

  std::string controller = (fs::path(agent).parent_path() / "polder-controller").string();
  if (access(controller.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("no polder-controller beside the agent at ", controller));
  }
  std::string ctl_log = lab + "/controller.log";
  absl::StatusOr<pid_t> pid = SpawnDetachedInNetns(
      s.controller_netns,
      {controller, "--policy", s.policy_dir, "--listen", s.controller_address, "--tls-dir",
       (pki_dir / "controller").string(), "--state", lab + "/controller.db"},
      ctl_log);
  if (!pid.ok()) return pid.status();
  s.controller_pid = *pid;
  RETURN_IF_ERROR(WriteLabState(s));
  ControllerAccess c{s.controller_address, s.admin_tls_dir, false, s.controller_netns};
  absl::StatusOr<nlohmann::json> status = absl::UnavailableError("not asked yet");
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    status = ControllerStatus(c);
    // kill(pid, 0), not ProcessRuns: just after the fork its cmdline is still ours.
    if (status.ok() || kill(s.controller_pid, 0) != 0) break;
    usleep(100000);
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("polder-controller did not answer (",
                                               status.status().message(), "); see ", ctl_log));
  }

  absl::Time order = absl::Now();
  for (const LabEndpoint& e : s.endpoints) {
    if (!e.managed) continue;
    absl::StatusOr<pid_t> apid = SpawnDetachedInNetns(
        e.netns,
        {agent, "--controller", s.controller_address, "--host", e.name, "--tls-dir",
         (pki_dir / "agents" / e.name).string(), "--state-dir", lab + "/state/" + e.name},
        absl::StrCat(lab, "/agent-", e.name, ".log"));
    if (!apid.ok()) return apid.status();
    s.agents.push_back({e.name, *apid});
  }
  RETURN_IF_ERROR(WriteLabState(s));
  DrillTiming up = WaitEnforced(c, (*status)["revision"].get<std::string>(), order);
  if (!up.ok()) {
    std::vector<std::string> late;
    for (const DrillTiming::Host& h : up.hosts)
      if (!h.enforced_ms) late.push_back(h.host);
    return absl::DeadlineExceededError(
        absl::StrCat("not every agent applied the controller's revision within ", up.timeout_ms,
                     " ms (", late.empty() ? up.error : absl::StrJoin(late, ", "), "); see ", lab,
                     "/agent-*.log and ", ctl_log));
  }
  return absl::OkStatus();
}

// Gives an order (posture activate or release) and times it. The status is
// looked at while the command still runs, since hosts may enforce before it
// returns: timed only after it, every host would seem as slow as the command.
// `ordered`: whether the command itself succeeded (the timing may still have
// failed, e.g. a host that never got there).
DrillTiming OrderAndTime(const ControllerAccess& c, const std::vector<std::string>& command,
                         const std::string& revision, bool& ordered) {
  absl::Time order = absl::Now();
  std::atomic<bool> failed{false};
  absl::StatusOr<std::string> result;
  // RunCommand's pipes are O_CLOEXEC, so two commands at once cannot hold each other's open.
  std::thread ordering([&] {
    result = RunFleetCommand(c, command);
    if (!result.ok()) failed = true;
  });
  DrillTiming t = WaitEnforced(c, revision, order, &failed);
  ordering.join();
  ordered = result.ok();
  if (!result.ok()) {
    t = DrillTiming{};
    t.ran = true;
    t.error = std::string(result.status().message());
  }
  return t;
}

DrillProbe Summarize(const ProbeTable& t) {
  ProbeCounts n = Count(t);
  DrillProbe p;
  p.ran = true;
  p.cases = n.cases;
  p.probed = n.probed;
  p.skipped = n.skipped;
  p.skips = n.skips;
  for (const ProbeCase& c : t.cases) {
    if (!Disagrees(c)) continue;
    p.disagreements.push_back({c.source->name, c.destination->name,
                               ProtocolName(c.request.protocol), c.request.port, ExpectedText(c),
                               OutcomeName(c.observed)});
  }
  return p;
}

absl::StatusOr<int> DrillLab(const LabArgs& args, const std::string& posture, const Policy& files);

// A drill uses the lab that is up under that name, or brings one up with its
// own controller (`lab up --with-controller`) and removes it afterwards.
absl::StatusOr<int> RunDrill(const LabArgs& args, const std::string& posture) {
  absl::StatusOr<LabState> state = ReadLabState(args.name);
  if (state.ok() && state->owner_pid > 0) {
    // A lab another drill brought up for itself: never drilled as if it were the user's.
    if (kill(state->owner_pid, 0) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("lab `", args.name, "` belongs to a drill that is still running (pid ",
                       state->owner_pid, "); wait for it, or give another --name"));
    }
    std::cerr << "polder lab drill: lab `" << args.name
              << "` was left by an interrupted drill (pid " << state->owner_pid
              << "); removing it\n";
    TearDown(args.name, state->ns_prefix);
    state = absl::NotFoundError("removed");
  }
  // The policy once, for either lab; the posture is looked up before a lab is built, which
  // takes seconds.
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(args.dir, args.now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& files = (*loaded)->policy;
  if (!files.FindPosture(posture)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the policy in ", args.dir, " has no posture `", posture, "`"));
  }
  if (state.ok() || !absl::IsNotFound(state.status())) return DrillLab(args, posture, files);
  if (!args.controller.empty() || !args.tls_dir.empty() || args.insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        state.status().message(), ": --controller/--tls-dir/--insecure name a running lab's ",
        "controller; without them the drill brings up a lab of its own"));
  }
  LabArgs up = args;
  up.with_controller = true;
  up.for_drill = true;
  std::cerr << "polder lab drill: no lab `" << args.name
            << "` is up; bringing one up with its own controller for the drill\n";
  absl::StatusOr<int> upped = UpLab(up, files, std::cerr);
  if (!upped.ok()) return upped;
  // 2, not the 1 of a failed drill: the drill did not run.
  if (*upped != kExitOk) return kExitCannotRun;
  absl::StatusOr<int> drilled = DrillLab(args, posture, files);
  TornDown down = TearDown(args.name, args.ns_prefix);
  std::cerr << "polder lab drill: removed the lab (" << down.namespaces_removed.size()
            << " namespaces)\n";
  return drilled;
}

// The drill itself, in the lab that is up under args.name; `files` is the policy in args.dir,
// which has `posture`.
absl::StatusOr<int> DrillLab(const LabArgs& args, const std::string& posture, const Policy& files) {
  absl::StatusOr<LabState> state = ReadLabState(args.name);
  if (!state.ok()) return state.status();
  absl::StatusOr<std::optional<ControllerAccess>> resolved = ResolveController(args, *state, files);
  if (!resolved.ok()) return resolved.status();
  if (!*resolved) {
    return absl::InvalidArgumentError(
        "a drill goes through the lab's controller, and this lab has none: bring it up with "
        "`polder lab up DIR --with-controller`, or give --tls-dir DIR (an admin certificate) "
        "or --insecure, and --controller HOST:PORT unless it is the policy's");
  }
  const ControllerAccess& c = **resolved;
  absl::StatusOr<nlohmann::json> status = ControllerStatus(c);
  if (!status.ok()) return status.status();
  if (std::optional<std::string> active = StatusPosture(*status)) {
    return absl::FailedPreconditionError(absl::StrCat("posture ", *active, " is active on ",
                                                      c.address, "; release it before a drill"));
  }
  absl::StatusOr<std::vector<QuarantineOrder>> orders = StatusQuarantines(*status);
  if (!orders.ok()) return orders.status();
  absl::StatusOr<Expectation> normal =
      EffectiveExpectation(files, std::nullopt, *orders, c.address);
  if (!normal.ok()) return normal.status();
  std::string served = (*status)["revision"].get<std::string>();
  if (served != normal->policy.revision) {
    return absl::FailedPreconditionError(absl::StrCat(
        "controller ", c.address, " serves revision ", Short(served), ", not the files' ",
        Short(normal->policy.revision), ": the drill would compare with the wrong policy"));
  }
  absl::StatusOr<Expectation> during = EffectiveExpectation(files, posture, *orders, c.address);
  if (!during.ok()) return during.status();

  DrillReport report;
  report.lab = state->name;
  report.policy_revision = normal->policy.revision;
  report.posture = posture;
  report.posture_revision = during->policy.revision;
  report.started = absl::Now();
  absl::Duration timeout = absl::Milliseconds(args.timeout_ms);

  bool activated = false, released = false;
  report.activate = OrderAndTime(
      c,
      {"posture", "activate", posture, "--reason",
       args.reason.empty() ? absl::StrCat("polder lab drill of lab ", state->name) : args.reason},
      report.posture_revision, activated);
  if (activated) {
    if (report.activate.ok()) {
      absl::StatusOr<ProbeTable> t = ProbeLab(*state, during->policy, timeout);
      if (!t.ok()) return t.status();
      report.probe_posture = Summarize(*t);
    }
    // Released whatever happened, so a failed drill leaves the lab as it was.
    report.release =
        OrderAndTime(c, {"posture", "release", posture}, report.policy_revision, released);
    if (released) {
      if (report.release.ok()) {
        absl::StatusOr<ProbeTable> t = ProbeLab(*state, normal->policy, timeout);
        if (!t.ok()) return t.status();
        report.probe_normal = Summarize(*t);
      }
    }
  }

  std::string text = args.format == "json"   ? DrillReportJson(report)
                     : args.format == "html" ? DrillReportHtml(report)
                                             : DrillReportText(report);
  if (args.output.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(args.output, std::ios::trunc);
    out << text;
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", args.output));
    std::cout << "drill of " << posture << " " << (report.agree() ? "passed" : "FAILED")
              << "; report in " << args.output << "\n";
  }
  return report.agree() ? kExitOk : kExitFindings;
}

void AddCommon(CLI::App* cmd, LabArgs* args, bool dir_required) {
  auto* dir = cmd->add_option("DIR", args->dir, "Policy directory");
  if (dir_required) dir->required();
  cmd->add_option("--name", args->name, "Lab name (default: polder)")
      ->check([](const std::string& n) {
        return ValidLabName(n) ? std::string() : "lab names match [a-z0-9][a-z0-9_.-]{0,62}";
      });
  cmd->add_option("--ns-prefix", args->ns_prefix, "Prefix of the lab's namespace names");
}

void AddControllerOptions(CLI::App* cmd, LabArgs* args) {
  cmd->add_option("--controller", args->controller,
                  "The lab's controller HOST:PORT (default: the policy's settings.controller)");
  auto* tls = cmd->add_option("--tls-dir", args->tls_dir,
                              "Admin certificate directory (polder pki issue DIR --admin NAME)");
  auto* insecure =
      cmd->add_flag("--insecure", args->insecure, "No TLS (controller runs --insecure)");
  tls->excludes(insecure);
}

}  // namespace

void AddLabCommands(CLI::App& app, ChosenCommand& chosen) {
  CLI::App* lab = app.add_subcommand("lab", "Bring a policy up in network namespaces and probe it");
  lab->require_subcommand(1);

  auto up_args = std::make_shared<LabArgs>();
  CLI::App* up = lab->add_subcommand("up", "Create the lab's namespaces and start agents");
  AddCommon(up, up_args.get(), true);
  up->add_option("--now", up_args->now, "Evaluate expiry at this RFC 3339 time");
  up->add_option("--agent", up_args->agent, "polder-agent binary (default: beside polder)");
  up->add_option("--traffic-interval", up_args->traffic_interval,
                 "How often the agents append observed traffic to LAB/traffic/HOST.jsonl "
                 "(default 2s)");
  up->add_flag("--apply-with-nft", up_args->apply_with_nft,
               "Load rulesets with `nft -f` instead of running agents (debugging)");
  up->add_flag("--no-agents", up_args->no_agents,
               "Only build the namespaces and rulesets; agents are started by someone else "
               "(e.g. under polder-controller)")
      ->excludes("--apply-with-nft");
  up->add_flag("--with-controller", up_args->with_controller,
               "Run polder-controller in the controller host's namespace (a lab PKI, mutual TLS) "
               "and the agents under it; probe and drill then use it")
      ->excludes("--apply-with-nft")
      ->excludes("--no-agents");
  OnChosen(up, chosen, [up_args] { return RunUp(*up_args); });

  auto probe_args = std::make_shared<LabArgs>();
  CLI::App* probe = lab->add_subcommand("probe", "Probe every path and compare with the policy");
  AddCommon(probe, probe_args.get(), false);
  probe->add_option("--now", probe_args->now, "Evaluate expiry at this RFC 3339 time");
  probe->add_option("--format", probe_args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  probe->add_option("--timeout-ms", probe_args->timeout_ms, "Per-probe timeout")
      ->check(CLI::Range(50, 10000));
  probe->add_flag(
      "--complete", probe_args->complete,
      "Exit 1 when any case could not be probed (a limit, an ICMP type nothing answers)");
  AddControllerOptions(probe, probe_args.get());
  OnChosen(probe, chosen, [probe_args] { return RunProbe(*probe_args); });

  auto drill_args = std::make_shared<LabArgs>();
  auto posture = std::make_shared<std::string>();
  CLI::App* drill = lab->add_subcommand(
      "drill",
      "Activate a posture through the lab's controller, time it, probe everything against it, "
      "release, probe again");
  AddCommon(drill, drill_args.get(), true);
  drill->add_option("POSTURE", *posture, "Posture to drill (spec §6a)")->required();
  drill->add_option("--now", drill_args->now, "Evaluate expiry at this RFC 3339 time");
  drill->add_option("--format", drill_args->format, "text, json or html")
      ->check(CLI::IsMember({"text", "json", "html"}));
  drill->add_option("-o,--output", drill_args->output, "Write the report to FILE");
  drill->add_option("--reason", drill_args->reason, "Why (recorded in the audit log)");
  drill->add_option("--timeout-ms", drill_args->timeout_ms, "Per-probe timeout")
      ->check(CLI::Range(50, 10000));
  AddControllerOptions(drill, drill_args.get());
  OnChosen(drill, chosen, [drill_args, posture] { return RunDrill(*drill_args, *posture); });

  auto down_args = std::make_shared<LabArgs>();
  CLI::App* down = lab->add_subcommand("down", "Stop agents and remove the lab's namespaces");
  AddCommon(down, down_args.get(), false);
  OnChosen(down, chosen, [down_args] { return RunDown(*down_args); });
}

}  // namespace polder::cli
