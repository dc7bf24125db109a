#include "compiler/model/address.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace polder {
namespace {

absl::uint128 FromBytes(const unsigned char* bytes, int n) {
  absl::uint128 v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | bytes[i];
  return v;
}

std::string Format(Family f, absl::uint128 v) {
  char buf[INET6_ADDRSTRLEN];
  if (f == Family::kV4) {
    in_addr a;
    a.s_addr = htonl(static_cast<uint32_t>(absl::Uint128Low64(v)));
    inet_ntop(AF_INET, &a, buf, sizeof buf);
  } else {
    in6_addr a;
    for (int i = 15; i >= 0; --i) {
      a.s6_addr[i] = static_cast<unsigned char>(absl::Uint128Low64(v) & 0xff);
      v >>= 8;
    }
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  return buf;
}

absl::uint128 HostMask(Family f, int length) {
  int host_bits = FamilyBits(f) - length;
  if (host_bits == 0) return 0;
  if (host_bits == 128) return absl::Uint128Max();
  return (absl::uint128(1) << host_bits) - 1;
}

}  // namespace

absl::StatusOr<Address> Address::Parse(std::string_view text_view) {
  std::string s(text_view);
  const std::string& text = s;
  unsigned char bytes[16];
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    return Address{Family::kV4, FromBytes(bytes, 4)};
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    return Address{Family::kV6, FromBytes(bytes, 16)};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("`", text, "` is not an IP address; write e.g. 10.1.0.11 or 2001:db8::11"));
}

std::string Address::ToString() const { return Format(family, value); }

absl::StatusOr<Prefix> Prefix::Parse(std::string_view text_view) {
  const std::string text(text_view);
  size_t slash = text.find('/');
  absl::StatusOr<Address> base = Address::Parse(std::string_view(text).substr(0, slash));
  if (!base.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`", text, "` is not a CIDR prefix; write e.g. 10.1.0.0/24 or 2001:db8:1::/64"));
  }
  int bits = FamilyBits(base->family);
  int length = bits;
  if (slash != std::string::npos) {
    std::string_view len_text = std::string_view(text).substr(slash + 1);
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    // No leading zeros (`/08`): nftables and most tools reject or misread them.
    bool leading_zero = len_text.size() > 1 && len_text[0] == '0';
    if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty() ||
        leading_zero || length < 0 || length > bits) {
      return absl::InvalidArgumentError(absl::StrCat("`", text, "` has an invalid prefix length; ",
                                                     "use 0 to ", bits, " for IPv",
                                                     static_cast<int>(base->family)));
    }
  }
  if ((base->value & HostMask(base->family, length)) != 0) {
    Prefix fixed{Address{base->family, base->value & ~HostMask(base->family, length)}, length};
    return absl::InvalidArgumentError(
        absl::StrCat("`", text, "` has host bits set; write `", fixed.ToString(), "`"));
  }
  return Prefix{*base, length};
}

AddressRange Prefix::Range() const {
  return AddressRange{base.family, base.value, base.value | HostMask(base.family, length)};
}

std::string Prefix::ToString() const { return absl::StrCat(base.ToString(), "/", length); }

std::string AddressRange::ToString() const {
  // A range is a prefix when its size is a power of two and lo is aligned.
  absl::uint128 size_minus_1 = hi - lo;
  if ((size_minus_1 & (size_minus_1 + 1)) == 0 && (lo & size_minus_1) == 0) {
    int host_bits = 0;
    while (host_bits < 128 && (size_minus_1 >> host_bits) != 0) ++host_bits;
    return absl::StrCat(Format(family, lo), "/", FamilyBits(family) - host_bits);
  }
  return absl::StrCat(Format(family, lo), "-", Format(family, hi));
}

}  // namespace polder
