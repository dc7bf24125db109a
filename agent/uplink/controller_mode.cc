#include "agent/uplink/controller_mode.h"

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/traffic_loop.h"
#include "agent/uplink/controller_client.h"
#include "agent/uplink/traffic_outbox.h"
#include "wire/version.h"

namespace polder::agent {
namespace {

constexpr char kInsecureBanner[] =
    "polder-agent: WARNING: --insecure: the controller connection is NOT encrypted or\n"
    "polder-agent: WARNING: authenticated; anyone on the path can change this host's firewall.\n"
    "polder-agent: WARNING: use --tls-dir (polder pki issue DIR --host NAME) outside trials.\n";

bool ValidHostName(const std::string& s) {
  if (s.empty() || s.size() > 63 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

int RunControllerMode(const ControllerModeFlags& flags, const sigset_t& signals) {
  if (flags.insecure) fputs(kInsecureBanner, stderr);
  if (!ValidHostName(flags.host)) {
    PrintError(absl::StrCat("--host '", flags.host, "' is not a polder host name"));
    return 2;
  }
  // The enforcer reports to the client, which exists only after the enforcer: the pointer is set
  // before the enforcer starts and cleared after it stops.
  std::atomic<ControllerClient*> client_ptr{nullptr};
  absl::StatusOr<std::unique_ptr<Enforcer>> enforcer =
      MakeEnforcer(flags.enforcer, [&](const AgentEvent& e) {
        PrintLine(ToJsonLine(e));
        if (ControllerClient* c = client_ptr.load()) c->OnEnforcerEvent(e);
      });
  if (!enforcer.ok()) {
    PrintError(std::string(enforcer.status().message()));
    return 1;
  }
  RulesetStore store(flags.state_dir);
  std::filesystem::path spool = flags.traffic_spool.empty()
                                    ? std::filesystem::path(flags.state_dir) / "traffic.jsonl"
                                    : std::filesystem::path(flags.traffic_spool);
  std::filesystem::path acked = spool;
  acked += ".acked";
  TrafficOutbox outbox(spool, acked, [](const std::string& m) { PrintError(m); });
  if (absl::Status loaded = outbox.Load(); !loaded.ok()) PrintError(std::string(loaded.message()));
  ControllerClient::Options options;
  options.target = flags.controller;
  options.host = flags.host;
  options.tls_dir = flags.insecure ? "" : flags.tls_dir;
  options.agent_version = absl::StrCat("polder-agent/", kPolderVersion);
  options.traffic = &outbox;
  auto client = ControllerClient::Create(options, enforcer->get(), &store, PrintLine);
  if (!client.ok()) {
    PrintError(absl::StrCat("cannot load the agent's credentials: ", client.status().message()));
    return 1;
  }
  client_ptr = client->get();
  if (absl::Status st = (*enforcer)->Start(); !st.ok()) {
    PrintError(std::string(st.message()));
    return 1;
  }
  (*client)->RestoreStored();
  TrafficLoop traffic(flags.host, spool, flags.traffic_interval);
  traffic.set_on_spooled([&](const wire::TrafficReport& r, uint64_t offset) {
    outbox.Add(r, offset);
    (*client)->TrafficReady();
  });
  traffic.Start();
  std::thread runner([&] { (*client)->Run(); });
  // Rulesets come from the controller: on SIGHUP there is nothing to re-read.
  WaitForStop(signals, nullptr);
  traffic.Stop();
  (*client)->Stop();
  runner.join();
  (*enforcer)->Stop();
  client_ptr = nullptr;
  return 0;
}

}  // namespace polder::agent
