// Policy: the resolved, validated form of a policy directory (spec §1-§7).
//
// Everything downstream — the zone graph, invariants, lint, rulesets, the
// controller — reads this model and never the YAML. Names are resolved to
// indices, addresses are classified, and every object keeps the
// SourceLocation it was written at so that any finding can cite file:line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "compiler/model/address_set.h"
#include "compiler/model/service_port.h"
#include "compiler/model/source_location.h"
#include "wire/mode.h"

namespace polder {

using ZoneId = int;
using HostId = int;
using ServiceId = int;

struct Zone {
  std::string name;
  bool external = false;
  std::vector<Prefix> cidrs;
  std::vector<SourceLocation> cidr_locations;  // where each of `cidrs` is declared; may be empty
  std::string description;
  SourceLocation location;
  // The zone's prefixes minus every more specific prefix of other zones.
  AddressSet effective;
  std::vector<HostId> hosts;
};

struct Host {
  std::string name;
  std::vector<Address> addresses;
  ZoneId zone = -1;
  SourceLocation location;
};

struct Service {
  std::string name;
  std::vector<ServicePort> ports;
  SourceLocation location;
  bool builtin = false;  // the implicit `any`
};

// The service `any` = [any] that every policy has without declaring it (spec
// §4). It is service 0 of every resolved policy.
Service BuiltinAnyService();

// A flow's `from` or `to` item: a zone or a single host.
struct Endpoint {
  enum class Kind : uint8_t { kZone, kHost };
  Kind kind = Kind::kZone;
  int id = -1;  // ZoneId or HostId
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

enum class Action : uint8_t { kAllow, kDeny };

struct Flow {
  std::string name;  // declared name, or "<file>:<line>"
  Action action = Action::kAllow;
  std::vector<Endpoint> from;
  std::vector<Endpoint> to;
  std::vector<ServiceId> services;
  std::optional<std::vector<Prefix>> sources;  // narrows `from`
  std::optional<absl::Time> expires;
  std::string reason;
  std::string owner;
  std::string ticket;
  SourceLocation location;
  // False when `expires` is at or before the policy's `now`: no effect.
  bool active = true;
};

// A deny of every service (the built-in `any`, services[0]) from `from` to
// `to`: what the quarantine and posture transformations add to cut access.
Flow DenyEverythingFlow(std::string name, std::vector<Endpoint> from, std::vector<Endpoint> to,
                        std::string reason, std::string owner, SourceLocation location);

enum class InvariantKind : uint8_t { kNoPath, kIsolate, kVia, kExposure, kReach };

struct Invariant {
  std::string name;
  InvariantKind kind = InvariantKind::kNoPath;
  std::vector<ZoneId> from;     // no_path, via, exposure, reach
  std::vector<ZoneId> to;       // no_path, via, reach; isolate: the isolated zone
  std::vector<ZoneId> through;  // via
  std::vector<ZoneId> except;   // isolate
  int max = 0;                  // exposure
  // no_path, via: only paths whose last edge carries some port of these
  // count; reach: the last edge must carry every port of them. Empty: any.
  std::vector<ServiceId> services;
  bool direct = false;  // reach: in one edge
  SourceLocation location;
};

// A crisis plan decided in advance (spec §6a). While it is active, allow
// flows are cut per (source, destination) pair: a pair with an isolated zone
// or host on one side keeps nothing unless the other side is an `allow` zone,
// which keeps only that entry's services (all when empty). Denies, the
// anti-lockout, loopback and host-essential traffic stay.
struct PostureAllow {
  ZoneId zone = -1;
  std::vector<ServiceId> services;  // empty: every service the zone had
  SourceLocation location;
};

struct Posture {
  std::string name;
  std::vector<Endpoint> isolate;  // zones or hosts cut off
  std::vector<PostureAllow> allow;
  // What must still work while the posture is active: `reach` invariants,
  // inline (named "POSTURE.keep[I]") or copies of the policy's `reach`
  // invariants referenced by name (keeping the policy invariant's name).
  std::vector<Invariant> keep;
  std::string owner;
  std::string reason;
  SourceLocation location;
};

using Mode = wire::Mode;  // enforce | audit, as the ruleset header and the wire spell it

struct ControllerSettings {
  std::vector<Address> addresses;
  uint16_t port = 0;
};

struct Settings {
  std::optional<ControllerSettings> controller;
  bool log_denied = false;
  bool host_dhcp = false;  // rulesets allow the DHCPv4/DHCPv6 client (spec §7)
  Mode mode = Mode::kEnforce;
  SourceLocation location;
};

// One piece of the address space with the zone that owns it by longest-prefix
// classification (spec §2).
struct ZoneSegment {
  Family family = Family::kV4;
  absl::uint128 lo = 0;
  absl::uint128 hi = 0;
  ZoneId zone = -1;
};

struct Policy {
  std::vector<Zone> zones;
  std::vector<Host> hosts;
  std::vector<Service> services;  // services[0] is the built-in `any`
  std::vector<Flow> flows;
  std::vector<Invariant> invariants;
  std::vector<Posture> postures;
  Settings settings;
  // Sorted, disjoint; addresses covered by no segment belong to no zone.
  std::vector<ZoneSegment> segments;
  absl::Time now;
  std::string revision;  // SHA-256 hex of the normalised policy

  std::optional<ZoneId> FindZone(std::string_view name) const;
  std::optional<HostId> FindHost(std::string_view name) const;
  std::optional<ServiceId> FindService(std::string_view name) const;
  const Posture* FindPosture(std::string_view name) const;
  // Longest-prefix classification of one address.
  std::optional<ZoneId> Classify(const Address& a) const;
  std::optional<HostId> HostWithAddress(const Address& a) const;
  // Every address an endpoint stands for: a zone's effective space, or a
  // host's addresses.
  AddressSet AddressesOf(const Endpoint& e) const;
  ZoneId ZoneOf(const Endpoint& e) const {
    return e.kind == Endpoint::Kind::kZone ? e.id : hosts[e.id].zone;
  }
  std::string EndpointName(const Endpoint& e) const {
    return e.kind == Endpoint::Kind::kZone ? zones[e.id].name : hosts[e.id].name;
  }
};

}  // namespace polder
