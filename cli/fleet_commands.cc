#include "cli/fleet_commands.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <mutex>
#include <regex>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "cli/cli_common.h"
#include "cli/pki_commands.h"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/rfc3339.h"
#include "wire/tls_credentials.h"

namespace polder::cli {

void AddConnectionOptions(CLI::App* cmd, ControllerConnection* c) {
  cmd->add_option("--controller", c->controller, "Controller HOST:PORT")->required();
  auto* tls = cmd->add_option("--tls-dir", c->tls_dir,
                              "Directory with ca.crt and admin.crt/admin.key "
                              "(polder pki issue DIR --admin NAME)");
  auto* ins = cmd->add_flag("--insecure", c->insecure, "No TLS (controller runs --insecure)");
  tls->excludes(ins);
}

std::string WhyUnreachable(const std::string& grpc_message) {
  std::string m = absl::AsciiStrToLower(grpc_message);
  auto has = [&](absl::string_view s) { return absl::StrContains(m, s); };
  if (has("connection refused"))
    return "connection refused (is polder-controller listening there?)";
  // Before the TLS words: a name such as tls.example.org is in the message of a failed lookup.
  if (has("dns resolution failed") || has("name or service not known") || has("resolution"))
    return "cannot resolve the controller's name";
  if (has("ssl") || has("tls") || has("handshake") || has("certificate")) {
    // gRPC says e.g. "...: Ssl handshake failed: SSL_ERROR_SSL:
    // error:...:CERTIFICATE_VERIFY_FAILED".
    std::string detail = grpc_message;
    if (size_t at = detail.rfind(':'); at != std::string::npos && at + 1 < detail.size())
      detail = std::string(absl::StripAsciiWhitespace(detail.substr(at + 1)));
    return absl::StrCat("TLS handshake failed (", detail,
                        "); check that --tls-dir holds an admin certificate of this "
                        "controller's CA (polder pki issue DIR --admin NAME)");
  }
  if (has("no route to host")) return "no route to host";
  if (has("network is unreachable")) return "network is unreachable";
  if (has("connection reset")) return "connection reset by the controller's side";
  return grpc_message;
}

namespace {

using Connection = ControllerConnection;

// A controller that has not connected within this long is unreachable: a
// dropped SYN or a silent peer would otherwise keep the command waiting for
// the whole call deadline.
constexpr int kConnectTimeoutSeconds = 5;
// An answer may wait for a rollout (quarantine, release).
constexpr int kCallTimeoutSeconds = 15;
// A question (status, audit log) is answered at once by a controller that works.
constexpr int kQueryTimeoutSeconds = 5;
// A publish is answered once its controller has compiled the policy and sent every agent of
// its own the new ruleset: about 15 s for 10,000 agents of a 30,000-host fleet here
// (bench/ha). The publish is recorded before that.
constexpr int kPublishTimeoutSeconds = 60;

std::chrono::system_clock::time_point SecondsFromNow(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// gRPC's own log lines ("E1202 ... Handshake failed ...") would come before the command's one
// message that says the same in words: the command line keeps stderr to its own messages.
void SilenceGrpcLog() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function([](gpr_log_func_args*) {}); });
}

// A channel to the controller, with TLS from --tls-dir or without (--insecure).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Connection& c) {
  SilenceGrpcLog();
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
  // Traffic answers may be larger than gRPC's default 4 MiB.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxTrafficResponseBytes));
  return grpc::CreateCustomChannel(c.controller, creds, args);
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
                                                const Request& request,
                                                int call_timeout_seconds = kCallTimeoutSeconds) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(c);
  if (!channel.ok()) return channel.status();
  if (!Settled(**channel)) {
    return absl::UnavailableError(absl::StrCat("cannot reach controller ", c.controller,
                                               ": connection timed out after ",
                                               kConnectTimeoutSeconds, " s"));
  }
  std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(SecondsFromNow(call_timeout_seconds));
  Answer<Response> answer;
  answer.status = ((*stub).*method)(&ctx, request, &answer.response);
  const grpc::Status& s = answer.status;
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat("cannot reach controller ", c.controller, ": ",
                                               WhyUnreachable(s.error_message())));
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // An order the controller took but could not yet commit (its store has no quorum, say)
    // may still take effect: say so rather than let a timeout read as "nothing happened".
    return absl::DeadlineExceededError(absl::StrCat(
        "controller ", c.controller, " did not answer within ", call_timeout_seconds,
        " s; an order (quarantine, release, posture, publish) may still take effect once its "
        "store answers: check `polder status` and `polder audit`"));
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
                                  const Request& request, OnAnswer on_answer,
                                  int call_timeout_seconds = kCallTimeoutSeconds) {
  absl::StatusOr<Answer<Response>> answer =
      CallController(c, method, request, call_timeout_seconds);
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

v1::ReleasePostureRequest ReleaseRequest(const std::string& name, const std::string& reason = "") {
  v1::ReleasePostureRequest req;
  req.set_name(name);
  req.set_reason(reason);
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

absl::StatusOr<int> RunPostureRelease(const Connection& c, const std::string& name,
                                      const std::string& reason) {
  return AskController(c, &v1::Admin::Stub::ReleasePosture, ReleaseRequest(name, reason),
                       [&](const v1::PostureResponse& resp) {
                         std::cout << "posture " << name
                                   << " released; controller now serves revision "
                                   << resp.revision() << "\n";
                       });
}

absl::StatusOr<int> RunStatus(const Connection& c, const std::string& format, bool errors) {
  return AskController(
      c, &v1::Admin::Stub::Status, v1::StatusRequest(),
      [&](const v1::StatusResponse& resp) {
        if (format == "json") {
          std::cout << StatusJson(resp).dump(2) << "\n";
        } else {
          std::cout << (errors ? StatusErrorsText(resp) : StatusText(resp));
        }
      },
      kQueryTimeoutSeconds);
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

absl::StatusOr<int> RunRelease(const Connection& c, const std::string& target,
                               const std::string& reason) {
  v1::ReleaseRequest req;
  req.set_target(target);
  req.set_reason(reason);
  return AskController(c, &v1::Admin::Stub::Release, req, [&](const v1::ReleaseResponse& resp) {
    std::cout << "released " << target << "; controller now serves revision " << resp.revision()
              << "\n";
  });
}

void AddStatus(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand("status", "Show every host's state as the controller sees it");
  auto c = std::make_shared<Connection>();
  auto format = std::make_shared<std::string>("text");
  auto errors = std::make_shared<bool>(false);
  AddConnectionOptions(cmd, c.get());
  cmd->add_option("--format", *format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_flag("--errors", *errors,
                "Print the refused policy's diagnostics, apply errors and degraded hosts in full");
  OnChosen(cmd, chosen, [c, format, errors] { return RunStatus(*c, *format, *errors); });
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
  auto rreason = std::make_shared<std::string>();
  AddConnectionOptions(release, rc.get());
  release->add_option("NAME", *rname, "Posture")->required();
  release->add_option("--reason", *rreason, "Why (recorded in the audit log)");
  OnChosen(release, chosen, [=] { return RunPostureRelease(*rc, *rname, *rreason); });
}

void AddRelease(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand("release", "End the quarantine of a zone or host");
  auto c = std::make_shared<Connection>();
  auto target = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  AddConnectionOptions(cmd, c.get());
  cmd->add_option("TARGET", *target, "Zone or host")->required();
  cmd->add_option("--reason", *reason, "Why (recorded in the audit log)");
  OnChosen(cmd, chosen, [=] { return RunRelease(*c, *target, *reason); });
}

}  // namespace

nlohmann::ordered_json StatusJson(const v1::StatusResponse& status) {
  nlohmann::ordered_json out;
  out["revision"] = status.revision();
  if (!status.policy_revision().empty()) out["policy_revision"] = status.policy_revision();
  if (status.members_size() > 0 || !status.members_error().empty()) {
    out["controllers"] = nlohmann::ordered_json::array();
    for (const auto& m : status.members())
      out["controllers"].push_back(
          {{"id", m.id()}, {"address", m.address()}, {"leader", m.leader()}});
    if (!status.members_error().empty()) out["controllers_error"] = status.members_error();
  }
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
    // Issue 13: what keeps the host from being fully enforced and watched; [] when healthy.
    j["degraded"] = std::vector<std::string>(h.degraded().begin(), h.degraded().end());
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
         {"actor", q.actor()},
         {"recorded", !q.not_recorded()}});
  }
  // Spec §11: the active posture's name, null when none.
  out["posture"] = status.has_posture() ? nlohmann::ordered_json(status.posture().name())
                                        : nlohmann::ordered_json(nullptr);
  return out;
}

namespace {

// `text` cut to about `width` bytes at a UTF-8 boundary, with "..." when cut.
std::string Shorten(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  size_t cut = width;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "...");
}

// The controller's refusal, "N error(s) in the policy; FILE:L:C: MSG [code]; ...": its
// diagnostics, each starting with a citation (a message may hold "; " itself).
std::vector<std::string> RefusalDiagnostics(const std::string& policy_error) {
  static const std::regex kNext(R"(; (?=[^\s;]+:\d+:\d+: ))");
  std::vector<std::string> parts(
      std::sregex_token_iterator(policy_error.begin(), policy_error.end(), kNext, -1),
      std::sregex_token_iterator());
  if (parts.size() > 1 && absl::StrContains(parts[0], "error(s) in the policy"))
    parts.erase(parts.begin());
  if (!parts.empty() && parts.back() == "...") parts.pop_back();
  if (!parts.empty() && absl::EndsWith(parts.back(), "; ..."))
    parts.back().resize(parts.back().size() - 5);
  return parts;
}

// How many errors the refusal says there are (its count may exceed the ones it lists).
size_t RefusalCount(const std::string& policy_error, size_t listed) {
  size_t n = 0;
  if (size_t at = policy_error.find(" error(s) in the policy");
      at != std::string::npos && absl::SimpleAtoi(policy_error.substr(0, at), &n))
    return std::max(n, listed);
  return listed;
}

// The HEALTH column: "ok", or the kinds of what is wrong ("store-error,clock-skew").
std::string Health(const v1::HostStatus& h) {
  if (h.degraded().empty()) return "ok";
  std::vector<std::string> kinds;
  for (const std::string& d : h.degraded()) kinds.push_back(d.substr(0, d.find(':')));
  return absl::StrJoin(kinds, ",");
}

constexpr size_t kNoteWidth = 60;

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

std::string RefusalSummary(const std::string& policy_error, size_t width) {
  std::vector<std::string> diagnostics = RefusalDiagnostics(policy_error);
  if (diagnostics.empty()) return Shorten(policy_error, width);
  size_t more = RefusalCount(policy_error, diagnostics.size()) - 1;
  std::string first = Shorten(diagnostics[0], width);
  if (more == 0 && diagnostics[0].size() <= width) return first;
  return absl::StrCat(first, " (", more == 0 ? "" : absl::StrCat("+", more, " more; "),
                      "polder status --errors)");
}

std::string StatusText(const v1::StatusResponse& status, absl::Time now) {
  std::string out = absl::StrCat("revision ", status.revision(), "\n");
  if (status.members_size() > 0) {
    std::vector<std::string> names;
    for (const auto& m : status.members())
      names.push_back(absl::StrCat(m.address(), m.leader() ? " (leader)" : ""));
    absl::StrAppend(&out, "controllers ", absl::StrJoin(names, ", "), "\n");
  }
  if (!status.members_error().empty())
    absl::StrAppend(&out, "controllers UNKNOWN: ", status.members_error(), "\n");
  if (!status.policy_error().empty())
    absl::StrAppend(&out, "NEWEST POLICY REFUSED, still serving the revision above: ",
                    RefusalSummary(status.policy_error()), "\n");
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
    absl::StrAppend(&out, "quarantine ", q.target(), " by ", q.actor(), ": ", q.reason(),
                    q.not_recorded() ? " (NOT RECORDED in the state store yet: this controller "
                                       "keeps trying; until then a restart of it lifts it)"
                                     : "",
                    "\n");
  std::string posture = status.has_posture() ? status.posture().name() : "-";
  absl::StrAppend(&out, absl::StrFormat("%-24s %-12s %-8s %-6s %-20s %-16s %-12s %-12s %s\n",
                                        "HOST", "CONNECTED", "APPLIED", "DRIFT", "LAST REPORT",
                                        "POSTURE", "HEALTH", "CERT", "NOTE"));
  bool details = false;
  for (const auto& h : status.hosts()) {
    std::string applied = h.applied_revision().empty() ? "none"
                          : h.applied_revision() == h.desired_revision()
                              ? "current"
                              : h.applied_revision().substr(0, 8);
    std::string note = h.quarantined() ? "quarantined" : "";
    if (!h.last_error().empty()) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", Shorten(h.last_error(), kNoteWidth));
      details = details || h.last_error().size() > kNoteWidth;
    }
    if (!h.reported_revision().empty()) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", "agent claims ",
                      h.reported_revision().substr(0, 8), " (unverified)");
    }
    if (!h.degraded().empty()) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", Shorten(h.degraded(0), kNoteWidth));
      details = details || h.degraded_size() > 1 || h.degraded(0).size() > kNoteWidth;
    }
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-24s %-12s %-8s %-6s %-20s %-16s %-12s %-12s %s\n", h.host(),
            h.connected() ? "yes" : "NO", applied, h.drift() ? "YES" : "no",
            h.has_last_report() ? FormatRfc3339(wire::FromTimestamp(h.last_report())) : "never",
            posture, Health(h), CertColumn(h, now), note));
  }
  if (details) absl::StrAppend(&out, "(notes are cut: polder status --errors has them in full)\n");
  absl::StrAppend(&out, CertWarnings(status, now));
  return out;
}

std::string StatusErrorsText(const v1::StatusResponse& status) {
  std::string out;
  if (!status.policy_error().empty()) {
    std::vector<std::string> diagnostics = RefusalDiagnostics(status.policy_error());
    size_t count = RefusalCount(status.policy_error(), diagnostics.size());
    absl::StrAppend(&out, "NEWEST POLICY REFUSED, still serving revision ", status.revision(), ": ",
                    count, " error(s)\n");
    for (const std::string& d : diagnostics) absl::StrAppend(&out, "  ", d, "\n");
    if (count > diagnostics.size())
      absl::StrAppend(&out, "  ... ", count - diagnostics.size(),
                      " more (polder check on the policy directory lists them all)\n");
  }
  for (const auto& h : status.hosts()) {
    if (!h.last_error().empty())
      absl::StrAppend(&out, "host ", h.host(), ": last apply failed: ", h.last_error(), "\n");
    for (const std::string& d : h.degraded())
      absl::StrAppend(&out, "host ", h.host(), ": degraded: ", d, "\n");
  }
  if (out.empty())
    out = absl::StrCat("no errors: revision ", status.revision(),
                       " is the newest policy, and no host reports an apply error or is "
                       "degraded\n");
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
  return Unwrap(
      c, CallController(c, &v1::Admin::Stub::Status, v1::StatusRequest(), kQueryTimeoutSeconds));
}

absl::StatusOr<v1::AuditLogResponse> FetchAuditLog(const ControllerConnection& c,
                                                   const v1::AuditLogRequest& request) {
  return Unwrap(c, CallController(c, &v1::Admin::Stub::AuditLog, request, kQueryTimeoutSeconds));
}

absl::StatusOr<v1::PublishResponse> PublishTo(const ControllerConnection& c,
                                              const v1::PublishRequest& request) {
  return Unwrap(c, CallController(c, &v1::Admin::Stub::Publish, request, kPublishTimeoutSeconds));
}

absl::StatusOr<v1::TrafficResponse> FetchTraffic(const ControllerConnection& c,
                                                 const v1::TrafficRequest& request) {
  return Unwrap(c, CallController(c, &v1::Admin::Stub::Traffic, request, kCallTimeoutSeconds));
}

namespace {

// Adds `from`'s answer to `into`: reports side by side (each controller holds other batches of a
// host), per-host coverage summed (hours: the larger, so a host is never credited with an hour
// twice), and what each left out or dropped summed.
void MergeTraffic(const v1::TrafficResponse& from, v1::TrafficResponse& into) {
  for (const v1::TrafficBatch& r : from.reports()) *into.add_reports() = r;
  for (const v1::TrafficHostCoverage& c : from.coverage()) {
    v1::TrafficHostCoverage* same = nullptr;
    for (v1::TrafficHostCoverage& have : *into.mutable_coverage()) {
      if (have.host() == c.host()) same = &have;
    }
    if (same == nullptr) {
      *into.add_coverage() = c;
      continue;
    }
    same->set_hours(std::max(same->hours(), c.hours()));
    same->set_lost(same->lost() + c.lost());
    same->set_batches(same->batches() + c.batches());
    same->set_duplicates(same->duplicates() + c.duplicates());
  }
  into.set_truncated_reports(into.truncated_reports() + from.truncated_reports());
  into.set_dropped_connections(into.dropped_connections() + from.dropped_connections());
  into.set_dropped_rows(into.dropped_rows() + from.dropped_rows());
  into.set_dropped_hit_packets(into.dropped_hit_packets() + from.dropped_hit_packets());
}


}  // namespace

absl::StatusOr<FleetTraffic> FetchFleetTraffic(const ControllerConnection& c,
                                               const v1::TrafficRequest& request) {
  FleetTraffic out;
  absl::StatusOr<v1::TrafficResponse> own = FetchTraffic(c, request);
  if (!own.ok()) return own.status();
  out.merged = std::move(*own);
  out.answered.push_back(c.controller);
  if (!out.merged.holders_error().empty()) {
    out.missing.push_back(absl::StrCat("the other controllers holding traffic are unknown: ",
                                       out.merged.holders_error()));
  }
  const std::string self = out.merged.controller_id();
  const auto holders = out.merged.holders();
  absl::Time since =
      request.has_since() ? wire::FromTimestamp(request.since()) : absl::InfinitePast();
  for (const v1::TrafficHolder& h : holders) {
    if (h.id() == self) continue;
    // A holder notes its last batch at most once a minute: one noted a little before the
    // window may still hold batches in it.
    if (wire::FromTimestamp(h.last_stored()) + absl::Minutes(2) < since) continue;
    ControllerConnection peer = c;
    peer.controller = h.address();
    absl::StatusOr<v1::TrafficResponse> theirs = FetchTraffic(peer, request);
    if (!theirs.ok()) {
      out.missing.push_back(absl::StrCat(h.address(), " (", h.id(), ", last stored ",
                                         FormatRfc3339(wire::FromTimestamp(h.last_stored())),
                                         "): ", theirs.status().message()));
      continue;
    }
    if (theirs->controller_id() != h.id()) {
      out.missing.push_back(absl::StrCat(h.address(), ": answered as '", theirs->controller_id(),
                                         "', not as the holder '", h.id(),
                                         "' listed there (its traffic left out)"));
      continue;
    }
    MergeTraffic(*theirs, out.merged);
    out.answered.push_back(h.address());
  }
  out.merged.clear_holders();
  return out;
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
