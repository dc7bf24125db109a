#include "agent/nftnl_batch.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

using wire::NftField;
using wire::NftKeyPart;
using wire::NftKeyType;
using wire::NftMatch;
using wire::NftRule;
using wire::NftRuleset;
using wire::NftSet;
using wire::NftStatement;
using wire::NftVerdict;

constexpr char kTable[] = "polder";
constexpr uint16_t kFamily = NFPROTO_INET;
// Pages of 4 MiB: the batch goes in one sendmsg, whose iovec may have at most UIO_MAXIOV
// (1024) parts, so smaller pages would cap a batch near 128 MiB; room past the end of a page
// for one message of maximal attribute size.
constexpr uint32_t kBatchPage = 4u << 20;
constexpr uint32_t kBatchOverrun = 65535 + 4096;

// nft's datatype numbers (nftables src/datatype.h), which it stores as the set's key type.
uint32_t DatatypeId(NftKeyType t) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
      return 7;
    case NftKeyType::kIpv6Addr:
      return 8;
    case NftKeyType::kInetProto:
      return 12;
    case NftKeyType::kInetService:
      return 13;
    case NftKeyType::kIcmpType:
      return 14;
    case NftKeyType::kCtState:
      return 26;
    case NftKeyType::kIcmpv6Type:
      return 29;
    case NftKeyType::kIfname:
      return 41;
  }
  return 0;
}

size_t KeyTypeLen(NftKeyType t) {
  switch (t) {
    case NftKeyType::kIpv4Addr:
      return 4;
    case NftKeyType::kIpv6Addr:
      return 16;
    case NftKeyType::kInetProto:
    case NftKeyType::kIcmpType:
    case NftKeyType::kIcmpv6Type:
      return 1;
    case NftKeyType::kInetService:
      return 2;
    case NftKeyType::kIfname:
      return 16;
    case NftKeyType::kCtState:
      return 4;
  }
  return 0;
}

// nft's byte order of a datatype (1 host, 2 big endian), stored in the set's user data.
uint32_t KeyByteorder(NftKeyType t) {
  switch (t) {
    case NftKeyType::kInetProto:
    case NftKeyType::kCtState:
    case NftKeyType::kIfname:
      return 1;
    default:
      return 2;
  }
}

size_t Padded(size_t len) { return (len + 3) / 4 * 4; }

int32_t VerdictCode(NftVerdict v) {
  switch (v) {
    case NftVerdict::kAccept:
      return NF_ACCEPT;
    case NftVerdict::kDrop:
      return NF_DROP;
    case NftVerdict::kJump:
      return NFT_JUMP;
    case NftVerdict::kGoto:
      return NFT_GOTO;
    case NftVerdict::kReturn:
      return NFT_RETURN;
    case NftVerdict::kNone:
      break;
  }
  return NFT_CONTINUE;
}

// Big-endian increment of a byte string; false when it wrapped (the value was all ones).
bool Increment(std::string& v) {
  for (size_t i = v.size(); i-- > 0;) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    v[i] = static_cast<char>(c + 1);
    if (c != 0xff) return true;
  }
  return false;
}

// One field of a rule: how nft loads it and which protocol matches it depends on.
struct FieldLoad {
  enum class Kind { kMeta, kPayload, kCt } kind;
  uint32_t key = 0;     // meta / ct key
  uint32_t base = 0;    // payload base
  uint32_t offset = 0;  // payload offset
  uint32_t len = 0;     // bytes
  uint8_t nfproto = 0;  // dependency: meta nfproto == this (0: none)
  uint8_t l4proto = 0;  // dependency: meta l4proto == this (0: none)
  bool host_order = false;
  NftKeyType type;
};

FieldLoad Describe(NftField f) {
  using K = FieldLoad::Kind;
  switch (f) {
    case NftField::kIp4Saddr:
      return {K::kPayload, 0,     NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFPROTO_IPV4,
              0,           false, NftKeyType::kIpv4Addr};
    case NftField::kIp4Daddr:
      return {K::kPayload, 0,     NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFPROTO_IPV4,
              0,           false, NftKeyType::kIpv4Addr};
    case NftField::kIp6Saddr:
      return {K::kPayload, 0,     NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFPROTO_IPV6,
              0,           false, NftKeyType::kIpv6Addr};
    case NftField::kIp6Daddr:
      return {K::kPayload, 0,     NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFPROTO_IPV6,
              0,           false, NftKeyType::kIpv6Addr};
    case NftField::kIp6Hoplimit:
      return {K::kPayload, 0,     NFT_PAYLOAD_NETWORK_HEADER, 7, 1, NFPROTO_IPV6,
              0,           false, NftKeyType::kInetProto};
    case NftField::kL4Proto:
      return {K::kMeta, NFT_META_L4PROTO, 0, 0, 1, 0, 0, true, NftKeyType::kInetProto};
    case NftField::kNfProto:
      return {K::kMeta, NFT_META_NFPROTO, 0, 0, 1, 0, 0, true, NftKeyType::kInetProto};
    case NftField::kThSport:
      return {K::kPayload, 0,     NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, 0,
              0,           false, NftKeyType::kInetService};
    case NftField::kThDport:
      return {K::kPayload, 0,     NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 0,
              0,           false, NftKeyType::kInetService};
    case NftField::kTcpDport:
      return {K::kPayload, 0,     NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 0,
              IPPROTO_TCP, false, NftKeyType::kInetService};
    case NftField::kUdpSport:
      return {K::kPayload, 0,     NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, 0,
              IPPROTO_UDP, false, NftKeyType::kInetService};
    case NftField::kUdpDport:
      return {K::kPayload, 0,     NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 0,
              IPPROTO_UDP, false, NftKeyType::kInetService};
    case NftField::kIcmpType:
      return {K::kPayload,  0,     NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFPROTO_IPV4,
              IPPROTO_ICMP, false, NftKeyType::kIcmpType};
    case NftField::kIcmpv6Type:
      return {K::kPayload,    0,     NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFPROTO_IPV6,
              IPPROTO_ICMPV6, false, NftKeyType::kIcmpv6Type};
    case NftField::kIif:
      return {K::kMeta, NFT_META_IIF, 0, 0, 4, 0, 0, true, NftKeyType::kIfname};
    case NftField::kOif:
      return {K::kMeta, NFT_META_OIF, 0, 0, 4, 0, 0, true, NftKeyType::kIfname};
    case NftField::kCtState:
      return {K::kCt, NFT_CT_STATE, 0, 0, 4, 0, 0, true, NftKeyType::kCtState};
  }
  return {K::kMeta, 0, 0, 0, 0, 0, 0, false, NftKeyType::kInetProto};
}

// nft names a register by its 32-bit word offset: whole 16-byte registers (NFT_REG_1...) where
// the offset is a multiple of four words, 32-bit ones (NFT_REG32_00 + offset) otherwise.
uint32_t RegisterAt(size_t word) {
  return word % 4 == 0 ? NFT_REG_1 + static_cast<uint32_t>(word / 4)
                       : NFT_REG32_00 + static_cast<uint32_t>(word);
}

struct ExprDeleter {
  void operator()(nftnl_expr* e) const { nftnl_expr_free(e); }
};
using ExprPtr = std::unique_ptr<nftnl_expr, ExprDeleter>;
struct RuleDeleter {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};

// Builds one rule's expressions in the order nft 1.0.6 emits them.
class RuleBuilder {
 public:
  explicit RuleBuilder(nftnl_rule* rule) : rule_(rule) {}

  void Meta(uint32_t key, uint32_t dreg) {
    nftnl_expr* e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    Add(e);
  }
  void Cmp(uint32_t sreg, uint32_t op, const std::string& data) {
    nftnl_expr* e = nftnl_expr_alloc("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<uint32_t>(data.size()));
    Add(e);
  }
  void Payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
    nftnl_expr* e = nftnl_expr_alloc("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    Add(e);
  }
  void Ct(uint32_t key, uint32_t dreg) {
    nftnl_expr* e = nftnl_expr_alloc("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
    Add(e);
  }
  void Bitwise(uint32_t reg, const std::string& mask) {
    nftnl_expr* e = nftnl_expr_alloc("bitwise");
    std::string zero(mask.size(), '\0');
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_BOOL);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, static_cast<uint32_t>(mask.size()));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), static_cast<uint32_t>(mask.size()));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero.data(), static_cast<uint32_t>(zero.size()));
    Add(e);
  }
  void Hton(uint32_t reg, uint32_t len, uint32_t size) {
    nftnl_expr* e = nftnl_expr_alloc("byteorder");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, size);
    Add(e);
  }
  void Lookup(uint32_t sreg, const std::string& set, uint32_t set_id, bool vmap, bool negate) {
    nftnl_expr* e = nftnl_expr_alloc("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (set_id != 0) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    if (vmap) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
    if (negate) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    Add(e);
  }
  void Verdict(int32_t code, const std::string& chain) {
    nftnl_expr* e = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(code));
    if (!chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
    Add(e);
  }
  void Add(nftnl_expr* e) { nftnl_rule_add_expr(rule_, e); }

  // Emits the protocol matches `load` depends on that this rule has not matched yet.
  void Dependencies(const FieldLoad& load) {
    if (load.nfproto != 0 && nfproto_ != load.nfproto) {
      Meta(NFT_META_NFPROTO, NFT_REG_1);
      Cmp(NFT_REG_1, NFT_CMP_EQ, std::string(1, static_cast<char>(load.nfproto)));
      nfproto_ = load.nfproto;
    }
    if (load.l4proto != 0 && l4proto_ != load.l4proto) {
      Meta(NFT_META_L4PROTO, NFT_REG_1);
      Cmp(NFT_REG_1, NFT_CMP_EQ, std::string(1, static_cast<char>(load.l4proto)));
      l4proto_ = load.l4proto;
    }
  }
  void Load(const FieldLoad& load, uint32_t dreg, uint32_t len) {
    switch (load.kind) {
      case FieldLoad::Kind::kMeta:
        Meta(load.key, dreg);
        break;
      case FieldLoad::Kind::kCt:
        Ct(load.key, dreg);
        break;
      case FieldLoad::Kind::kPayload:
        Payload(load.base, load.offset, len, dreg);
        break;
    }
  }
  void Known(NftField f, const std::string& value) {
    if (f == NftField::kNfProto && value.size() == 1) nfproto_ = static_cast<uint8_t>(value[0]);
    if (f == NftField::kL4Proto && value.size() == 1) l4proto_ = static_cast<uint8_t>(value[0]);
  }

 private:
  nftnl_rule* rule_;
  uint8_t nfproto_ = 0;
  uint8_t l4proto_ = 0;
};

// The value a match compares a field with, as the kernel sees it: interface names become
// indexes (nft's `iif "lo"` is `meta iif == 1`).
absl::StatusOr<std::string> FieldValue(NftField f, const std::string& value) {
  if (f == NftField::kIif || f == NftField::kOif) {
    if (value.size() == 4) return value;
    std::string name(value.c_str());  // NUL-padded
    if (name != "lo") {
      return absl::InvalidArgumentError(
          absl::StrCat("interface match on \"", name, "\": only \"lo\" is supported"));
    }
    uint32_t index = 1;  // lo is interface 1 in every network namespace
    return std::string(reinterpret_cast<const char*>(&index), 4);
  }
  FieldLoad load = Describe(f);
  if (value.size() != load.len) {
    return absl::InvalidArgumentError(
        absl::StrCat("a value of ", value.size(), " bytes for a field of ", load.len));
  }
  return value;
}

// Whether [from, to] is one prefix; sets its length in bits.
bool IsPrefix(const std::string& from, const std::string& to, size_t* bits) {
  size_t n = from.size();
  size_t i = 0;
  while (i < n * 8) {
    int byte = static_cast<int>(i / 8), bit = 7 - static_cast<int>(i % 8);
    bool f = (static_cast<unsigned char>(from[byte]) >> bit) & 1;
    bool t = (static_cast<unsigned char>(to[byte]) >> bit) & 1;
    if (f != t) break;
    ++i;
  }
  *bits = i;
  for (size_t j = i; j < n * 8; ++j) {
    int byte = static_cast<int>(j / 8), bit = 7 - static_cast<int>(j % 8);
    if (((static_cast<unsigned char>(from[byte]) >> bit) & 1) != 0) return false;
    if (((static_cast<unsigned char>(to[byte]) >> bit) & 1) != 1) return false;
  }
  return true;
}

std::string PrefixMask(size_t len, size_t bits) {
  std::string mask(len, '\0');
  for (size_t i = 0; i < bits; ++i) mask[i / 8] |= static_cast<char>(0x80 >> (i % 8));
  return mask;
}

const NftSet* FindSet(const NftRuleset& rs, const std::string& name) {
  for (const NftSet& s : rs.sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::vector<KernelElement>> KernelElements(const NftSet& set) {
  std::vector<KernelElement> out;
  if (set.key.empty())
    return absl::InvalidArgumentError(absl::StrCat("set ", set.name, ": no key"));
  bool concat = set.key.size() > 1;
  auto part_ok = [&](const wire::NftElement& e) -> absl::Status {
    if (e.key.size() != set.key.size()) {
      return absl::InvalidArgumentError(absl::StrCat("set ", set.name, ": an element has ",
                                                     e.key.size(), " key parts, the type ",
                                                     set.key.size()));
    }
    for (size_t i = 0; i < e.key.size(); ++i) {
      size_t len = KeyTypeLen(set.key[i]);
      if (e.key[i].from.size() != len || e.key[i].to.size() != len) {
        return absl::InvalidArgumentError(
            absl::StrCat("set ", set.name, ": key part ", i, " is not ", len, " bytes"));
      }
      if (!set.interval && e.key[i].from != e.key[i].to) {
        return absl::InvalidArgumentError(
            absl::StrCat("set ", set.name, ": a range in a set without flags interval"));
      }
    }
    return absl::OkStatus();
  };
  auto with_data = [&](KernelElement k, const wire::NftElement& e) {
    if (set.verdict_map) {
      k.has_verdict = true;
      k.verdict = VerdictCode(e.data.verdict);
      k.chain = e.data.chain;
    }
    return k;
  };
  if (!set.interval || concat) {
    for (const wire::NftElement& e : set.elements) {
      if (absl::Status st = part_ok(e); !st.ok()) return st;
      KernelElement k;
      for (size_t i = 0; i < e.key.size(); ++i) {
        // Each part of a concatenation fills whole registers; a single key is as long as it is.
        std::string from = e.key[i].from, to = e.key[i].to;
        if (concat) {
          from.resize(Padded(from.size()), '\0');
          to.resize(Padded(to.size()), '\0');
        }
        k.key += from;
        if (set.interval) k.key_end += to;
      }
      out.push_back(with_data(std::move(k), e));
    }
    // The compiler emits elements sorted: a check is linear, a sort of 200k is not.
    if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
    return out;
  }
  // One-field interval set: each range [from, to] is a start element and, unless `to` is the
  // largest value, an end element at to + 1; nft adds an end element at 0 when the first range
  // does not start there. A range that starts where the previous one ends keeps both the end
  // and the start element at that key, as nft writes them.
  std::vector<const wire::NftElement*> sorted;
  for (const wire::NftElement& e : set.elements) {
    if (absl::Status st = part_ok(e); !st.ok()) return st;
    sorted.push_back(&e);
  }
  auto by_start = [](const wire::NftElement* a, const wire::NftElement* b) {
    return a->key[0].from < b->key[0].from;
  };
  if (!std::is_sorted(sorted.begin(), sorted.end(), by_start)) {
    std::sort(sorted.begin(), sorted.end(), by_start);
  }
  size_t len = KeyTypeLen(set.key[0]);
  std::string zero(len, '\0');
  for (size_t i = 0; i < sorted.size(); ++i) {
    const wire::NftElement& e = *sorted[i];
    std::string from = e.key[0].from, end = e.key[0].to;
    from.resize(len, '\0');
    end.resize(len, '\0');
    if (i > 0 && sorted[i - 1]->key[0].to >= e.key[0].from) {
      return absl::InvalidArgumentError(absl::StrCat("set ", set.name, ": overlapping intervals"));
    }
    if (i == 0 && from != zero) {
      KernelElement z;
      z.key = zero;
      z.flags = NFT_SET_ELEM_INTERVAL_END;
      out.push_back(z);
    }
    KernelElement start;
    start.key = from;
    out.push_back(with_data(std::move(start), e));
    std::string raw_end = e.key[0].to;
    if (Increment(raw_end)) {
      raw_end.resize(len, '\0');
      KernelElement stop;
      stop.key = raw_end;
      stop.flags = NFT_SET_ELEM_INTERVAL_END;
      out.push_back(stop);
    }
  }
  if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
  return out;
}

NftnlBatch::NftnlBatch()
    : batch_(nftnl_batch_alloc(kBatchPage, kBatchOverrun)),
      seq_(static_cast<uint32_t>(time(nullptr))),
      first_seq_(seq_) {
  nftnl_batch_begin(static_cast<char*>(nftnl_batch_buffer(batch_)), seq_++);
  nftnl_batch_update(batch_);
}

NftnlBatch::~NftnlBatch() { nftnl_batch_free(batch_); }

void* NftnlBatch::Next() { return nftnl_batch_buffer(batch_); }

void NftnlBatch::Done() {
  ++messages_;
  nftnl_batch_update(batch_);
}

void NftnlBatch::AddTable() {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kFamily);
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, kTable);
  nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
  what_.emplace_back(seq_, "add table inet polder");
  nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWTABLE, kFamily,
                                              NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  Done();
}

void NftnlBatch::DeleteTable() {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kFamily);
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, kTable);
  what_.emplace_back(seq_, "delete table inet polder");
  nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELTABLE, kFamily,
                                              NLM_F_ACK, seq_++);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  Done();
}

void NftnlBatch::ReplaceTable() {
  AddTable();
  DeleteTable();
  AddTable();
}

namespace {

// nft's expression numbers (src/expression.h) and payload protocol/field numbers
// (src/proto.h), which it stores in a set's user data to print the key back.
constexpr uint32_t kExprPayload = 7;
constexpr uint32_t kExprMeta = 9;
constexpr uint32_t kExprCt = 12;
constexpr uint32_t kExprConcat = 13;

struct ExprUdata {
  uint32_t expr;
  std::vector<std::pair<uint8_t, uint32_t>> data;
};

std::optional<ExprUdata> ExprUdataOf(NftField f) {
  constexpr uint32_t kIcmp = 4, kUdp = 6, kTcp = 8, kTh = 11, kIp = 12, kIp6 = 13, kIcmp6 = 14;
  auto payload = [](uint32_t desc, uint32_t field) {
    return ExprUdata{kExprPayload, {{0, desc}, {1, field}}};
  };
  switch (f) {
    case NftField::kIp4Saddr:
      return payload(kIp, 11);
    case NftField::kIp4Daddr:
      return payload(kIp, 12);
    case NftField::kIp6Saddr:
      return payload(kIp6, 8);
    case NftField::kIp6Daddr:
      return payload(kIp6, 9);
    case NftField::kIp6Hoplimit:
      return payload(kIp6, 7);
    case NftField::kThSport:
      return payload(kTh, 1);
    case NftField::kThDport:
      return payload(kTh, 2);
    case NftField::kTcpDport:
      return payload(kTcp, 2);
    case NftField::kUdpSport:
      return payload(kUdp, 1);
    case NftField::kUdpDport:
      return payload(kUdp, 2);
    case NftField::kIcmpType:
      return payload(kIcmp, 1);
    case NftField::kIcmpv6Type:
      return payload(kIcmp6, 1);
    case NftField::kL4Proto:
      return ExprUdata{kExprMeta, {{0, NFT_META_L4PROTO}}};
    case NftField::kNfProto:
      return ExprUdata{kExprMeta, {{0, NFT_META_NFPROTO}}};
    case NftField::kIif:
      return ExprUdata{kExprMeta, {{0, NFT_META_IIF}}};
    case NftField::kOif:
      return ExprUdata{kExprMeta, {{0, NFT_META_OIF}}};
    case NftField::kCtState:
      return ExprUdata{kExprCt, {{0, NFT_CT_STATE}}};
  }
  return std::nullopt;
}

// The set as nft declares it (without elements); `id` binds it to rules in the same batch.
// Anonymous sets carry the field the rule looks up.
nftnl_set* BuildSet(const std::string& name, const std::vector<NftKeyType>& key, uint32_t flags,
                    const NftSet* named, uint32_t id, size_t anon_size,
                    std::optional<NftField> anon_field = std::nullopt) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(s, NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_u32(s, NFTNL_SET_ID, id);
  uint32_t type = 0, len = 0;
  for (NftKeyType t : key) {
    type = (type << 6) | DatatypeId(t);
    len += static_cast<uint32_t>(Padded(KeyTypeLen(t)));
  }
  bool concat = key.size() > 1;
  if (!concat) len = static_cast<uint32_t>(KeyTypeLen(key[0]));
  if (concat && (flags & NFT_SET_INTERVAL)) flags |= NFT_SET_CONCAT;
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
  if (flags & NFT_SET_MAP) {
    nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
  }
  if (anon_size > 0) nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(anon_size));
  if (named != nullptr && named->size > 0) nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, named->size);
  if (named != nullptr && named->timeout_s > 0) {
    nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, uint64_t{named->timeout_s} * 1000);
  }
  if (concat && (flags & NFT_SET_INTERVAL)) {
    uint8_t field_len[NFT_REG32_COUNT];
    for (size_t i = 0; i < key.size(); ++i) field_len[i] = static_cast<uint8_t>(KeyTypeLen(key[i]));
    nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, field_len, static_cast<uint32_t>(key.size()));
  }
  if (named != nullptr && named->counter) nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
  // User data as nft 1.0.6 writes it: key byte order (none for a concatenation), the data's
  // byte order and interval flag for maps, auto-merge for anonymous interval sets, and what the
  // key was made of (a concatenation; for anonymous sets the expression the rule matches).
  nftnl_udata_buf* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, concat ? 0 : KeyByteorder(key[0]));
  if (flags & NFT_SET_MAP) nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER, 0);
  if ((flags & NFT_SET_INTERVAL) && (flags & NFT_SET_ANONYMOUS)) {
    nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_MERGE_ELEMENTS, 1);
  }
  if (concat) {
    nftnl_udata* typeof_key = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_KEY_TYPEOF);
    nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_TYPEOF_EXPR, kExprConcat);
    nftnl_udata_nest_end(ud, nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_TYPEOF_DATA));
    nftnl_udata_nest_end(ud, typeof_key);
  } else if (anon_field.has_value()) {
    std::optional<ExprUdata> expr = ExprUdataOf(*anon_field);
    if (expr) {
      nftnl_udata* typeof_key = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_KEY_TYPEOF);
      nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_TYPEOF_EXPR, expr->expr);
      nftnl_udata* data = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_TYPEOF_DATA);
      for (const auto& [type, value] : expr->data) nftnl_udata_put_u32(ud, type, value);
      nftnl_udata_nest_end(ud, data);
      nftnl_udata_nest_end(ud, typeof_key);
    }
  }
  if (flags & NFT_SET_MAP) nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
  nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
  nftnl_udata_buf_free(ud);
  return s;
}

uint32_t SetFlags(const NftSet& set) {
  uint32_t flags = 0;
  if (set.interval) flags |= NFT_SET_INTERVAL;
  if (set.verdict_map) flags |= NFT_SET_MAP;
  if (set.dynamic) flags |= NFT_SET_EVAL;
  if (set.timeout_s > 0) flags |= NFT_SET_TIMEOUT;
  return flags;
}

void AddElementsTo(nftnl_set* s, const std::vector<KernelElement>& elements) {
  for (const KernelElement& k : elements) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k.key.data(), static_cast<uint32_t>(k.key.size()));
    if (!k.key_end.empty()) {
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k.key_end.data(),
                         static_cast<uint32_t>(k.key_end.size()));
    }
    if (k.flags != 0) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, k.flags);
    if (k.has_verdict) {
      nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(k.verdict));
      if (!k.chain.empty()) nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, k.chain.c_str());
    }
    nftnl_set_elem_add(s, e);
  }
}

}  // namespace

absl::Status NftnlBatch::AddSet(const NftSet& set) {
  if (set.key.empty())
    return absl::InvalidArgumentError(absl::StrCat("set ", set.name, ": no key"));
  nftnl_set* s = BuildSet(set.name, set.key, SetFlags(set), &set, NextSetId(), 0);
  what_.emplace_back(seq_, absl::StrCat("add set ", set.name));
  nlmsghdr* nlh = nftnl_set_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWSET, kFamily,
                                            NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_set_nlmsg_build_payload(nlh, s);
  nftnl_set_free(s);
  Done();
  return absl::OkStatus();
}

void NftnlBatch::DeleteSet(const std::string& name) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(s, NFTNL_SET_NAME, name.c_str());
  what_.emplace_back(seq_, absl::StrCat("delete set ", name));
  nlmsghdr* nlh = nftnl_set_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELSET, kFamily,
                                            NLM_F_ACK, seq_++);
  nftnl_set_nlmsg_build_payload(nlh, s);
  nftnl_set_free(s);
  Done();
}

namespace {

// Queues NEWSETELEM/DELSETELEM messages for `elements`, as many per message as fit.
template <typename Emit>
void ElementMessages(const std::string& set_name, uint32_t set_id,
                     const std::vector<KernelElement>& elements, const Emit& emit) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(s, NFTNL_SET_NAME, set_name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, kFamily);
  if (set_id != 0) nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
  AddElementsTo(s, elements);
  nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s);
  // The iterator wraps instead of ending: the builder says whether elements are left.
  if (!elements.empty()) {
    while (emit(it) > 0) {
    }
  }
  nftnl_set_elems_iter_destroy(it);
  nftnl_set_free(s);
}

}  // namespace

absl::Status NftnlBatch::AddElements(const NftSet& set,
                                     const std::vector<KernelElement>& elements) {
  if (elements.empty()) return absl::OkStatus();
  ElementMessages(set.name, 0, elements, [&](nftnl_set_elems_iter* it) {
    what_.emplace_back(seq_, absl::StrCat("add elements to set ", set.name));
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWSETELEM, kFamily,
                                          NLM_F_CREATE, seq_++);
    int more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
    Done();
    return more;
  });
  return absl::OkStatus();
}

absl::Status NftnlBatch::DeleteElements(const NftSet& set,
                                        const std::vector<KernelElement>& elements) {
  if (elements.empty()) return absl::OkStatus();
  // Deletion names elements by key (and end flag); their data does not matter.
  std::vector<KernelElement> keys;
  keys.reserve(elements.size());
  for (const KernelElement& k : elements) {
    KernelElement key_only;
    key_only.key = k.key;
    key_only.key_end = k.key_end;
    key_only.flags = k.flags;
    keys.push_back(std::move(key_only));
  }
  ElementMessages(set.name, 0, keys, [&](nftnl_set_elems_iter* it) {
    what_.emplace_back(seq_, absl::StrCat("delete elements from set ", set.name));
    nlmsghdr* nlh =
        nftnl_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELSETELEM, kFamily, 0, seq_++);
    int more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
    Done();
    return more;
  });
  return absl::OkStatus();
}

void NftnlBatch::AddCounter(const wire::NftNamedCounter& counter) {
  nftnl_obj* o = nftnl_obj_alloc();
  nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, kTable);
  nftnl_obj_set_str(o, NFTNL_OBJ_NAME, counter.name.c_str());
  nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, kFamily);
  nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, counter.packets);
  nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, counter.bytes);
  what_.emplace_back(seq_, absl::StrCat("add counter ", counter.name));
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWOBJ, kFamily,
                                        NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_obj_nlmsg_build_payload(nlh, o);
  nftnl_obj_free(o);
  Done();
}

void NftnlBatch::DeleteCounter(const std::string& name) {
  nftnl_obj* o = nftnl_obj_alloc();
  nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, kTable);
  nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name.c_str());
  nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, kFamily);
  nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  what_.emplace_back(seq_, absl::StrCat("delete counter ", name));
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELOBJ, kFamily, NLM_F_ACK, seq_++);
  nftnl_obj_nlmsg_build_payload(nlh, o);
  nftnl_obj_free(o);
  Done();
}

namespace {

// Every base chain polder declares is `type filter hook <hook> priority filter` (0).
constexpr const char* kChainType = "filter";
constexpr int32_t kChainPriority = 0;

absl::StatusOr<uint32_t> HookNumber(const wire::NftChain& chain) {
  if (chain.hook == "input") return NF_INET_LOCAL_IN;
  if (chain.hook == "output") return NF_INET_LOCAL_OUT;
  if (chain.hook == "forward") return NF_INET_FORWARD;
  return absl::InvalidArgumentError(
      absl::StrCat("chain ", chain.name, ": unknown hook \"", chain.hook, "\""));
}

}  // namespace

absl::StatusOr<std::string> DeclaredHook(const wire::NftChain& chain) {
  absl::StatusOr<uint32_t> hook = HookNumber(chain);
  if (!hook.ok()) return hook.status();
  return BaseChainHook(kChainType, *hook, kChainPriority);
}

absl::Status NftnlBatch::AddChain(const wire::NftChain& chain) {
  if (chain.base) {
    absl::StatusOr<uint32_t> hook = HookNumber(chain);
    if (!hook.ok()) return hook.status();
    if (chain.policy != NftVerdict::kAccept && chain.policy != NftVerdict::kDrop) {
      return absl::InvalidArgumentError(
          absl::StrCat("chain ", chain.name, ": policy must be accept or drop"));
    }
  }
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, kTable);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, kFamily);
  if (chain.base) {
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, *HookNumber(chain));
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, kChainPriority);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, kChainType);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, static_cast<uint32_t>(VerdictCode(chain.policy)));
  }
  what_.emplace_back(seq_, absl::StrCat("add chain ", chain.name));
  nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWCHAIN, kFamily,
                                              NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
  Done();
  return absl::OkStatus();
}

void NftnlBatch::FlushChain(const std::string& name) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTable);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name.c_str());
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kFamily);
  what_.emplace_back(seq_, absl::StrCat("flush chain ", name));
  nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELRULE, kFamily,
                                             NLM_F_ACK, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
  Done();
}

void NftnlBatch::DeleteChain(const std::string& name) {
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, kTable);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name.c_str());
  nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, kFamily);
  what_.emplace_back(seq_, absl::StrCat("delete chain ", name));
  nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELCHAIN, kFamily,
                                              NLM_F_ACK, seq_++);
  nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
  Done();
}

void NftnlBatch::DeleteRule(const std::string& chain, uint64_t handle) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTable);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kFamily);
  nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
  what_.emplace_back(seq_, absl::StrCat("delete rule ", handle, " of chain ", chain));
  nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_DELRULE, kFamily,
                                             NLM_F_ACK, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
  Done();
}

absl::Status NftnlBatch::AddRule(const NftRuleset& ruleset, const std::string& chain,
                                 const NftRule& rule, RulePosition position) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTable);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kFamily);
  std::unique_ptr<nftnl_rule, RuleDeleter> owner(r);
  RuleBuilder b(r);
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("chain ", chain, ": rule: ", why));
  };
  for (const NftMatch& m : rule.matches) {
    if (m.fields.empty()) return fail("a match without fields");
    switch (m.kind) {
      case NftMatch::Kind::kEqual: {
        if (m.fields.size() != 1 || m.values.size() != 1)
          return fail("== needs one field, one value");
        NftField f = m.fields[0];
        FieldLoad load = Describe(f);
        absl::StatusOr<std::string> from = FieldValue(f, m.values[0].from);
        absl::StatusOr<std::string> to = FieldValue(f, m.values[0].to);
        if (!from.ok()) return fail(from.status().message());
        if (!to.ok()) return fail(to.status().message());
        b.Dependencies(load);
        if (f == NftField::kCtState) {
          // (ct state & value) != 0, as nft compiles `ct state established,related`.
          b.Load(load, NFT_REG_1, load.len);
          b.Bitwise(NFT_REG_1, *from);
          b.Cmp(NFT_REG_1, m.negate ? NFT_CMP_EQ : NFT_CMP_NEQ, std::string(4, '\0'));
          break;
        }
        if (*from == *to) {
          b.Load(load, NFT_REG_1, load.len);
          b.Cmp(NFT_REG_1, m.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, *from);
          b.Known(f, *from);
          break;
        }
        size_t bits = 0;
        if (!m.negate && IsPrefix(*from, *to, &bits)) {
          if (bits % 8 == 0) {  // nft loads only the prefix's bytes
            b.Load(load, NFT_REG_1, static_cast<uint32_t>(bits / 8));
            b.Cmp(NFT_REG_1, NFT_CMP_EQ, from->substr(0, bits / 8));
          } else {
            b.Load(load, NFT_REG_1, load.len);
            b.Bitwise(NFT_REG_1, PrefixMask(load.len, bits));
            b.Cmp(NFT_REG_1, NFT_CMP_EQ, *from);
          }
          break;
        }
        if (m.negate) return fail("!= a range is not supported");
        b.Load(load, NFT_REG_1, load.len);
        b.Cmp(NFT_REG_1, NFT_CMP_GTE, *from);
        b.Cmp(NFT_REG_1, NFT_CMP_LTE, *to);
        break;
      }
      case NftMatch::Kind::kInAnonSet: {
        if (m.fields.size() != 1 || m.values.empty()) return fail("{ } needs one field, values");
        NftField f = m.fields[0];
        FieldLoad load = Describe(f);
        if (m.values.size() == 1) {  // nft turns a one-element set into a comparison
          NftMatch single = m;
          single.kind = NftMatch::Kind::kEqual;
          NftRule one;
          one.matches.push_back(single);
          // Reuse the == path with this builder's dependency state.
          absl::StatusOr<std::string> v = FieldValue(f, m.values[0].from);
          if (!v.ok()) return fail(v.status().message());
          if (m.values[0].from == m.values[0].to) {
            b.Dependencies(load);
            b.Load(load, NFT_REG_1, load.len);
            b.Cmp(NFT_REG_1, m.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, *v);
            break;
          }
        }
        NftSet anon;
        anon.key = {load.type};
        for (const NftKeyPart& v : m.values) {
          absl::StatusOr<std::string> from = FieldValue(f, v.from);
          absl::StatusOr<std::string> to = FieldValue(f, v.to);
          if (!from.ok()) return fail(from.status().message());
          if (!to.ok()) return fail(to.status().message());
          if (*from != *to) anon.interval = true;
          anon.elements.push_back({{{*from, *to}}, {}});
        }
        anon.name = "__set%d";
        absl::StatusOr<std::vector<KernelElement>> elements = KernelElements(anon);
        if (!elements.ok()) return fail(elements.status().message());
        uint32_t id = NextSetId();
        uint32_t flags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
        if (anon.interval) flags |= NFT_SET_INTERVAL;
        nftnl_set* s = BuildSet(anon.name, anon.key, flags, nullptr, id, elements->size(), f);
        what_.emplace_back(seq_, absl::StrCat("add anonymous set of chain ", chain));
        nlmsghdr* nlh = nftnl_set_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWSET,
                                                  kFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
        nftnl_set_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
        Done();
        ElementMessages(anon.name, id, *elements, [&](nftnl_set_elems_iter* it) {
          what_.emplace_back(seq_, absl::StrCat("add anonymous set elements of chain ", chain));
          nlmsghdr* enl = nftnl_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWSETELEM,
                                                kFamily, NLM_F_CREATE, seq_++);
          int more = nftnl_set_elems_nlmsg_build_payload_iter(enl, it);
          Done();
          return more;
        });
        b.Dependencies(load);
        b.Load(load, NFT_REG_1, load.len);
        b.Lookup(NFT_REG_1, anon.name, id, false, m.negate);
        break;
      }
      case NftMatch::Kind::kInSet:
      case NftMatch::Kind::kVmap: {
        const NftSet* set = FindSet(ruleset, m.set);
        if (set == nullptr) return fail(absl::StrCat("no set named ", m.set));
        if (set->key.size() != m.fields.size()) {
          return fail(absl::StrCat("set ", m.set, " has ", set->key.size(),
                                   " key parts, the match ", m.fields.size(), " fields"));
        }
        if ((m.kind == NftMatch::Kind::kVmap) != set->verdict_map) {
          return fail(absl::StrCat(
              "set ", m.set,
              m.kind == NftMatch::Kind::kVmap ? " is not a verdict map" : " is a verdict map"));
        }
        for (NftField f : m.fields) b.Dependencies(Describe(f));
        size_t word = 0;
        for (NftField f : m.fields) {
          FieldLoad load = Describe(f);
          uint32_t reg = RegisterAt(word);
          b.Load(load, reg, load.len);
          if (m.fields.size() > 1 && set->interval && load.host_order && load.len < 4) {
            b.Hton(reg, load.len, 2);
          }
          word += Padded(load.len) / 4;
        }
        b.Lookup(NFT_REG_1, m.set, 0, m.kind == NftMatch::Kind::kVmap, m.negate);
        break;
      }
    }
  }
  for (const NftStatement& s : rule.statements) {
    switch (s.kind) {
      case NftStatement::Kind::kCounter:
        b.Add(nftnl_expr_alloc("counter"));
        break;
      case NftStatement::Kind::kNamedCounter: {
        nftnl_expr* e = nftnl_expr_alloc("objref");
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, s.name.c_str());
        b.Add(e);
        break;
      }
      case NftStatement::Kind::kLimit: {
        nftnl_expr* e = nftnl_expr_alloc("limit");
        nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, s.rate);
        nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, s.burst);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
        b.Add(e);
        break;
      }
      case NftStatement::Kind::kLog: {
        nftnl_expr* e = nftnl_expr_alloc("log");
        nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, s.name.c_str());
        if (s.log_group) {
          nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, *s.log_group);
          nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, 0);
          nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_QTHRESHOLD, 0);
        }
        b.Add(e);
        break;
      }
      case NftStatement::Kind::kSetUpdate: {
        const NftSet* set = FindSet(ruleset, s.name);
        if (set == nullptr) return fail(absl::StrCat("no set named ", s.name));
        size_t word = 0;
        for (NftField f : s.fields) {
          FieldLoad load = Describe(f);
          b.Load(load, RegisterAt(word), load.len);
          word += Padded(load.len) / 4;
        }
        nftnl_expr* e = nftnl_expr_alloc("dynset");
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, s.name.c_str());
        // No timeout of its own: the kernel then gives each element the set's timeout, as for
        // the text's `update @set { ... }`, so both forms list the same.
        if (set->counter) nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, nftnl_expr_alloc("counter"), 0);
        b.Add(e);
        break;
      }
      case NftStatement::Kind::kVerdict:
        if (s.verdict.verdict == NftVerdict::kNone) break;
        if ((s.verdict.verdict == NftVerdict::kJump || s.verdict.verdict == NftVerdict::kGoto) &&
            s.verdict.chain.empty()) {
          return fail("jump/goto without a chain");
        }
        b.Verdict(VerdictCode(s.verdict.verdict), s.verdict.chain);
        break;
    }
  }
  uint16_t flags = NLM_F_CREATE | NLM_F_ACK;
  if (position.before_handle) {
    nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, *position.before_handle);
  } else {
    flags |= NLM_F_APPEND;
  }
  what_.emplace_back(seq_, absl::StrCat("add rule to chain ", chain));
  nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(static_cast<char*>(Next()), NFT_MSG_NEWRULE, kFamily,
                                             flags, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  Done();
  return absl::OkStatus();
}

absl::Status NftnlBatch::Commit(mnl_socket* sock) {
  nftnl_batch_end(static_cast<char*>(nftnl_batch_buffer(batch_)), seq_++);
  nftnl_batch_update(batch_);
  int n = nftnl_batch_iovec_len(batch_);
  std::vector<iovec> iov(static_cast<size_t>(n));
  nftnl_batch_iovec(batch_, iov.data(), static_cast<uint32_t>(n));
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  int fd = mnl_socket_get_fd(sock);
  // The whole batch goes in one message, so the send buffer must hold it (as nft does).
  int sndbuf = static_cast<int>(std::min<size_t>(total + (1 << 16), 1u << 30));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  msghdr msg = {};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof(kernel);
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return absl::InternalError(absl::StrCat("netlink send: ", strerror(errno)));
  // The kernel handles the batch within sendmsg: its answers (acks, and an error for each
  // message it refused) are queued by now.
  std::string first_error;
  int first_errno = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t got = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (got < 0) return absl::InternalError(absl::StrCat("netlink recv: ", strerror(errno)));
    if (got == 0) break;
    int len = static_cast<int>(got);
    for (nlmsghdr* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error == 0 || first_errno != 0) continue;
      first_errno = -err->error;
      std::string what = "the transaction";
      for (const auto& [seq, w] : what_) {
        if (seq == nlh->nlmsg_seq) what = w;
      }
      first_error = absl::StrCat(what, ": ", strerror(first_errno));
    }
  }
  if (first_errno == 0) return absl::OkStatus();
  if (first_errno == ENOENT) return absl::NotFoundError(first_error);
  if (first_errno == EPERM || first_errno == EACCES)
    return absl::PermissionDeniedError(first_error);
  return absl::InvalidArgumentError(absl::StrCat("kernel refused ", first_error));
}

absl::Status CheckRulesetNames(const NftRuleset& ruleset) {
  auto ok_name = [](const std::string& n) {
    if (n.empty() || n.size() >= NFT_NAME_MAXLEN) return false;
    if (!(isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
    for (char c : n) {
      if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
        return false;
    }
    return n.rfind("__", 0) != 0;  // __set%d and the like are the kernel's
  };
  for (const NftSet& s : ruleset.sets) {
    if (!ok_name(s.name))
      return absl::InvalidArgumentError(absl::StrCat("bad set name \"", s.name, "\""));
  }
  for (const wire::NftChain& c : ruleset.chains) {
    if (!ok_name(c.name)) {
      return absl::InvalidArgumentError(absl::StrCat("bad chain name \"", c.name, "\""));
    }
  }
  for (const wire::NftNamedCounter& c : ruleset.counters) {
    if (!ok_name(c.name)) {
      return absl::InvalidArgumentError(absl::StrCat("bad counter name \"", c.name, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status AddFullTable(const NftRuleset& ruleset, NftnlBatch& batch) {
  if (absl::Status st = CheckRulesetNames(ruleset); !st.ok()) return st;
  batch.ReplaceTable();
  for (const wire::NftNamedCounter& c : ruleset.counters) batch.AddCounter(c);
  // Chains before sets: verdict map elements jump to them.
  for (const wire::NftChain& c : ruleset.chains) {
    if (absl::Status st = batch.AddChain(c); !st.ok()) return st;
  }
  // Sets, then verdict maps: the order nft creates them in from the text (nft_text.cc), which
  // `nft list` shows, so a table loaded either way lists the same.
  for (bool maps : {false, true}) {
    for (const NftSet& s : ruleset.sets) {
      if (s.verdict_map != maps) continue;
      absl::StatusOr<std::vector<KernelElement>> elements = KernelElements(s);
      if (!elements.ok()) return elements.status();
      if (absl::Status st = batch.AddSet(s); !st.ok()) return st;
      if (absl::Status st = batch.AddElements(s, *elements); !st.ok()) return st;
    }
  }
  for (const wire::NftChain& c : ruleset.chains) {
    for (const NftRule& r : c.rules) {
      if (absl::Status st = batch.AddRule(ruleset, c.name, r); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace polder::agent
