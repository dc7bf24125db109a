#include "agent/uplink/controller_client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/uplink/backoff.h"
#include "agent/uplink/controller_list.h"
#include "agent/uplink/generation_file.h"
#include "agent/uplink/messages.h"
#include "agent/uplink/ruleset_file.h"
#include "nlohmann/json.hpp"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/tls_credentials.h"

namespace polder::agent {
namespace {

constexpr size_t kMaxOutbox = 256;

// A channel of its own (never sharing a connection with another channel), so that connecting
// proves the network path as it is now.
std::shared_ptr<grpc::Channel> FreshChannel(const std::string& target,
                                            const std::shared_ptr<grpc::ChannelCredentials>& creds,
                                            uint64_t nonce) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("polder.nonce", static_cast<int>(nonce & 0x7fffffff));
  args.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxMessageToAgentBytes));
  // A half-open connection (a controller paused, a black-holed port) is found within about
  // 10 s: a ping after 5 s, unanswered after 5 s more. Above the controller's minimum ping
  // interval (4 s), so it never calls these pings abuse.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(target, creds, args);
}

// A stream the controller ends sooner than this does not reset the backoff: a controller that
// accepts and then drops every connection is not hammered at full speed.
constexpr absl::Duration kEstablishedAfter = absl::Seconds(2);

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerClient>> ControllerClient::Create(Options options,
                                                                           Enforcer* enforcer,
                                                                           RulesetStore* store,
                                                                           LogSink log) {
  absl::StatusOr<std::vector<std::string>> targets = ParseControllerList(options.target);
  if (!targets.ok()) return targets.status();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_dir.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    auto loaded = wire::LoadClientCredentials(options.tls_dir);
    if (!loaded.ok()) return loaded.status();
    creds = *loaded;
  }
  std::vector<std::string> ordered = RendezvousOrder(std::move(*targets), options.host);
  return std::unique_ptr<ControllerClient>(new ControllerClient(
      std::move(options), std::move(ordered), std::move(creds), enforcer, store, std::move(log)));
}

ControllerClient::ControllerClient(Options options, std::vector<std::string> targets,
                                   std::shared_ptr<grpc::ChannelCredentials> creds,
                                   Enforcer* enforcer, RulesetStore* store, LogSink log)
    : options_(std::move(options)),
      targets_(std::move(targets)),
      creds_(std::move(creds)),
      enforcer_(enforcer),
      store_(store),
      log_(std::move(log)),
      clock_(options_.clock) {}

ControllerClient::~ControllerClient() { Stop(); }

std::shared_ptr<grpc::ChannelCredentials> ControllerClient::Credentials() {
  absl::MutexLock lock(&creds_mu_);
  if (options_.tls_dir.empty()) return creds_;
  auto loaded = wire::LoadClientCredentials(options_.tls_dir);
  if (loaded.ok()) {
    creds_ = *loaded;
    creds_error_.clear();
  } else if (std::string e(loaded.status().message()); e != creds_error_) {
    Log("credentials-error", absl::StrCat(e, "; connecting with the certificate read before"));
    creds_error_ = std::move(e);
  }
  return creds_;
}

void ControllerClient::Log(const std::string& event, const std::string& message) {
  if (!log_) return;
  nlohmann::ordered_json j;
  j["event"] = event;
  j["time"] = absl::FormatTime(absl::RFC3339_full, clock_->Now(), absl::UTCTimeZone());
  j["host"] = options_.host;
  j["message"] = message;
  log_(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string ControllerClient::applied_hash() const {
  absl::MutexLock lock(&mu_);
  return applied_ ? applied_->hash : "";
}

uint64_t ControllerClient::applied_generation() const {
  absl::MutexLock lock(&mu_);
  return applied_ ? applied_->generation : 0;
}

void ControllerClient::SaveGeneration(uint64_t generation) {
  if (absl::Status saved = GenerationFile(store_->path().parent_path()).Save(generation);
      !saved.ok()) {
    StoreError(absl::StrCat(saved.message(),
                            " (after a restart the Hello would not say which generation is "
                            "applied, so an older controller could roll this host back)"));
  }
}

std::vector<std::string> ControllerClient::Degraded() const {
  std::vector<std::string> out;
  {
    absl::MutexLock lock(&mu_);
    if (!store_error_.empty()) out.push_back(absl::StrCat("store-error: ", store_error_));
  }
  if (std::string read = enforcer_->KernelReadError(); !read.empty())
    out.push_back(absl::StrCat("kernel-read-error: ", read));
  return out;
}

void ControllerClient::StoreError(const std::string& message) {
  Log("store-error", message);
  absl::MutexLock lock(&mu_);
  store_error_ = message;
}

void ControllerClient::RestoreStored() {
  absl::StatusOr<std::optional<StoredRuleset>> stored = store_->Load();
  if (!stored.ok()) {
    StoreError(std::string(stored.status().message()));
    return;
  }
  if (!stored->has_value()) return;
  std::string structured_error;
  absl::StatusOr<Ruleset> parsed = RulesetFromStored(**stored, &structured_error);
  if (!parsed.ok() || parsed->host != options_.host) {
    StoreError(absl::StrCat(
        "stored ruleset ignored: ",
        parsed.ok() ? "it is for host " + parsed->host : std::string(parsed.status().message())));
    return;
  }
  if (!structured_error.empty()) {
    StoreError(absl::StrCat("stored structured ruleset ignored: ", structured_error));
  }
  absl::Status st = enforcer_->Apply(*parsed).get();
  if (!st.ok()) {
    StoreError(absl::StrCat("stored ruleset not applied: ", st.message()));
    return;
  }
  absl::StatusOr<uint64_t> generation = GenerationFile(store_->path().parent_path()).Load();
  if (!generation.ok()) StoreError(std::string(generation.status().message()));
  absl::MutexLock lock(&mu_);
  applied_ = Applied{(*stored)->revision, *parsed, parsed->hash, generation.ok() ? *generation : 0};
  Log("restored", absl::StrCat("enforcing the stored ruleset of revision ", (*stored)->revision));
}

void ControllerClient::OnEnforcerEvent(const AgentEvent& e) {
  if (e.kind == AgentEvent::Kind::kError) {
    // Its KernelReadError() may have changed. (It clears without an event, on the next good
    // read: the controller hears that with the next heartbeat, which errs on the safe side.)
    absl::MutexLock lock(&mu_);
    degraded_may_have_changed_ = true;
    return;
  }
  if (e.kind == AgentEvent::Kind::kDrift) {
    {
      absl::MutexLock lock(&mu_);
      last_drift_ = e.differences;
    }
    Send(DriftMessage(e.differences, e.time, e.pid, false));
  } else if (e.kind == AgentEvent::Kind::kRestored) {
    std::vector<std::string> diffs;
    {
      absl::MutexLock lock(&mu_);
      diffs.swap(last_drift_);
    }
    Send(DriftMessage(diffs, e.time, 0, true));
  }
}

void ControllerClient::Send(v1::AgentMessage m) {
  absl::MutexLock lock(&mu_);
  if (outbox_.size() >= kMaxOutbox) {
    // Keep apply results; the oldest drift report goes first.
    auto drift = std::find_if(outbox_.begin(), outbox_.end(),
                              [](const v1::AgentMessage& x) { return x.has_drift_report(); });
    outbox_.erase(drift != outbox_.end() ? drift : outbox_.begin());
  }
  outbox_.push_back(std::move(m));
}

bool ControllerClient::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  clock_->AwaitWithDeadline(mu_, absl::Condition(&stop_), clock_->Now() + d);
  return !stop_;
}

bool ControllerClient::Stopped() const {
  absl::MutexLock lock(&mu_);
  return stop_;
}

bool ControllerClient::PumpHasWork() const {
  return stop_ || inbox_.closed || inbox_.assignment.has_value() || !outbox_.empty() ||
         degraded_may_have_changed_ || traffic_ready_;
}

void ControllerClient::TrafficReady() {
  absl::MutexLock lock(&mu_);
  traffic_ready_ = true;
}

void ControllerClient::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
  if (live_context_) live_context_->TryCancel();
}

std::string ControllerClient::current_target() const {
  absl::MutexLock lock(&mu_);
  return targets_[current_];
}

void ControllerClient::Run() {
  uint64_t seed = std::hash<std::string>()(options_.host) ^ static_cast<uint64_t>(getpid()) ^
                  static_cast<uint64_t>(absl::ToUnixNanos(clock_->Now()));
  Backoff backoff(options_.backoff_initial, options_.backoff_max, seed);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  size_t failed_in_a_row = 0;
  while (!Stopped()) {
    bool established = RunSession();
    if (established) {
      backoff.Reset();
      failed_in_a_row = 0;
    } else {
      ++failed_in_a_row;
    }
    if (targets_.size() > 1 && failed_in_a_row < targets_.size()) {
      // Another controller may serve at once. The random delay keeps the agents of a lost
      // controller from reaching the survivors in one burst.
      std::string next;
      {
        absl::MutexLock lock(&mu_);
        current_ = (current_ + 1) % targets_.size();
        next = targets_[current_];
      }
      absl::Duration delay =
          options_.failover_delay_max * std::uniform_real_distribution<double>(0, 1)(rng);
      Log("failover",
          absl::StrCat("trying controller ", next, " in ", absl::FormatDuration(delay)));
      if (!SleepUnlessStopped(delay)) return;
      continue;
    }
    // Every controller failed in turn (or there is only one): back off, then the preferred.
    failed_in_a_row = 0;
    {
      absl::MutexLock lock(&mu_);
      current_ = 0;
    }
    absl::Duration wait = backoff.Next();
    Log("reconnect", absl::StrCat("next attempt in ", absl::FormatDuration(wait)));
    if (!SleepUnlessStopped(wait)) return;
  }
}

// One Connect stream and what it needs; lives on Run's thread for one session.
struct ControllerClient::Session {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AgentService::Stub> stub;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>> stream;
  absl::Time opened;
  bool established = false;                // Hello went out
  std::vector<std::string> degraded_sent;  // the degraded state the controller last heard
  std::thread reader;                      // ReadAssignments; joined by End
};

bool ControllerClient::RunSession() {
  std::unique_ptr<Session> session = ConnectAndSayHello();
  if (session == nullptr) return false;
  session->reader = std::thread([this, s = session.get()] { ReadAssignments(*s); });
  if (session->established) Pump(*session);
  return End(*session);
}

std::unique_ptr<ControllerClient::Session> ControllerClient::ConnectAndSayHello() {
  auto s = std::make_unique<Session>();
  std::string target = current_target();
  s->channel = FreshChannel(target, Credentials(), ++probe_counter_);
  if (!WaitForConnected(*s->channel, clock_->Now() + options_.connect_timeout)) {
    Log("unreachable", absl::StrCat("cannot connect to the controller at ", target,
                                    " (network, or TLS refused: check the certificates)"));
    return nullptr;
  }
  s->stub = v1::AgentService::NewStub(s->channel);
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return nullptr;
    live_context_ = &s->ctx;
    inbox_ = Inbox();
    traffic_ready_ = true;  // what is owed goes out on this stream
  }
  s->stream = s->stub->Connect(&s->ctx);
  s->opened = clock_->Now();
  Applied now_applied;
  {
    absl::MutexLock lock(&mu_);
    if (applied_) now_applied = *applied_;
  }
  std::vector<std::string> degraded = Degraded();
  s->established =
      s->stream->Write(HelloMessage(options_.host, options_.agent_version, now_applied.revision,
                                    now_applied.hash, degraded, now_applied.generation));
  s->degraded_sent = std::move(degraded);
  if (s->established) {
    Log("connected", absl::StrCat("stream open to ", target, ", Hello sent"));
  }
  return s;
}

void ControllerClient::ReadAssignments(Session& s) {
  v1::ControllerMessage m;
  while (s.stream->Read(&m)) {
    if (m.has_in_sync()) HandleInSync(m.in_sync());
    if (m.has_traffic_ack() && options_.traffic != nullptr) {
      options_.traffic->Acked(m.traffic_ack().epoch(), m.traffic_ack().sequence());
      absl::MutexLock lock(&mu_);
      traffic_ready_ = true;  // room for the next batch
    }
    absl::MutexLock lock(&mu_);
    if (m.has_assignment()) inbox_.assignment = std::move(*m.mutable_assignment());
    m = v1::ControllerMessage();
  }
  absl::MutexLock lock(&mu_);
  inbox_.closed = true;
}

void ControllerClient::Pump(Session& s) {
  absl::Time next_heartbeat = clock_->Now() + options_.heartbeat_interval;
  for (;;) {
    std::optional<v1::Assignment> assignment;
    std::deque<v1::AgentMessage> out;
    {
      absl::MutexLock lock(&mu_);
      clock_->AwaitWithDeadline(mu_, absl::Condition(this, &ControllerClient::PumpHasWork),
                                next_heartbeat);
      if (stop_ || inbox_.closed) return;
      assignment.swap(inbox_.assignment);
      out.swap(outbox_);
      degraded_may_have_changed_ = false;
      traffic_ready_ = false;
    }
    if (!SendOrRequeue(s, std::move(out))) return;
    if (options_.traffic != nullptr) {
      // Batches not written stay owed (StreamEnded puts them back): no requeue needed.
      for (const v1::AgentMessage& batch : options_.traffic->Take())
        if (!s.stream->Write(batch)) return;
    }
    if (assignment) {
      HandleAssignment(*assignment);
      continue;  // Its result is in the outbox.
    }
    // A change of the degraded state goes out at once, not with the next heartbeat.
    std::vector<std::string> degraded = Degraded();
    if (clock_->Now() >= next_heartbeat || degraded != s.degraded_sent) {
      if (!s.stream->Write(HeartbeatMessage(clock_->Now(), degraded))) return;
      s.degraded_sent = std::move(degraded);
      next_heartbeat = clock_->Now() + options_.heartbeat_interval;
    }
  }
}

bool ControllerClient::SendOrRequeue(Session& s, std::deque<v1::AgentMessage> out) {
  while (!out.empty() && s.stream->Write(out.front())) out.pop_front();
  if (out.empty()) return true;
  // Not sent: back to the front of the queue for the next stream.
  absl::MutexLock lock(&mu_);
  while (!out.empty()) {
    outbox_.push_front(std::move(out.back()));
    out.pop_back();
  }
  return false;
}

bool ControllerClient::End(Session& s) {
  bool closed_by_peer;
  {
    absl::MutexLock lock(&mu_);
    closed_by_peer = inbox_.closed;
  }
  // Cancelling a call the controller already finished would hide its reason (a refusal).
  if (!closed_by_peer) s.ctx.TryCancel();
  s.reader.join();
  if (options_.traffic != nullptr) options_.traffic->StreamEnded();
  grpc::Status status = s.stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    live_context_ = nullptr;
    if (stop_) return s.established;
  }
  // A refusal (wrong identity, unknown host, a message it would not take) is not fixed by
  // reconnecting at once: back off as if the connection had failed.
  bool refused = status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                 status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                 status.error_code() == grpc::StatusCode::NOT_FOUND ||
                 status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
  Log(refused ? "refused" : "disconnected",
      absl::StrCat("stream to ", current_target(),
                   " ended: ", status.ok() ? "closed by the controller" : status.error_message()));
  // A stream the controller ends at once is no reason to retry at full speed.
  return s.established && !refused && clock_->Now() - s.opened >= kEstablishedAfter;
}

bool ControllerClient::WaitForConnected(grpc::Channel& channel, absl::Time deadline) {
  // In slices, so that Stop() is not held up by a controller that does not answer.
  while (clock_->Now() < deadline) {
    if (Stopped()) return false;
    absl::Duration slice = std::min(deadline - clock_->Now(), absl::Milliseconds(250));
    // gRPC waits on its own (real) clock, so the slice goes to it as a span from now.
    if (channel.WaitForConnected(std::chrono::system_clock::now() +
                                 absl::ToChronoNanoseconds(slice))) {
      return true;
    }
  }
  return false;
}

void ControllerClient::HandleInSync(const v1::InSync& in_sync) {
  {
    absl::MutexLock lock(&mu_);
    // Only what is applied is in sync; a newer generation for it needs saving.
    if (!applied_ || in_sync.generation() <= applied_->generation) return;
    applied_->generation = in_sync.generation();
  }
  Log("in-sync", absl::StrCat("the controller wants what is applied (generation ",
                              in_sync.generation(), "): nothing to apply"));
  SaveGeneration(in_sync.generation());
}

void ControllerClient::HandleAssignment(const v1::Assignment& a) {
  Applied before;
  bool had_before = false;
  {
    absl::MutexLock lock(&mu_);
    if (applied_) {
      before = *applied_;
      had_before = true;
    }
  }
  absl::StatusOr<CheckedAssignment> checked = CheckAssignment(a, options_.host);
  if (!checked.ok()) {
    Log("rejected", std::string(checked.status().message()));
    Send(ApplyResultMessage(false, std::string(checked.status().message()), absl::ZeroDuration(),
                            before.hash, a.revision(), a.generation()));
    return;
  }
  const std::string& hash = checked->ruleset.hash;
  if (had_before && hash == before.hash) {
    if (checked->revision != before.revision || a.generation() > before.generation) {
      absl::MutexLock lock(&mu_);
      applied_->revision = checked->revision;
      applied_->generation = std::max(applied_->generation, a.generation());
    }
    if (a.generation() > before.generation) SaveGeneration(a.generation());
    Send(ApplyResultMessage(true, "", absl::ZeroDuration(), hash, checked->revision,
                            a.generation()));
    return;
  }
  if (had_before && a.generation() != 0 && a.generation() < before.generation) {
    // A controller behind the one that sent what is applied (a stale store, a partition):
    // applying would roll this host back.
    std::string why =
        absl::StrCat("refused: generation ", a.generation(), " is older than the applied ",
                     before.generation, " (revision ", before.revision, "); not rolled back");
    Log("rejected", why);
    Send(ApplyResultMessage(false, why, absl::ZeroDuration(), before.hash, checked->revision,
                            a.generation()));
    return;
  }
  if (rolled_back_.count(hash)) {
    std::string why = absl::StrCat("rolled back earlier: revision ", checked->revision,
                                   " cut this agent off from the controller; not applied again");
    Log("not-applied", why);
    Send(ApplyResultMessage(false, why, absl::ZeroDuration(), before.hash, checked->revision,
                            a.generation()));
    return;
  }
  absl::Time start = clock_->Now();
  absl::Status st = enforcer_->Apply(checked->ruleset).get();
  absl::Duration took = clock_->Now() - start;
  if (!st.ok()) {
    Log("apply-failed", std::string(st.message()));
    Send(ApplyResultMessage(false, std::string(st.message()), took, before.hash, checked->revision,
                            a.generation()));
    return;
  }
  if (checked->confirm_deadline) {
    absl::Duration window = std::clamp(*checked->confirm_deadline - clock_->Now(),
                                       options_.confirm_min, options_.confirm_max);
    if (!ConfirmReachable(clock_->Now() + window)) {
      // Not confirmed; a restart enforces the stored (previous) ruleset.
      if (Stopped()) return;
      if (!had_before) {
        std::string why =
            absl::StrCat("not confirmed: controller unreachable for ", absl::FormatDuration(window),
                         " after applying revision ", checked->revision,
                         "; no previous ruleset to return to, keeping it");
        Log("unconfirmed", why);
        Send(ApplyResultMessage(false, why, took, hash, checked->revision, a.generation()));
        return;
      }
      if (rolled_back_.size() >= 64) rolled_back_.clear();  // bounded; a retry costs one window
      rolled_back_.insert(hash);
      absl::Status back = enforcer_->Apply(before.ruleset).get();
      std::string why =
          absl::StrCat("rolled back: controller unreachable for ", absl::FormatDuration(window),
                       " after applying revision ", checked->revision, "; back to revision ",
                       before.revision, back.ok() ? "" : absl::StrCat(" FAILED: ", back.message()));
      Log("rolled-back", why);
      Send(ApplyResultMessage(false, why, took, back.ok() ? before.hash : hash, checked->revision,
                              a.generation()));
      return;
    }
  }
  Applied now{checked->revision, checked->ruleset, hash, a.generation()};
  if (absl::Status saved =
          store_->Save({now.revision, now.ruleset.text, SerializeStructured(now.ruleset)});
      !saved.ok()) {
    StoreError(absl::StrCat(saved.message(),
                            " (the confirmed ruleset is not stored: a restart without the "
                            "controller would not enforce it)"));
  } else {
    absl::MutexLock lock(&mu_);
    store_error_.clear();
  }
  if (now.generation != 0) SaveGeneration(now.generation);
  {
    absl::MutexLock lock(&mu_);
    applied_ = now;
  }
  Log("applied", absl::StrCat("revision ", now.revision, " in ", absl::FormatDuration(took)));
  Send(ApplyResultMessage(true, "", took, hash, checked->revision, a.generation()));
}

bool ControllerClient::ConfirmReachable(absl::Time deadline) {
  if (options_.reachable) return options_.reachable(deadline);
  while (clock_->Now() < deadline) {
    if (Stopped()) return false;
    auto channel = FreshChannel(current_target(), Credentials(), ++probe_counter_);
    absl::Time attempt = std::min(deadline, clock_->Now() + options_.confirm_attempt);
    if (WaitForConnected(*channel, attempt)) return true;
    if (!SleepUnlessStopped(std::min(absl::Milliseconds(200), deadline - clock_->Now()))) {
      return false;
    }
  }
  return false;
}

}  // namespace polder::agent
