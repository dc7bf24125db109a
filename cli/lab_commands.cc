#include "cli/lab_commands.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli_common.h"
#include "cli/compile_commands.h"
#include "cli/lab/lab_plan.h"
#include "cli/lab/lab_probe.h"
#include "cli/lab/lab_process.h"
#include "compiler/model/verdict.h"
#include "nlohmann/json.hpp"

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
  std::string format = "text";
  int timeout_ms = 800;
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

bool ProcessIsAgent(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return absl::StrContains(cmd, "polder-agent");
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

absl::Status StartEnforcement(LabState& s, const std::string& agent) {
  std::string lab = LabDir(s.name);
  for (const LabEndpoint& e : s.endpoints) {
    if (!e.managed || s.apply == "none") continue;
    std::string ruleset = absl::StrCat(lab, "/rulesets/", e.name, ".nft");
    if (s.apply == "nft") {
      RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", e.netns, "nft", "-f", ruleset}).status());
      continue;
    }
    std::string log = absl::StrCat(lab, "/agent-", e.name, ".log");
    absl::StatusOr<pid_t> pid = SpawnDetachedInNetns(e.netns, {agent, "--ruleset", ruleset}, log);
    if (!pid.ok()) return pid.status();
    s.agents.push_back({e.name, *pid});
    RETURN_IF_ERROR(WriteLabState(s));
    RETURN_IF_ERROR(WaitForAgent(log, *pid, absl::Seconds(20)));
  }
  return absl::OkStatus();
}

// Stops the agents the lab started; returns how many were still running.
int StopAgents(const LabState& s) {
  int running = 0;
  for (const AgentRecord& a : s.agents) {
    if (a.pid > 0 && ProcessIsAgent(a.pid)) {
      kill(a.pid, SIGTERM);
      ++running;
    }
  }
  absl::Time deadline = absl::Now() + absl::Seconds(3);
  for (const AgentRecord& a : s.agents) {
    while (a.pid > 0 && ProcessIsAgent(a.pid) && absl::Now() < deadline) usleep(20000);
    if (a.pid > 0 && ProcessIsAgent(a.pid)) kill(a.pid, SIGKILL);
  }
  return running;
}

// What TearDown found and removed, for `polder lab down` to report.
struct TornDown {
  bool had_state = false;    // the lab's state file was there
  absl::Status state_error;  // it was there but could not be read back
  std::string netns_prefix;
  int agents_stopped = 0;
  int processes_killed = 0;  // others still running in the namespaces
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
  if (state.ok()) out.agents_stopped = StopAgents(*state);
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

absl::StatusOr<int> RunUp(const LabArgs& args) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(args.dir, args.now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitFindings;  // its errors are printed, as `polder check` would
  const Policy& policy = (*loaded)->policy;
  std::error_code ec;
  if (fs::exists(LabStatePath(args.name), ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("lab `", args.name, "` is up; run `polder lab down` first"));
  }
  LabState s;
  s.name = args.name;
  s.policy_dir = fs::absolute(args.dir, ec).string();
  s.ns_prefix = args.ns_prefix;
  s.apply = args.no_agents ? "none" : args.apply_with_nft ? "nft" : "agent";
  std::string prefix = LabNetnsPrefix(args.ns_prefix, args.name);
  s.bridge_netns = prefix + "br";
  s.endpoints = PlanEndpoints(policy);
  for (size_t i = 0; i < s.endpoints.size(); ++i) s.endpoints[i].netns = absl::StrCat(prefix, i);
  std::string agent = args.agent.empty() ? DefaultAgentPath() : args.agent;
  if (s.apply == "agent" && access(agent.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no agent at ", agent, " (give --agent PATH)"));
  }
  fs::create_directories(LabDir(s.name), ec);
  absl::Status st = WriteLabState(s);
  if (st.ok()) st = BuildNetwork(s);
  if (st.ok()) st = WriteRulesets(policy, LabDir(s.name) + "/rulesets");
  if (st.ok()) st = StartEnforcement(s, agent);
  if (st.ok()) st = WriteLabState(s);
  if (!st.ok()) {
    // 1, not 2: the policy and the options were fine, the machine refused part of the lab
    // (a namespace, a ruleset, an agent), and what was built is torn down again.
    std::cerr << "polder lab up: " << st.message() << "\n";
    TearDown(s.name, s.ns_prefix);
    return kExitFindings;
  }
  std::cout << "lab " << s.name << " is up: " << s.endpoints.size() << " namespaces ("
            << s.agents.size() << " agents), state in " << LabDir(s.name) << "\n";
  for (const LabEndpoint& e : s.endpoints) {
    std::cout << "  " << e.netns << "  " << (e.managed ? "host " : "zone ") << e.name;
    for (const Address& a : e.addresses) std::cout << " " << a.ToString();
    std::cout << "\n";
  }
  return kExitOk;
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
            << ", stopped " << Counted(down.agents_stopped, "agent", "agents") << ", killed "
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

struct ProbeRow {
  const LabEndpoint* source;
  const LabEndpoint* destination;
  ProbeRequest request;
  ProbeOutcome observed = ProbeOutcome::kError;
  Verdict expected;
  bool audit = false;  // audit mode: what policy denies is logged, not dropped
};

// Starts a listener child in every namespace; returns them once all are ready.
absl::StatusOr<std::vector<NetnsChild>> StartListeners(const LabState& s,
                                                       const std::vector<ProbePort>& ports) {
  std::vector<uint16_t> tcp, udp;
  for (const ProbePort& p : ports) {
    if (p.protocol == Protocol::kTcp) tcp.push_back(p.port);
    if (p.protocol == Protocol::kUdp) udp.push_back(p.port);
  }
  std::vector<NetnsChild> children;
  for (const LabEndpoint& e : s.endpoints) {
    auto child = ForkInNetns(e.netns, [&](int up, int down) {
      return ServeListeners(e.addresses, tcp, udp, up, down, absl::Minutes(10));
    });
    if (!child.ok()) return child.status();
    children.push_back(*child);
  }
  for (NetnsChild& c : children) {
    char byte = 1;
    if (read(c.from_child, &byte, 1) != 1 || byte != 0) {
      return absl::InternalError("a listener could not bind its ports");
    }
  }
  return children;
}

Connection ToConnection(const ProbeRequest& r) {
  return Connection{r.source, r.destination, r.protocol, r.port};
}

std::vector<ProbeRow> PlanProbes(const Policy& policy, const LabState& s,
                                 const std::vector<ProbePort>& ports) {
  std::vector<ProbeRow> rows;
  for (const LabEndpoint& src : s.endpoints) {
    for (const LabEndpoint& dst : s.endpoints) {
      // Nothing enforces traffic between two unmanaged stand-ins.
      if (&src == &dst || (!src.managed && !dst.managed)) continue;
      for (const Address& sa : src.addresses) {
        for (const Address& da : dst.addresses) {
          if (sa.family != da.family) continue;
          for (const ProbePort& p : ports) {
            bool icmp = p.protocol == Protocol::kIcmp || p.protocol == Protocol::kIcmpv6;
            if (icmp && (p.protocol == Protocol::kIcmp) != (sa.family == Family::kV4)) continue;
            ProbeRow row{&src, &dst, {sa, da, p.protocol, p.port}, ProbeOutcome::kError, {}};
            row.expected = Decide(policy, ToConnection(row.request));
            row.audit = policy.settings.mode == Mode::kAudit;
            rows.push_back(row);
          }
        }
      }
    }
  }
  return rows;
}

absl::Status RunAllProbes(const LabState& s, std::vector<ProbeRow>& rows, absl::Duration timeout) {
  struct Job {
    NetnsChild child;
    std::vector<size_t> rows;
  };
  std::vector<Job> jobs;
  for (const LabEndpoint& e : s.endpoints) {
    std::vector<size_t> mine;
    std::vector<ProbeRequest> requests;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].source == &e) {
        mine.push_back(i);
        requests.push_back(rows[i].request);
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
    if (bytes.size() != j.rows.size()) {
      result = absl::InternalError("a prober died before reporting");
      continue;
    }
    for (size_t k = 0; k < j.rows.size(); ++k) {
      rows[j.rows[k]].observed = static_cast<ProbeOutcome>(bytes[k]);
    }
  }
  return result;
}

std::string ServiceText(const ProbeRequest& r) { return ProbePort{r.protocol, r.port}.ToString(); }

bool Agrees(const ProbeRow& r) {
  return (r.observed == ProbeOutcome::kAllowed) == (r.expected.allowed || r.audit) &&
         r.observed != ProbeOutcome::kError;
}

void PrintText(const LabState& s, const std::vector<ProbeRow>& rows) {
  size_t allowed = 0, bad = 0;
  std::map<std::string, std::vector<std::string>> open;  // "src addr -> dst addr" -> services
  for (const ProbeRow& r : rows) {
    if (r.observed == ProbeOutcome::kAllowed) {
      ++allowed;
      open[absl::StrCat(r.source->name, " ", r.request.source.ToString(), " -> ",
                        r.destination->name, " ", r.request.destination.ToString())]
          .push_back(ServiceText(r.request));
    }
    if (!Agrees(r)) ++bad;
  }
  std::cout << "lab " << s.name << ": " << rows.size() << " probes, " << allowed << " got through, "
            << bad << " disagree with the policy\n";
  for (const auto& [pair, services] : open) {
    std::cout << "  " << pair << ":";
    for (const std::string& svc : services) std::cout << " " << svc;
    std::cout << "\n";
  }
  if (bad == 0) return;
  std::cout << "disagreements:\n";
  for (const ProbeRow& r : rows) {
    if (Agrees(r)) continue;
    std::cout << "  " << r.source->name << " " << r.request.source.ToString() << " -> "
              << r.destination->name << " " << r.request.destination.ToString() << " "
              << ServiceText(r.request) << ": observed " << OutcomeName(r.observed)
              << ", policy: " << r.expected.reason << "\n";
  }
}

void PrintJson(const LabState& s, const std::vector<ProbeRow>& rows) {
  nlohmann::ordered_json j;
  j["lab"] = s.name;
  j["probes"] = nlohmann::ordered_json::array();
  size_t bad = 0;
  for (const ProbeRow& r : rows) {
    bad += !Agrees(r);
    j["probes"].push_back({{"source", r.source->name},
                           {"source_address", r.request.source.ToString()},
                           {"destination", r.destination->name},
                           {"destination_address", r.request.destination.ToString()},
                           {"service", ServiceText(r.request)},
                           {"observed", OutcomeName(r.observed)},
                           {"expected", r.expected.allowed || r.audit ? "allowed" : "blocked"},
                           {"policy", r.expected.allowed ? "allowed" : "denied"},
                           {"agrees", Agrees(r)}});
  }
  j["disagreements"] = bad;
  std::cout << j.dump(2) << "\n";
}

absl::StatusOr<int> RunProbe(const LabArgs& args) {
  absl::StatusOr<LabState> state = ReadLabState(args.name);
  if (!state.ok()) return state.status();
  absl::StatusOr<std::optional<LoadResult>> loaded =
      LoadOrReport(args.dir.empty() ? state->policy_dir : args.dir, args.now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;  // its errors are printed; 1 means the probes disagree
  const Policy& policy = (*loaded)->policy;
  std::vector<ProbePort> ports = PlanPorts(policy);
  std::vector<ProbeRow> rows = PlanProbes(policy, *state, ports);
  absl::StatusOr<std::vector<NetnsChild>> listeners = StartListeners(*state, ports);
  absl::Status st = listeners.status();
  if (st.ok()) st = RunAllProbes(*state, rows, absl::Milliseconds(args.timeout_ms));
  if (listeners.ok()) {
    for (NetnsChild& c : *listeners) {
      close(c.to_child);
      close(c.from_child);
    }
    for (NetnsChild& c : *listeners) WaitChild(c.pid, absl::Now() + absl::Seconds(5));
  }
  if (!st.ok()) return st;
  if (args.format == "json") {
    PrintJson(*state, rows);
  } else {
    PrintText(*state, rows);
  }
  for (const ProbeRow& r : rows) {
    if (!Agrees(r)) return kExitFindings;
  }
  return kExitOk;
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

}  // namespace

void AddLabCommands(CLI::App& app, ChosenCommand& chosen) {
  CLI::App* lab = app.add_subcommand("lab", "Bring a policy up in network namespaces and probe it");
  lab->require_subcommand(1);

  auto up_args = std::make_shared<LabArgs>();
  CLI::App* up = lab->add_subcommand("up", "Create the lab's namespaces and start agents");
  AddCommon(up, up_args.get(), true);
  up->add_option("--now", up_args->now, "Evaluate expiry at this RFC 3339 time");
  up->add_option("--agent", up_args->agent, "polder-agent binary (default: beside polder)");
  up->add_flag("--apply-with-nft", up_args->apply_with_nft,
               "Load rulesets with `nft -f` instead of running agents (debugging)");
  up->add_flag("--no-agents", up_args->no_agents,
               "Only build the namespaces and rulesets; agents are started by someone else "
               "(e.g. under polder-controller)")
      ->excludes("--apply-with-nft");
  OnChosen(up, chosen, [up_args] { return RunUp(*up_args); });

  auto probe_args = std::make_shared<LabArgs>();
  CLI::App* probe = lab->add_subcommand("probe", "Probe every path and compare with the policy");
  AddCommon(probe, probe_args.get(), false);
  probe->add_option("--now", probe_args->now, "Evaluate expiry at this RFC 3339 time");
  probe->add_option("--format", probe_args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  probe->add_option("--timeout-ms", probe_args->timeout_ms, "Per-probe timeout")
      ->check(CLI::Range(50, 10000));
  OnChosen(probe, chosen, [probe_args] { return RunProbe(*probe_args); });

  auto down_args = std::make_shared<LabArgs>();
  CLI::App* down = lab->add_subcommand("down", "Stop agents and remove the lab's namespaces");
  AddCommon(down, down_args.get(), false);
  OnChosen(down, chosen, [down_args] { return RunDown(*down_args); });
}

}  // namespace polder::cli
