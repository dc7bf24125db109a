// `polder status | pki | quarantine | release | posture`: the commands that talk to a
// running controller or manage its certificates. They live apart from the
// policy commands because they need gRPC and the controller library.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "cli/cli_common.h"
#include "polder/v1/polder.pb.h"

namespace polder::cli {

void AddFleetCommands(CLI::App& app, ChosenCommand& chosen);

// How to reach a controller's Admin service, as --controller, --tls-dir and
// --insecure give it.
struct ControllerConnection {
  std::string controller;  // HOST:PORT
  std::string tls_dir;     // ca.crt and admin.crt/admin.key; or
  bool insecure = false;   // no TLS (the controller runs --insecure)
};

// Adds --controller, --tls-dir and --insecure to `cmd`, filling `c` (which must outlive it).
void AddConnectionOptions(CLI::App* cmd, ControllerConnection* c);

// The audit log, newest first (`polder audit`). Errors as FetchStatus's; an answer within 5 s.
absl::StatusOr<v1::AuditLogResponse> FetchAuditLog(const ControllerConnection& c,
                                                   const v1::AuditLogRequest& request);

// Publishes a policy directory's files (`polder publish`). Errors as FetchStatus's; a refusal
// keeps the controller's code: FailedPrecondition (does not compile), InvalidArgument (too big,
// a bad path), Aborted (another controller published first).
absl::StatusOr<v1::PublishResponse> PublishTo(const ControllerConnection& c,
                                              const v1::PublishRequest& request);

// The observed traffic the controller stores (`polder traffic|unused|suggest --controller`).
// Errors as FetchStatus's; an answer within 15 s.
absl::StatusOr<v1::TrafficResponse> FetchTraffic(const ControllerConnection& c,
                                                 const v1::TrafficRequest& request);

// The observed traffic of the whole fleet. On a shared store (etcd) each controller keeps the
// traffic of the agents it served in its own database; `c`'s answer lists every controller that
// has stored traffic (TrafficResponse.holders), and each whose last batch falls in the window
// is asked too; the answers are merged. `missing` names the holders whose traffic is not in
// `merged` and why (unreachable, an error, the list could not be read): a dead controller's
// traffic is said to be missing, not silently left out. A controller alone answers for itself.
// Errors: as FetchTraffic's, for `c`'s own answer.
struct FleetTraffic {
  v1::TrafficResponse merged;
  std::vector<std::string> answered;  // HOST:PORT of each controller whose traffic is merged
  std::vector<std::string> missing;   // "HOST:PORT: why", or why the members are unknown
};
absl::StatusOr<FleetTraffic> FetchFleetTraffic(const ControllerConnection& c,
                                               const v1::TrafficRequest& request);

// Why a controller could not be reached, from gRPC's message, in the words of
// `cannot reach controller HOST:PORT: WHY`: "connection refused", "TLS handshake failed (...)",
// "cannot resolve the name", ... or gRPC's own message when it is none of those.
std::string WhyUnreachable(const std::string& grpc_message);

// For other commands (`polder lab drill`) that drive a controller as the
// commands above do. Errors: Unavailable / DeadlineExceeded when the
// controller cannot be reached or does not answer (5 s to connect, 15 s for
// the call); a refusal keeps the controller's code and message, e.g.
// FailedPrecondition "posture X is active ...; release it first" or "posture
// X is broken ...; give --force", NotFound "the policy has no posture X" or
// "posture X is not active", PermissionDenied for a certificate that is no
// admin's. Each message names the controller.
//
// The status `polder status` shows (the active posture in posture()).
absl::StatusOr<v1::StatusResponse> FetchStatus(const ControllerConnection& c);
// Activates posture `name`; returns the revision the controller now serves.
// When it returns, every connected agent has been sent its new ruleset; wait
// for FetchStatus to show applied_revision == desired_revision to know they
// enforce it.
absl::StatusOr<std::string> ActivatePostureOn(const ControllerConnection& c,
                                              const std::string& name, const std::string& reason,
                                              bool force = false);
// Releases the active posture `name`; returns the revision now served.
absl::StatusOr<std::string> ReleasePostureOn(const ControllerConnection& c,
                                             const std::string& name);

// `polder status --format json` (spec §11): keys in the spec's order;
// last_report is RFC 3339 UTC to the second, or null when never reported.
nlohmann::ordered_json StatusJson(const v1::StatusResponse& status);
// One row per host, for people. A refused policy is one short line (its first diagnostic and how
// many more), a long apply error is cut; StatusErrorsText has them in full.
// `now` decides the CERT column's warning (30 days before a certificate expires).
std::string StatusText(const v1::StatusResponse& status, absl::Time now = absl::Now());
// `polder status --errors`: the refused policy's every diagnostic, each host's last apply error
// and degraded state, in full.
std::string StatusErrorsText(const v1::StatusResponse& status);
// The refused policy (StatusResponse.policy_error) in one line of about `width` characters:
// "FILE:LINE:COL: MESSAGE [code] (+N more; polder status --errors)".
std::string RefusalSummary(const std::string& policy_error, size_t width = 100);

}  // namespace polder::cli
