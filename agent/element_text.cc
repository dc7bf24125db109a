#include "agent/element_text.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace polder::agent {
namespace {

using wire::NftKeyType;

size_t Len(NftKeyType t) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
    case NftKeyType::kCtState:
      return 4;
    case NftKeyType::kIpv6Addr:
    case NftKeyType::kIfname:
      return 16;
    case NftKeyType::kInetService:
      return 2;
    case NftKeyType::kInetProto:
    case NftKeyType::kIcmpType:
    case NftKeyType::kIcmpv6Type:
      return 1;
  }
  return 0;
}

// Netlink attributes in `bytes`: (type, payload), or nullopt when they do not parse.
std::optional<std::vector<std::pair<uint16_t, std::string>>> Attrs(const std::string& bytes) {
  std::vector<std::pair<uint16_t, std::string>> out;
  size_t at = 0;
  while (at + 4 <= bytes.size()) {
    uint16_t len, type;
    std::memcpy(&len, bytes.data() + at, 2);
    std::memcpy(&type, bytes.data() + at + 2, 2);
    if (len < 4 || at + len > bytes.size()) return std::nullopt;
    out.emplace_back(type & 0x3fff, bytes.substr(at + 4, len - 4));
    at += (len + 3u) & ~3u;
  }
  if (at < bytes.size()) return std::nullopt;
  return out;
}

std::string Part(NftKeyType t, const std::string& v) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
    case NftKeyType::kIpv6Addr: {
      char buf[INET6_ADDRSTRLEN];
      int family = t == NftKeyType::kIpv4Addr ? AF_INET : AF_INET6;
      if (inet_ntop(family, v.data(), buf, sizeof(buf)) != nullptr) return buf;
      break;
    }
    case NftKeyType::kInetService:
      return absl::StrCat((static_cast<unsigned char>(v[0]) << 8) |
                          static_cast<unsigned char>(v[1]));
    case NftKeyType::kInetProto: {
      unsigned p = static_cast<unsigned char>(v[0]);
      if (p == 6) return "tcp";
      if (p == 17) return "udp";
      if (p == 132) return "sctp";
      if (p == 1) return "icmp";
      if (p == 58) return "ipv6-icmp";
      return absl::StrCat(p);
    }
    case NftKeyType::kIcmpType:
    case NftKeyType::kIcmpv6Type:
      return absl::StrCat("type ", static_cast<unsigned char>(v[0]));
    case NftKeyType::kIfname:
      return absl::StrCat("\"", std::string(v.c_str()), "\"");
    case NftKeyType::kCtState: {
      uint32_t bits;
      std::memcpy(&bits, v.data(), 4);
      return absl::StrCat("ct state 0x", absl::Hex(bits));
    }
  }
  return absl::BytesToHexString(v);
}

// A key (NFTA_DATA_VALUE inside) as the set's key parts, concatenation parts padded to 4 bytes.
std::optional<std::string> Key(const std::string& nested, const wire::NftSet& set) {
  auto attrs = Attrs(nested);
  if (!attrs || attrs->size() != 1 || (*attrs)[0].first != NFTA_DATA_VALUE) return std::nullopt;
  const std::string& v = (*attrs)[0].second;
  std::vector<std::string> parts;
  size_t at = 0;
  bool concat = set.key.size() > 1;
  for (NftKeyType t : set.key) {
    size_t len = Len(t);
    if (at + len > v.size()) return std::nullopt;
    parts.push_back(Part(t, v.substr(at, len)));
    at += concat ? (len + 3) / 4 * 4 : len;
  }
  return absl::StrJoin(parts, " . ");
}

std::optional<std::string> Verdict(const std::string& nested) {
  auto data = Attrs(nested);
  if (!data || data->size() != 1 || (*data)[0].first != NFTA_DATA_VERDICT) return std::nullopt;
  auto verdict = Attrs((*data)[0].second);
  if (!verdict) return std::nullopt;
  std::optional<int32_t> code;
  std::string chain;
  for (const auto& [type, payload] : *verdict) {
    if (type == NFTA_VERDICT_CODE && payload.size() == 4) {
      uint32_t be;
      std::memcpy(&be, payload.data(), 4);
      code = static_cast<int32_t>(ntohl(be));
    } else if (type == NFTA_VERDICT_CHAIN) {
      chain = std::string(payload.c_str());
    }
  }
  if (!code) return std::nullopt;
  switch (*code) {
    case NF_ACCEPT:
      return "accept";
    case NF_DROP:
      return "drop";
    case NFT_JUMP:
      return absl::StrCat("jump ", chain);
    case NFT_GOTO:
      return absl::StrCat("goto ", chain);
    case NFT_RETURN:
      return "return";
    case NFT_CONTINUE:
      return "continue";
    default:
      return absl::StrCat("verdict ", *code);
  }
}

}  // namespace

std::string ElementText(absl::string_view line, const wire::NftSet& set) {
  std::string key, key_end, data;
  uint32_t flags = 0;
  for (absl::string_view token : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(token, absl::MaxSplits('=', 1));
    uint32_t type;
    if (!absl::SimpleAtoi(kv.first, &type) || kv.second.size() % 2 != 0) return std::string(line);
    for (char c : kv.second) {
      if (!absl::ascii_isxdigit(c)) return std::string(line);
    }
    std::string bytes = absl::HexStringToBytes(kv.second);
    std::optional<std::string> text;
    if (type == NFTA_SET_ELEM_KEY) {
      text = Key(bytes, set);
      if (text) key = *text;
    } else if (type == NFTA_SET_ELEM_KEY_END) {
      text = Key(bytes, set);
      if (text) key_end = *text;
    } else if (type == NFTA_SET_ELEM_DATA) {
      text = Verdict(bytes);
      if (text) data = *text;
    } else if (type == NFTA_SET_ELEM_FLAGS && bytes.size() == 4) {
      uint32_t be;
      std::memcpy(&be, bytes.data(), 4);
      flags = ntohl(be);
      text = "";
    }
    if (!text) return std::string(line);
  }
  if (key.empty()) return std::string(line);
  std::string out = key;
  if (!key_end.empty()) absl::StrAppend(&out, "-", key_end);
  if (flags & NFT_SET_ELEM_INTERVAL_END) {
    absl::StrAppend(&out, " (end of the range before it, exclusive)");
  }
  if (!data.empty()) absl::StrAppend(&out, " : ", data);
  return out;
}

}  // namespace polder::agent
