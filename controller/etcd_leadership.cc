#include "controller/etcd_leadership.h"

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/log.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace polder::controller {
namespace {

constexpr char kMembers[] = "/polder/v1/members/";
constexpr char kMembersEnd[] = "/polder/v1/members0";  // '/' + 1
constexpr char kLeaderKey[] = "/polder/v1/election/leader";

absl::Status Failed(const grpc::Status& s, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("etcd: ", what, " failed: ", s.error_message(), " (code ", s.error_code(), ")"));
}

}  // namespace

struct EtcdLeadership::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  int64_t lease_id = 0;  // 0: none held (granted on the next tick)
  std::string last_error;

  void Deadline(grpc::ClientContext& ctx, absl::Duration timeout) const {
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  }
};

EtcdLeadership::EtcdLeadership(LeadershipOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

absl::StatusOr<std::unique_ptr<EtcdLeadership>> EtcdLeadership::Start(
    std::shared_ptr<grpc::Channel> channel, LeadershipOptions options) {
  if (options.member_id.empty() || absl::StrContains(options.member_id, "/"))
    return absl::InvalidArgumentError("leadership: the member id must be non-empty, without '/'");
  if (options.ttl < absl::Seconds(2))
    return absl::InvalidArgumentError("leadership: the lease must last at least 2 s");
  std::unique_ptr<EtcdLeadership> l(new EtcdLeadership(std::move(options)));
  l->impl_->channel = channel;
  l->impl_->kv = etcdserverpb::KV::NewStub(channel);
  l->impl_->lease = etcdserverpb::Lease::NewStub(channel);
  if (auto s = l->Tick(); !s.ok()) return s;
  l->thread_ = std::thread([p = l.get()] { p->Loop(); });
  return l;
}

EtcdLeadership::~EtcdLeadership() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
  bool paused;
  {
    absl::MutexLock lock(&mu_);
    paused = paused_;
  }
  if (impl_->lease_id != 0 && !paused) {
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(impl_->lease_id);
    etcdserverpb::LeaseRevokeResponse reply;
    grpc::ClientContext ctx;
    impl_->Deadline(ctx, options_.timeout);
    impl_->lease->LeaseRevoke(&ctx, req, &reply);  // best effort: else it runs out in one TTL
  }
}

std::optional<Fence> EtcdLeadership::fence() const {
  absl::MutexLock lock(&mu_);
  if (paused_) return fence_;  // a paused process does not know it was paused
  if (!fence_ || absl::Now() >= valid_until_) return std::nullopt;
  return fence_;
}

void EtcdLeadership::PauseRenewalsForTest() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void EtcdLeadership::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.ttl / 3)) {
    {
      absl::MutexLock lock(&mu_);
      if (paused_) continue;
    }
    absl::Status s = Tick();
    std::string error = s.ok() ? "" : std::string(s.message());
    if (error != impl_->last_error && !error.empty())
      Log(absl::StrCat("leadership (member ", options_.member_id, "): ", error));
    impl_->last_error = error;
  }
}

absl::Status EtcdLeadership::Tick() {
  absl::Time started = absl::Now();
  int64_t ttl_seconds = absl::ToInt64Seconds(options_.ttl);
  // 1. Renew the lease (or grant one: at start, or after it ran out).
  if (impl_->lease_id != 0) {
    grpc::ClientContext ctx;
    impl_->Deadline(ctx, options_.timeout);
    auto stream = impl_->lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(impl_->lease_id);
    etcdserverpb::LeaseKeepAliveResponse reply;
    bool renewed = stream->Write(req) && stream->Read(&reply);
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    if (!renewed) return Failed(s, "lease renewal");
    if (reply.ttl() <= 0) {
      Log(absl::StrCat("leadership (member ", options_.member_id,
                       "): the lease ran out; joining again with a new one"));
      impl_->lease_id = 0;
      absl::MutexLock lock(&mu_);
      fence_.reset();
    }
  }
  if (impl_->lease_id == 0) {
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    etcdserverpb::LeaseGrantResponse reply;
    grpc::ClientContext ctx;
    impl_->Deadline(ctx, options_.timeout);
    if (grpc::Status s = impl_->lease->LeaseGrant(&ctx, req, &reply); !s.ok())
      return Failed(s, "lease grant");
    if (!reply.error().empty())
      return absl::UnavailableError(absl::StrCat("etcd: lease grant: ", reply.error()));
    impl_->lease_id = reply.id();
  }
  // 2. Membership (on the lease) and a campaign: create the leader key if there is none.
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(kLeaderKey);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_create_revision(0);
  auto* member = txn.add_success()->mutable_request_put();
  member->set_key(absl::StrCat(kMembers, options_.member_id));
  member->set_value(nlohmann::json{{"address", options_.address}}.dump());
  member->set_lease(impl_->lease_id);
  auto* leader = txn.add_success()->mutable_request_put();
  leader->set_key(kLeaderKey);
  leader->set_value(options_.member_id);
  leader->set_lease(impl_->lease_id);
  *txn.add_failure()->mutable_request_put() = *member;
  txn.add_failure()->mutable_request_range()->set_key(kLeaderKey);
  etcdserverpb::TxnResponse reply;
  grpc::ClientContext ctx;
  impl_->Deadline(ctx, options_.timeout);
  if (grpc::Status s = impl_->kv->Txn(&ctx, txn, &reply); !s.ok()) return Failed(s, "campaign");
  std::optional<Fence> now_fence;
  if (reply.succeeded()) {
    now_fence = Fence{kLeaderKey, reply.header().revision()};
    Log(absl::StrCat("leadership: member ", options_.member_id, " is the leader (revision ",
                     now_fence->create_revision, ")"));
  } else if (reply.responses_size() == 2 && reply.responses(1).response_range().kvs_size() == 1) {
    const auto& kv = reply.responses(1).response_range().kvs(0);
    // Still ours (the key is on our lease): still the leader, with the fence it was created at.
    if (kv.lease() == impl_->lease_id) now_fence = Fence{kLeaderKey, kv.create_revision()};
  }
  absl::MutexLock lock(&mu_);
  if (fence_ && !now_fence)
    Log(absl::StrCat("leadership: member ", options_.member_id, " is no longer the leader"));
  fence_ = now_fence;
  // Valid for the lease's TTL from before the renewal was sent, less a margin for clock rates.
  valid_until_ = started + options_.ttl * 0.8;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MemberInfo>> EtcdLeadership::Members() const {
  etcdserverpb::TxnRequest txn;  // members and leader in one consistent read
  auto* members = txn.add_success()->mutable_request_range();
  members->set_key(kMembers);
  members->set_range_end(kMembersEnd);
  txn.add_success()->mutable_request_range()->set_key(kLeaderKey);
  etcdserverpb::TxnResponse reply;
  grpc::ClientContext ctx;
  impl_->Deadline(ctx, options_.timeout);
  if (grpc::Status s = impl_->kv->Txn(&ctx, txn, &reply); !s.ok())
    return Failed(s, "reading members");
  if (reply.responses_size() != 2) return absl::InternalError("members: unexpected reply");
  std::string leader;
  if (reply.responses(1).response_range().kvs_size() == 1)
    leader = reply.responses(1).response_range().kvs(0).value();
  std::vector<MemberInfo> out;
  for (const auto& kv : reply.responses(0).response_range().kvs()) {
    MemberInfo m;
    m.id = kv.key().substr(sizeof(kMembers) - 1);
    auto j = nlohmann::json::parse(kv.value(), nullptr, false);
    if (j.is_object() && j.contains("address") && j["address"].is_string())
      m.address = j["address"].get<std::string>();
    m.leader = m.id == leader;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace polder::controller
