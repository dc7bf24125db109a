#include "agent/table_snapshot.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder::agent {
namespace {

constexpr char kTable[] = "polder";

// NFTA_SET_COUNT (after NFTA_SET_TYPE), the number of elements newer kernels (6.x) report with
// a set; Debian 12's headers predate it. Traffic changes it for dynamic sets, and a static
// set's elements are in the snapshot anyway, so it is left out.
constexpr uint16_t kNftaSetCount = NFTA_SET_EXPRESSIONS + 2;

using MessageFn = std::function<void(const nlmsghdr*)>;

// libmnl's iteration macros do not compile as C++ on const messages; these do the same.
template <typename Fn>
void ForEachAttr(const void* start, size_t len, const Fn& fn) {
  const char* end = static_cast<const char*>(start) + len;
  for (const nlattr* a = static_cast<const nlattr*>(start);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    fn(a);
  }
}

template <typename Fn>
void ForEachNested(const nlattr* nest, const Fn& fn) {
  ForEachAttr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), fn);
}

template <typename Fn>
void ForEachTop(const nlmsghdr* nlh, const Fn& fn) {
  ForEachAttr(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)),
              mnl_nlmsg_get_payload_len(nlh) - MNL_ALIGN(sizeof(nfgenmsg)), fn);
}

std::string AttrStr(const nlattr* a) {
  const char* s = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(s, strnlen(s, mnl_attr_get_payload_len(a)));
}

std::string Hex(const nlattr* a) {
  return absl::BytesToHexString(absl::string_view(static_cast<const char*>(mnl_attr_get_payload(a)),
                                                  mnl_attr_get_payload_len(a)));
}

// Expressions whose attributes hold traffic state rather than configuration.
bool IsStateful(const std::string& expr) {
  return expr == "counter" || expr == "quota" || expr == "last" || expr == "connlimit";
}

// A rule's expressions, with the data of stateful ones dropped.
std::string CanonicalExpressions(const nlattr* list) {
  std::string out;
  ForEachNested(list, [&](const nlattr* elem) {
    std::string name, data;
    ForEachNested(elem, [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == NFTA_EXPR_NAME) name = AttrStr(a);
      if (mnl_attr_get_type(a) == NFTA_EXPR_DATA) data = Hex(a);
    });
    absl::StrAppend(&out, name, IsStateful(name) ? "" : absl::StrCat("(", data, ")"), " ");
  });
  return out;
}

// All attributes of `nlh` except `skip`, as "type=hex" words; `special` may render one itself.
std::string CanonicalAttrs(const nlmsghdr* nlh, const std::set<uint16_t>& skip,
                           const std::function<bool(const nlattr*, std::string*)>& special = {}) {
  std::string out;
  ForEachTop(nlh, [&](const nlattr* a) {
    uint16_t type = mnl_attr_get_type(a);
    if (skip.count(type)) return;
    std::string rendered;
    if (special && special(a, &rendered)) {
      absl::StrAppend(&out, type, "=", rendered, " ");
    } else {
      absl::StrAppend(&out, type, "=", Hex(a), " ");
    }
  });
  return out;
}

const nlattr* FindAttr(const nlmsghdr* nlh, uint16_t type) {
  const nlattr* found = nullptr;
  ForEachTop(nlh, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == type) found = a;
  });
  return found;
}

// A base chain's type, hook and priority (nullopt for a chain without a hook).
std::optional<std::string> ChainHook(const nlmsghdr* nlh) {
  const nlattr* hook = FindAttr(nlh, NFTA_CHAIN_HOOK);
  const nlattr* type = FindAttr(nlh, NFTA_CHAIN_TYPE);
  if (hook == nullptr) return std::nullopt;
  uint32_t number = UINT32_MAX;
  int32_t priority = 0;
  ForEachNested(hook, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NFTA_HOOK_HOOKNUM && mnl_attr_get_payload_len(a) >= 4)
      number = ntohl(mnl_attr_get_u32(a));
    if (mnl_attr_get_type(a) == NFTA_HOOK_PRIORITY && mnl_attr_get_payload_len(a) >= 4)
      priority = static_cast<int32_t>(ntohl(mnl_attr_get_u32(a)));
  });
  return BaseChainHook(type != nullptr ? AttrStr(type) : "", number, priority);
}

class Dumper {
 public:
  Dumper(mnl_socket* sock, unsigned int& seq) : sock_(sock), seq_(seq) {}

  // Sends one request (a dump unless `single`) and calls `fn` for each answer message.
  absl::Status Request(uint16_t msg, bool single,
                       const std::vector<std::pair<uint16_t, std::string>>& attrs,
                       const MessageFn& fn) {
    std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
    nlh->nlmsg_flags = NLM_F_REQUEST | (single ? NLM_F_ACK : NLM_F_DUMP);
    nlh->nlmsg_seq = ++seq_;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = NFPROTO_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    for (const auto& [type, value] : attrs) mnl_attr_put_strz(nlh, type, value.c_str());
    if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) {
      return absl::InternalError(absl::StrCat("netlink send: ", strerror(errno)));
    }
    unsigned int portid = mnl_socket_get_portid(sock_);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
      if (n < 0) return absl::InternalError(absl::StrCat("netlink recv: ", strerror(errno)));
      int rc =
          mnl_cb_run(buf.data(), n, seq_, portid, &Dumper::OnMessage, const_cast<MessageFn*>(&fn));
      if (rc < 0) {
        if (errno == ENOENT) return absl::NotFoundError("table inet polder does not exist");
        return absl::InternalError(absl::StrCat("netlink: ", strerror(errno)));
      }
      if (rc == MNL_CB_STOP) return absl::OkStatus();
    }
  }

 private:
  static int OnMessage(const nlmsghdr* nlh, void* data) {
    (*static_cast<MessageFn*>(data))(nlh);
    return MNL_CB_OK;
  }

  mnl_socket* sock_;
  unsigned int& seq_;
};

bool InPolder(const nlmsghdr* nlh, uint16_t table_attr) {
  const nlattr* t = FindAttr(nlh, table_attr);
  return t != nullptr && AttrStr(t) == kTable;
}

// One kind of object in the table: how to ask the kernel for all of them and which of their
// attributes are configuration.
struct ObjectKind {
  const char* line;  // what its lines start with
  uint16_t msg;      // NFT_MSG_GET...
  bool single;       // one object (the table itself) rather than a dump
  uint16_t table_attr;
  // Whether the request names the table; the kernel dumps chains and flowtables of every
  // table regardless, so those answers are filtered here only.
  bool request_names_table;
  std::set<uint16_t> skip;   // handles, ids, use counts, traffic state
  uint16_t expressions = 0;  // attribute holding rule expressions, rendered without state
};

// In the order of the snapshot's lines. Rules come in kernel order: their order within a
// chain is part of the configuration.
const std::vector<ObjectKind>& ObjectKinds() {
  static const std::vector<ObjectKind>* const kinds = new std::vector<ObjectKind>{
      {"table",
       NFT_MSG_GETTABLE,
       true,
       NFTA_TABLE_NAME,
       true,
       {NFTA_TABLE_USE, NFTA_TABLE_HANDLE, NFTA_TABLE_OWNER}},
      {"chain",
       NFT_MSG_GETCHAIN,
       false,
       NFTA_CHAIN_TABLE,
       false,
       {NFTA_CHAIN_HANDLE, NFTA_CHAIN_USE, NFTA_CHAIN_COUNTERS, NFTA_CHAIN_ID}},
      {"rule",
       NFT_MSG_GETRULE,
       false,
       NFTA_RULE_TABLE,
       true,
       {NFTA_RULE_HANDLE, NFTA_RULE_POSITION, NFTA_RULE_ID, NFTA_RULE_POSITION_ID,
        NFTA_RULE_CHAIN_ID},
       NFTA_RULE_EXPRESSIONS},
      {"set",
       NFT_MSG_GETSET,
       false,
       NFTA_SET_TABLE,
       true,
       {NFTA_SET_HANDLE, NFTA_SET_ID, NFTA_SET_EXPR, NFTA_SET_EXPRESSIONS, kNftaSetCount}},
      {"object",
       NFT_MSG_GETOBJ,
       false,
       NFTA_OBJ_TABLE,
       true,
       {NFTA_OBJ_DATA, NFTA_OBJ_USE, NFTA_OBJ_HANDLE}},
      {"flowtable",
       NFT_MSG_GETFLOWTABLE,
       false,
       NFTA_FLOWTABLE_TABLE,
       false,
       {NFTA_FLOWTABLE_USE, NFTA_FLOWTABLE_HANDLE}},
  };
  return *kinds;
}

std::string Payload(const nlattr* a) {
  return std::string(static_cast<const char*>(mnl_attr_get_payload(a)),
                     mnl_attr_get_payload_len(a));
}

// NFTA_SET_ELEM_* attributes of one element, as KernelElement.
KernelElement ParseElement(const nlattr* elem) {
  KernelElement k;
  auto data_of = [](const nlattr* a) {
    std::string out;
    ForEachNested(a, [&](const nlattr* d) {
      if (mnl_attr_get_type(d) == NFTA_DATA_VALUE) out = Payload(d);
    });
    return out;
  };
  ForEachNested(elem, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case NFTA_SET_ELEM_KEY:
        k.key = data_of(a);
        break;
      case NFTA_SET_ELEM_KEY_END:
        k.key_end = data_of(a);
        break;
      case NFTA_SET_ELEM_FLAGS:
        k.flags = ntohl(mnl_attr_get_u32(a));
        break;
      case NFTA_SET_ELEM_DATA:
        ForEachNested(a, [&](const nlattr* d) {
          if (mnl_attr_get_type(d) != NFTA_DATA_VERDICT) return;
          k.has_verdict = true;
          ForEachNested(d, [&](const nlattr* v) {
            if (mnl_attr_get_type(v) == NFTA_VERDICT_CODE) {
              k.verdict = static_cast<int32_t>(ntohl(mnl_attr_get_u32(v)));
            } else if (mnl_attr_get_type(v) == NFTA_VERDICT_CHAIN) {
              k.chain = AttrStr(v);
            }
          });
        });
        break;
      default:
        break;
    }
  });
  return k;
}

// The elements of `set` as sorted lines (the kernel's order is its hash's).
absl::Status ReadElements(Dumper& dumper, const std::string& set, std::vector<std::string>& lines,
                          std::vector<KernelElement>* parsed) {
  std::vector<std::string> elements;
  absl::Status st =
      dumper.Request(NFT_MSG_GETSETELEM, false,
                     {{NFTA_SET_ELEM_LIST_TABLE, kTable}, {NFTA_SET_ELEM_LIST_SET, set}},
                     [&](const nlmsghdr* nlh) {
                       const nlattr* list = FindAttr(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                       if (list == nullptr) return;
                       ForEachNested(list, [&](const nlattr* elem) {
                         if (parsed != nullptr) parsed->push_back(ParseElement(elem));
                         std::string e;
                         ForEachNested(elem, [&](const nlattr* a) {
                           uint16_t type = mnl_attr_get_type(a);
                           if (type == NFTA_SET_ELEM_EXPIRATION || type == NFTA_SET_ELEM_EXPR ||
                               type == NFTA_SET_ELEM_EXPRESSIONS) {
                             return;
                           }
                           absl::StrAppend(&e, type, "=", Hex(a), " ");
                         });
                         elements.push_back(std::move(e));
                       });
                     });
  if (!st.ok()) return st;
  std::sort(elements.begin(), elements.end());
  if (parsed != nullptr) std::sort(parsed->begin(), parsed->end());
  lines = std::move(elements);
  return absl::OkStatus();
}

// FNV-1a over the sorted element lines: one line per set in the snapshot instead of one per
// element, so comparing and copying snapshots of big sets stays cheap.
}  // namespace

std::string BaseChainHook(const std::string& type, uint32_t hook, int32_t priority) {
  return absl::StrCat(type, " ", hook, " ", priority);
}

std::string ElementsLine(const std::string& set, const std::vector<std::string>& elements) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& e : elements) {
    for (char c : e) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ '\n') * 1099511628211ull;
  }
  return absl::StrCat("elements ", set, " n=", elements.size(), " fnv=", absl::Hex(h));
}

namespace {

// Hex of "__set", how an anonymous set's name starts in a rule's line.
const std::string& AnonymousSetMarker() {
  static const std::string* const kMarker = new std::string(absl::BytesToHexString("__set"));
  return *kMarker;
}

// Replaces, in a rule's line, each anonymous set's kernel name (__set%d, NUL-terminated, in the
// hex of a lookup expression) by the name the snapshot gives it; `named` maps kernel names to
// those, `next` numbers the chain's anonymous sets.
std::string NameAnonymousSets(const std::string& chain, std::string line, int& next,
                              std::map<std::string, std::string>& named) {
  const std::string& marker = AnonymousSetMarker();
  size_t at = 0;
  while ((at = line.find(marker, at)) != std::string::npos) {
    size_t end = at + marker.size();
    std::string digits;
    while (end + 2 <= line.size() && line.compare(end, 2, "00") != 0) {
      std::string byte = absl::HexStringToBytes(line.substr(end, 2));
      if (byte.size() != 1 || byte[0] < '0' || byte[0] > '9') break;
      digits += byte;
      end += 2;
    }
    if (digits.empty() || end + 2 > line.size() || line.compare(end, 2, "00") != 0) {
      at += marker.size();  // not a kernel-named set
      continue;
    }
    std::string kernel = absl::StrCat("__set", digits);
    std::string ours = absl::StrCat("__set.", chain, ".", next++);
    named[kernel] = ours;
    std::string hex = absl::BytesToHexString(ours);
    line.replace(at, end - at, hex);
    at += hex.size();
  }
  return line;
}

absl::StatusOr<TableSnapshot> ReadSnapshot(Dumper& dumper, const SnapshotScope& scope) {
  std::vector<std::string> lines;
  TableSnapshot snap;
  auto objects = std::make_shared<TableObjects>();
  std::map<std::string, std::string> anonymous_names;  // kernel name -> ours (rules come first)
  std::set<std::string> fresh_anonymous;  // kernel names of anonymous sets of rules read now
  const TableObjects* base = scope.base != nullptr ? scope.base->objects.get() : nullptr;
  // Chains and sets too are read one by one, by name, when the scope names the ones that
  // changed: a big host has thousands of each, and dumping them all on every notification
  // was most of a drift check.
  const bool by_name =
      base != nullptr && scope.rule_chains != nullptr && scope.element_sets != nullptr;
  // One object by name; an object that is not there is simply left out.
  auto get_one = [&dumper](uint16_t msg, std::vector<std::pair<uint16_t, std::string>> attrs,
                           const MessageFn& fn) {
    absl::Status st = dumper.Request(msg, true, attrs, fn);
    return absl::IsNotFound(st) ? absl::OkStatus() : st;
  };
  for (const ObjectKind& kind : ObjectKinds()) {
    std::vector<std::pair<uint16_t, std::string>> request;
    if (kind.request_names_table) request.emplace_back(kind.table_attr, kTable);
    auto render_expressions = [&kind](const nlattr* a, std::string* out) {
      if (kind.expressions == 0 || mnl_attr_get_type(a) != kind.expressions) return false;
      *out = CanonicalExpressions(a);
      return true;
    };
    std::vector<std::string> set_names;
    std::map<std::string, int> anonymous_in_chain;  // rules: anonymous sets seen per chain
    // (chain, line) for rules, (name, line) for the rest: objects are listed by name and rules
    // by chain, in the kernel's order within a chain. The order in which chains and sets were
    // created is not configuration: an update that adds a chain appends it, a full load
    // creates it in file order.
    std::vector<std::pair<std::string, std::string>> kind_lines;
    uint16_t name_attr = kind.msg == NFT_MSG_GETRULE        ? NFTA_RULE_CHAIN
                         : kind.msg == NFT_MSG_GETCHAIN     ? NFTA_CHAIN_NAME
                         : kind.msg == NFT_MSG_GETSET       ? NFTA_SET_NAME
                         : kind.msg == NFT_MSG_GETOBJ       ? NFTA_OBJ_NAME
                         : kind.msg == NFT_MSG_GETFLOWTABLE ? NFTA_FLOWTABLE_NAME
                                                            : 0;
    auto on_message = [&](const nlmsghdr* nlh) {
      if (!InPolder(nlh, kind.table_attr)) return;
      if (kind.msg == NFT_MSG_GETSET) {
        const nlattr* name = FindAttr(nlh, NFTA_SET_NAME);
        if (name == nullptr) return;
      }
      const nlattr* name = name_attr != 0 ? FindAttr(nlh, name_attr) : nullptr;
      std::string key = name != nullptr ? AttrStr(name) : "";
      std::string line =
          absl::StrCat(kind.line, " ", CanonicalAttrs(nlh, kind.skip, render_expressions));
      if (kind.msg == NFT_MSG_GETRULE && absl::StrContains(line, AnonymousSetMarker())) {
        std::map<std::string, std::string> named;
        line = NameAnonymousSets(key, std::move(line), anonymous_in_chain[key], named);
        for (auto& [kernel, ours] : named) {
          fresh_anonymous.insert(kernel);
          anonymous_names[kernel] = std::move(ours);
        }
      }
      if (kind.msg == NFT_MSG_GETSET) {
        auto ours = anonymous_names.find(key);
        if (ours != anonymous_names.end()) {
          std::string kernel_hex = absl::BytesToHexString(std::string(key) + '\0');
          if (size_t at = line.find(kernel_hex); at != std::string::npos) {
            line.replace(at, kernel_hex.size(),
                         absl::BytesToHexString(std::string(ours->second) + '\0'));
          }
          objects->kernel_names[ours->second] = key;
          key = ours->second;
        }
        set_names.push_back(key);
      }
      switch (kind.msg) {
        case NFT_MSG_GETRULE: {
          const nlattr* handle = FindAttr(nlh, NFTA_RULE_HANDLE);
          objects->rules.push_back(
              {key, handle != nullptr ? be64toh(mnl_attr_get_u64(handle)) : 0, line});
          break;
        }
        case NFT_MSG_GETCHAIN:
          objects->chains[key] = line;
          if (std::optional<std::string> hook = ChainHook(nlh)) {
            objects->base_chain_hooks[key] = *hook;
          }
          break;
        case NFT_MSG_GETSET: {
          objects->sets[key] = line;
          const nlattr* flags = FindAttr(nlh, NFTA_SET_FLAGS);
          objects->set_flags[key] = flags != nullptr ? ntohl(mnl_attr_get_u32(flags)) : 0;
          break;
        }
        case NFT_MSG_GETOBJ:
          objects->objects[key] = line;
          break;
        default:
          break;
      }
      kind_lines.emplace_back(std::move(key), std::move(line));
    };
    absl::Status st;
    if (kind.msg == NFT_MSG_GETCHAIN && by_name) {
      for (const auto& [chain, chain_line] : base->chains) {
        if (scope.rule_chains->count(chain)) continue;
        objects->chains[chain] = chain_line;
        if (auto hook = base->base_chain_hooks.find(chain); hook != base->base_chain_hooks.end())
          objects->base_chain_hooks.insert(*hook);
        kind_lines.emplace_back(chain, chain_line);
      }
      for (const std::string& chain : *scope.rule_chains) {
        st = get_one(kind.msg, {{NFTA_CHAIN_TABLE, kTable}, {NFTA_CHAIN_NAME, chain}}, on_message);
        if (!st.ok()) break;
      }
    } else if (kind.msg == NFT_MSG_GETSET && by_name) {
      // The sets a notification named, and the anonymous sets of the rules just read; the
      // others as in the base (an anonymous set only with the chain its rule is in).
      std::set<std::string> read(scope.element_sets->begin(), scope.element_sets->end());
      read.insert(fresh_anonymous.begin(), fresh_anonymous.end());
      for (const auto& [set, set_line] : base->sets) {
        auto kernel_name = base->kernel_names.find(set);
        const std::string& in_kernel =
            kernel_name != base->kernel_names.end() ? kernel_name->second : set;
        if (read.count(in_kernel)) continue;
        if (kernel_name != base->kernel_names.end()) {
          auto ours = anonymous_names.find(in_kernel);
          if (ours == anonymous_names.end() || ours->second != set) continue;  // its rule is gone
          objects->kernel_names[set] = in_kernel;
        }
        objects->sets[set] = set_line;
        auto flags = base->set_flags.find(set);
        objects->set_flags[set] = flags != base->set_flags.end() ? flags->second : 0;
        set_names.push_back(set);
        kind_lines.emplace_back(set, set_line);
      }
      for (const std::string& set : read) {
        st = get_one(kind.msg, {{NFTA_SET_TABLE, kTable}, {NFTA_SET_NAME, set}}, on_message);
        if (!st.ok()) break;
      }
    } else if (kind.msg == NFT_MSG_GETRULE && scope.rule_chains != nullptr && base != nullptr) {
      // Only the named chains' rules are read; the others' are the base's (sorted by chain),
      // and so are their anonymous sets' names.
      for (const auto& [chain, chain_line] : objects->chains) {
        if (scope.rule_chains->count(chain)) {
          std::vector<std::pair<uint16_t, std::string>> one = request;
          one.emplace_back(NFTA_RULE_CHAIN, chain);
          st = dumper.Request(kind.msg, false, one, on_message);
          if (!st.ok()) break;
          continue;
        }
        auto by_chain = [](const TableObjects::Rule& r, const std::string& c) {
          return r.chain < c;
        };
        for (auto r = std::lower_bound(base->rules.begin(), base->rules.end(), chain, by_chain);
             r != base->rules.end() && r->chain == chain; ++r) {
          objects->rules.push_back(*r);
          kind_lines.emplace_back(chain, r->line);
        }
        const std::string prefix = absl::StrCat("__set.", chain, ".");
        for (auto n = base->kernel_names.lower_bound(prefix);
             n != base->kernel_names.end() && absl::StartsWith(n->first, prefix); ++n) {
          if (n->first.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
            anonymous_names[n->second] = n->first;
        }
      }
    } else {
      st = dumper.Request(kind.msg, kind.single, request, on_message);
    }
    if (!st.ok()) return st;
    std::stable_sort(kind_lines.begin(), kind_lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [name, line] : kind_lines) lines.push_back(std::move(line));
    std::sort(set_names.begin(), set_names.end());
    // Each set's elements follow the sets.
    for (const std::string& set : set_names) {
      // A dynamic set's elements are what traffic put there (the observation sets of
      // docs/traffic.md), not configuration: they are no drift.
      if (objects->set_flags[set] & NFT_SET_EVAL) continue;
      bool anonymous = objects->set_flags[set] & NFT_SET_ANONYMOUS;
      if (scope.without_elements && !anonymous) continue;
      auto kernel_name = objects->kernel_names.find(set);
      const std::string& in_kernel =
          kernel_name != objects->kernel_names.end() ? kernel_name->second : set;
      // An anonymous set is taken from the base only if it is the very set (the same kernel
      // name at the same place): anonymous sets cannot change, but a rule can be replaced.
      auto base_kernel_name = base != nullptr
                                  ? base->kernel_names.find(set)
                                  : std::map<std::string, std::string>::const_iterator();
      bool same_set = anonymous ? base != nullptr && base_kernel_name != base->kernel_names.end() &&
                                      base_kernel_name->second == in_kernel
                                : base != nullptr && base->elements.count(set);
      bool reuse = scope.element_sets != nullptr && !scope.element_sets->count(in_kernel) &&
                   same_set && base->element_lines.count(set);
      if (reuse) {
        objects->element_lines[set] = base->element_lines.at(set);
        if (!anonymous) objects->elements[set] = base->elements.at(set);
        auto digest = base->element_digests.find(set);
        objects->element_digests[set] = digest != base->element_digests.end()
                                            ? digest->second
                                            : ElementsLine(set, *objects->element_lines[set]);
      } else {
        auto parsed = std::make_shared<std::vector<KernelElement>>();
        auto element_lines = std::make_shared<std::vector<std::string>>();
        if (absl::Status el =
                ReadElements(dumper, in_kernel, *element_lines, anonymous ? nullptr : parsed.get());
            !el.ok()) {
          return el;
        }
        if (!anonymous) objects->elements[set] = std::move(parsed);
        objects->element_digests[set] = ElementsLine(set, *element_lines);
        objects->element_lines[set] = std::move(element_lines);
      }
      snap.elements += objects->element_lines[set]->size();
      lines.push_back(objects->element_digests[set]);
    }
  }
  std::stable_sort(
      objects->rules.begin(), objects->rules.end(),
      [](const TableObjects::Rule& a, const TableObjects::Rule& b) { return a.chain < b.chain; });
  snap.objects = std::move(objects);
  snap.lines = absl::StrJoin(lines, "\n");
  return snap;
}

}  // namespace

// By key; at one key an interval's end before the next interval's start, the order in which
// the kernel accepts them (it refuses a start followed by an end at the same key).
bool KernelElement::operator<(const KernelElement& o) const {
  return std::tie(key, o.flags, key_end, has_verdict, verdict, chain) <
         std::tie(o.key, flags, o.key_end, o.has_verdict, o.verdict, o.chain);
}

TableReader::TableReader() : sock_(nullptr), seq_(static_cast<unsigned int>(time(nullptr))) {}

TableReader::~TableReader() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

absl::StatusOr<TableSnapshot> TableReader::Snapshot(const SnapshotScope& scope) {
  absl::MutexLock lock(&mu_);
  if (sock_ == nullptr) {
    sock_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (sock_ == nullptr || mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
      std::string why = strerror(errno);
      if (sock_ != nullptr) mnl_socket_close(sock_);
      sock_ = nullptr;
      return absl::InternalError(absl::StrCat("netlink socket: ", why));
    }
  }
  Dumper dumper(sock_, seq_);
  absl::StatusOr<TableSnapshot> snap = ReadSnapshot(dumper, scope);
  // A dump that broke off may leave messages behind: start the next one on a fresh socket.
  if (!snap.ok() && !absl::IsNotFound(snap.status())) {
    mnl_socket_close(sock_);
    sock_ = nullptr;
  }
  return snap;
}

}  // namespace polder::agent
