// Values of the structured ruleset (wire/nft_ruleset.h): the byte strings the
// kernel compares, built from the model's addresses, protocols and ports, and
// read back for printing. Everything is network byte order except ct state,
// which the kernel keeps in host order.
//
//   wire::NftKeyPart p = nft::Addresses(Family::kV4, lo, hi);  // 4 bytes each side
//   wire::NftKeyPart s = nft::Ports(9102, 9103);                // 2 bytes, a range
#pragma once

#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"
#include "compiler/model/address.h"
#include "compiler/model/service_port.h"
#include "wire/nft_ruleset.h"

namespace polder::nft {

// ct state bits as the kernel defines them (NF_CT_STATE_BIT).
inline constexpr uint32_t kCtInvalid = 1;
inline constexpr uint32_t kCtEstablished = 2;
inline constexpr uint32_t kCtRelated = 4;
inline constexpr uint32_t kCtNew = 8;

// NFPROTO_IPV4 / NFPROTO_IPV6, the values of meta nfproto.
inline constexpr uint8_t kNfprotoIpv4 = 2;
inline constexpr uint8_t kNfprotoIpv6 = 10;

wire::NftKeyPart Addresses(Family family, absl::uint128 lo, absl::uint128 hi);
wire::NftKeyPart Address(const polder::Address& a);
wire::NftKeyPart Ports(uint16_t lo, uint16_t hi);  // inet_service
wire::NftKeyPart Byte(uint8_t lo, uint8_t hi);     // inet_proto, icmp types, hop limit, nfproto
wire::NftKeyPart Proto(Protocol p);
wire::NftKeyPart CtState(uint32_t bits);
wire::NftKeyPart Ifname(const std::string& name);  // 16 bytes, NUL-padded

// Read back: big-endian bytes as a number (addresses: 4 or 16 bytes).
absl::uint128 BigEndian(const std::string& bytes);
uint32_t HostOrder32(const std::string& bytes);

// The key type nft compares a field as.
wire::NftKeyType KeyTypeOf(wire::NftField field);

}  // namespace polder::nft
