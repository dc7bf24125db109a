#include "controller/traffic_marks.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace polder::controller {
namespace {

constexpr char kPrefix[] = "/polder/v1/traffic-marks/";
constexpr char kHolders[] = "/polder/v1/traffic-holders/";
constexpr char kHoldersEnd[] = "/polder/v1/traffic-holders0";  // '/' + 1
constexpr absl::Duration kNoteEvery = absl::Minutes(1);
// Two controllers advancing one host's mark at once (only around a failover): a few rounds of
// compare-and-swap settle it.
constexpr int kAdvanceAttempts = 4;

absl::Status Failed(const grpc::Status& s, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("etcd: ", what, " of a traffic mark failed: ",
                                             s.error_message(), " (code ", s.error_code(), ")"));
}

class EtcdMarks : public TrafficMarks {
 public:
  EtcdMarks(std::shared_ptr<grpc::Channel> channel, std::string id, std::string address,
            absl::Duration timeout)
      : kv_(etcdserverpb::KV::NewStub(channel)),
        id_(std::move(id)),
        address_(std::move(address)),
        timeout_(timeout) {}

  const std::string& id() const override { return id_; }

  absl::Status NoteStored(absl::Time now) override {
    {
      absl::MutexLock lock(&mu_);
      if (now - last_noted_ < kNoteEvery) return absl::OkStatus();
    }
    etcdserverpb::PutRequest put;
    put.set_key(absl::StrCat(kHolders, id_));
    put.set_value(absl::StrCat(address_, " ", absl::ToUnixSeconds(now)));
    etcdserverpb::PutResponse reply;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    if (grpc::Status s = kv_->Put(&ctx, put, &reply); !s.ok()) return Failed(s, "holder write");
    absl::MutexLock lock(&mu_);
    last_noted_ = now;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Holder>> Holders() override {
    etcdserverpb::RangeRequest req;
    req.set_key(kHolders);
    req.set_range_end(kHoldersEnd);
    etcdserverpb::RangeResponse reply;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    if (grpc::Status s = kv_->Range(&ctx, req, &reply); !s.ok()) return Failed(s, "holders read");
    std::vector<Holder> out;
    for (const auto& kv : reply.kvs()) {
      std::vector<std::string> parts = absl::StrSplit(kv.value(), ' ');
      int64_t seconds = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &seconds)) {
        return absl::DataLossError(absl::StrCat("traffic holder ", kv.key(),
                                                " is not \"ADDRESS SECONDS\""));
      }
      out.push_back({kv.key().substr(sizeof(kHolders) - 1), parts[0],
                     absl::FromUnixSeconds(seconds)});
    }
    return out;
  }

  absl::StatusOr<Mark> Get(const std::string& host) override {
    absl::StatusOr<Stored> s = Read(host);
    if (!s.ok()) return s.status();
    return s->mark;
  }

  absl::Status Advance(const std::string& host, Mark to) override {
    for (int attempt = 0; attempt < kAdvanceAttempts; ++attempt) {
      absl::StatusOr<Stored> now = Read(host);
      if (!now.ok()) return now.status();
      if (to <= now->mark) return absl::OkStatus();
      etcdserverpb::TxnRequest txn;
      auto* cmp = txn.add_compare();
      cmp->set_key(Key(host));
      cmp->set_target(etcdserverpb::Compare::MOD);
      cmp->set_result(etcdserverpb::Compare::EQUAL);
      cmp->set_mod_revision(now->mod_revision);  // 0: the key does not exist yet
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(Key(host));
      put->set_value(absl::StrCat(to.first, " ", to.second));
      etcdserverpb::TxnResponse reply;
      grpc::ClientContext ctx;
      SetDeadline(ctx);
      if (grpc::Status s = kv_->Txn(&ctx, txn, &reply); !s.ok()) return Failed(s, "write");
      if (reply.succeeded()) return absl::OkStatus();
    }
    return absl::AbortedError(
        absl::StrCat("traffic mark of ", host, " kept changing under ", kAdvanceAttempts,
                     " attempts to raise it"));
  }

 private:
  struct Stored {
    Mark mark{0, 0};
    int64_t mod_revision = 0;
  };

  static std::string Key(const std::string& host) { return absl::StrCat(kPrefix, host); }

  void SetDeadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout_));
  }

  absl::StatusOr<Stored> Read(const std::string& host) {
    etcdserverpb::RangeRequest req;
    req.set_key(Key(host));
    etcdserverpb::RangeResponse reply;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    if (grpc::Status s = kv_->Range(&ctx, req, &reply); !s.ok()) return Failed(s, "read");
    Stored out;
    if (reply.kvs_size() == 0) return out;
    const auto& kv = reply.kvs(0);
    std::vector<std::string> parts = absl::StrSplit(kv.value(), ' ');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &out.mark.first) ||
        !absl::SimpleAtoi(parts[1], &out.mark.second)) {
      return absl::DataLossError(absl::StrCat("traffic mark of ", host, " is not \"EPOCH SEQUENCE\": \"",
                                              kv.value().substr(0, 64), "\""));
    }
    out.mod_revision = kv.mod_revision();
    return out;
  }

  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  const std::string id_, address_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  absl::Time last_noted_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace

std::unique_ptr<TrafficMarks> EtcdTrafficMarks(std::shared_ptr<grpc::Channel> channel,
                                               std::string id, std::string address,
                                               absl::Duration timeout) {
  return std::make_unique<EtcdMarks>(std::move(channel), std::move(id), std::move(address),
                                     timeout);
}

}  // namespace polder::controller
