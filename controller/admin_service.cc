#include "controller/admin_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/log.h"
#include "controller/message_validation.h"
#include "controller/peer_auth.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/traffic_proto.h"

namespace polder::controller {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpc(s));
  return r;
}

}  // namespace

absl::StatusOr<std::string> AdminServiceImpl::Actor(grpc::CallbackServerContext* ctx) const {
  if (insecure_) return absl::StrCat("insecure:", ctx->peer());
  auto admin = AuthorizeAdmin(*ctx->auth_context());
  if (!admin.ok())
    Log(absl::StrCat("admin call from ", ctx->peer(), " refused: ", admin.status().message()));
  return admin;
}

grpc::ServerUnaryReactor* AdminServiceImpl::Status(grpc::CallbackServerContext* ctx,
                                                   const v1::StatusRequest*,
                                                   v1::StatusResponse* resp) {
  if (auto a = Actor(ctx); !a.ok()) return Done(ctx, a.status());
  FleetStatus s = fleet_->Status();
  std::map<std::string, absl::Time> cert_expiries;
  if (open_ != nullptr) cert_expiries = open_->CertExpiries();
  resp->set_revision(s.revision);
  resp->set_policy_error(s.policy_error);
  if (bundles_ != nullptr) {
    if (auto adopted = bundles_->adopted()) resp->set_policy_revision(adopted->revision);
  }
  if (members_) {
    auto members = members_();
    if (!members.ok()) {
      resp->set_members_error(std::string(members.status().message()));
    } else {
      for (const auto& m : *members) {
        auto* out = resp->add_members();
        out->set_id(m.id);
        out->set_address(m.address);
        out->set_leader(m.leader);
      }
    }
  }
  for (const auto& h : s.hosts) {
    auto* out = resp->add_hosts();
    out->set_host(h.host);
    out->set_connected(h.connected);
    out->set_desired_revision(h.desired_revision);
    out->set_applied_revision(h.applied_revision);
    out->set_drift(h.drift);
    if (h.last_report) wire::SetTimestamp(*h.last_report, out->mutable_last_report());
    out->set_quarantined(h.quarantined);
    out->set_last_error(h.last_error);
    out->set_reported_revision(h.reported_revision);
    if (auto it = cert_expiries.find(h.host); h.connected && it != cert_expiries.end())
      wire::SetTimestamp(it->second, out->mutable_cert_expires());
    for (const auto& d : h.degraded) out->add_degraded(d);
  }
  for (const auto& q : s.quarantines) {
    auto* out = resp->add_quarantines();
    out->set_target(q.target);
    for (const auto& z : q.allow) out->add_allow(z);
    out->set_reason(q.reason);
    out->set_actor(q.actor);
    wire::SetTimestamp(q.since, out->mutable_since());
    out->set_not_recorded(s.unrecorded_quarantines.count(q.target) > 0);
  }
  if (s.posture) {
    auto* out = resp->mutable_posture();
    out->set_name(s.posture->name);
    out->set_reason(s.posture->reason);
    out->set_actor(s.posture->actor);
    wire::SetTimestamp(s.posture->since, out->mutable_since());
    out->set_forced(s.posture->forced);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::Quarantine(grpc::CallbackServerContext* ctx,
                                                       const v1::QuarantineRequest* req,
                                                       v1::QuarantineResponse* resp) {
  auto actor = Actor(ctx);
  if (!actor.ok()) return Done(ctx, actor.status());
  if (auto s = ValidateQuarantineRequest(*req); !s.ok()) return Done(ctx, s);
  QuarantineRecord order{req->target(),
                         {req->allow().begin(), req->allow().end()},
                         req->reason(),
                         *actor,
                         absl::Now()};
  auto revision = fleet_->Quarantine(std::move(order), absl::Now());
  if (!revision.ok()) return Done(ctx, revision.status());
  resp->set_revision(*revision);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::Release(grpc::CallbackServerContext* ctx,
                                                    const v1::ReleaseRequest* req,
                                                    v1::ReleaseResponse* resp) {
  auto actor = Actor(ctx);
  if (!actor.ok()) return Done(ctx, actor.status());
  if (auto s = ValidateReleaseRequest(*req); !s.ok()) return Done(ctx, s);
  auto revision = fleet_->Release(req->target(), *actor, absl::Now(), req->reason());
  if (!revision.ok()) return Done(ctx, revision.status());
  resp->set_revision(*revision);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::ActivatePosture(grpc::CallbackServerContext* ctx,
                                                            const v1::ActivatePostureRequest* req,
                                                            v1::PostureResponse* resp) {
  auto actor = Actor(ctx);
  if (!actor.ok()) return Done(ctx, actor.status());
  if (auto s = ValidateActivatePostureRequest(*req); !s.ok()) return Done(ctx, s);
  PostureRecord order{req->name(), req->reason(), *actor, absl::Now(), req->force()};
  auto revision = fleet_->ActivatePosture(std::move(order), absl::Now());
  if (!revision.ok()) return Done(ctx, revision.status());
  resp->set_revision(*revision);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReleasePosture(grpc::CallbackServerContext* ctx,
                                                           const v1::ReleasePostureRequest* req,
                                                           v1::PostureResponse* resp) {
  auto actor = Actor(ctx);
  if (!actor.ok()) return Done(ctx, actor.status());
  if (auto s = ValidateReleasePostureRequest(*req); !s.ok()) return Done(ctx, s);
  auto revision = fleet_->ReleasePosture(req->name(), *actor, absl::Now(), req->reason());
  if (!revision.ok()) return Done(ctx, revision.status());
  resp->set_revision(*revision);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::AuditLog(grpc::CallbackServerContext* ctx,
                                                     const v1::AuditLogRequest* req,
                                                     v1::AuditLogResponse* resp) {
  if (auto a = Actor(ctx); !a.ok()) return Done(ctx, a.status());
  int limit = req->limit() == 0 ? 100 : static_cast<int>(std::min<uint32_t>(req->limit(), 10000));
  std::optional<absl::Time> since;
  if (req->has_since()) {
    if (!wire::IsValidTimestamp(req->since()))
      return Done(ctx, absl::InvalidArgumentError("audit log: since is not a valid timestamp"));
    since = wire::FromTimestamp(req->since());
  }
  auto log = fleet_->AuditLog(limit, since);
  if (!log.ok()) return Done(ctx, log.status());
  for (const auto& e : *log) {
    auto* out = resp->add_entries();
    out->set_id(e.id);
    wire::SetTimestamp(e.time, out->mutable_time());
    out->set_kind(e.kind);
    out->set_actor(e.actor);
    out->set_target(e.target);
    out->set_detail(e.detail);
    out->set_reason(e.reason);
    out->set_revision(e.revision);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::Publish(grpc::CallbackServerContext* ctx,
                                                    const v1::PublishRequest* req,
                                                    v1::PublishResponse* resp) {
  auto actor = Actor(ctx);
  if (!actor.ok()) return Done(ctx, actor.status());
  if (bundles_ == nullptr)
    return Done(ctx, absl::UnimplementedError("this controller does not take published policies"));
  if (req->reason().size() > 1024)
    return Done(ctx, absl::InvalidArgumentError("publish: reason is longer than 1024 bytes"));
  std::map<std::string, std::string> files;
  for (const auto& f : req->files()) {
    if (!files.emplace(f.path(), f.content()).second)
      return Done(ctx, absl::InvalidArgumentError(
                           absl::StrCat("publish: file '", f.path(), "' is given twice")));
  }
  auto bundle = PolicyBundle::FromFiles(std::move(files));
  if (!bundle.ok()) return Done(ctx, bundle.status());
  auto result = bundles_->Publish(*bundle, *actor, req->reason(), absl::Now());
  if (!result.ok()) {
    Log(absl::StrCat("publish by ", *actor, " refused: ", result.status().message()));
    return Done(ctx, absl::Status(result.status().code(),
                                  absl::StrCat("not published: ", result.status().message())));
  }
  if (result->lost_race) {
    return Done(ctx, absl::AbortedError(absl::StrCat(
                         "another controller published revision ", result->revision,
                         " first; every controller serves that one now. Publish again to "
                         "replace it.")));
  }
  Log(absl::StrCat("publish by ", *actor, ": revision ", result->revision,
                   result->published ? "" : " (unchanged)"));
  resp->set_revision(result->revision);
  resp->set_previous_revision(result->previous_revision);
  resp->set_unchanged(!result->published);
  resp->set_served_revision(fleet_->Status().revision);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::Traffic(grpc::CallbackServerContext* ctx,
                                                    const v1::TrafficRequest* req,
                                                    v1::TrafficResponse* resp) {
  if (auto a = Actor(ctx); !a.ok()) return Done(ctx, a.status());
  if (auto s = ValidateTrafficRequest(*req); !s.ok()) return Done(ctx, s);
  if (traffic_ == nullptr)
    return Done(ctx, absl::FailedPreconditionError("this controller stores no traffic"));
  absl::Time since = req->has_since() ? wire::FromTimestamp(req->since()) : absl::InfinitePast();
  absl::Time now = absl::Now();
  // A stored sample is under ~64 bytes on the wire; the cap on samples keeps the answer under
  // the limit, and the byte check below stops before it regardless.
  auto answer = traffic_->Query(since, req->host(), now, wire::kMaxTrafficResponseBytes / 64);
  if (!answer.ok()) return Done(ctx, answer.status());
  uint64_t truncated = answer->truncated_reports;
  size_t bytes = 0;
  // Newest first, so that what is left out is the oldest.
  for (auto it = answer->reports.rbegin(); it != answer->reports.rend(); ++it) {
    v1::TrafficBatch batch;
    wire::ToProto(*it, &batch);
    size_t size = batch.ByteSizeLong() + 8;
    if (bytes + size > wire::kMaxTrafficResponseBytes - 4096) {
      truncated += static_cast<uint64_t>(answer->reports.rend() - it);
      break;
    }
    bytes += size;
    *resp->add_reports() = std::move(batch);
  }
  std::reverse(resp->mutable_reports()->begin(), resp->mutable_reports()->end());
  for (const TrafficStore::Coverage& c : answer->coverage) {
    auto* out = resp->add_coverage();
    out->set_host(c.host);
    out->set_hours(c.hours);
    out->set_lost(c.lost);
    out->set_batches(c.batches);
    out->set_duplicates(c.duplicates);
  }
  resp->set_truncated_reports(truncated);
  resp->set_dropped_connections(answer->dropped_connections);
  resp->set_dropped_hit_packets(answer->dropped_hit_packets);
  resp->set_dropped_rows(answer->dropped_rows);
  if (traffic_marks_ != nullptr) {
    resp->set_controller_id(traffic_marks_->id());
    absl::StatusOr<std::vector<TrafficMarks::Holder>> holders = traffic_marks_->Holders();
    if (!holders.ok()) {
      resp->set_holders_error(std::string(holders.status().message()));
    } else {
      for (const TrafficMarks::Holder& h : *holders) {
        v1::TrafficHolder* out = resp->add_holders();
        out->set_id(h.id);
        out->set_address(h.address);
        wire::SetTimestamp(h.last_stored, out->mutable_last_stored());
      }
    }
  }
  return Done(ctx, absl::OkStatus());
}

}  // namespace polder::controller
