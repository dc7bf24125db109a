#include "wire/traffic_proto.h"

#include "absl/strings/str_cat.h"
#include "wire/limits.h"
#include "wire/proto_convert.h"

namespace polder::wire {
namespace {

v1::TrafficDirection DirectionToProto(const std::string& d) {
  if (d == "in") return v1::TRAFFIC_DIRECTION_IN;
  if (d == "out") return v1::TRAFFIC_DIRECTION_OUT;
  return v1::TRAFFIC_DIRECTION_UNSPECIFIED;
}

v1::TrafficProtocol ProtocolToProto(const std::string& p) {
  if (p == "tcp") return v1::TRAFFIC_PROTOCOL_TCP;
  if (p == "udp") return v1::TRAFFIC_PROTOCOL_UDP;
  if (p == "sctp") return v1::TRAFFIC_PROTOCOL_SCTP;
  if (p == "icmp") return v1::TRAFFIC_PROTOCOL_ICMP;
  if (p == "icmpv6") return v1::TRAFFIC_PROTOCOL_ICMPV6;
  return v1::TRAFFIC_PROTOCOL_UNSPECIFIED;
}

v1::TrafficVerdict VerdictToProto(const std::string& v) {
  if (v == "allowed") return v1::TRAFFIC_VERDICT_ALLOWED;
  if (v == "denied") return v1::TRAFFIC_VERDICT_DENIED;
  if (v == "would-deny") return v1::TRAFFIC_VERDICT_WOULD_DENY;
  return v1::TRAFFIC_VERDICT_UNSPECIFIED;
}

absl::Status Bad(size_t i, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("traffic_batch.samples[", i, "].", what));
}

}  // namespace

void ToProto(const TrafficReport& r, v1::TrafficBatch* out) {
  out->set_host(r.host);
  out->set_epoch(r.epoch);
  out->set_sequence(r.sequence);
  SetTimestamp(r.start, out->mutable_start());
  SetTimestamp(r.end, out->mutable_end());
  out->set_lost(r.lost);
  out->mutable_samples()->Reserve(static_cast<int>(r.samples.size()));
  for (const TrafficReportSample& s : r.samples) {
    v1::TrafficSample* p = out->add_samples();
    p->set_direction(DirectionToProto(s.direction));
    p->set_local(s.local);
    p->set_peer(s.peer);
    p->set_protocol(ProtocolToProto(s.protocol));
    p->set_port(s.port);
    p->set_verdict(VerdictToProto(s.verdict));
    p->set_connections(s.connections);
    p->set_bytes(s.bytes);
  }
  out->mutable_hits()->Reserve(static_cast<int>(r.hits.size()));
  for (const TrafficHit& h : r.hits) {
    v1::TrafficHit* p = out->add_hits();
    p->set_counter(h.counter);
    p->set_packets(h.packets);
    p->set_bytes(h.bytes);
  }
  out->set_clipped_hit_packets(r.clipped_hit_packets);
}

absl::StatusOr<TrafficReport> FromProto(const v1::TrafficBatch& b) {
  TrafficReport r;
  r.host = b.host();
  r.epoch = b.epoch();
  r.sequence = b.sequence();
  if (!IsValidTimestamp(b.start()) || !IsValidTimestamp(b.end()))
    return absl::InvalidArgumentError("traffic_batch.start/end is not a valid timestamp");
  r.start = FromTimestamp(b.start());
  r.end = FromTimestamp(b.end());
  if (r.end < r.start) return absl::InvalidArgumentError("traffic_batch.end is before its start");
  r.lost = b.lost();
  r.samples.reserve(static_cast<size_t>(b.samples_size()));
  for (int i = 0; i < b.samples_size(); ++i) {
    const v1::TrafficSample& p = b.samples(i);
    TrafficReportSample s;
    size_t at = static_cast<size_t>(i);
    switch (p.direction()) {
      case v1::TRAFFIC_DIRECTION_IN:
        s.direction = "in";
        break;
      case v1::TRAFFIC_DIRECTION_OUT:
        s.direction = "out";
        break;
      default:
        return Bad(at, "direction is not in or out");
    }
    switch (p.protocol()) {
      case v1::TRAFFIC_PROTOCOL_TCP:
        s.protocol = "tcp";
        break;
      case v1::TRAFFIC_PROTOCOL_UDP:
        s.protocol = "udp";
        break;
      case v1::TRAFFIC_PROTOCOL_SCTP:
        s.protocol = "sctp";
        break;
      case v1::TRAFFIC_PROTOCOL_ICMP:
        s.protocol = "icmp";
        break;
      case v1::TRAFFIC_PROTOCOL_ICMPV6:
        s.protocol = "icmpv6";
        break;
      default:
        return Bad(at, "protocol is not tcp, udp, sctp, icmp or icmpv6");
    }
    switch (p.verdict()) {
      case v1::TRAFFIC_VERDICT_ALLOWED:
        s.verdict = "allowed";
        break;
      case v1::TRAFFIC_VERDICT_DENIED:
        s.verdict = "denied";
        break;
      case v1::TRAFFIC_VERDICT_WOULD_DENY:
        s.verdict = "would-deny";
        break;
      default:
        return Bad(at, "verdict is not allowed, denied or would-deny");
    }
    bool icmp = s.protocol == "icmp" || s.protocol == "icmpv6";
    if (p.port() > (icmp ? 255u : 65535u) || (!icmp && p.port() == 0))
      return Bad(at, icmp ? "port is not an ICMP type 0-255" : "port is not 1-65535");
    s.local = p.local();
    s.peer = p.peer();
    s.port = p.port();
    s.connections = p.connections();
    s.bytes = p.bytes();
    r.samples.push_back(std::move(s));
  }
  r.hits.reserve(static_cast<size_t>(b.hits_size()));
  for (int i = 0; i < b.hits_size(); ++i) {
    const v1::TrafficHit& h = b.hits(i);
    if (h.counter().empty() || h.counter().size() > kMaxTrafficCounterNameBytes)
      return absl::InvalidArgumentError(absl::StrCat(
          "traffic_batch.hits[", i, "].counter must be 1-", kMaxTrafficCounterNameBytes, " bytes"));
    r.hits.push_back({h.counter(), h.packets(), h.bytes()});
  }
  r.clipped_hit_packets = b.clipped_hit_packets();
  return r;
}

}  // namespace polder::wire
