// TrafficTable: observed connections aggregated the way a person reads them
// (issue 11; spec §11 `polder traffic`), from the deltas agents report.
//
//   TrafficTable table(policy);
//   table.Add({.host = "db-1", .direction = TrafficDirection::kInbound,
//              .local = db_1_address, .peer = app_address, .protocol = Protocol::kTcp,
//              .port = 5432, .verdict = TrafficVerdict::kAllowed, .connections = 3,
//              .at = now});
//   for (const TrafficRow& row : table.Rows()) ...  // app-1 -> db-1 tcp/5432: flows.yaml:12
//
// A row's key is (direction, local host, peer, protocol, service port, verdict),
// never the source port, so ephemeral ports do not make noise. The peer is
// resolved to a host when it is one, else to the zone's declared prefix that
// classifies it (so a partner allowlist shows per partner prefix); a peer that
// no zone claims collapses to its /24 (IPv4) or /48 (IPv6). Each allowed row
// names the flow (file:line) that allows it, by asking the policy (Decide);
// a denied row says `denied`, or `would-deny` when the host is in audit mode.
// The hours of the week in which a row was seen are kept, so that a weekly job
// (a backup on Sunday night) shows up as one.
#pragma once

#include <bitset>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "compiler/model/address.h"
#include "compiler/model/policy.h"
#include "compiler/model/service_port.h"

namespace polder {

enum class TrafficDirection : uint8_t { kInbound, kOutbound };
enum class TrafficVerdict : uint8_t { kAllowed, kDenied, kWouldDeny };
const char* TrafficDirectionName(TrafficDirection d);  // "in", "out"
const char* TrafficVerdictName(TrafficVerdict v);      // "allowed", "denied", "would-deny"

// One delta an agent reported: connections and bytes of one tuple since its last report.
struct TrafficSample {
  std::string host;  // the reporting (local) host
  TrafficDirection direction = TrafficDirection::kInbound;
  Address local;  // the host's address the connection used
  Address peer;
  Protocol protocol = Protocol::kTcp;  // never kAny
  uint16_t port = 0;                   // service port (destination), or ICMP type
  TrafficVerdict verdict = TrafficVerdict::kAllowed;
  uint64_t connections = 0;
  uint64_t bytes = 0;
  absl::Time at = absl::UnixEpoch();
};

struct TrafficKey {
  TrafficDirection direction = TrafficDirection::kInbound;
  std::string host;
  std::string peer;       // a host name, or "ZONE PREFIX", or a collapsed prefix
  std::string peer_zone;  // empty when no zone claims the peer
  Prefix peer_prefix;     // the declared (or collapsed) prefix; a host's own address for a host
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  TrafficVerdict verdict = TrafficVerdict::kAllowed;
  auto Tie() const { return std::tie(direction, host, peer, protocol, port, verdict); }
  friend bool operator<(const TrafficKey& a, const TrafficKey& b) { return a.Tie() < b.Tie(); }
};

struct TrafficRow {
  TrafficKey key;
  uint64_t connections = 0;
  uint64_t bytes = 0;
  absl::Time first_seen = absl::InfiniteFuture();
  absl::Time last_seen = absl::InfinitePast();
  std::bitset<168> hours_of_week;  // bit h: seen in hour h of the week, Monday 00:00 UTC = 0
  // Allowed rows: the flows that allow them, "NAME (FILE:LINE)", sorted; more than one when
  // several flows allow the same traffic (each of them is used).
  std::vector<std::string> flows;
  Prefix example_local;  // one local address seen, for Suggest()
  Prefix example_peer;   // one peer address (or the collapsed prefix) seen
};

class TrafficTable {
 public:
  explicit TrafficTable(const Policy& policy) : policy_(policy) {}

  void Add(const TrafficSample& sample);
  // Sorted by key.
  std::vector<TrafficRow> Rows() const;

  // The key a sample aggregates under (public for tests and for the controller's store).
  TrafficKey KeyOf(const TrafficSample& sample) const;

 private:
  std::vector<std::string> Citations(const TrafficSample& sample) const;

  const Policy& policy_;
  std::map<TrafficKey, TrafficRow> rows_;
  // Per distinct tuple, the row it aggregates into (its key and citations worked out once:
  // Decide() per sample was nearly all of the time at 1.35 million samples).
  struct SampleId {
    std::string host;
    TrafficDirection direction;
    Family family;
    absl::uint128 local, peer;
    Protocol protocol;
    uint16_t port;
    TrafficVerdict verdict;
    friend bool operator==(const SampleId&, const SampleId&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const SampleId& id) {
      return H::combine(std::move(h), id.host, id.direction, id.family,
                        absl::Uint128High64(id.local), absl::Uint128Low64(id.local),
                        absl::Uint128High64(id.peer), absl::Uint128Low64(id.peer), id.protocol,
                        id.port, id.verdict);
    }
  };
  absl::flat_hash_map<SampleId, TrafficRow*> seen_;
};

// A connection between two managed hosts is reported by both, outbound by one and inbound by
// the other. True for the row that stands for it once: the receiver's, or the only one.
bool ReportedOnce(const Policy& policy, const TrafficRow& row);

// How rows cite a flow: "NAME (FILE:LINE)", or "FILE:LINE" for an unnamed flow.
std::string FlowCitation(const Flow& flow);

// Hour of the week (0..167, Monday 00:00 UTC = 0) of `t`.
int HourOfWeek(absl::Time t);

}  // namespace polder
