#include "controller/message_validation.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

// Printable text without control characters other than tab.
bool IsText(std::string_view s, size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

bool OptionalHash(absl::string_view s) { return s.empty() || wire::IsSha256Hex(s); }

absl::Status CheckTimestamp(const google::protobuf::Timestamp& t, absl::string_view field) {
  if (!wire::IsValidTimestamp(t)) return Invalid(absl::StrCat(field, " is not a valid timestamp"));
  return absl::OkStatus();
}

// Hello.degraded and Heartbeat.degraded: a few non-empty lines (escaped before use).
absl::Status CheckDegraded(const google::protobuf::RepeatedPtrField<std::string>& lines,
                           absl::string_view field) {
  if (lines.size() > wire::kMaxDegraded)
    return Invalid(absl::StrCat(field, " has too many entries"));
  for (const auto& line : lines)
    if (line.empty() || line.size() > wire::kMaxDegradedBytes)
      return Invalid(absl::StrCat(field, " holds an empty or oversized entry"));
  return absl::OkStatus();
}

// 4 or 6: the family of an IP address's text; 0: not one.
int Family(const std::string& s) {
  if (s.empty() || s.size() > 45 || s.find('\0') != std::string::npos) return 0;
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return 6;
  return 0;
}

}  // namespace

std::string EscapeControlCharacters(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    unsigned char next = i + 1 < s.size() ? s[i + 1] : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      // C1 controls (U+0080-U+009F) hold an 8-bit escape some terminals obey.
      absl::StrAppendFormat(&out, "\\xc2\\x%02x", next);
      ++i;
    } else if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

bool IsPolderName(std::string_view s) {
  if (s.empty() || s.size() > 63 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

absl::Status ValidateHello(const v1::Hello& m) {
  if (!IsPolderName(m.host())) return Invalid("hello.host is not a valid host name");
  if (m.agent_version().empty() || !IsText(m.agent_version(), 128))
    return Invalid("hello.agent_version must be 1-128 printable characters");
  if (!OptionalHash(m.applied_revision()))
    return Invalid("hello.applied_revision must be empty or SHA-256 hex");
  if (!OptionalHash(m.ruleset_hash()))
    return Invalid("hello.ruleset_hash must be empty or SHA-256 hex");
  return CheckDegraded(m.degraded(), "hello.degraded");
}

absl::Status ValidateApplyResult(const v1::ApplyResult& m) {
  if (!wire::IsSha256Hex(m.ruleset_hash()))
    return Invalid("apply_result.ruleset_hash must be SHA-256 hex");
  if (!OptionalHash(m.revision())) return Invalid("apply_result.revision must be SHA-256 hex");
  if (!m.ok() && m.error().empty()) return Invalid("apply_result.error is required when !ok");
  if (m.error().size() > wire::kMaxErrorBytes) return Invalid("apply_result.error is too long");
  const auto& d = m.duration();
  if (d.seconds() < 0 || d.seconds() > 86400 || d.nanos() < 0 || d.nanos() > 999999999)
    return Invalid("apply_result.duration is out of range");
  return absl::OkStatus();
}

absl::Status ValidateDriftReport(const v1::DriftReport& m) {
  if (m.differences().empty()) return Invalid("drift_report.differences is empty");
  if (m.differences_size() > wire::kMaxDifferences)
    return Invalid("drift_report has too many differences");
  for (const auto& d : m.differences())
    if (d.empty() || d.size() > wire::kMaxDifferenceBytes)
      return Invalid("drift_report.differences holds an empty or oversized entry");
  if (m.pid() < 0) return Invalid("drift_report.pid is negative");
  return CheckTimestamp(m.time(), "drift_report.time");
}

absl::Status ValidateHeartbeat(const v1::Heartbeat& m) {
  if (auto s = CheckDegraded(m.degraded(), "heartbeat.degraded"); !s.ok()) return s;
  return CheckTimestamp(m.time(), "heartbeat.time");
}

absl::Status ValidateQuarantineRequest(const v1::QuarantineRequest& m) {
  if (!IsPolderName(m.target())) return Invalid("quarantine target is not a valid name");
  if (m.allow_size() > 1000) return Invalid("quarantine allows too many zones");
  for (const auto& z : m.allow())
    if (!IsPolderName(z)) return Invalid(absl::StrCat("'", z, "' is not a valid zone name"));
  if (m.reason().empty() || !IsText(m.reason(), 1024))
    return Invalid("quarantine reason must be 1-1024 printable characters");
  return absl::OkStatus();
}

absl::Status ValidateReleaseRequest(const v1::ReleaseRequest& m) {
  if (!IsPolderName(m.target())) return Invalid("release target is not a valid name");
  if (!IsText(m.reason(), 1024))
    return Invalid("release reason must be 0-1024 printable characters");
  return absl::OkStatus();
}

absl::Status ValidateActivatePostureRequest(const v1::ActivatePostureRequest& m) {
  if (!IsPolderName(m.name())) return Invalid("posture name is not a valid name");
  if (m.reason().empty() || !IsText(m.reason(), 1024))
    return Invalid("posture reason must be 1-1024 printable characters");
  return absl::OkStatus();
}

absl::Status ValidateReleasePostureRequest(const v1::ReleasePostureRequest& m) {
  if (!IsPolderName(m.name())) return Invalid("posture name is not a valid name");
  if (!IsText(m.reason(), 1024))
    return Invalid("posture release reason must be 0-1024 printable characters");
  return absl::OkStatus();
}

absl::Status ValidateTrafficBatch(const v1::TrafficBatch& m) {
  if (!IsPolderName(m.host())) return Invalid("traffic_batch.host is not a valid host name");
  if (m.sequence() == 0) return Invalid("traffic_batch.sequence must be at least 1");
  if (auto s = CheckTimestamp(m.start(), "traffic_batch.start"); !s.ok()) return s;
  if (auto s = CheckTimestamp(m.end(), "traffic_batch.end"); !s.ok()) return s;
  if (wire::FromTimestamp(m.end()) < wire::FromTimestamp(m.start()))
    return Invalid("traffic_batch.end is before its start");
  if (m.samples_size() > wire::kMaxTrafficSamplesPerBatch)
    return Invalid("traffic_batch has too many samples");
  if (m.hits_size() > wire::kMaxTrafficHitsPerBatch)
    return Invalid("traffic_batch has too many hits");
  for (int i = 0; i < m.samples_size(); ++i) {
    const v1::TrafficSample& s = m.samples(i);
    auto bad = [&](absl::string_view what) {
      return Invalid(absl::StrCat("traffic_batch.samples[", i, "].", what));
    };
    if (s.direction() != v1::TRAFFIC_DIRECTION_IN && s.direction() != v1::TRAFFIC_DIRECTION_OUT)
      return bad("direction is not in or out");
    if (s.verdict() != v1::TRAFFIC_VERDICT_ALLOWED && s.verdict() != v1::TRAFFIC_VERDICT_DENIED &&
        s.verdict() != v1::TRAFFIC_VERDICT_WOULD_DENY)
      return bad("verdict is not allowed, denied or would-deny");
    bool icmp =
        s.protocol() == v1::TRAFFIC_PROTOCOL_ICMP || s.protocol() == v1::TRAFFIC_PROTOCOL_ICMPV6;
    if (!icmp && s.protocol() != v1::TRAFFIC_PROTOCOL_TCP &&
        s.protocol() != v1::TRAFFIC_PROTOCOL_UDP && s.protocol() != v1::TRAFFIC_PROTOCOL_SCTP)
      return bad("protocol is not tcp, udp, sctp, icmp or icmpv6");
    if (icmp ? s.port() > 255 : (s.port() == 0 || s.port() > 65535))
      return bad(icmp ? "port is not an ICMP type 0-255" : "port is not 1-65535");
    int local = Family(s.local()), peer = Family(s.peer());
    if (local == 0) return bad("local is not an IP address");
    if (peer == 0) return bad("peer is not an IP address");
    if (local != peer) return bad("local and peer are of different address families");
    if ((s.protocol() == v1::TRAFFIC_PROTOCOL_ICMP && local != 4) ||
        (s.protocol() == v1::TRAFFIC_PROTOCOL_ICMPV6 && local != 6))
      return bad("protocol does not match the address family");
  }
  for (int i = 0; i < m.hits_size(); ++i) {
    const std::string& c = m.hits(i).counter();
    if (c.empty() || !IsText(c, wire::kMaxTrafficCounterNameBytes))
      return Invalid(absl::StrCat("traffic_batch.hits[", i, "].counter must be 1-",
                                  wire::kMaxTrafficCounterNameBytes, " printable characters"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrafficRequest(const v1::TrafficRequest& m) {
  if (m.has_since()) {
    if (auto s = CheckTimestamp(m.since(), "traffic.since"); !s.ok()) return s;
  }
  if (!m.host().empty() && !IsPolderName(m.host()))
    return Invalid("traffic.host is not a valid host name");
  if (!m.zone().empty() && !IsPolderName(m.zone()))
    return Invalid("traffic.zone is not a valid zone name");
  return absl::OkStatus();
}

}  // namespace polder::controller
