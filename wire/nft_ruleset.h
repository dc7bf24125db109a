// NftRuleset is the structured form of one host's table `inet polder`: the same ruleset the
// compiler prints as nft text, as data. The compiler builds it and prints the text from it (so
// the two cannot disagree); the controller sends it on the wire; the agent turns it into
// netlink messages with libnftnl, without parsing nft language. It holds only the few shapes
// the renderer emits: a rule is a conjunction of matches followed by statements.
//
//   NftRuleset rs;                         // table inet polder
//   NftSet& s = rs.sets.emplace_back();    // set in4_l4 { type ipv4_addr . inet_proto ... }
//   s.name = "in4_l4";
//   s.key = {NftKeyType::kIpv4Addr, NftKeyType::kInetProto, NftKeyType::kInetService};
//   s.elements.push_back({{Ipv4("10.0.0.0", 24), Value(6), Range(22, 22)}, {}});
//   NftRule r;                             // ip saddr . meta l4proto . th dport @in4_l4 accept
//   r.matches.push_back(NftMatch::InSet({NftField::kIp4Saddr, NftField::kL4Proto,
//                                        NftField::kThDport}, "in4_l4"));
//   r.statements.push_back(NftStatement::Verdict(NftVerdict::kAccept));
//
// Values are in network byte order, as the kernel compares them; a key part is a closed range
// [from, to] of equal-length byte strings (an exact value has from == to).
#ifndef POLDER_WIRE_NFT_RULESET_H_
#define POLDER_WIRE_NFT_RULESET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace polder::wire {

// The data type of one part of a set key, as nft names it.
enum class NftKeyType {
  kIpv4Addr,     // ipv4_addr, 4 bytes
  kIpv6Addr,     // ipv6_addr, 16 bytes
  kInetProto,    // inet_proto, 1 byte
  kInetService,  // inet_service, 2 bytes
  kIcmpType,     // icmp_type, 1 byte
  kIcmpv6Type,   // icmpv6_type, 1 byte
  kIfname,       // ifname, 16 bytes NUL-padded
  kCtState,      // ct_state, 4-byte bitmask (host order, as the kernel keeps it)
};

// A header field or meta value a rule matches on.
enum class NftField {
  kIp4Saddr,
  kIp4Daddr,
  kIp6Saddr,
  kIp6Daddr,
  kIp6Hoplimit,
  kL4Proto,  // meta l4proto
  kNfProto,  // meta nfproto (1 byte: NFPROTO_IPV4 = 2, NFPROTO_IPV6 = 10)
  kThSport,
  kThDport,  // transport header ports, for tcp/udp/sctp only
  kTcpDport,
  kUdpSport,
  kUdpDport,  // imply meta l4proto == tcp/udp
  kIcmpType,
  kIcmpv6Type,  // imply meta l4proto == icmp/ipv6-icmp
  kIif,
  kOif,  // interface name (iif/oif compare the index in nft; we use iifname/oifname
         // semantics only for "lo", which always exists)
  kCtState,
};

struct NftKeyPart {
  std::string from;  // network byte order
  std::string to;    // == from for an exact value
};

enum class NftVerdict { kNone, kAccept, kDrop, kJump, kGoto, kReturn };

struct NftVerdictData {
  NftVerdict verdict = NftVerdict::kNone;
  std::string chain;  // for kJump / kGoto
};

struct NftElement {
  std::vector<NftKeyPart> key;  // one part per key type of the set
  NftVerdictData data;          // for verdict maps only
  bool counter = false;         // per-element counter (sets declared with `counter`)
  uint64_t packets = 0;         // counter values carried into a reload
  uint64_t bytes = 0;
};

struct NftSet {
  std::string name;
  std::vector<NftKeyType> key;       // more than one part: a concatenation
  bool verdict_map = false;          // `type ... : verdict` (a vmap)
  bool interval = false;             // flags interval
  bool dynamic = false;              // flags dynamic (updated from the packet path)
  bool counter = false;              // every element carries a counter
  uint32_t size = 0;                 // 0: unbounded
  uint32_t timeout_s = 0;            // 0: no timeout
  std::vector<NftElement> elements;  // sorted by key, as the compiler emits them
};

struct NftMatch {
  enum class Kind {
    kEqual,      // fields == value (one field)
    kInSet,      // fields (concatenated) @set
    kInAnonSet,  // fields { v1, v2, ... } (one field, an anonymous constant set)
    kVmap,       // fields vmap @set (the map's verdict ends the rule)
  };
  Kind kind = Kind::kEqual;
  std::vector<NftField> fields;
  std::vector<NftKeyPart> values;  // kEqual: one; kInAnonSet: several
  std::string set;                 // kInSet / kVmap
  bool negate = false;             // `!=` for kEqual
};

struct NftStatement {
  enum class Kind {
    kCounter,       // anonymous counter
    kNamedCounter,  // counter name "x"
    kLimit,         // limit rate N/second burst B packets
    kLog,           // log prefix "p" [group N]
    kSetUpdate,     // update @set { fields [counter] }
    kVerdict,
  };
  Kind kind = Kind::kVerdict;
  std::string name;    // kNamedCounter: object name; kLog: prefix; kSetUpdate: set name
  uint32_t rate = 0;   // kLimit: per second
  uint32_t burst = 0;  // kLimit: packets
  std::optional<uint16_t> log_group;  // kLog: NFLOG group
  std::vector<NftField> fields;       // kSetUpdate: the key
  NftVerdictData verdict;             // kVerdict
};

struct NftRule {
  std::vector<NftMatch> matches;
  std::vector<NftStatement> statements;
  std::string comment;  // printed as a `#` line above the rule; not sent to the kernel
};

struct NftChain {
  std::string name;
  bool base = false;                        // a base chain: type filter hook <hook> priority filter
  std::string hook;                         // "input" / "output" for base chains
  NftVerdict policy = NftVerdict::kAccept;  // base chains: kAccept or kDrop
  std::vector<NftRule> rules;
};

struct NftNamedCounter {
  std::string name;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// Table `inet polder` of one host. Sets and counters come before the chains that use them.
struct NftRuleset {
  std::vector<NftSet> sets;
  std::vector<NftNamedCounter> counters;
  std::vector<NftChain> chains;
};

}  // namespace polder::wire

#endif  // POLDER_WIRE_NFT_RULESET_H_
