#include "cli/fleet_commands.h"

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/cli_common.h"
#include "cli/pki_commands.h"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/proto_convert.h"
#include "wire/rfc3339.h"
#include "wire/tls_credentials.h"

namespace polder::cli {
namespace {

using Connection = ControllerConnection;

void AddConnectionOptions(CLI::App* cmd, Connection* c) {
  cmd->add_option("--controller", c->controller, "Controller HOST:PORT")->required();
  auto* tls = cmd->add_option("--tls-dir", c->tls_dir,
                              "Directory with ca.crt and admin.crt/admin.key "
                              "(polder pki issue DIR --admin NAME)");
  auto* ins = cmd->add_flag("--insecure", c->insecure, "No TLS (controller runs --insecure)");
  tls->excludes(ins);
}

// A controller that has not connected within this long is unreachable: a
// dropped SYN or a silent peer would otherwise keep the command waiting for
// the whole call deadline.
constexpr int kConnectTimeoutSeconds = 5;
// An answer may wait for a rollout (quarantine, release).
constexpr int kCallTimeoutSeconds = 15;

std::chrono::system_clock::time_point SecondsFromNow(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// A channel to the controller, with TLS from --tls-dir or without (--insecure).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Connection& c) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (c.insecure) {
    std::cerr << "polder: WARNING: talking to the controller without TLS (--insecure)\n";
    creds = grpc::InsecureChannelCredentials();
  } else if (c.tls_dir.empty()) {
    return absl::InvalidArgumentError("give --tls-dir DIR (an admin certificate) or --insecure");
  } else {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> loaded =
        wire::LoadClientCredentials(c.tls_dir);
    if (!loaded.ok()) return loaded.status();
    creds = *loaded;
  }
  return grpc::CreateChannel(c.controller, creds);
}

// Waits until `channel` is connected or has failed to connect (a call then
// fails at once, with gRPC's reason); false if neither happened in time.
bool Settled(grpc::Channel& channel) {
  auto deadline = SecondsFromNow(kConnectTimeoutSeconds);
  for (;;) {
    grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY || state == GRPC_CHANNEL_TRANSIENT_FAILURE ||
        state == GRPC_CHANNEL_SHUTDOWN) {
      return true;
    }
    if (!channel.WaitForStateChange(state, deadline)) return false;
  }
}

// An Admin method of the generated stub, e.g. &v1::Admin::Stub::Status.
template <typename Request, typename Response>
using AdminMethod = grpc::Status (v1::Admin::Stub::*)(grpc::ClientContext*, const Request&,
                                                      Response*);

// The controller's answer: its gRPC status (a refusal such as "not an admin"
// or "nothing to release" when not OK) and, when OK, the response.
template <typename Response>
struct Answer {
  grpc::Status status;
  Response response;
};

// Calls `method` on the controller. An unreachable or silent controller means
// the command cannot run (an error Status); a refusal is in the Answer.
template <typename Request, typename Response>
absl::StatusOr<Answer<Response>> CallController(const Connection& c,
                                                AdminMethod<Request, Response> method,
                                                const Request& request) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(c);
  if (!channel.ok()) return channel.status();
  if (!Settled(**channel)) {
    return absl::UnavailableError(absl::StrCat("cannot reach controller ", c.controller,
                                               ": connection timed out after ",
                                               kConnectTimeoutSeconds, " s"));
  }
  std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(SecondsFromNow(kCallTimeoutSeconds));
  Answer<Response> answer;
  answer.status = ((*stub).*method)(&ctx, request, &answer.response);
  const grpc::Status& s = answer.status;
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach controller ", c.controller, ": ", s.error_message()));
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat(
        "controller ", c.controller, " did not answer within ", kCallTimeoutSeconds, " s"));
  }
  return answer;
}

// The answer as one Status for library callers: a refusal keeps its code
// (gRPC and absl number them alike) and names the controller.
template <typename Response>
absl::StatusOr<Response> Unwrap(const Connection& c, absl::StatusOr<Answer<Response>> answer) {
  if (!answer.ok()) return answer.status();
  if (!answer->status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(answer->status.error_code()),
        absl::StrCat("controller ", c.controller, ": ", answer->status.error_message()));
  }
  return std::move(answer->response);
}

// Calls `method` on the controller and hands its answer to `on_answer`.
// An unreachable or silent controller means the command cannot run (an error
// Status); a refusal of the request itself (not an admin, nothing to release)
// is a finding, printed here.
template <typename Request, typename Response, typename OnAnswer>
absl::StatusOr<int> AskController(const Connection& c, AdminMethod<Request, Response> method,
                                  const Request& request, OnAnswer on_answer) {
  absl::StatusOr<Answer<Response>> answer = CallController(c, method, request);
  if (!answer.ok()) return answer.status();
  const grpc::Status& s = answer->status;
  if (!s.ok()) {
    std::cerr << "polder: controller " << c.controller << ": " << s.error_message() << " ("
              << s.error_code() << ")\n";
    return kExitFindings;
  }
  on_answer(answer->response);
  return kExitOk;
}

v1::ActivatePostureRequest ActivateRequest(const std::string& name, const std::string& reason,
                                           bool force) {
  v1::ActivatePostureRequest req;
  req.set_name(name);
  req.set_reason(reason);
  req.set_force(force);
  return req;
}

v1::ReleasePostureRequest ReleaseRequest(const std::string& name) {
  v1::ReleasePostureRequest req;
  req.set_name(name);
  return req;
}

absl::StatusOr<int> RunPostureActivate(const Connection& c, const std::string& name,
                                       const std::string& reason, bool force) {
  return AskController(c, &v1::Admin::Stub::ActivatePosture, ActivateRequest(name, reason, force),
                       [&](const v1::PostureResponse& resp) {
                         std::cout << "posture " << name << " activated"
                                   << (force ? " (--force given)" : "")
                                   << "; controller now serves revision " << resp.revision()
                                   << "\n";
                       });
}

absl::StatusOr<int> RunPostureRelease(const Connection& c, const std::string& name) {
  return AskController(c, &v1::Admin::Stub::ReleasePosture, ReleaseRequest(name),
                       [&](const v1::PostureResponse& resp) {
                         std::cout << "posture " << name
                                   << " released; controller now serves revision "
                                   << resp.revision() << "\n";
                       });
}

absl::StatusOr<int> RunStatus(const Connection& c, const std::string& format) {
  return AskController(c, &v1::Admin::Stub::Status, v1::StatusRequest(),
                       [&](const v1::StatusResponse& resp) {
                         if (format == "json") {
                           std::cout << StatusJson(resp).dump(2) << "\n";
                         } else {
                           std::cout << StatusText(resp);
                         }
                       });
}

absl::StatusOr<int> RunQuarantine(const Connection& c, const std::string& target,
                                  const std::vector<std::string>& allow,
                                  const std::string& reason) {
  v1::QuarantineRequest req;
  req.set_target(target);
  for (const auto& z : allow) req.add_allow(z);
  req.set_reason(reason);
  return AskController(
      c, &v1::Admin::Stub::Quarantine, req, [&](const v1::QuarantineResponse& resp) {
        std::cout << "quarantined " << target << "; controller now serves revision "
                  << resp.revision() << "\n";
      });
}

absl::StatusOr<int> RunRelease(const Connection& c, const std::string& target) {
  v1::ReleaseRequest req;
  req.set_target(target);
  return AskController(c, &v1::Admin::Stub::Release, req, [&](const v1::ReleaseResponse& resp) {
    std::cout << "released " << target << "; controller now serves revision " << resp.revision()
              << "\n";
  });
}

void AddStatus(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand("status", "Show every host's state as the controller sees it");
  auto c = std::make_shared<Connection>();
  auto format = std::make_shared<std::string>("text");
  AddConnectionOptions(cmd, c.get());
  cmd->add_option("--format", *format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  OnChosen(cmd, chosen, [c, format] { return RunStatus(*c, *format); });
}

void AddQuarantine(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand(
      "quarantine", "Cut a zone or host off, except from the allowed zones and the controller");
  auto c = std::make_shared<Connection>();
  auto target = std::make_shared<std::string>();
  auto allow = std::make_shared<std::vector<std::string>>();
  auto reason = std::make_shared<std::string>();
  AddConnectionOptions(cmd, c.get());
  cmd->add_option("TARGET", *target, "Zone or host")->required();
  cmd->add_option("--allow", *allow, "Zones that keep their access (e.g. management)");
  cmd->add_option("--reason", *reason, "Why (recorded in the audit log)")->required();
  OnChosen(cmd, chosen, [=] { return RunQuarantine(*c, *target, *allow, *reason); });
}

void AddPosture(CLI::App& app, ChosenCommand& chosen) {
  auto* posture = app.add_subcommand("posture",
                                     "Switch a posture of the policy (spec §6a) on or "
                                     "off fleet-wide; at most one is active");
  posture->require_subcommand(1);

  auto* activate = posture->add_subcommand(
      "activate",
      "Activate posture NAME (refused while another is active, or if check finds "
      "it broken, unless --force)");
  auto c = std::make_shared<Connection>();
  auto name = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  AddConnectionOptions(activate, c.get());
  activate->add_option("NAME", *name, "Posture")->required();
  activate->add_option("--reason", *reason, "Why (recorded in the audit log)")->required();
  activate->add_flag("--force", *force,
                     "Activate although check finds a keep entry violated (audited)");
  OnChosen(activate, chosen, [=] { return RunPostureActivate(*c, *name, *reason, *force); });

  auto* release = posture->add_subcommand("release", "Release the active posture NAME");
  auto rc = std::make_shared<Connection>();
  auto rname = std::make_shared<std::string>();
  AddConnectionOptions(release, rc.get());
  release->add_option("NAME", *rname, "Posture")->required();
  OnChosen(release, chosen, [=] { return RunPostureRelease(*rc, *rname); });
}

void AddRelease(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand("release", "End the quarantine of a zone or host");
  auto c = std::make_shared<Connection>();
  auto target = std::make_shared<std::string>();
  AddConnectionOptions(cmd, c.get());
  cmd->add_option("TARGET", *target, "Zone or host")->required();
  OnChosen(cmd, chosen, [=] { return RunRelease(*c, *target); });
}

}  // namespace

nlohmann::ordered_json StatusJson(const v1::StatusResponse& status) {
  nlohmann::ordered_json out;
  out["revision"] = status.revision();
  out["hosts"] = nlohmann::ordered_json::array();
  for (const auto& h : status.hosts()) {
    nlohmann::ordered_json j;
    j["host"] = h.host();
    j["connected"] = h.connected();
    j["desired_revision"] = h.desired_revision();
    j["applied_revision"] = h.applied_revision();
    j["drift"] = h.drift();
    j["last_report"] =
        h.has_last_report()
            ? nlohmann::ordered_json(FormatRfc3339(wire::FromTimestamp(h.last_report())))
            : nlohmann::ordered_json(nullptr);
    j["quarantined"] = h.quarantined();
    // Spec §11: the agent's own claim, only when it differs from what the controller verified.
    if (!h.reported_revision().empty()) j["reported_revision"] = h.reported_revision();
    // Issue 13.4: the connected agent's certificate expiry; null when none is connected.
    j["cert_expires"] =
        h.has_cert_expires()
            ? nlohmann::ordered_json(FormatRfc3339(wire::FromTimestamp(h.cert_expires())))
            : nlohmann::ordered_json(nullptr);
    out["hosts"].push_back(std::move(j));
  }
  // The orders in force, in the order the controller applies them, so that `polder lab probe`
  // can compute the effective policy (compiler/model/quarantine.h) the agents enforce.
  out["quarantines"] = nlohmann::ordered_json::array();
  for (const auto& q : status.quarantines()) {
    out["quarantines"].push_back(
        {{"target", q.target()},
         {"allow", std::vector<std::string>(q.allow().begin(), q.allow().end())},
         {"reason", q.reason()},
         {"actor", q.actor()}});
  }
  // Spec §11: the active posture's name, null when none.
  out["posture"] = status.has_posture() ? nlohmann::ordered_json(status.posture().name())
                                        : nlohmann::ordered_json(nullptr);
  return out;
}

namespace {

// `polder status` warns this long before a host's certificate expires.
constexpr absl::Duration kCertWarning = absl::Hours(24 * 30);

// The CERT column: "-" (no agent connected), the expiry date, or a warning.
std::string CertColumn(const v1::HostStatus& h, absl::Time now) {
  if (!h.has_cert_expires()) return "-";
  absl::Time t = wire::FromTimestamp(h.cert_expires());
  if (t <= now) return "EXPIRED";
  if (t - now < kCertWarning)
    return absl::StrCat("EXPIRES-", absl::ToInt64Hours(t - now) / 24, "d");
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

// One line per host whose certificate expires within kCertWarning, saying what to run.
std::string CertWarnings(const v1::StatusResponse& status, absl::Time now) {
  std::string out;
  for (const auto& h : status.hosts()) {
    if (!h.has_cert_expires()) continue;
    absl::Time t = wire::FromTimestamp(h.cert_expires());
    if (t - now >= kCertWarning) continue;
    absl::StrAppend(
        &out, "WARNING: the certificate of host ", h.host(), t <= now ? " expired " : " expires ",
        FormatRfc3339(t),
        t <= now ? "" : absl::StrCat(" (in ", absl::ToInt64Hours(t - now) / 24, " days)"),
        ": polder pki renew PKI_DIR --host ", h.host(), "\n");
  }
  return out;
}

}  // namespace

std::string StatusText(const v1::StatusResponse& status, absl::Time now) {
  std::string out = absl::StrCat("revision ", status.revision(), "\n");
  if (!status.policy_error().empty())
    absl::StrAppend(&out, "NEWEST POLICY REFUSED, still serving the revision above: ",
                    status.policy_error(), "\n");
  if (status.has_posture()) {
    const v1::PostureInfo& p = status.posture();
    absl::StrAppend(&out, "posture ", p.name(), " active since ",
                    FormatRfc3339(wire::FromTimestamp(p.since())), " by ", p.actor(),
                    p.forced() ? " (FORCED although check finds it broken)" : "", ": ", p.reason(),
                    "\n");
  } else {
    absl::StrAppend(&out, "posture none\n");
  }
  for (const auto& q : status.quarantines())
    absl::StrAppend(&out, "quarantine ", q.target(), " by ", q.actor(), ": ", q.reason(), "\n");
  std::string posture = status.has_posture() ? status.posture().name() : "-";
  absl::StrAppend(
      &out, absl::StrFormat("%-24s %-12s %-8s %-6s %-20s %-16s %-12s %s\n", "HOST", "CONNECTED",
                            "APPLIED", "DRIFT", "LAST REPORT", "POSTURE", "CERT", "NOTE"));
  for (const auto& h : status.hosts()) {
    std::string applied = h.applied_revision().empty() ? "none"
                          : h.applied_revision() == h.desired_revision()
                              ? "current"
                              : h.applied_revision().substr(0, 8);
    std::string note = h.quarantined() ? "quarantined" : "";
    if (!h.last_error().empty()) absl::StrAppend(&note, note.empty() ? "" : "; ", h.last_error());
    if (!h.reported_revision().empty()) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", "agent claims ",
                      h.reported_revision().substr(0, 8), " (unverified)");
    }
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-24s %-12s %-8s %-6s %-20s %-16s %-12s %s\n", h.host(), h.connected() ? "yes" : "NO",
            applied, h.drift() ? "YES" : "no",
            h.has_last_report() ? FormatRfc3339(wire::FromTimestamp(h.last_report())) : "never",
            posture, CertColumn(h, now), note));
  }
  absl::StrAppend(&out, CertWarnings(status, now));
  return out;
}

void AddFleetCommands(CLI::App& app, ChosenCommand& chosen) {
  AddStatus(app, chosen);
  AddPkiCommands(app, chosen);
  AddQuarantine(app, chosen);
  AddRelease(app, chosen);
  AddPosture(app, chosen);
}

absl::StatusOr<v1::StatusResponse> FetchStatus(const ControllerConnection& c) {
  return Unwrap(c, CallController(c, &v1::Admin::Stub::Status, v1::StatusRequest()));
}

absl::StatusOr<std::string> ActivatePostureOn(const ControllerConnection& c,
                                              const std::string& name, const std::string& reason,
                                              bool force) {
  absl::StatusOr<v1::PostureResponse> r = Unwrap(
      c,
      CallController(c, &v1::Admin::Stub::ActivatePosture, ActivateRequest(name, reason, force)));
  if (!r.ok()) return r.status();
  return r->revision();
}

absl::StatusOr<std::string> ReleasePostureOn(const ControllerConnection& c,
                                             const std::string& name) {
  absl::StatusOr<v1::PostureResponse> r =
      Unwrap(c, CallController(c, &v1::Admin::Stub::ReleasePosture, ReleaseRequest(name)));
  if (!r.ok()) return r.status();
  return r->revision();
}

}  // namespace polder::cli
