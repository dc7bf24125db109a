// The etcd v3 state store (`--store etcd:http://H1:P1,http://H2:P2,...`), for several
// controllers sharing one store: every record is a key under /polder/v1/, written through etcd's
// KV API (a Begin/Commit batch becomes transactions of at most kMaxOpsPerTxn operations, etcd's
// default limit). Endpoints are tried in order (gRPC pick_first): a dead member is skipped.
// https:// endpoints need `tls_dir` with ca.crt, client.crt and client.key.
//
// Kept local to each controller, not here: apply-result and drift-report history (only each
// host's latest state is stored), so CountApplyResults/CountDriftReports are unimplemented.
#ifndef POLDER_CONTROLLER_ETCD_STATE_STORE_H_
#define POLDER_CONTROLLER_ETCD_STATE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "controller/state_store.h"

namespace etcdserverpb {
class RequestOp;
}
namespace grpc {
class Channel;
}

namespace polder::controller {

class EtcdStateStore final : public StateStore {
 public:
  static constexpr int kMaxOpsPerTxn = 128;
  // `endpoints`: "http://HOST:PORT" or "https://HOST:PORT" each (HOST an IP address when there
  // are several). `tls_dir` is needed for https.
  static absl::StatusOr<std::unique_ptr<EtcdStateStore>> Open(
      const std::vector<std::string>& endpoints, const std::string& tls_dir = "",
      absl::Duration timeout = absl::Seconds(5));
  ~EtcdStateStore() override;

  absl::Status Begin() override;
  absl::Status Commit() override;
  absl::Status Rollback() override;
  absl::Status SaveRollout(const std::string& revision, wire::Mode mode,
                           const std::vector<DesiredRuleset>& changed,
                           const std::vector<std::string>& all_hosts, absl::Time time,
                           uint64_t generation = 0) override;
  absl::StatusOr<std::optional<ServedRevision>> LoadServed() override;
  absl::StatusOr<uint64_t> LoadGeneration() override;
  bool KeepsRulesetText() const override { return false; }
  absl::Status RecordApply(const std::string& host, const ApplyRecord& r) override;
  absl::Status RecordDrift(const std::string& host, const DriftRecord& r) override;
  absl::Status SetLastReport(const std::string& host, absl::Time time) override;
  absl::Status SetReported(const std::string& host, const std::string& revision,
                           const std::string& hash) override;
  absl::StatusOr<std::vector<HostRecord>> LoadHosts() override;
  absl::Status SaveQuarantine(const QuarantineRecord& q) override;
  absl::Status DeleteQuarantine(const std::string& target) override;
  absl::StatusOr<std::vector<QuarantineRecord>> LoadQuarantines() override;
  absl::Status SavePosture(const PostureRecord& p) override;
  absl::Status DeletePosture() override;
  absl::StatusOr<std::optional<PostureRecord>> LoadPosture() override;
  absl::Status Audit(const AuditRecord& r) override;
  absl::StatusOr<std::vector<AuditRecord>> AuditLog(
      int limit, std::optional<absl::Time> since = std::nullopt) override;
  absl::StatusOr<std::optional<DesiredPolicy>> LoadDesiredPolicy() override;
  absl::StatusOr<std::optional<std::string>> LoadBundle(const std::string& revision) override;
  absl::StatusOr<PublishOutcome> PublishPolicy(const DesiredPolicy& desired,
                                               const std::string& bundle, int64_t expected_version,
                                               const AuditRecord& audit) override;
  absl::StatusOr<int64_t> TrimAudit(absl::Time before, const Fence& fence) override;
  absl::StatusOr<int64_t> CountApplyResults(const std::string& host) override;

  // The connection to etcd, shared with EtcdLeadership (membership and election).
  std::shared_ptr<grpc::Channel> channel() const;
  absl::StatusOr<int64_t> CountDriftReports(const std::string& host) override;

 private:
  // An audit entry's put (Audit, and PublishPolicy's transaction).
  etcdserverpb::RequestOp AuditOp(const AuditRecord& r);
  struct Impl;  // the gRPC stub and the open batch: etcd's generated code stays in the .cc
  explicit EtcdStateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_ETCD_STATE_STORE_H_
