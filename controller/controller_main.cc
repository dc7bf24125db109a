// polder-controller: serves each agent its host's ruleset (spec §11).
//
// Startup: open the state database, restore the last good revision, compile
// DIR, listen. Then wait for a policy edit (inotify), the next flow expiry,
// SIGHUP (recompile) or SIGINT/SIGTERM (stop).
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "controller/bundle_sync.h"
#include "controller/etcd_leadership.h"
#include "controller/etcd_state_store.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/metrics_server.h"
#include "controller/policy_source.h"
#include "controller/policy_watcher.h"
#include "controller/process_tuning.h"
#include "controller/server.h"
#include "controller/state_store.h"
#include "controller/store_spec.h"
#include "controller/traffic_marks.h"
#include "controller/traffic_store.h"
#include "wire/duration.h"
#include "wire/rfc3339.h"

namespace polder::controller {
namespace {

constexpr char kInsecureBanner[] =
    "\n"
    "************************************************************************\n"
    "*  WARNING: polder-controller is running with --insecure.              *\n"
    "*  No TLS, no client certificates: ANY process that can reach this     *\n"
    "*  port can pose as any agent or admin, read every host's ruleset and  *\n"
    "*  quarantine or release hosts. Use this for local trials only.        *\n"
    "*  For production: polder pki init DIR, then --tls-dir DIR/controller. *\n"
    "************************************************************************\n\n";

struct Flags {
  std::string policy, listen, tls_dir, state = "polder-state.db", metrics;
  std::string store;  // --store SPEC; empty: sqlite:<state>
  std::string store_tls_dir;
  double max_new_streams_per_second = 1000;
  bool insecure = false;
  // Observed traffic (docs/traffic.md): its own SQLite file; empty: beside the state file.
  std::string traffic_db, traffic_retention_raw = "14d", traffic_retention_daily = "395d";
  uint64_t traffic_max_bytes = uint64_t{1} << 30;
};

// <dir of the state file>/<its stem>-traffic.db; with etcd, polder-traffic.db here.
std::filesystem::path DefaultTrafficDb(const Flags& f, const StoreSpec& spec) {
  if (spec.kind == StoreSpec::Kind::kEtcd) return "polder-traffic.db";
  std::filesystem::path state(f.state);
  return state.parent_path() / (state.stem().string() + "-traffic.db");
}

// Milliseconds until `t` for poll(), or -1 (forever) when there is none.
int PollTimeout(std::optional<absl::Time> t) {
  if (!t) return -1;
  absl::Duration d = *t - absl::Now();
  if (d <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d) + 1, 3600 * 1000));
}

// Audit entries older than this are trimmed by the leader on etcd (SQLite's log is append-only).
constexpr absl::Duration kAuditRetention = absl::Hours(24 * 400);

int Run(const Flags& f) {
  TuneProcessForManyAgents();
  if (f.insecure) std::fputs(kInsecureBanner, stderr);
  // Signals are read synchronously from a signalfd in the main loop.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int sfd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (sfd < 0) {
    Log(absl::StrCat("signalfd: ", strerror(errno)));
    return 2;
  }

  auto spec = ParseStoreSpec(f.store.empty() ? "sqlite:" + f.state : f.store);
  if (!spec.ok()) {
    Log(std::string(spec.status().message()));
    return 2;
  }
  auto store = OpenStateStore(*spec, f.store_tls_dir);
  if (!store.ok()) {
    Log(std::string(store.status().message()));
    return 2;
  }
  TrafficStoreOptions traffic_options;
  traffic_options.max_bytes = f.traffic_max_bytes;
  for (auto [text, flag, out] : {std::tuple{&f.traffic_retention_raw, "--traffic-retention-raw",
                                            &traffic_options.raw_retention},
                                 std::tuple{&f.traffic_retention_daily, "--traffic-retention-daily",
                                            &traffic_options.daily_retention}}) {
    absl::StatusOr<absl::Duration> d = wire::ParseDuration(*text);
    if (!d.ok() || *d < absl::Hours(1)) {
      Log(absl::StrCat(flag, ": ", d.ok() ? "at least 1h" : d.status().message()));
      return 2;
    }
    *out = *d;
  }
  std::filesystem::path traffic_path =
      f.traffic_db.empty() ? DefaultTrafficDb(f, *spec) : std::filesystem::path(f.traffic_db);
  auto traffic = TrafficStore::Open(traffic_path, traffic_options);
  if (!traffic.ok()) {
    Log(std::string(traffic.status().message()));
    return 2;
  }
  Log(absl::StrCat("observed traffic in ", traffic_path.string()));
  // The policy served is the store's bundle (written out under a private temporary directory),
  // not the --policy directory itself: see bundle_sync.h.
  std::string cache_template =
      (std::filesystem::temp_directory_path() / "polder-controller-bundles-XXXXXX").string();
  if (mkdtemp(cache_template.data()) == nullptr) {
    Log(absl::StrCat("cannot make a directory for policy bundles: ", strerror(errno)));
    return 2;
  }
  struct RemoveCache {
    std::filesystem::path dir;
    ~RemoveCache() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_cache{cache_template};
  Fleet* fleet_ptr = nullptr;  // set below; BundleSync calls it only after Start
  BundleSync bundles(
      {f.policy, cache_template, /*adopt_at_start=*/spec->kind == StoreSpec::Kind::kEtcd},
      [&fleet_ptr](const std::function<absl::Status(StateStore&)>& fn) {
        return fleet_ptr->UseStore(fn);
      },
      [&fleet_ptr](const std::string& reason, bool adopted) {
        return fleet_ptr->Reload(absl::Now(), reason, /*audited=*/!adopted);
      });
  Fleet fleet(store->get(), bundles.Compiler());
  fleet_ptr = &fleet;
  absl::Status bundle_start = bundles.Start(absl::Now());
  if (!bundle_start.ok()) Log(absl::StrCat("policy bundle: ", bundle_start.message()));
  if (auto s = fleet.Start(absl::Now()); !s.ok())
    Log(absl::StrCat("starting without a new revision: ", s.message()));
  else if (!bundle_start.ok())
    fleet.RefusePolicy(absl::Now(), "controller", "controller started", bundle_start);
  if (auto adopted = bundles.adopted())
    Log(absl::StrCat("policy bundle: serving revision ", adopted->revision, " (published by ",
                     adopted->actor, ")"));
  // --policy DIR changed (or SIGHUP): publish it; a directory that does not compile is refused
  // (shown by status, audited) and the served revision stays. False when the directory is the
  // served bundle already: the caller recompiles (which ends an earlier refusal).
  auto publish_directory = [&](const std::string& reason) {
    auto bundle = PolicyBundle::ReadDirectory(f.policy);
    absl::StatusOr<PublishResult> result =
        bundle.ok() ? bundles.Publish(*bundle, "controller", reason, absl::Now())
                    : absl::StatusOr<PublishResult>(bundle.status());
    if (!result.ok()) {
      fleet.RefusePolicy(absl::Now(), "controller", reason, result.status());
      return true;
    }
    if (result->published)
      Log(absl::StrCat("published revision ", result->revision, " (", reason, ")"));
    return result->published || result->lost_race;
  };
  // On etcd: membership on a 3 s lease and a fenced leader election (etcd_leadership.h). The
  // leader trims the audit log to kAuditRetention, once an hour, each trim fenced.
  std::unique_ptr<EtcdLeadership> leadership;
  // Each host's traffic high-water mark for every controller to see (traffic_marks.h).
  std::unique_ptr<TrafficMarks> traffic_marks;
  if (spec->kind == StoreSpec::Kind::kEtcd) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    auto* etcd = dynamic_cast<EtcdStateStore*>(store->get());
    auto started =
        etcd == nullptr
            ? absl::StatusOr<std::unique_ptr<EtcdLeadership>>(
                  absl::InternalError("not an etcd store"))
            : EtcdLeadership::Start(etcd->channel(), {absl::StrCat(host, "-", f.listen), f.listen});
    if (!started.ok()) {
      Log(absl::StrCat("cannot join the controllers on etcd: ", started.status().message()));
      return 2;
    }
    leadership = std::move(*started);
    traffic_marks = EtcdTrafficMarks(etcd->channel(), absl::StrCat(host, "-", f.listen), f.listen);
  }
  // On a shared store, other controllers' quarantines and postures reach this one's agents:
  // the store is looked at every 100 ms (a read of a few keys).
  struct Syncer {  // stopped and joined on every return, before the fleet goes
    absl::Notification stopping;
    std::thread thread;
    ~Syncer() {
      // Also notified at shutdown, before the server stops: a second Notify() aborts.
      if (!stopping.HasBeenNotified()) stopping.Notify();
      if (thread.joinable()) thread.join();
    }
  } store_sync;
  if (spec->kind == StoreSpec::Kind::kEtcd) {
    store_sync.thread = std::thread([&] {
      std::string last_error;
      std::string last_bundle_error;
      absl::Time next_trim = absl::InfinitePast();
      while (!store_sync.stopping.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
        // The desired policy: polled with the orders (one small read per 100 ms), not watched:
        // a Watch stream needs its own reader thread and reconnection on every member change,
        // for a key that changes a few times a day.
        auto adopted = bundles.Poll();
        std::string bundle_error = adopted.ok() ? "" : std::string(adopted.status().message());
        if (bundle_error != last_bundle_error && !bundle_error.empty())
          Log(absl::StrCat("cannot adopt the store's policy bundle: ", bundle_error));
        last_bundle_error = bundle_error;
        auto synced = fleet.SyncFromStore(absl::Now());
        std::string error = synced.ok() ? "" : std::string(synced.status().message());
        if (error != last_error && !error.empty())
          Log(absl::StrCat("cannot read orders from the store: ", error));
        last_error = error;
        // Leader jobs. A refused trim (another controller was elected meanwhile) is harmless.
        if (auto fence = leadership->fence(); fence && absl::Now() >= next_trim) {
          next_trim = absl::Now() + absl::Hours(1);
          absl::Time before = absl::Now() - kAuditRetention;
          absl::Status trimmed = fleet.UseStore([&](StateStore& s) {
            auto n = s.TrimAudit(before, *fence);
            if (n.ok() && *n > 0)
              Log(absl::StrCat("leader: trimmed ", *n, " audit entries older than ",
                               FormatRfc3339(before)));
            return n.status();
          });
          if (!trimmed.ok()) Log(absl::StrCat("leader: audit trim: ", trimmed.message()));
        }
      }
    });
  }

  ServerOptions options{f.listen, std::nullopt};
  options.max_new_streams_per_second = f.max_new_streams_per_second;
  options.bundles = &bundles;
  if (leadership) options.members = [l = leadership.get()] { return l->Members(); };
  if (!f.insecure) options.tls_dir = f.tls_dir;
  options.traffic = traffic->get();
  options.traffic_marks = traffic_marks.get();
  auto server = ControllerServer::Start(&fleet, options);
  if (!server.ok()) {
    Log(std::string(server.status().message()));
    return 2;
  }
  Log(absl::StrCat("listening on ", f.listen, f.insecure ? " (INSECURE)" : " (mutual TLS)"));
  std::unique_ptr<MetricsServer> metrics;
  if (!f.metrics.empty()) {
    auto m = MetricsServer::Start(f.metrics, [&] { return RenderPrometheus(fleet.Metrics()); });
    if (!m.ok()) {
      Log(std::string(m.status().message()));
      return 2;
    }
    metrics = std::move(*m);
    Log(absl::StrCat("metrics on ", f.metrics, "/metrics"));
  }
  auto watcher = PolicyWatcher::Create(f.policy);
  if (!watcher.ok()) {
    Log(std::string(watcher.status().message()));
    return 2;
  }

  // While the directory does not compile, the expiry that is due stays due: retry it every
  // few seconds instead of recompiling back to back.
  absl::Time expiry_retry = absl::InfinitePast();
  for (;;) {
    pollfd fds[2] = {{(*watcher)->fd(), POLLIN, 0}, {sfd, POLLIN, 0}};
    std::optional<absl::Time> wake = fleet.NextExpiry();
    if (wake) wake = std::max(*wake, expiry_retry);
    int n = poll(fds, 2, PollTimeout(wake));
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGHUP) break;
      Log("SIGHUP: publishing --policy if it changed, else recompiling");
      if (!publish_directory("SIGHUP")) fleet.Reload(absl::Now(), "SIGHUP").IgnoreError();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      // Editors and deploy tools write in bursts; let the burst settle.
      while ((*watcher)->Drain()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      Log("policy directory changed: publishing it");
      if (!publish_directory("policy directory changed"))
        fleet.Reload(absl::Now(), "policy directory changed").IgnoreError();
      continue;
    }
    auto next = fleet.NextExpiry();
    if (n == 0 && next && *next <= absl::Now()) {
      Log("a flow expired: recompiling");
      if (!fleet.Reload(absl::Now(), "a flow expired").ok())
        expiry_retry = absl::Now() + absl::Seconds(5);
    }
  }
  Log("shutting down");
  store_sync.stopping.Notify();
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace polder::controller

int main(int argc, char** argv) {
  polder::controller::Flags f;
  CLI::App app{"polder-controller: serves each polder agent its host's ruleset"};
  app.add_option("--policy", f.policy, "policy directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--listen", f.listen, "HOST:PORT for agents and admins")->required();
  auto* tls = app.add_option("--tls-dir", f.tls_dir,
                             "DIR/controller of `polder pki init DIR` (ca.crt, controller.crt, "
                             "controller.key, crl.pem; never the CA key)")
                  ->check(CLI::ExistingDirectory);
  auto* insecure = app.add_flag("--insecure", f.insecure, "no TLS (local trials only)");
  tls->excludes(insecure);
  auto* state =
      app.add_option("--state", f.state, "state database (the same as --store sqlite:FILE)")
          ->capture_default_str();
  app.add_option("--store", f.store,
                 "state store: sqlite:FILE (default: sqlite:<--state>) or "
                 "etcd:http://H1:P1,http://H2:P2,... (several controllers sharing one store)")
      ->excludes(state);
  app.add_option("--store-tls-dir", f.store_tls_dir,
                 "for https:// etcd endpoints: DIR with ca.crt, client.crt, client.key")
      ->check(CLI::ExistingDirectory);
  app.add_option("--metrics", f.metrics, "HOST:PORT for Prometheus /metrics");
  app.add_option("--max-new-streams-per-second", f.max_new_streams_per_second,
                 "new agent streams taken per second; more are refused (RESOURCE_EXHAUSTED) and "
                 "retry elsewhere: a reconnect storm cannot take this controller down (0: no "
                 "limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--traffic-db", f.traffic_db,
                 "SQLite file for agents' observed traffic (default: beside the state file, "
                 "<state stem>-traffic.db)");
  app.add_option("--traffic-retention-raw", f.traffic_retention_raw,
                 "how long hourly traffic rows are kept (a duration: 14d, 36h)")
      ->capture_default_str();
  app.add_option("--traffic-retention-daily", f.traffic_retention_daily,
                 "how long daily traffic roll-ups are kept")
      ->capture_default_str();
  app.add_option("--traffic-max-bytes", f.traffic_max_bytes,
                 "size budget of the traffic database; over it the oldest rows are dropped and "
                 "counted as lost")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1} << 20, UINT64_MAX));
  CLI11_PARSE(app, argc, argv);
  if (f.tls_dir.empty() && !f.insecure) {
    std::cerr << "polder-controller: give --tls-dir DIR (mutual TLS) or --insecure\n";
    return 2;
  }
  return polder::controller::Run(f);
}
