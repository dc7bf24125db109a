#include "controller/agent_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "controller/log.h"
#include "controller/message_validation.h"
#include "controller/peer_auth.h"
#include "google/protobuf/arena.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/traffic_proto.h"

namespace polder::controller {
namespace {

using Reactor = grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>;

// A ControllerMessage on an arena of its own. An assignment's structured ruleset is hundreds of
// small messages; built and freed one malloc at a time, they took a third of a controller's
// CPU when a rollout reached 3,300 agents at once (bench/ha/ha_fleet_bench.sh).
class ArenaMessage {
 public:
  ArenaMessage() = default;  // empty
  static ArenaMessage New() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 16 << 10;  // a typical assignment fits in the first block
    options.max_block_size = 1 << 20;
    ArenaMessage m;
    m.arena_ = std::make_unique<google::protobuf::Arena>(options);
    m.message_ = google::protobuf::Arena::CreateMessage<v1::ControllerMessage>(m.arena_.get());
    return m;
  }
  ArenaMessage(ArenaMessage&& other) noexcept
      : arena_(std::move(other.arena_)), message_(std::exchange(other.message_, nullptr)) {}
  ArenaMessage& operator=(ArenaMessage&& other) noexcept {
    message_ = std::exchange(other.message_, nullptr);
    arena_ = std::move(other.arena_);
    return *this;
  }
  explicit operator bool() const { return message_ != nullptr; }
  v1::ControllerMessage* operator->() const { return message_; }
  v1::ControllerMessage* get() const { return message_; }

 private:
  std::unique_ptr<google::protobuf::Arena> arena_;
  v1::ControllerMessage* message_ = nullptr;  // owned by arena_
};

// An agent's degraded lines as status shows them: no control characters.
std::vector<std::string> Escaped(const google::protobuf::RepeatedPtrField<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& line : lines) out.push_back(EscapeControlCharacters(line));
  return out;
}

class AgentStream final : public Reactor, public AgentSink {
 public:
  AgentStream(Fleet* fleet, grpc::CallbackServerContext* context, bool insecure,
              SilentStreams* silent, OpenStreams* open, TrafficStore* traffic,
              TrafficMarks* marks)
      : fleet_(fleet),
        context_(context),
        insecure_(insecure),
        silent_(silent),
        open_(open),
        traffic_(traffic),
        marks_(marks) {
    if (!insecure_) {
      auto peer = PeerIdentityOf(*context_->auth_context());
      std::string name = peer.ok() ? peer->common_name : "";
      if (open_ != nullptr && !open_->Add(this, peer.ok() ? peer->serial : "",
                                          peer.ok() ? peer->not_after : absl::InfinitePast())) {
        Log(absl::StrCat("agent stream from ", context_->peer(), " (", name,
                         ") refused: its certificate is revoked"));
        FinishOnce(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                "the client certificate has been revoked (polder pki revoke)"));
        return;
      }
      if (!silent_->Admit(name)) {
        Log(absl::StrCat("agent stream from ", context_->peer(), " (", name,
                         ") refused: too many streams without a Hello"));
        FinishOnce(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "too many streams from this certificate without a Hello"));
        return;
      }
      silent_peer_ = std::move(name);
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side or the call broke
      FinishOnce(grpc::Status::OK);
      return;
    }
    absl::Status s = Handle();
    if (!s.ok()) {
      Log(absl::StrCat("agent stream from ", context_->peer(),
                       host_.empty() ? "" : absl::StrCat(" (", host_, ")"),
                       " rejected: ", s.message()));
      FinishOnce(ToGrpc(s));
      return;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    out_ = ArenaMessage();  // frees the ruleset copy
    if (finish_status_) {
      Finish(*finish_status_);
      return;
    }
    if (!ok) return;  // the pending read fails too and ends the stream
    if (pending_ || !acks_.empty()) WriteLocked();
  }

  void OnDone() override {
    if (open_ != nullptr) open_->Remove(this);
    SpokeOrEnded();
    if (session_ != 0) fleet_->Disconnect(host_, session_, absl::Now());
    delete this;
  }

  void Assign(const AssignmentInfo& a) override {
    absl::MutexLock lock(&mu_);
    // Only the newest assignment matters; an unsent older one is dropped.
    pending_ = ArenaMessage::New();
    auto* m = pending_->mutable_assignment();
    m->set_revision(a.revision);
    m->set_ruleset(*a.ruleset);
    m->set_ruleset_hash(a.hash);
    m->set_mode(wire::ToProto(a.mode));
    if (a.nft_ruleset) wire::ToProto(*a.nft_ruleset, m->mutable_nft_ruleset());
    // Nanoseconds kept: a deadline rounded down to its second could lapse before it is due.
    wire::SetTimestamp(a.confirm_deadline, m->mutable_confirm_deadline());
    m->set_generation(a.generation);
    if (!writing_ && !finish_status_) WriteLocked();
  }

  void InSync(const std::string& revision, uint64_t generation) override {
    absl::MutexLock lock(&mu_);
    if (pending_) return;  // an assignment is on its way: it says more
    pending_ = ArenaMessage::New();
    pending_->mutable_in_sync()->set_revision(revision);
    pending_->mutable_in_sync()->set_generation(generation);
    if (!writing_ && !finish_status_) WriteLocked();
  }

  void Close(const absl::Status& status) override { FinishOnce(ToGrpc(status)); }

 private:
  // An assignment (or InSync) first, then acknowledgements in the order their batches came.
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_) {
      out_ = std::move(pending_);
      pending_ = ArenaMessage();
    } else {
      out_ = ArenaMessage::New();
      out_->mutable_traffic_ack()->set_epoch(acks_.front().first);
      out_->mutable_traffic_ack()->set_sequence(acks_.front().second);
      acks_.pop_front();
    }
    writing_ = true;
    StartWrite(out_.get());
  }

  // A batch is stored (or was already): acknowledge it. An agent keeps at most
  // kMaxTrafficBatchesInFlight unacknowledged, so the queue stays short; one that sends more
  // than twice that loses the oldest acknowledgements and resends those batches (harmless).
  void Ack(uint64_t epoch, uint64_t sequence) {
    absl::MutexLock lock(&mu_);
    if (finish_status_) return;
    if (acks_.size() >= 2 * static_cast<size_t>(wire::kMaxTrafficBatchesInFlight))
      acks_.pop_front();
    acks_.emplace_back(epoch, sequence);
    if (!writing_) WriteLocked();
  }

  absl::Status HandleTrafficBatch(const v1::TrafficBatch& b, absl::Time now) {
    if (auto s = ValidateTrafficBatch(b); !s.ok()) return s;
    if (b.host() != host_)
      return absl::PermissionDeniedError(
          absl::StrCat("traffic_batch.host '", b.host(), "' is not the stream's host"));
    if (traffic_ == nullptr)
      return absl::FailedPreconditionError("this controller stores no traffic");
    absl::StatusOr<wire::TrafficReport> report = wire::FromProto(b);
    if (!report.ok()) return report.status();
    // A batch not stored ends the stream unacknowledged: the agent reconnects and sends it
    // again, before any later one could raise the high-water mark past it. So does one whose
    // fleet-wide mark cannot be read: another controller may have stored it.
    TrafficMarks::Mark fleet_mark{0, 0};
    if (marks_ != nullptr) {
      absl::StatusOr<TrafficMarks::Mark> m = marks_->Get(host_);
      if (!m.ok())
        return absl::UnavailableError(
            absl::StrCat("cannot check a traffic batch against the fleet: ", m.status().message()));
      fleet_mark = *m;
    }
    absl::StatusOr<TrafficStore::Added> added = traffic_->Add(*report, now, fleet_mark);
    if (!added.ok())
      return absl::UnavailableError(
          absl::StrCat("cannot store a traffic batch: ", added.status().message()));
    if (marks_ != nullptr && *added == TrafficStore::Added::kStored) {
      // Stored here either way; an unraised mark lets another controller store a resend too.
      if (absl::Status s = marks_->Advance(host_, {b.epoch(), b.sequence()}); !s.ok())
        Log(absl::StrCat("traffic batch ", b.epoch(), "/", b.sequence(), " of ", host_,
                         " stored, but its fleet-wide mark was not raised (a resend to another "
                         "controller would be counted twice): ",
                         s.message()));
      if (absl::Status s = marks_->NoteStored(now); !s.ok())
        Log(absl::StrCat("this controller's traffic is not listed in the store yet (`polder "
                         "traffic` elsewhere may leave it out unnamed): ",
                         s.message()));
    }
    Ack(b.epoch(), b.sequence());
    return absl::OkStatus();
  }

  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finish_status_) return;
    finish_status_ = status;
    pending_ = ArenaMessage();
    acks_.clear();
    if (!writing_) Finish(status);  // else OnWriteDone finishes
  }

  absl::Status Handle() {
    using K = v1::AgentMessage;
    if (session_ == 0) {
      SpokeOrEnded();
      if (in_.kind_case() != K::kHello)
        return absl::InvalidArgumentError("the first message on a stream must be a Hello");
      return HandleHello(in_.hello());
    }
    absl::Time now = absl::Now();
    switch (in_.kind_case()) {
      case K::kHello:
        return absl::InvalidArgumentError("a stream carries only one Hello");
      case K::kApplyResult: {
        const auto& r = in_.apply_result();
        if (auto s = ValidateApplyResult(r); !s.ok()) return s;
        absl::Duration d =
            absl::Seconds(r.duration().seconds()) + absl::Nanoseconds(r.duration().nanos());
        fleet_->OnApplyResult(host_, session_,
                              {r.ok(), EscapeControlCharacters(r.error()), d, r.ruleset_hash(),
                               r.revision(), now, r.generation()});
        return absl::OkStatus();
      }
      case K::kDriftReport: {
        const auto& r = in_.drift_report();
        if (auto s = ValidateDriftReport(r); !s.ok()) return s;
        std::vector<std::string> differences;
        for (const std::string& text : r.differences())
          differences.push_back(EscapeControlCharacters(text));
        DriftRecord d{std::move(differences), r.has_time() ? wire::FromTimestamp(r.time()) : now,
                      r.pid(), r.remediated()};
        fleet_->OnDrift(host_, session_, d);
        return absl::OkStatus();
      }
      case K::kHeartbeat: {
        const auto& hb = in_.heartbeat();
        if (auto s = ValidateHeartbeat(hb); !s.ok()) return s;
        std::optional<absl::Time> agent_time;
        if (hb.has_time()) agent_time = wire::FromTimestamp(hb.time());
        fleet_->OnHeartbeat(host_, session_, now, agent_time, Escaped(hb.degraded()));
        return absl::OkStatus();
      }
      case K::kTrafficBatch:
        return HandleTrafficBatch(in_.traffic_batch(), now);
      default:
        return absl::InvalidArgumentError("message carries no known kind");
    }
  }

  // The stream is no longer one without a Hello (called from the read path and OnDone only).
  void SpokeOrEnded() {
    if (silent_peer_) silent_->Release(*silent_peer_);
    silent_peer_.reset();
  }

  absl::Status HandleHello(const v1::Hello& hello) {
    if (auto s = ValidateHello(hello); !s.ok()) return s;
    if (!insecure_) {
      if (auto s = AuthorizeAgent(*context_->auth_context(), hello.host()); !s.ok()) return s;
    }
    host_ = hello.host();
    auto session = fleet_->Connect(
        {hello.host(), hello.agent_version(), hello.applied_revision(), hello.ruleset_hash(),
         Escaped(hello.degraded()), hello.applied_generation()},
        this, absl::Now());
    if (!session.ok()) return session.status();
    session_ = *session;
    if (open_ != nullptr) open_->SetHost(this, host_);
    return absl::OkStatus();
  }

  Fleet* const fleet_;
  grpc::CallbackServerContext* const context_;
  const bool insecure_;
  SilentStreams* const silent_;
  OpenStreams* const open_;                 // null when insecure
  TrafficStore* const traffic_;             // null: batches are refused
  TrafficMarks* const marks_;               // null: this controller's own mark only
  std::optional<std::string> silent_peer_;  // admitted, and no message read yet
  v1::AgentMessage in_;                     // touched only by the read path
  std::string host_;
  uint64_t session_ = 0;

  absl::Mutex mu_;
  ArenaMessage out_ ABSL_GUARDED_BY(mu_);      // being written
  ArenaMessage pending_ ABSL_GUARDED_BY(mu_);  // the next to write (empty: none)
  std::deque<std::pair<uint64_t, uint64_t>> acks_ ABSL_GUARDED_BY(mu_);  // (epoch, sequence)
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
};

// A stream refused at once; deletes itself when gRPC is done with it.
class RefusedStream final : public Reactor {
 public:
  void OnDone() override { delete this; }
};

}  // namespace

bool SilentStreams::Admit(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  int& n = count_[peer];
  if (n >= kMaxPerPeer) return false;
  ++n;
  return true;
}

void SilentStreams::Release(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto it = count_.find(peer);
  if (it != count_.end() && --it->second <= 0) count_.erase(it);
}

int SilentStreams::Count(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = count_.find(peer);
  return it == count_.end() ? 0 : it->second;
}

Reactor* AgentServiceImpl::Connect(grpc::CallbackServerContext* context) {
  if (new_streams_ != nullptr && !new_streams_->Admit(absl::Now())) {
    // Refused before any work: the agent tries another controller after a random delay.
    auto* refused = new RefusedStream();
    refused->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "controller busy: too many new agent streams per second, "
                                 "try again later or another controller"));
    return refused;
  }
  return new AgentStream(fleet_, context, insecure_, &silent_, open_, traffic_, marks_);
}

}  // namespace polder::controller
