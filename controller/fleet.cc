#include "controller/fleet.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/model/parallel_for.h"
#include "controller/log.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

bool InSync(const auto& h) {
  return h.sink != nullptr && !h.hash.empty() && h.applied_hash == h.hash;
}

// The renderer's first line names the revision, which changes with every
// edit anywhere in the policy. Leading comment lines are therefore left out
// when deciding whether a host's ruleset changed, so hosts whose rules are
// the same keep what they run and receive nothing.
std::string ContentHash(const std::string& ruleset) {
  size_t start = 0;
  while (start < ruleset.size() && ruleset[start] == '#') {
    size_t nl = ruleset.find('\n', start);
    start = nl == std::string::npos ? ruleset.size() : nl + 1;
  }
  return wire::Sha256Hex(absl::string_view(ruleset).substr(start));
}

// Fills in every host's hash and content hash, on all cores: 10,000 rulesets are 100 MB to hash
// twice, and the Fleet's lock (which every agent's report needs) must not be held meanwhile.
void HashRulesets(CompiledPolicy& compiled) {
  std::vector<CompiledHost*> hosts;
  for (auto& [name, c] : compiled.hosts) hosts.push_back(&c);
  // A thread per 256 hosts at most: a test's two-host policy is not worth one.
  int threads = static_cast<int>(
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), hosts.size() / 256 + 1));
  ParallelFor(hosts.size(), threads, [&](size_t i) {
    hosts[i]->hash = wire::Sha256Hex(hosts[i]->ruleset);
    hosts[i]->content = ContentHash(hosts[i]->ruleset);
  });
}

absl::Status NotRecorded(absl::string_view what, const std::string& revision,
                         const absl::Status& why) {
  return absl::InternalError(absl::StrCat(
      what, " is in force (revision ", revision, ") but the state store has not recorded it (",
      why.message(),
      "); this controller keeps trying, and until then a restart of it would undo the order and "
      "other controllers do not know it"));
}

// An order and its audit entry, in one transaction: both or neither.
absl::Status CommitOrder(StateStore& st, const std::function<absl::Status(StateStore&)>& record,
                         const AuditRecord& audit) {
  if (absl::Status s = st.Begin(); !s.ok()) return s;
  absl::Status s = record(st);
  s.Update(st.Audit(audit));
  if (!s.ok()) {
    // A failed write must not leave the transaction open either.
    st.Rollback().IgnoreError();
    return s;
  }
  return st.Commit();
}

}  // namespace

Fleet::Fleet(StateStore* store, PolicyCompiler compiler, FleetOptions options)
    : store_(store),
      compiler_(std::move(compiler)),
      options_(options),
      writer_([this] { WriterLoop(); }) {}

void Fleet::StoreError(const absl::Status& s) {
  if (!s.ok()) Log(absl::StrCat("state store error: ", s.message()));
}

void Fleet::AuditLocked(absl::Time now, std::string kind, std::string actor, std::string target,
                        std::string detail, std::string reason) {
  Persist([r = AuditRecord{0, now, std::move(kind), std::move(actor), std::move(target),
                           std::move(detail), std::move(reason), revision_}](StateStore& s) {
    return s.Audit(r);
  });
}

void Fleet::Persist(Write write) { pending_.push_back(std::move(write)); }

absl::Status Fleet::RecordOrders() {
  while (true) {
    std::shared_ptr<UnrecordedOrder> next;
    {
      absl::MutexLock lock(&mu_);
      if (unrecorded_.empty()) return absl::OkStatus();
      next = unrecorded_.front();
    }
    absl::Status s = next->write(*store_);
    if (!next->first_attempt.HasBeenNotified()) {
      next->first_status = s;
      next->first_attempt.Notify();
    }
    if (!s.ok()) {
      if (!next->failing)
        Log(absl::StrCat("state store error: quarantine of ", next->target,
                         " is in force but not recorded; retrying: ", s.message()));
      next->failing = true;
      return s;
    }
    if (next->failing)
      Log(absl::StrCat("quarantine of ", next->target, " recorded in the state store, ",
                       absl::FormatDuration(absl::Now() - next->since), " after it was ordered"));
    absl::MutexLock lock(&mu_);
    unrecorded_.pop_front();
  }
}

absl::Status Fleet::Flush() {
  // store_mu_ first: batches reach the database in the order they were made.
  absl::MutexLock store_lock(&store_mu_);
  RecordOrders().IgnoreError();  // logged; the batch goes on its own
  std::vector<Write> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return absl::OkStatus();
  // One transaction per batch: a thousand apply results cost one commit.
  absl::Status first = store_->Begin();
  for (auto& w : batch) first.Update(w(*store_));
  first.Update(store_->Commit());
  StoreError(first);
  return first;
}

absl::Status Fleet::StoreNow(const Write& write) {
  // Pending batches first, so the database sees writes in the order they were made.
  Flush().IgnoreError();  // logged; the order's own write decides
  absl::MutexLock store_lock(&store_mu_);
  // Quarantines not recorded yet come first: a release recorded before the quarantine it lifts
  // would leave the store saying the host is quarantined.
  absl::Status s = RecordOrders();
  if (s.ok()) s = write(*store_);
  StoreError(s);
  return s;
}

absl::Status Fleet::UseStore(const std::function<absl::Status(StateStore&)>& f) {
  Flush().IgnoreError();  // logged
  absl::MutexLock store_lock(&store_mu_);
  return f(*store_);
}

void Fleet::WriterLoop() {
  while (!stop_.HasBeenNotified()) {
    {
      absl::MutexLock lock(&mu_);
      if (!writer_woken_) writer_wake_.WaitWithTimeout(&mu_, absl::Milliseconds(50));
      writer_woken_ = false;
    }
    Flush().IgnoreError();
  }
  Flush().IgnoreError();
}

Fleet::~Fleet() {
  stop_.Notify();
  writer_wake_.Signal();
  writer_.join();
  absl::MutexLock lock(&mu_);
  for (const auto& order : unrecorded_)
    Log(absl::StrCat("quarantine of ", order->target,
                     " was never recorded in the state store: a restart of this "
                     "controller does not enforce it"));
}

absl::Status Fleet::Start(absl::Time now) {
  absl::MutexLock reload(&reload_mu_);
  if (absl::Status s = Restore(); !s.ok()) return s;
  return CompileAndRollout(now, "controller", "controller started", CurrentPosture(),
                           CurrentQuarantines(), nullptr);
}

absl::Status Fleet::Reload(absl::Time now, const std::string& reason, bool audited) {
  absl::MutexLock reload(&reload_mu_);
  return CompileAndRollout(now, "controller", reason, CurrentPosture(), CurrentQuarantines(),
                           nullptr, audited);
}

namespace {

// The same order, as far as the store can tell (it keeps times to the microsecond).
bool SameOrders(const std::vector<QuarantineRecord>& a, const std::vector<QuarantineRecord>& b) {
  auto key = [](const std::vector<QuarantineRecord>& qs) {
    std::map<std::string, std::string> out;
    for (const auto& q : qs)
      out[q.target] = absl::StrCat(absl::StrJoin(q.allow, ","), "|", q.reason, "|", q.actor, "|",
                                   absl::ToUnixMicros(q.since));
    return out;
  };
  return key(a) == key(b);
}

bool SamePosture(const std::optional<PostureRecord>& a, const std::optional<PostureRecord>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->name == b->name && a->actor == b->actor && a->forced == b->forced &&
         absl::ToUnixMicros(a->since) == absl::ToUnixMicros(b->since);
}

}  // namespace

absl::StatusOr<bool> Fleet::SyncFromStore(absl::Time now) {
  // The store is read before reload_mu_ is taken, one key at a time, stopping at the first
  // failure: a store without quorum makes each read wait for its deadline, and our own
  // orders (which take reload_mu_, then store_mu_) must not wait behind all of them.
  const uint64_t orders = own_orders_.load();
  if (orders % 2 != 0) return false;  // one of ours is being carried out: look again later
  {
    absl::MutexLock lock(&mu_);
    if (!unrecorded_.empty()) return false;  // the store lacks one of ours: it would lift it
  }
  Flush().IgnoreError();  // ours first (logged)
  absl::StatusOr<std::vector<QuarantineRecord>> quarantines;
  absl::StatusOr<std::optional<PostureRecord>> posture;
  absl::StatusOr<uint64_t> generation;
  {
    absl::MutexLock store_lock(&store_mu_);
    quarantines = store_->LoadQuarantines();
  }
  if (!quarantines.ok()) return quarantines.status();
  {
    absl::MutexLock store_lock(&store_mu_);
    posture = store_->LoadPosture();
  }
  if (!posture.ok()) return posture.status();
  {
    // Only the generation: the served hosts are 10,000 keys on a big fleet, and this runs
    // every 100 ms on every controller.
    absl::MutexLock store_lock(&store_mu_);
    generation = store_->LoadGeneration();
  }
  if (!generation.ok()) return generation.status();
  absl::MutexLock reload(&reload_mu_);
  // An order of ours since the read: what was read may predate its write. Read again later.
  if (own_orders_.load() != orders) return false;
  {
    absl::MutexLock lock(&mu_);
    if (*generation > generation_) generation_ = *generation;
  }
  if (SameOrders(*quarantines, CurrentQuarantines()) && SamePosture(*posture, CurrentPosture()))
    return false;
  Log("orders changed in the store (another controller): rolling them out");
  absl::Status s = CompileAndRollout(now, "controller", "orders from another controller",
                                     std::move(*posture), std::move(*quarantines), nullptr,
                                     /*audited=*/false);
  if (!s.ok()) return s;
  return true;
}

std::vector<QuarantineRecord> Fleet::CurrentQuarantines() const {
  absl::MutexLock lock(&mu_);
  return quarantines_;
}

std::optional<PostureRecord> Fleet::CurrentPosture() const {
  absl::MutexLock lock(&mu_);
  return posture_;
}

void Fleet::DeliverOutbox() {
  std::vector<std::pair<AgentSink*, AssignmentInfo>> out;
  {
    absl::MutexLock lock(&mu_);
    out.swap(outbox_);
  }
  // Outside mu_, so agents' acknowledgements are handled while we write;
  // sinks_mu_ (held by the caller) keeps every sink alive meanwhile.
  for (auto& [sink, assignment] : out) sink->Assign(assignment);
}

absl::Status Fleet::Restore() {
  absl::StatusOr<std::vector<QuarantineRecord>> quarantines;
  absl::StatusOr<std::optional<PostureRecord>> posture;
  absl::StatusOr<std::optional<ServedRevision>> served;
  absl::StatusOr<std::vector<HostRecord>> records;
  {
    absl::MutexLock store_lock(&store_mu_);
    quarantines = store_->LoadQuarantines();
    posture = store_->LoadPosture();
    served = store_->LoadServed();
    records = store_->LoadHosts();
  }
  if (!quarantines.ok()) return quarantines.status();
  if (!posture.ok()) return posture.status();
  if (!served.ok()) return served.status();
  if (!records.ok()) return records.status();
  absl::MutexLock lock(&mu_);
  quarantines_ = std::move(*quarantines);
  posture_ = std::move(*posture);
  if (posture_) Log(absl::StrCat("restored active posture ", posture_->name));
  if (served->has_value()) {
    // The last good revision stays in force until a new one compiles.
    revision_ = (*served)->revision;
    mode_ = (*served)->mode;
    generation_ = (*served)->generation;
    for (auto& d : (*served)->hosts) {
      Host& h = hosts_[d.host];
      // No text (etcd keeps only hashes): nothing is sent until the policy compiles, but an
      // agent that says it runs d.hash is in sync meanwhile.
      if (!d.ruleset.empty()) {
        h.content = ContentHash(d.ruleset);
        h.ruleset = std::make_shared<const std::string>(std::move(d.ruleset));
      }
      h.hash = d.hash;
      h.ruleset_revision = d.revision;
    }
    for (auto& r : *records) {
      auto it = hosts_.find(r.host);
      if (it == hosts_.end()) continue;
      it->second.applied_revision = r.applied_revision;
      it->second.applied_hash = r.applied_hash;
      it->second.drift = r.drift;
      it->second.last_report = r.last_report;
      it->second.last_error = r.last_error;
      it->second.reported_revision = r.reported_revision;
      it->second.reported_hash = r.reported_hash;
    }
    Log(absl::StrCat("restored revision ", revision_, " for ", hosts_.size(), " hosts"));
  }
  return absl::OkStatus();
}

absl::Status Fleet::CompileAndRollout(
    absl::Time now, const std::string& actor, const std::string& reason,
    std::optional<PostureRecord> posture, std::vector<QuarantineRecord> quarantines,
    const std::function<void()>& installed, bool audited,
    const std::function<absl::Status(const std::string&)>& commit_first) {
  // Compiling a large policy takes seconds: agents' reports and status calls go on meanwhile.
  absl::StatusOr<CompiledPolicy> compiled =
      compiler_(now, quarantines, posture ? posture->name : std::string());
  if (compiled.ok()) HashRulesets(*compiled);
  if (compiled.ok() && commit_first) {
    if (absl::Status committed = commit_first(compiled->revision); !committed.ok())
      return committed;
  }
  absl::Status result;
  absl::MutexLock sinks(&sinks_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (compiled.ok()) {
      if (!policy_error_.empty()) Log("policy compiles again; the refusal is over");
      policy_error_.clear();
      quarantines_ = std::move(quarantines);
      posture_ = std::move(posture);
      postures_ = compiled->postures;
      for (const auto& [name, broken] : postures_)
        if (!broken.empty()) Log(absl::StrCat("posture ", name, " is broken: ", broken));
      RolloutLocked(std::move(*compiled), now, actor, reason, audited);
      if (installed) installed();
    } else {
      result = compiled.status();
      RefuseLocked(now, actor, reason, result);
    }
  }
  DeliverOutbox();
  return result;
}

void Fleet::RefuseLocked(absl::Time now, const std::string& actor, const std::string& reason,
                         const absl::Status& error) {
  std::string why(error.message());
  ++metrics_.policy_rejections;
  if (why != policy_error_) {
    // The refusal's reason is the compile error; the revision, the one still served.
    AuditLocked(now, "policy-rejected", actor, "",
                absl::StrCat("still serving revision ", revision_.empty() ? "(none)" : revision_,
                             " (", reason, ")"),
                why);
    Log(absl::StrCat("policy refused, still serving revision ",
                     revision_.empty() ? "(none)" : revision_, ": ", why));
  }
  policy_error_ = why;
}

void Fleet::RefusePolicy(absl::Time now, const std::string& actor, const std::string& reason,
                         const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  RefuseLocked(now, actor, reason, error);
}

void Fleet::RolloutLocked(CompiledPolicy compiled, absl::Time now, const std::string& actor,
                          const std::string& reason, bool audited) {
  for (const auto& w : compiled.warnings) Log(absl::StrCat("policy warning: ", w));
  std::vector<DesiredRuleset> changed;
  std::vector<std::string> all;
  for (auto& [name, c] : compiled.hosts) {
    all.push_back(name);
    Host& h = hosts_[name];
    h.zone = c.zone;
    const std::string& content = c.content;
    if (content == h.content) {
      if (!h.nft_ruleset) h.nft_ruleset = std::move(c.nft_ruleset);  // restored from the store
      continue;
    }
    if (h.ruleset == nullptr && !h.hash.empty() && c.hash == h.hash) {
      // Restored as a hash only (etcd): the same ruleset, now with its text.
      h.content = content;
      h.ruleset = std::make_shared<const std::string>(std::move(c.ruleset));
      h.nft_ruleset = std::move(c.nft_ruleset);
      continue;
    }
    if (InSync(h)) --in_sync_;
    h.content = content;
    h.hash = c.hash;
    h.ruleset = std::make_shared<const std::string>(std::move(c.ruleset));
    h.nft_ruleset = std::move(c.nft_ruleset);
    h.ruleset_revision = compiled.revision;
    if (InSync(h)) ++in_sync_;
    changed.push_back(
        {name, compiled.revision, store_->KeepsRulesetText() ? *h.ruleset : std::string(), h.hash});
  }
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (compiled.hosts.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.sink) {
      if (InSync(it->second)) --in_sync_;
      --connected_;
      it->second.sink->Close(
          absl::NotFoundError(absl::StrCat("host ", it->first, " was removed from the policy")));
    }
    it = hosts_.erase(it);
  }
  bool new_revision = compiled.revision != revision_;
  if (new_revision || !changed.empty()) ++generation_;
  revision_ = compiled.revision;
  mode_ = compiled.mode;
  zones_ = std::move(compiled.zones);
  next_expiry_ = compiled.next_expiry;
  // Agents first: the database write happens on the writer thread.
  for (const auto& d : changed) {
    Host& h = hosts_[d.host];
    if (h.sink && h.ruleset && h.applied_hash != h.hash && !AheadOfUsLocked(h))
      outbox_.emplace_back(h.sink, AssignLocked(h, now));
  }
  if (new_revision || !changed.empty()) {
    ++metrics_.rollouts;
    std::string detail = absl::StrCat("revision ", revision_, ", ", changed.size(), " of ",
                                      all.size(), " hosts changed");
    if (audited) AuditLocked(now, "rollout", actor, "", detail, reason);
    Log(absl::StrCat("rollout: ", detail));
  }
  Persist([rev = revision_, mode = mode_, changed = std::move(changed), all = std::move(all), now,
           generation = generation_](StateStore& s) {
    return s.SaveRollout(rev, mode, changed, all, now, generation);
  });
}

AssignmentInfo Fleet::AssignLocked(Host& h, absl::Time now) {
  h.sent_at = now;
  h.sent_hash = h.hash;
  h.sent_this_session.push_back({h.ruleset_revision, h.hash, generation_});
  if (h.sent_this_session.size() > 8) h.sent_this_session.pop_front();
  ++metrics_.assignments_sent;
  // The agent checks the revision against the ruleset's header.
  return {h.ruleset_revision, h.ruleset,  h.hash, mode_, now + options_.confirm_timeout,
          h.nft_ruleset,      generation_};
}

bool Fleet::AheadOfUsLocked(const Host& h) const {
  // A host that runs exactly what this controller wants is in sync whatever the generations
  // say (two controllers' counters may differ by a rollout): nothing would be rolled back.
  return h.agent_generation > generation_ && h.applied_hash != h.hash;
}

uint64_t Fleet::Generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void Fleet::SendLocked(Host& h, absl::Time now) { h.sink->Assign(AssignLocked(h, now)); }

absl::StatusOr<uint64_t> Fleet::Connect(const HelloInfo& hello, AgentSink* sink, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = hosts_.find(hello.host);
  if (it == hosts_.end()) {
    ++metrics_.refused_agents;
    Log(absl::StrCat("refused agent for host ", hello.host, ": not in the policy"));
    return absl::NotFoundError(absl::StrCat(
        "host '", hello.host, "' is not in the policy served by this controller (revision ",
        revision_.empty() ? "none" : revision_, "); add it to the policy or fix --host"));
  }
  Host& h = it->second;
  if (InSync(h)) --in_sync_;
  if (h.sink) {
    // The newer stream wins: the older one is usually a dead TCP connection.
    h.sink->Close(absl::AlreadyExistsError("replaced by a newer connection from this host"));
    --connected_;
  }
  h.sink = sink;
  h.session = ++next_session_;
  ++connected_;
  h.agent_version = hello.agent_version;
  h.sent_this_session.clear();
  // The hash decides whether to send (sending is always safe); the revision is only a claim,
  // verified when the hash is that of the ruleset this controller wants the host to run.
  h.applied_hash = hello.ruleset_hash;
  NoteReportedLocked(hello.host, h, hello.applied_revision, hello.ruleset_hash);
  h.agent_generation = hello.applied_generation;
  h.agent_degraded = hello.degraded;
  h.clock_offset.reset();  // until its first heartbeat says
  bool same = !h.hash.empty() && hello.ruleset_hash == h.hash;
  if (same) {
    h.applied_revision = h.ruleset_revision;
    h.applied_generation = std::max(h.applied_generation, generation_);
  }
  h.last_report = now;
  if (InSync(h)) ++in_sync_;
  Log(absl::StrCat("agent connected: ", hello.host, " (", hello.agent_version, ")",
                   h.agent_degraded.empty()
                       ? ""
                       : absl::StrCat(", degraded: ", absl::StrJoin(h.agent_degraded, "; "))));
  if (same) {
    ++metrics_.in_sync_replies;
    sink->InSync(revision_, generation_);
  } else if (AheadOfUsLocked(h)) {
    // Never roll a host back: it keeps what it runs until this controller serves a generation
    // at least as new (status shows why).
    ++metrics_.agents_ahead;
    Log(absl::StrCat("agent ", hello.host, " applied generation ", hello.applied_generation,
                     ", newer than this controller's ", generation_, ": sending it nothing"));
  } else if (h.ruleset != nullptr) {
    SendLocked(h, now);
  }
  return h.session;
}

Fleet::Host* Fleet::SessionHost(const std::string& host, uint64_t session) {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.session != session || it->second.sink == nullptr)
    return nullptr;
  return &it->second;
}

void Fleet::Disconnect(const std::string& host, uint64_t session, absl::Time now) {
  absl::MutexLock sinks(&sinks_mu_);  // not while a rollout writes to this sink
  absl::MutexLock lock(&mu_);
  Host* h = SessionHost(host, session);
  if (h == nullptr) return;
  if (InSync(*h)) --in_sync_;
  h->sink = nullptr;
  --connected_;
  h->last_report = now;
  Persist([host, now](StateStore& s) { return s.SetLastReport(host, now); });
  Log(absl::StrCat("agent disconnected: ", host));
}

void Fleet::OnApplyResult(const std::string& host, uint64_t session, const ApplyRecord& r) {
  absl::MutexLock lock(&mu_);
  Host* h = SessionHost(host, session);
  if (h == nullptr) return;
  h->last_report = r.time;
  // Only an assignment sent on this stream and not yet superseded by a confirmed newer one is
  // in flight; a failure may be reported twice for one assignment (once as "rolled back", once
  // as "not applied again"), so only a success takes its assignment out of flight.
  auto answered =
      std::find_if(h->sent_this_session.begin(), h->sent_this_session.end(), [&](const auto& sent) {
        return sent.revision == r.revision && (!r.ok || sent.hash == r.hash) &&
               (r.generation == 0 || sent.generation == r.generation);
      });
  if (answered == h->sent_this_session.end()) {
    // A success for exactly what the host is known to run is a repeat (a result the agent sent
    // again on a new stream after the Hello already said so): nothing to believe or refuse.
    bool repeat =
        r.ok && !r.hash.empty() && r.hash == h->applied_hash && r.revision == h->applied_revision;
    if (repeat) return;
    ++metrics_.unverified_results;
    Log(absl::StrCat("apply result from ", host, " ignored: revision ", r.revision.substr(0, 12),
                     " (hash ", r.hash.substr(0, 12), ", generation ", r.generation,
                     ") answers no assignment in flight on its stream"));
    if (r.ok) NoteReportedLocked(host, *h, r.revision, r.hash);
    return;
  }
  uint64_t generation = answered->generation;
  if (r.ok) h->sent_this_session.erase(h->sent_this_session.begin(), answered + 1);
  Persist([host, r](StateStore& s) { return s.RecordApply(host, r); });
  if (h->sent_at && r.hash == h->sent_hash) {
    metrics_.ObserveLatency(absl::ToDoubleSeconds(r.time - *h->sent_at));
    h->sent_at.reset();
  }
  if (!r.ok) {
    ++metrics_.apply_failed;
    h->last_error = r.error;
    Log(absl::StrCat("apply failed on ", host, ": ", r.error));
    return;
  }
  ++metrics_.apply_ok;
  if (InSync(*h)) --in_sync_;
  h->applied_hash = r.hash;
  h->applied_revision = r.revision;
  h->applied_generation = std::max(h->applied_generation, generation);
  h->drift = false;
  h->last_error.clear();
  if (InSync(*h)) ++in_sync_;
  NoteReportedLocked(host, *h, r.revision, r.hash);
}

void Fleet::NoteReportedLocked(const std::string& host, Host& h, const std::string& revision,
                               const std::string& hash) {
  if (h.reported_revision == revision && h.reported_hash == hash) return;
  h.reported_revision = revision;
  h.reported_hash = hash;
  // Kept apart from the verified applied revision, and written only when the claim changes.
  Persist([host, revision, hash](StateStore& s) { return s.SetReported(host, revision, hash); });
}

void Fleet::OnDrift(const std::string& host, uint64_t session, const DriftRecord& d) {
  absl::MutexLock lock(&mu_);
  Host* h = SessionHost(host, session);
  if (h == nullptr) return;
  ++metrics_.drift_events;
  Persist([host, d](StateStore& s) { return s.RecordDrift(host, d); });
  h->drift = !d.remediated;
  h->last_report = d.time;
  // One log line stays readable however much an agent reports; the whole report is stored.
  constexpr size_t kMaxLogged = 2000;
  std::string what = absl::StrJoin(d.differences, "; ");
  if (what.size() > kMaxLogged) {
    size_t cut = kMaxLogged;
    while (cut > 0 && (static_cast<unsigned char>(what[cut]) & 0xc0) == 0x80) --cut;  // UTF-8
    what = absl::StrCat(what.substr(0, cut), "... (", d.differences.size(), " differences in all)");
  }
  Log(absl::StrCat("drift on ", host, d.remediated ? " (remediated): " : ": ", what));
}

void Fleet::OnHeartbeat(const std::string& host, uint64_t session, absl::Time now,
                        std::optional<absl::Time> agent_time,
                        std::optional<std::vector<std::string>> degraded) {
  absl::MutexLock lock(&mu_);
  // Kept in memory only: persisting every heartbeat would cost a write per
  // agent per interval; Disconnect persists the last one.
  Host* h = SessionHost(host, session);
  if (h == nullptr) return;
  h->last_report = now;
  std::vector<std::string> before = DegradedLocked(*h);
  if (agent_time) h->clock_offset = *agent_time - now;
  if (degraded) h->agent_degraded = std::move(*degraded);
  std::vector<std::string> after = DegradedLocked(*h);
  if (after != before) {
    Log(after.empty() ? absl::StrCat("host ", host, " is healthy again")
                      : absl::StrCat("host ", host, " is degraded: ", absl::StrJoin(after, "; ")));
  }
}

std::vector<std::string> Fleet::DegradedLocked(const Host& h) const {
  std::vector<std::string> out = h.agent_degraded;
  if (AheadOfUsLocked(h)) {
    out.push_back(absl::StrCat("controller-behind: the agent applied generation ",
                               h.agent_generation, ", this controller serves ", generation_,
                               "; it sends this host nothing until it serves a newer one"));
  }
  if (h.clock_offset && absl::AbsDuration(*h.clock_offset) > options_.max_clock_skew) {
    int64_t seconds = absl::ToInt64Seconds(absl::AbsDuration(*h.clock_offset));
    out.push_back(absl::StrCat("clock-skew: the agent's clock is ", seconds, " s ",
                               *h.clock_offset > absl::ZeroDuration() ? "ahead of" : "behind",
                               " the controller's (more than ",
                               absl::ToInt64Seconds(options_.max_clock_skew), " s)"));
  }
  return out;
}

absl::StatusOr<std::string> Fleet::Quarantine(QuarantineRecord order, absl::Time now) {
  absl::MutexLock reload(&reload_mu_);
  std::vector<QuarantineRecord> next;
  {
    absl::MutexLock lock(&mu_);
    if (!hosts_.count(order.target) && !zones_.count(order.target))
      return absl::NotFoundError(absl::StrCat("'", order.target, "' is neither a zone nor a host"));
    for (const auto& z : order.allow)
      if (!zones_.count(z)) return absl::NotFoundError(absl::StrCat("'", z, "' is not a zone"));
    next = quarantines_;
  }
  std::erase_if(next, [&](const auto& q) { return q.target == order.target; });
  order.since = now;
  next.push_back(order);
  return CarryOut(
      {"quarantine", order.actor, order.target,
       absl::StrCat("allow [", absl::StrJoin(order.allow, ", "), "]: ", order.reason), order.reason,
       absl::StrCat("quarantined ", order.target, " by ", order.actor, ": ", order.reason)},
      CurrentPosture(), std::move(next),
      [order](StateStore& st) { return st.SaveQuarantine(order); }, now);
}

absl::StatusOr<std::string> Fleet::Release(const std::string& target, const std::string& actor,
                                           absl::Time now, const std::string& reason) {
  absl::StatusOr<std::string> released = ReleaseKnown(target, actor, now, reason);
  if (released.status().code() != absl::StatusCode::kNotFound) return released;
  // Quarantined through another controller a moment ago: this one reads the store's orders
  // only every 100 ms. Read them now, and try once more.
  absl::StatusOr<bool> synced = SyncFromStore(now);
  if (!synced.ok() || !*synced) return released;
  return ReleaseKnown(target, actor, now, reason);
}

absl::StatusOr<std::string> Fleet::ReleaseKnown(const std::string& target, const std::string& actor,
                                                absl::Time now, const std::string& reason) {
  absl::MutexLock reload(&reload_mu_);
  std::vector<QuarantineRecord> next = CurrentQuarantines();
  if (std::erase_if(next, [&](const auto& q) { return q.target == target; }) == 0)
    return absl::NotFoundError(absl::StrCat("'", target, "' is not quarantined"));
  return CarryOut(
      {"release", actor, target, "", reason,
       absl::StrCat("released ", target, " by ", actor, reason.empty() ? "" : ": ", reason)},
      CurrentPosture(), std::move(next),
      [target](StateStore& st) { return st.DeleteQuarantine(target); }, now);
}

absl::StatusOr<std::string> Fleet::ActivatePosture(PostureRecord order, absl::Time now) {
  absl::MutexLock reload(&reload_mu_);
  std::string broken;
  {
    absl::MutexLock lock(&mu_);
    if (posture_) {
      return absl::FailedPreconditionError(
          absl::StrCat("posture ", posture_->name, " is active (since ",
                       absl::FormatTime(posture_->since), ", by ", posture_->actor,
                       "); at most one posture is active at a time: release it "
                       "first (polder posture release ",
                       posture_->name, ")"));
    }
    auto it = postures_.find(order.name);
    if (it == postures_.end()) {
      std::vector<std::string> names;
      for (const auto& [name, why] : postures_) names.push_back(name);
      return absl::NotFoundError(absl::StrCat(
          "the policy has no posture `", order.name, "`",
          names.empty() ? " (it declares none)"
                        : absl::StrCat("; it declares: ", absl::StrJoin(names, ", "))));
    }
    broken = it->second;
  }
  if (!broken.empty() && !order.forced) {
    return absl::FailedPreconditionError(absl::StrCat(
        "posture ", order.name, " is broken, `polder check` finds: ", broken,
        "; fix the plan, or give --force to activate it anyway (the audit log records that)"));
  }
  order.forced = order.forced && !broken.empty();  // a force that overrode nothing is no force
  order.since = now;
  std::string detail = order.reason;
  if (order.forced) absl::StrAppend(&detail, " [FORCED although check finds: ", broken, "]");
  // Built before `order` is handed on: arguments are evaluated in no fixed order.
  AdminOrder audited{"posture-activate",
                     order.actor,
                     order.name,
                     detail,
                     order.reason,
                     absl::StrCat("posture ", order.name, " activated by ", order.actor,
                                  order.forced ? " (forced)" : "", ": ", order.reason)};
  return CarryOut(
      audited, order, CurrentQuarantines(), [&](StateStore& st) { return st.SavePosture(order); },
      now);
}

absl::StatusOr<std::string> Fleet::ReleasePosture(const std::string& name, const std::string& actor,
                                                  absl::Time now, const std::string& reason) {
  absl::MutexLock reload(&reload_mu_);
  std::optional<PostureRecord> active = CurrentPosture();
  if (!active || active->name != name) {
    return absl::NotFoundError(absl::StrCat(
        "posture ", name, " is not active",
        active ? absl::StrCat(" (", active->name, " is)") : std::string(" (none is)")));
  }
  return CarryOut(
      {"posture-release", actor, name, "", reason,
       absl::StrCat("posture ", name, " released by ", actor, reason.empty() ? "" : ": ", reason)},
      std::nullopt, CurrentQuarantines(), [&](StateStore& st) { return st.DeletePosture(); }, now);
}

absl::StatusOr<std::string> Fleet::CarryOut(const AdminOrder& order,
                                            std::optional<PostureRecord> posture,
                                            std::vector<QuarantineRecord> quarantines, Write record,
                                            absl::Time now) {
  // Odd while this order is carried out (see own_orders_), even again on every return.
  struct Counted {
    std::atomic<uint64_t>& n;
    explicit Counted(std::atomic<uint64_t>& n) : n(n) { ++n; }
    ~Counted() { ++n; }
  } counted(own_orders_);
  // The order and its audit entry in one transaction, written with its own status, not in a
  // batch of the writer thread: an order is in the store before it is acknowledged.
  auto commit_write = [&](const std::string& revision) -> Write {
    return [record, audit = AuditRecord{0, now, order.kind, order.actor, order.target, order.detail,
                                        order.reason, revision}](StateStore& st) {
      return CommitOrder(st, record, audit);
    };
  };
  const bool tightens = order.kind == "quarantine";
  std::string revision;
  absl::Status not_committed;
  absl::Status s = CompileAndRollout(
      now, order.actor,
      absl::StrCat(order.kind, " ", order.target, order.reason.empty() ? "" : ": ", order.reason),
      std::move(posture), std::move(quarantines),
      [&] {
        mu_.AssertHeld();
        Log(order.log);
        revision = revision_;
      },
      /*audited=*/true,
      tightens ? std::function<absl::Status(const std::string&)>()
               : [&](const std::string& compiled) {
                   not_committed = StoreNow(commit_write(compiled));
                   return not_committed;
                 });
  if (!not_committed.ok()) {
    return absl::UnavailableError(absl::StrCat(
        order.kind, " not applied: the state store did not record it (", not_committed.message(),
        "); nothing was pushed to the agents, which keep what they enforce; try again"));
  }
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(order.kind, " not applied, the policy does not compile: ", s.message()));
  }
  if (tightens) {
    // In force already; recorded by the writer thread, which retries until the store takes it.
    auto queued = std::make_shared<UnrecordedOrder>();
    queued->target = order.target;
    queued->write = commit_write(revision);
    queued->since = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      unrecorded_.push_back(queued);
      writer_woken_ = true;
      writer_wake_.Signal();
    }
    bool tried = queued->first_attempt.WaitForNotificationWithTimeout(options_.order_record_wait);
    if (tried && queued->first_status.ok()) return revision;
    absl::Status why = tried ? queued->first_status
                             : absl::UnavailableError(
                                   absl::StrCat("the store did not answer within ",
                                                absl::FormatDuration(options_.order_record_wait)));
    return NotRecorded(order.kind, revision, why);
  }
  return revision;
}

bool Fleet::QuarantinedLocked(const std::string& host, const Host& h) const {
  return std::any_of(quarantines_.begin(), quarantines_.end(),
                     [&](const auto& q) { return q.target == host || q.target == h.zone; });
}

FleetStatus Fleet::Status() const {
  absl::MutexLock lock(&mu_);
  FleetStatus s{revision_, policy_error_, {}, quarantines_, {}, posture_};
  for (const auto& order : unrecorded_) s.unrecorded_quarantines.insert(order->target);
  s.hosts.reserve(hosts_.size());
  for (const auto& [name, h] : hosts_) {
    // Hosts whose ruleset did not change across revisions are up to date
    // with the served revision: what they run is byte-identical.
    std::string applied =
        !h.hash.empty() && h.applied_hash == h.hash ? revision_ : h.applied_revision;
    std::string reported =
        h.reported_revision == applied || h.reported_revision == h.applied_revision
            ? ""
            : h.reported_revision;
    s.hosts.push_back({name, h.zone, h.sink != nullptr, revision_, applied, h.drift, h.last_report,
                       QuarantinedLocked(name, h), h.last_error, reported, DegradedLocked(h)});
  }
  return s;
}

absl::StatusOr<std::vector<AuditRecord>> Fleet::AuditLog(int limit,
                                                         std::optional<absl::Time> since) {
  Flush().IgnoreError();  // logged; what is on disk is still worth reading
  absl::MutexLock store_lock(&store_mu_);
  return store_->AuditLog(limit, since);
}

std::optional<absl::Time> Fleet::NextExpiry() const {
  absl::MutexLock lock(&mu_);
  return next_expiry_;
}

MetricsSnapshot Fleet::Metrics() const {
  absl::MutexLock lock(&mu_);
  MetricsSnapshot m = metrics_;
  m.agents_connected = connected_;
  m.hosts = static_cast<int64_t>(hosts_.size());
  m.revision = revision_;
  m.policy_error = !policy_error_.empty();
  return m;
}

int Fleet::ConnectedInSync() const {
  absl::MutexLock lock(&mu_);
  return in_sync_;
}

bool Fleet::WaitConnectedInSync(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_sync_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

}  // namespace polder::controller
