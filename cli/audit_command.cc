#include "cli/audit_command.h"

#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/fleet_commands.h"
#include "wire/duration.h"
#include "wire/proto_convert.h"
#include "wire/rfc3339.h"

namespace polder::cli {
namespace {

// The most entries one call asks for (the controller's own bound).
constexpr uint32_t kMaxEntries = 10000;

struct AuditOptions {
  ControllerConnection connection;
  std::string since;
  std::string format = "text";
  uint32_t limit = 1000;
};

std::string TimeOf(const v1::AuditEntry& e) {
  return e.has_time() ? FormatRfc3339(wire::FromTimestamp(e.time())) : "";
}

absl::StatusOr<int> RunAudit(const AuditOptions& o) {
  absl::Time now = absl::Now();
  std::optional<absl::Time> since;
  if (!o.since.empty()) {
    absl::StatusOr<absl::Time> parsed = ParseSince(o.since, now);
    if (!parsed.ok()) return parsed.status();
    since = *parsed;
  }
  v1::AuditLogRequest request;
  request.set_limit(std::min(o.limit, kMaxEntries));
  if (since) wire::SetTimestamp(*since, request.mutable_since());
  absl::StatusOr<v1::AuditLogResponse> log = FetchAuditLog(o.connection, request);
  if (!log.ok()) {
    absl::StatusCode code = log.status().code();
    // Unreachable, silent or a bad request: the command cannot run. A refusal (not an admin) is
    // the controller's answer, a finding.
    if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
        code == absl::StatusCode::kInvalidArgument) {
      return log.status();
    }
    std::cerr << "polder: " << log.status().message() << "\n";
    return kExitFindings;
  }
  if (o.format == "json") {
    std::cout << AuditJson(*log, since).dump(2) << "\n";
  } else {
    std::cout << AuditText(*log, since);
  }
  return kExitOk;
}

}  // namespace

absl::StatusOr<absl::Time> ParseSince(const std::string& text, absl::Time now) {
  if (std::optional<absl::Time> t = ParseRfc3339(text)) return *t;
  absl::StatusOr<absl::Duration> span = wire::ParseDuration(text);
  if (!span.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--since '", text,
                     "' is neither a span back from now (a whole number and a unit: 90s, 30m, "
                     "12h, 7d, 2w) nor an RFC 3339 time (2026-11-22T10:00:00Z)"));
  }
  return now - *span;
}

nlohmann::ordered_json AuditJson(const v1::AuditLogResponse& log, std::optional<absl::Time> since) {
  nlohmann::ordered_json out;
  out["since"] = since ? nlohmann::ordered_json(FormatRfc3339(*since)) : nullptr;
  out["entries"] = nlohmann::ordered_json::array();
  for (const v1::AuditEntry& e : log.entries()) {
    nlohmann::ordered_json j;
    j["id"] = e.id();
    j["time"] = TimeOf(e);
    j["kind"] = e.kind();
    j["actor"] = e.actor();
    j["target"] = e.target();
    j["reason"] = e.reason();
    j["revision"] = e.revision();
    j["detail"] = e.detail();
    out["entries"].push_back(std::move(j));
  }
  return out;
}

std::string AuditText(const v1::AuditLogResponse& log, std::optional<absl::Time> since) {
  if (log.entries().empty()) {
    return since ? absl::StrCat("no audit entries since ", FormatRfc3339(*since), "\n")
                 : "no audit entries\n";
  }
  std::string out = absl::StrFormat("%-20s %-16s %-24s %-16s %-12s %s\n", "TIME", "KIND", "WHO",
                                    "TARGET", "REVISION", "WHY");
  for (const v1::AuditEntry& e : log.entries()) {
    std::string why = e.reason();
    // The detail adds what the reason does not say (a quarantine's allowed zones, a rollout's
    // hosts), unless it only repeats it.
    if (!e.detail().empty() && e.detail() != e.reason() &&
        e.detail().find(e.reason()) == std::string::npos) {
      absl::StrAppend(&why, why.empty() ? "" : " -- ", e.detail());
    } else if (why.empty()) {
      why = e.detail();
    }
    absl::StrAppend(&out, absl::StrFormat("%-20s %-16s %-24s %-16s %-12s %s\n", TimeOf(e), e.kind(),
                                          e.actor(), e.target().empty() ? "-" : e.target(),
                                          e.revision().empty() ? "-" : e.revision().substr(0, 12),
                                          why.empty() ? "-" : why));
  }
  return out;
}

void AddAuditCommand(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand(
      "audit",
      "Show the controller's audit log: rollouts, refused policies, quarantines, postures and "
      "releases, with who, when, why and the revision");
  auto o = std::make_shared<AuditOptions>();
  AddConnectionOptions(cmd, &o->connection);
  cmd->add_option("--since", o->since,
                  "Only entries since then: a span back from now (30m, 12h, 7d) or an RFC 3339 "
                  "time");
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "At most this many entries, newest first")
      ->check(CLI::Range(1u, kMaxEntries))
      ->capture_default_str();
  OnChosen(cmd, chosen, [o] { return RunAudit(*o); });
}

}  // namespace polder::cli
