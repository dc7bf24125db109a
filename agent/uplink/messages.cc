#include "agent/uplink/messages.h"

#include <google/protobuf/stubs/common.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

// At most `max` bytes of valid UTF-8: protobuf refuses to parse a string field that is not,
// so a cut through a character (or a stray byte from nft) would cost the whole report. The
// check is protobuf's own, the one the controller's parser applies.
std::string Clip(const std::string& s, size_t max) {
  namespace pbi = google::protobuf::internal;
  std::string out(s.size(), '\0');
  if (pbi::UTF8CoerceToStructurallyValid(s, out.data(), '?') != out.data()) out = s;
  if (out.size() > max) {
    out.resize(max);
    out.resize(pbi::UTF8SpnStructurallyValid(out));
  }
  return out;
}

}  // namespace

std::string NoRulesetHash() { return wire::Sha256Hex(""); }

absl::StatusOr<CheckedAssignment> CheckAssignment(const v1::Assignment& a,
                                                  const std::string& host) {
  auto refuse = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("assignment refused: ", why));
  };
  if (!wire::IsSha256Hex(a.revision())) return refuse("revision is not SHA-256 hex");
  if (!wire::IsSha256Hex(a.ruleset_hash())) return refuse("ruleset_hash is not SHA-256 hex");
  if (a.ruleset().empty()) return refuse("ruleset is empty");
  if (a.ruleset().size() > wire::kMaxRulesetBytes) {
    return refuse(absl::StrCat("ruleset has ", a.ruleset().size(), " bytes, more than ",
                               wire::kMaxRulesetBytes));
  }
  std::optional<wire::Mode> mode = wire::FromProto(a.mode());
  if (!mode) return refuse("unknown mode");
  if (wire::Sha256Hex(a.ruleset()) != a.ruleset_hash()) {
    return refuse("ruleset_hash is not the SHA-256 of the ruleset");
  }
  if (a.has_confirm_deadline()) {
    if (!wire::IsValidTimestamp(a.confirm_deadline())) {
      return refuse("confirm_deadline is not a valid timestamp");
    }
  }
  absl::StatusOr<Ruleset> parsed = ParseRuleset(a.ruleset());
  if (!parsed.ok()) return refuse(parsed.status().message());
  if (parsed->host != host) {
    return refuse(absl::StrCat("ruleset is for host '", Clip(parsed->host, 64),
                               "', this agent is '", host, "'"));
  }
  if (parsed->revision != a.revision()) {
    return refuse("ruleset header names another revision than the assignment");
  }
  if (parsed->mode != *mode) return refuse("ruleset header names another mode than the assignment");
  if (a.has_nft_ruleset()) {
    // The same table in structured form: applied through libnftnl (only the differences, one
    // batch). The text stays the ruleset's identity (its hash) and what is stored and shown.
    absl::StatusOr<wire::NftRuleset> structured = wire::FromProto(a.nft_ruleset());
    if (!structured.ok()) {
      return refuse(absl::StrCat("nft_ruleset: ", structured.status().message()));
    }
    parsed->structured = std::make_shared<const wire::NftRuleset>(std::move(*structured));
  }
  CheckedAssignment out;
  out.ruleset = std::move(*parsed);
  out.revision = a.revision();
  if (a.has_confirm_deadline()) {
    out.confirm_deadline = wire::FromTimestamp(a.confirm_deadline());
  }
  return out;
}

namespace {

// Hello.degraded and Heartbeat.degraded within the wire's bounds.
void AddDegraded(const std::vector<std::string>& lines,
                 google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const std::string& line : lines) {
    if (out->size() == wire::kMaxDegraded) break;
    if (!line.empty()) out->Add(Clip(line, wire::kMaxDegradedBytes));
  }
}

}  // namespace

v1::AgentMessage HelloMessage(const std::string& host, const std::string& version,
                              const std::string& revision, const std::string& hash,
                              const std::vector<std::string>& degraded,
                              uint64_t applied_generation) {
  v1::AgentMessage m;
  v1::Hello* h = m.mutable_hello();
  h->set_host(host);
  h->set_agent_version(version);
  h->set_applied_revision(revision);
  h->set_ruleset_hash(hash);
  AddDegraded(degraded, h->mutable_degraded());
  h->set_applied_generation(applied_generation);
  return m;
}

v1::AgentMessage ApplyResultMessage(bool ok, const std::string& error, absl::Duration duration,
                                    const std::string& hash, const std::string& revision,
                                    uint64_t generation) {
  v1::AgentMessage m;
  v1::ApplyResult* r = m.mutable_apply_result();
  r->set_ok(ok);
  if (!ok) r->set_error(error.empty() ? "failed" : Clip(error, wire::kMaxErrorBytes));
  duration = std::clamp(duration, absl::ZeroDuration(), absl::Hours(24));
  int64_t ns = absl::ToInt64Nanoseconds(duration);
  r->mutable_duration()->set_seconds(ns / 1'000'000'000);
  r->mutable_duration()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  r->set_ruleset_hash(hash.empty() ? NoRulesetHash() : hash);
  if (wire::IsSha256Hex(revision)) r->set_revision(revision);
  r->set_generation(generation);
  return m;
}

v1::AgentMessage DriftMessage(const std::vector<std::string>& differences, absl::Time time,
                              uint32_t pid, bool remediated) {
  v1::AgentMessage m;
  v1::DriftReport* d = m.mutable_drift_report();
  for (const std::string& line : differences) {
    if (d->differences_size() == wire::kMaxDifferences) break;
    if (!line.empty()) d->add_differences(Clip(line, wire::kMaxDifferenceBytes));
  }
  if (d->differences_size() == 0) d->add_differences("table inet polder differs");
  wire::SetTimestamp(time, d->mutable_time());
  d->set_pid(static_cast<int32_t>(std::min<uint32_t>(pid, INT32_MAX)));
  d->set_remediated(remediated);
  return m;
}

v1::AgentMessage HeartbeatMessage(absl::Time time, const std::vector<std::string>& degraded) {
  v1::AgentMessage m;
  wire::SetTimestamp(time, m.mutable_heartbeat()->mutable_time());
  AddDegraded(degraded, m.mutable_heartbeat()->mutable_degraded());
  return m;
}

}  // namespace polder::agent
