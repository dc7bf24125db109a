// `polder audit --controller C [--tls-dir DIR|--insecure] [--since D] [--format text|json]`
// (spec §11, issue 13.5): the controller's audit log, newest first: rollouts, refused policies,
// quarantines and releases, posture activations and releases, each with who (the admin
// certificate's name, or "controller"), when, why and the revision served after it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/cli_common.h"
#include "polder/v1/polder.pb.h"

namespace polder::cli {

void AddAuditCommand(CLI::App& app, ChosenCommand& chosen);

// --since: a span back from `now` ("30m", "12h", "7d", "90s", "2w") or an RFC 3339 time.
// InvalidArgument naming the accepted forms otherwise.
absl::StatusOr<absl::Time> ParseSince(const std::string& text, absl::Time now);

// `polder audit --format json`: {"since": TIME|null, "entries": [...]}, shape in docs/cli-json.md.
nlohmann::ordered_json AuditJson(const v1::AuditLogResponse& log, std::optional<absl::Time> since);
// One line per entry, for people.
std::string AuditText(const v1::AuditLogResponse& log, std::optional<absl::Time> since);

}  // namespace polder::cli
