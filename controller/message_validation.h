// Checks every message from the network before the controller uses it:
// names, hashes, sizes and timestamps. A message that fails is rejected
// (INVALID_ARGUMENT) and logged, never half-used. Sizes are the wire
// contract's (wire/limits.h).
#ifndef POLDER_CONTROLLER_MESSAGE_VALIDATION_H_
#define POLDER_CONTROLLER_MESSAGE_VALIDATION_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "polder/v1/polder.pb.h"

namespace polder::controller {

// A polder name: [a-z][a-z0-9_-]{0,62} (spec §1).
bool IsPolderName(std::string_view s);

// Free text from an agent (an apply error, a drift difference) as the controller logs, stores
// and shows it: control characters, newlines and terminal escapes included, are written as
// \n, \t or \xNN, so a host cannot forge log lines or drive an admin's terminal.
std::string EscapeControlCharacters(std::string_view s);

absl::Status ValidateHello(const v1::Hello& m);
absl::Status ValidateApplyResult(const v1::ApplyResult& m);
absl::Status ValidateDriftReport(const v1::DriftReport& m);
absl::Status ValidateHeartbeat(const v1::Heartbeat& m);
absl::Status ValidateQuarantineRequest(const v1::QuarantineRequest& m);
absl::Status ValidateReleaseRequest(const v1::ReleaseRequest& m);
absl::Status ValidateActivatePostureRequest(const v1::ActivatePostureRequest& m);
absl::Status ValidateReleasePostureRequest(const v1::ReleasePostureRequest& m);
// A batch of observed traffic: its host a polder name, at most the wire's samples and hits,
// known enums, ports in range, local and peer IP addresses of one family, valid times.
absl::Status ValidateTrafficBatch(const v1::TrafficBatch& m);
absl::Status ValidateTrafficRequest(const v1::TrafficRequest& m);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_MESSAGE_VALIDATION_H_
