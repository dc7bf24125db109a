#include "compiler/render/nft_values.h"

#include <cstring>

namespace polder::nft {
namespace {

std::string BigEndianBytes(absl::uint128 v, int width) {
  std::string out(width, '\0');
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>(static_cast<uint8_t>(v & 0xff));
    v >>= 8;
  }
  return out;
}

int Width(Family f) { return f == Family::kV4 ? 4 : 16; }

}  // namespace

wire::NftKeyPart Addresses(Family family, absl::uint128 lo, absl::uint128 hi) {
  return {BigEndianBytes(lo, Width(family)), BigEndianBytes(hi, Width(family))};
}

wire::NftKeyPart Address(const polder::Address& a) { return Addresses(a.family, a.value, a.value); }

wire::NftKeyPart Ports(uint16_t lo, uint16_t hi) {
  return {BigEndianBytes(lo, 2), BigEndianBytes(hi, 2)};
}

wire::NftKeyPart Byte(uint8_t lo, uint8_t hi) { return {std::string(1, lo), std::string(1, hi)}; }

wire::NftKeyPart Proto(Protocol p) {
  uint8_t v = static_cast<uint8_t>(p);
  return Byte(v, v);
}

wire::NftKeyPart CtState(uint32_t bits) {
  std::string b(4, '\0');
  std::memcpy(b.data(), &bits, 4);
  return {b, b};
}

wire::NftKeyPart Ifname(const std::string& name) {
  std::string b = name.substr(0, 15);
  b.resize(16, '\0');
  return {b, b};
}

absl::uint128 BigEndian(const std::string& bytes) {
  absl::uint128 v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

uint32_t HostOrder32(const std::string& bytes) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data(), std::min<size_t>(bytes.size(), 4));
  return v;
}

wire::NftKeyType KeyTypeOf(wire::NftField field) {
  using F = wire::NftField;
  using K = wire::NftKeyType;
  switch (field) {
    case F::kIp4Saddr:
    case F::kIp4Daddr:
      return K::kIpv4Addr;
    case F::kIp6Saddr:
    case F::kIp6Daddr:
      return K::kIpv6Addr;
    case F::kL4Proto:
    case F::kNfProto:
    case F::kIp6Hoplimit:
      return K::kInetProto;  // one byte; printed per field (see nft_text.cc)
    case F::kThSport:
    case F::kThDport:
    case F::kTcpDport:
    case F::kUdpSport:
    case F::kUdpDport:
      return K::kInetService;
    case F::kIcmpType:
      return K::kIcmpType;
    case F::kIcmpv6Type:
      return K::kIcmpv6Type;
    case F::kIif:
    case F::kOif:
      return K::kIfname;
    case F::kCtState:
      return K::kCtState;
  }
  return K::kInetProto;
}

}  // namespace polder::nft
