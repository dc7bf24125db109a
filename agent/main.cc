// polder-agent (standalone mode): applies one ruleset file to table inet polder in the current
// network namespace and keeps it in force, printing one JSON line per event. SIGHUP re-reads
// the file; SIGTERM/SIGINT stop the agent and leave the table in place. With --controller it
// takes its rulesets from a polder controller instead (agent/uplink/controller_mode.h). With
// --boot it only loads the stored (or bootstrap) ruleset once and exits (agent/boot_load.h): run
// early in boot, before the network, so the host is enforced before the agent itself starts.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "agent/agent_process.h"
#include "agent/boot_load.h"
#include "agent/enforcer.h"
#include "agent/libnftables_kernel.h"
#include "agent/traffic_loop.h"
#include "agent/uplink/controller_mode.h"
#include "agent/uplink/ruleset_file.h"
#include "wire/duration.h"

namespace {

using polder::agent::PrintError;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

// Reads `path` and applies it; the enforcer reports success or failure as an event.
absl::Status ApplyFile(polder::agent::Enforcer& enforcer, const std::string& path) {
  std::string text;
  if (!ReadFile(path, &text)) {
    PrintError(absl::StrCat("cannot read ruleset ", path));
    return absl::NotFoundError(path);
  }
  return enforcer.Apply(std::move(text)).get();
}

// `polder-agent --boot`: one line per step on stdout, the exit code from the outcome.
int RunBootMode(const polder::agent::BootLoadOptions& options) {
  auto say = [](const std::string& line) {
    polder::agent::PrintLine(absl::StrCat("polder-agent --boot: ", line, "\n"));
  };
  absl::StatusOr<std::unique_ptr<polder::agent::LibNftablesKernel>> kernel =
      polder::agent::LibNftablesKernel::Create();
  if (!kernel.ok()) {
    say(absl::StrCat("FAILED: cannot open nftables: ", kernel.status().message()));
    return 1;
  }
  return polder::agent::BootExitCode(polder::agent::BootLoad(options, kernel->get(), say));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "polder-agent: enforce a polder ruleset on this host (standalone, or from a controller)"};
  std::string ruleset_path;
  polder::agent::ControllerModeFlags fleet;
  polder::agent::EnforcerFlags& enforcing = fleet.enforcer;  // the same in both modes
  auto* ruleset_opt =
      app.add_option("--ruleset", ruleset_path,
                     "ruleset from `polder compile`: nft text, or --format wire (libnftnl)");
  auto* controller_opt =
      app.add_option("--controller", fleet.controller,
                     "controller HOST:PORT, or several HOST:PORT,HOST:PORT,... to fail over "
                     "between (controller mode)");
  ruleset_opt->excludes(controller_opt);
  bool boot = false;
  polder::agent::BootLoadOptions boot_options;
  auto* boot_opt = app.add_flag("--boot", boot,
                                "load the stored ruleset (or --bootstrap FILE) once and exit: "
                                "early boot, before the network");
  boot_opt->excludes(ruleset_opt)->excludes(controller_opt);
  app.add_option("--bootstrap", boot_options.bootstrap,
                 "with --boot: ruleset to load when none is stored (a missing file is fine)")
      ->needs(boot_opt);
  auto* host_opt = app.add_option("--host", fleet.host, "this host's name in the policy");
  auto* tls_opt = app.add_option("--tls-dir", fleet.tls_dir,
                                 "ca.crt, agent.crt, agent.key (polder pki issue DIR --host NAME)")
                      ->needs(controller_opt);
  auto* insecure_opt = app.add_flag("--insecure", fleet.insecure, "no TLS: local trials only")
                           ->needs(controller_opt);
  tls_opt->excludes(insecure_opt);
  auto* state_dir_opt =
      app.add_option("--state-dir", fleet.state_dir, "where the last confirmed ruleset is kept");
  app.add_flag("--no-remediate", enforcing.no_remediate,
               "report drift but do not restore the table");
  app.add_option("--full-check-interval", enforcing.full_check_seconds,
                 "seconds between full comparisons of the table")
      ->check(CLI::Range(0.01, 86400.0));
  app.add_flag("--no-dry-run", enforcing.no_dry_run,
               "skip the kernel dry run before applying (the apply itself is atomic)");
  std::string traffic_spool, traffic_interval = "60s";
  app.add_option("--traffic-spool", traffic_spool,
                 "append observed-traffic reports to FILE (standalone: read it with `polder "
                 "traffic --local FILE`; with --controller: default <state-dir>/traffic.jsonl, "
                 "sent to the controller until acknowledged)");
  auto* interval_opt = app.add_option("--traffic-interval", traffic_interval,
                                      "how often observed traffic is read (a duration: 60s, 2s)");
  CLI11_PARSE(app, argc, argv);
  if (boot) {
    boot_options.state_dir = fleet.state_dir;
    boot_options.host = fleet.host;
    boot_options.dry_run = !enforcing.no_dry_run;
    boot_options.parse = polder::agent::ParseRulesetBytes;
    boot_options.parse_stored = [](const polder::agent::StoredRuleset& stored) {
      return polder::agent::RulesetFromStored(stored);
    };
    return RunBootMode(boot_options);
  }
  if (ruleset_path.empty() && fleet.controller.empty()) {
    fputs("polder-agent: give --ruleset FILE, --controller HOST:PORT or --boot\n", stderr);
    return 2;
  }
  if (fleet.controller.empty() && (host_opt->count() > 0 || state_dir_opt->count() > 0)) {
    fputs("polder-agent: --host and --state-dir need --controller or --boot\n", stderr);
    return 2;
  }
  if (!fleet.controller.empty() &&
      (host_opt->count() == 0 || (tls_opt->count() == 0 && !fleet.insecure))) {
    fputs("polder-agent: --controller needs --host NAME and --tls-dir DIR (or --insecure)\n",
          stderr);
    return 2;
  }

  if (fleet.controller.empty() && traffic_spool.empty() && interval_opt->count() > 0) {
    fputs("polder-agent: --traffic-interval needs --traffic-spool (or --controller)\n", stderr);
    return 2;
  }

  sigset_t signals = polder::agent::BlockStopSignals();
  if (!fleet.controller.empty()) {
    absl::StatusOr<absl::Duration> interval = polder::wire::ParseDuration(traffic_interval);
    if (!interval.ok() || *interval < absl::Seconds(1)) {
      PrintError(!interval.ok() ? std::string(interval.status().message())
                                : "--traffic-interval: at least 1s");
      return 2;
    }
    fleet.traffic_spool = traffic_spool;
    fleet.traffic_interval = *interval;
    return polder::agent::RunControllerMode(fleet, signals);
  }

  auto enforcer = polder::agent::MakeEnforcer(
      enforcing,
      [](const polder::agent::AgentEvent& e) {
        polder::agent::PrintLine(polder::agent::ToJsonLine(e));
      },
      polder::agent::ParseRulesetBytes);
  if (!enforcer.ok()) {
    PrintError(std::string(enforcer.status().message()));
    return 1;
  }
  if (absl::Status st = (*enforcer)->Start(); !st.ok()) {
    PrintError(std::string(st.message()));
    return 1;
  }
  // Without a first good ruleset there is nothing to keep in force; any table already in the
  // kernel stays as it is.
  if (!ApplyFile(**enforcer, ruleset_path).ok()) return 1;
  std::unique_ptr<polder::agent::TrafficLoop> traffic;
  if (!traffic_spool.empty()) {
    absl::StatusOr<absl::Duration> interval = polder::wire::ParseDuration(traffic_interval);
    std::string bytes;
    ReadFile(ruleset_path, &bytes);
    // Either form names its host (the header line, or the wire form's header).
    absl::StatusOr<polder::agent::Ruleset> header = polder::agent::ParseRulesetBytes(bytes);
    if (!interval.ok() || *interval < absl::Seconds(1) || !header.ok()) {
      PrintError(!interval.ok() ? std::string(interval.status().message())
                 : !header.ok() ? std::string(header.status().message())
                                : "--traffic-interval: at least 1s");
      (*enforcer)->Stop();
      return 2;
    }
    traffic = std::make_unique<polder::agent::TrafficLoop>(header->host, traffic_spool, *interval);
    traffic->Start();
  }
  // A failure to re-read or apply keeps the last good one.
  polder::agent::WaitForStop(signals, [&] { ApplyFile(**enforcer, ruleset_path).IgnoreError(); });
  if (traffic) traffic->Stop();
  (*enforcer)->Stop();
  return 0;
}
