// Posture: the effective policy while a posture of spec §6a is active, as a
// transformation of the Policy (no I/O, no gRPC).
//
// Meaning (spec §6a), per connection from address s to address d: an address
// is *isolated* when its zone is isolated or it is an address of an isolated
// host. For each isolated end, look at the other end's zone:
//   - an isolated zone: nothing changes (traffic within and between isolated
//     zones stays);
//   - a zone an `allow` entry names: only the entry's services stay (all
//     when it names none);
//   - any other zone: nothing is allowed.
// When both ends are isolated both ends ask, and both answers apply. A host
// side is judged by its zone, so an isolated host in a zone that is not
// itself isolated is cut from that zone's other hosts (isolate the zone to
// keep them together), while a flow from its zone keeps working for the
// zone's other hosts. Denies stay; anti-lockout, loopback and host-essential
// traffic are in every ruleset anyway. A posture only removes access.
//
// How, and why this way (rulesets stay small and exact):
//   - The cut pairs (isolated <-> a zone neither isolated nor allowed) become
//     two deny flows on `any`, like a quarantine: deny wins, covers every IP
//     protocol, and costs two flows whatever the policy's size.
//   - An `allow` entry with services narrows the allow flows themselves
//     instead of denying a complement: a deny of "everything but https"
//     cannot name the IP protocols a service cannot spell (GRE, ESP, ...),
//     while an allow narrowed to "what it had ∩ https" is exact. Only a flow
//     that meets an isolated end and such an entry's zone is split, into one
//     flow per (from, to) item, keeping its name and file:line so `explain`
//     still cites it; a zone that holds isolated hosts is split on the
//     source side with `sources` (its other addresses keep the flow as is).
//     One case cannot be narrowed: a flow from such an entry's zone *to* a
//     zone holding an isolated host (a destination cannot exclude addresses).
//     There the isolated host gets a deny of the rest of the five protocols
//     polder models (tcp, udp, sctp, icmp, icmpv6); other IP protocols that
//     an `any` flow allows stay open to that host. Isolate the host's zone,
//     or give the entry no services, to avoid it.
// Every added flow and service cites the posture's file:line. The result has
// a new revision, since it is a different policy.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "compiler/model/policy.h"

namespace polder {

// The effective policy while `posture_name` is active. NotFound for a name
// the policy has no posture of.
absl::StatusOr<Policy> PostureApplied(Policy policy, std::string_view posture_name);

// The same for a posture that need not be in `policy.postures` (its ids must
// be of this policy).
Policy ApplyPosture(Policy policy, const Posture& posture);

}  // namespace polder
