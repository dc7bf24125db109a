// The Admin gRPC service (status, quarantine, release, postures, audit log): checks
// that the caller holds an admin certificate, validates the request and
// translates between proto and Fleet types.
#ifndef POLDER_CONTROLLER_ADMIN_SERVICE_H_
#define POLDER_CONTROLLER_ADMIN_SERVICE_H_

#include <functional>
#include <vector>

#include "controller/bundle_sync.h"
#include "controller/fleet.h"
#include "controller/open_streams.h"
#include "controller/traffic_marks.h"
#include "controller/traffic_store.h"
#include "polder/v1/polder.grpc.pb.h"

namespace polder::controller {

class AdminServiceImpl final : public v1::Admin::CallbackService {
 public:
  // `open` (optional): the agent streams, for each connected host's certificate expiry.
  using MembersFn = std::function<absl::StatusOr<std::vector<MemberInfo>>()>;
  // `bundles` (optional): the store's policy bundle, for Publish and Status. `members`
  // (optional): the live controllers on a shared store, for Status. `traffic` (optional): the
  // observed traffic Traffic answers from (none: FAILED_PRECONDITION). `traffic_marks`
  // (optional, a shared store): the controllers holding traffic, listed in each Traffic answer.
  AdminServiceImpl(Fleet* fleet, bool insecure, const OpenStreams* open = nullptr,
                   BundleSync* bundles = nullptr, MembersFn members = nullptr,
                   TrafficStore* traffic = nullptr, TrafficMarks* traffic_marks = nullptr)
      : fleet_(fleet),
        insecure_(insecure),
        open_(open),
        bundles_(bundles),
        members_(std::move(members)),
        traffic_(traffic),
        traffic_marks_(traffic_marks) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v1::StatusRequest* req,
                                   v1::StatusResponse* resp) override;
  grpc::ServerUnaryReactor* Quarantine(grpc::CallbackServerContext* ctx,
                                       const v1::QuarantineRequest* req,
                                       v1::QuarantineResponse* resp) override;
  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* ctx, const v1::ReleaseRequest* req,
                                    v1::ReleaseResponse* resp) override;
  grpc::ServerUnaryReactor* ActivatePosture(grpc::CallbackServerContext* ctx,
                                            const v1::ActivatePostureRequest* req,
                                            v1::PostureResponse* resp) override;
  grpc::ServerUnaryReactor* ReleasePosture(grpc::CallbackServerContext* ctx,
                                           const v1::ReleasePostureRequest* req,
                                           v1::PostureResponse* resp) override;
  grpc::ServerUnaryReactor* AuditLog(grpc::CallbackServerContext* ctx,
                                     const v1::AuditLogRequest* req,
                                     v1::AuditLogResponse* resp) override;
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* ctx, const v1::PublishRequest* req,
                                    v1::PublishResponse* resp) override;
  // The stored reports since `since` (hourly within raw retention, daily before), newest kept
  // when they exceed wire::kMaxTrafficResponseBytes, with each host's coverage.
  grpc::ServerUnaryReactor* Traffic(grpc::CallbackServerContext* ctx, const v1::TrafficRequest* req,
                                    v1::TrafficResponse* resp) override;

 private:
  // The admin's name, or an error status to finish the call with.
  absl::StatusOr<std::string> Actor(grpc::CallbackServerContext* ctx) const;

  Fleet* const fleet_;
  const bool insecure_;
  const OpenStreams* const open_;
  BundleSync* const bundles_;
  const MembersFn members_;
  TrafficStore* const traffic_;
  TrafficMarks* const traffic_marks_;  // null: a controller alone
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_ADMIN_SERVICE_H_
