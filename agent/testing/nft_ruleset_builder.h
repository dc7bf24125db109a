// Test-only helpers for structured rulesets (wire/nft_ruleset.h): typed key parts, the shapes
// the compiler's layout uses (verdict map from address ranges into profile chains holding
// service sets), a seeded random ruleset with random edits for property tests, and a printer of
// nft text for the same ruleset, so tests can load one form with libnftables (`nft -f`) and
// the other through libnftnl and compare snapshots. The agent itself never prints or parses
// nft text from a structured ruleset; this printer only exists for those comparisons.
#ifndef POLDER_AGENT_TESTING_NFT_RULESET_BUILDER_H_
#define POLDER_AGENT_TESTING_NFT_RULESET_BUILDER_H_

#include <cstdint>
#include <random>
#include <string>

#include "wire/nft_ruleset.h"

namespace polder::agent::testing {

wire::NftKeyPart Ipv4(const std::string& address, int prefix = 32);
wire::NftKeyPart Ipv6(const std::string& address, int prefix = 128);
wire::NftKeyPart Ipv4Range(const std::string& from, const std::string& to);
wire::NftKeyPart Byte(uint8_t value);
wire::NftKeyPart Port(uint16_t port);
wire::NftKeyPart PortRange(uint16_t from, uint16_t to);
wire::NftKeyPart HostU32(uint32_t value);  // ct state bitmask
wire::NftKeyPart Ifname(const std::string& name);

wire::NftStatement Verdict(wire::NftVerdict v, const std::string& chain = "");

// Base chains input/output with the usual essentials (lo, ct state, ICMP errors), an input
// verdict map `in4` of `zones` /24 prefixes into `profiles` profile chains, each with an
// `inet_proto . inet_service` set of `services` ports; `extra_elements` more single addresses
// in the map (for size).
wire::NftRuleset LayoutRuleset(int zones, int profiles, int services, int extra_elements = 0);

// A small random ruleset covering every shape the agent encodes.
wire::NftRuleset RandomRuleset(std::mt19937& rng);
// One random edit: elements added/removed/retargeted, rules added/removed/changed, chains or
// sets added/removed, a policy flipped. Keeps the ruleset valid.
void RandomEdit(std::mt19937& rng, wire::NftRuleset& rs);

// nft text (`table inet polder` + `delete table inet polder` + the table) for `rs`.
std::string PrintNft(const wire::NftRuleset& rs);

}  // namespace polder::agent::testing

#endif  // POLDER_AGENT_TESTING_NFT_RULESET_BUILDER_H_
