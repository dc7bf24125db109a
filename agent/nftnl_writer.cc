#include "agent/nftnl_writer.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/nftnl_batch.h"

namespace polder::agent {
namespace {

using wire::NftChain;
using wire::NftRule;
using wire::NftRuleset;
using wire::NftSet;

void Put(std::string& out, const std::string& bytes) {
  absl::StrAppend(&out, bytes.size(), ":", bytes, ";");
}

// A byte string that two rules share exactly when they are the same rule.
std::string RuleKey(const NftRule& r) {
  std::string out;
  for (const wire::NftMatch& m : r.matches) {
    absl::StrAppend(&out, "m", static_cast<int>(m.kind), m.negate ? "!" : "=");
    for (wire::NftField f : m.fields) absl::StrAppend(&out, static_cast<int>(f), ",");
    for (const wire::NftKeyPart& v : m.values) {
      Put(out, v.from);
      Put(out, v.to);
    }
    Put(out, m.set);
  }
  for (const wire::NftStatement& s : r.statements) {
    absl::StrAppend(&out, "s", static_cast<int>(s.kind), ",", s.rate, ",", s.burst, ",",
                    s.log_group ? static_cast<int>(*s.log_group) : -1, ",",
                    static_cast<int>(s.verdict.verdict), ",");
    Put(out, s.name);
    Put(out, s.verdict.chain);
    for (wire::NftField f : s.fields) absl::StrAppend(&out, static_cast<int>(f), ",");
  }
  return out;
}

bool SameSetType(const NftSet& a, const NftSet& b);

// Whether `a` and `b` give the kernel the same elements (counter values aside: they are traffic
// state). The same object is the same, without a look at its elements.
bool SameKernelElements(const NftSet& a, const NftSet& b) {
  if (&a == &b) return true;
  if (!SameSetType(a, b) || a.elements.size() != b.elements.size()) return false;
  for (size_t i = 0; i < a.elements.size(); ++i) {
    const wire::NftElement& x = a.elements[i];
    const wire::NftElement& y = b.elements[i];
    if (x.key != y.key || !(x.data == y.data) || x.counter != y.counter) return false;
  }
  return true;
}

bool SameSetType(const NftSet& a, const NftSet& b) {
  return a.key == b.key && a.verdict_map == b.verdict_map && a.interval == b.interval &&
         a.dynamic == b.dynamic && a.counter == b.counter && a.size == b.size &&
         a.timeout_s == b.timeout_s;
}

// Objects of a ruleset by name (the first of a name, as a linear search would find). A host
// that 2,000 zones reach has 2,000 chains: looking each one up by a scan made a restore spend
// more time comparing names than talking to the kernel.
template <typename T>
class ByNameIndex {
 public:
  explicit ByNameIndex(const std::vector<T>* objects) {
    if (objects == nullptr) return;
    index_.reserve(objects->size());
    for (const T& x : *objects) index_.emplace(x.name, &x);
  }
  const T* operator()(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }

 private:
  absl::flat_hash_map<std::string_view, const T*> index_;
};

// Longest common subsequence of a and b: for each index of a, the index of b it is paired
// with, or -1. Quadratic; chains are short (a cap sends longer ones down the flush path).
template <typename T>
std::vector<int> Align(const std::vector<T>& a, const std::vector<T>& b) {
  size_t n = a.size(), m = b.size();
  std::vector<std::vector<uint32_t>> len(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      len[i][j] = a[i] == b[j] ? len[i + 1][j + 1] + 1 : std::max(len[i + 1][j], len[i][j + 1]);
    }
  }
  std::vector<int> pair(n, -1);
  size_t i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] == b[j]) {
      pair[i++] = static_cast<int>(j++);
    } else if (len[i + 1][j] >= len[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  return pair;
}

constexpr size_t kMaxAlign = 2'000'000;  // cells; beyond that a chain is flushed and refilled

// The rules of `chain` (in order) as lines in which each anonymous set a rule names stands
// for its declaration and elements: the snapshot names anonymous sets by their place, so a
// rule with other constants at the same place would otherwise look the same.
std::vector<std::string> RuleIdentities(const TableObjects& objects, const std::string& chain,
                                        const std::vector<const TableObjects::Rule*>& rules) {
  std::vector<std::string> out;
  out.reserve(rules.size());
  int next = 0;  // they are numbered in rule order, so one pass finds each rule's
  for (const TableObjects::Rule* r : rules) {
    std::string line = r->line;
    for (;;) {
      std::string name = absl::StrCat("__set.", chain, ".", next);
      std::string hex = absl::StrCat(absl::BytesToHexString(name), "00");
      size_t at = line.find(hex);
      if (at == std::string::npos) break;
      std::string contents = objects.sets.count(name) ? objects.sets.at(name) : "";
      if (auto e = objects.element_lines.find(name); e != objects.element_lines.end() && e->second)
        absl::StrAppend(&contents, "{", absl::StrJoin(*e->second, ","), "}");
      line.replace(at, hex.size(), absl::StrCat("[", contents, "]"));
      ++next;
    }
    out.push_back(std::move(line));
  }
  return out;
}

bool UsesAnySet(const NftRule& rule, const std::set<std::string>& sets) {
  for (const wire::NftMatch& m : rule.matches) {
    if (!m.set.empty() && sets.count(m.set)) return true;
  }
  for (const wire::NftStatement& st : rule.statements) {
    if (st.kind == wire::NftStatement::Kind::kSetUpdate && sets.count(st.name)) return true;
  }
  return false;
}

struct ChainPlan {
  const NftChain* chain;
  bool is_new = false;
  bool redeclared = false;                               // its policy is sent again
  bool flush = false;                                    // delete all its rules in one message
  std::vector<uint64_t> delete_handles;                  // otherwise these
  std::vector<std::pair<size_t, RulePosition>> inserts;  // desired rule index -> where
};

void PutAttr(std::string& out, uint16_t type, const std::string& payload) {
  uint16_t len = static_cast<uint16_t>(4 + payload.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out.append(reinterpret_cast<const char*>(&type), 2);
  out += payload;
  out.append((4 - payload.size() % 4) % 4, '\0');
}

std::string Be32(uint32_t v) {
  uint32_t be = htonl(v);
  return std::string(reinterpret_cast<const char*>(&be), 4);
}

// One element as TableReader renders the kernel's dump of it: "type=hex " per attribute, in
// the kernel's order (key, key end, data, flags).
std::string ElementLine(const KernelElement& k) {
  std::string out;
  auto value = [](const std::string& v) {
    std::string nested;
    PutAttr(nested, NFTA_DATA_VALUE, v);
    return nested;
  };
  absl::StrAppend(&out, NFTA_SET_ELEM_KEY, "=", absl::BytesToHexString(value(k.key)), " ");
  if (!k.key_end.empty()) {
    absl::StrAppend(&out, NFTA_SET_ELEM_KEY_END, "=", absl::BytesToHexString(value(k.key_end)),
                    " ");
  }
  if (k.has_verdict) {
    std::string verdict;
    PutAttr(verdict, NFTA_VERDICT_CODE, Be32(static_cast<uint32_t>(k.verdict)));
    if (!k.chain.empty()) PutAttr(verdict, NFTA_VERDICT_CHAIN, k.chain + std::string(1, '\0'));
    std::string data;
    PutAttr(data, NFTA_DATA_VERDICT, verdict);
    absl::StrAppend(&out, NFTA_SET_ELEM_DATA, "=", absl::BytesToHexString(data), " ");
  }
  if (k.flags != 0) {
    absl::StrAppend(&out, NFTA_SET_ELEM_FLAGS, "=", absl::BytesToHexString(Be32(k.flags)), " ");
  }
  return out;
}

// The kernel elements of desired set `s`: from `desired_elements` when given, else those of
// the applied set when `s` gives the kernel the same elements, else computed.
absl::StatusOr<std::shared_ptr<const std::vector<KernelElement>>> WantedElements(
    const NftSet& s, const NftSet* before, const TableObjects* a_objects,
    const TableSnapshot* desired_elements) {
  if (desired_elements != nullptr && desired_elements->objects != nullptr) {
    auto it = desired_elements->objects->elements.find(s.name);
    if (it != desired_elements->objects->elements.end() && it->second) return it->second;
  }
  if (before != nullptr && a_objects != nullptr && SameKernelElements(*before, s)) {
    auto it = a_objects->elements.find(s.name);
    if (it != a_objects->elements.end() && it->second) return it->second;
  }
  absl::StatusOr<std::vector<KernelElement>> computed = KernelElements(s);
  if (!computed.ok()) return computed.status();
  return std::make_shared<const std::vector<KernelElement>>(std::move(*computed));
}

// Wire elements in the order the compiler emits them: by key, part by part.
bool KeyLess(const wire::NftElement& a, const wire::NftElement& b) {
  for (size_t i = 0; i < a.key.size() && i < b.key.size(); ++i) {
    if (a.key[i].from != b.key[i].from) return a.key[i].from < b.key[i].from;
    if (a.key[i].to != b.key[i].to) return a.key[i].to < b.key[i].to;
  }
  return a.key.size() < b.key.size();
}

// The one element nft adds to a one-field interval set whose first range does not start at 0.
bool IsZeroEnd(const KernelElement& k) {
  return k.flags == NFT_SET_ELEM_INTERVAL_END && k.key.find_first_not_of('\0') == std::string::npos;
}

// Set `s`'s kernel elements, lines and the difference from the applied set `before` (whose
// kernel elements and lines are in `applied`), computed from the wire elements that changed
// only: converting, sorting and formatting the 200k kernel elements of a 100k-address map is
// most of the user-space time of a small change. Each wire element gives its own kernel
// elements (a range its start and end), except the zero end element of a one-field interval
// set, fixed up here. nullopt when the elements are not in the compiler's order, the applied
// set is not known in full, or much changed: then the caller computes everything.
struct DerivedElements {
  std::vector<KernelElement> elements;
  std::vector<std::string> lines;
  TableObjects::ElementDelta delta;
};
std::optional<DerivedElements> ElementsAfterFewChanges(const NftSet& before,
                                                       const TableObjects& applied,
                                                       const NftSet& s) {
  auto el = applied.elements.find(s.name);
  auto li = applied.element_lines.find(s.name);
  if (el == applied.elements.end() || li == applied.element_lines.end() || !el->second ||
      !li->second || el->second->size() != li->second->size()) {
    return std::nullopt;
  }
  const std::vector<KernelElement>& was = *el->second;
  const std::vector<std::string>& was_lines = *li->second;
  // The wire elements that went and came, by one merge of the two sorted lists.
  // Copies of the set's declaration without its 100k elements.
  auto declaration = [&s] {
    NftSet d;
    d.name = s.name;
    d.key = s.key;
    d.verdict_map = s.verdict_map;
    d.interval = s.interval;
    d.dynamic = s.dynamic;
    d.counter = s.counter;
    d.size = s.size;
    d.timeout_s = s.timeout_s;
    return d;
  };
  NftSet gone_set = declaration(), come_set = declaration();
  const std::vector<wire::NftElement>& a = before.elements;
  const std::vector<wire::NftElement>& b = s.elements;
  size_t i = 0, j = 0;
  size_t budget = std::max<size_t>(b.size() / 8, 16);
  while (i < a.size() || j < b.size()) {
    if (i > 0 && i < a.size() && !KeyLess(a[i - 1], a[i])) return std::nullopt;
    if (j > 0 && j < b.size() && !KeyLess(b[j - 1], b[j])) return std::nullopt;
    if (j == b.size() || (i < a.size() && KeyLess(a[i], b[j]))) {
      gone_set.elements.push_back(a[i++]);
    } else if (i == a.size() || KeyLess(b[j], a[i])) {
      come_set.elements.push_back(b[j++]);
    } else {
      if (!(a[i].data == b[j].data) || a[i].counter != b[j].counter) {
        gone_set.elements.push_back(a[i]);
        come_set.elements.push_back(b[j]);
      }
      ++i, ++j;
    }
    if (gone_set.elements.size() + come_set.elements.size() > budget) return std::nullopt;
  }
  absl::StatusOr<std::vector<KernelElement>> gone = KernelElements(gone_set);
  absl::StatusOr<std::vector<KernelElement>> come = KernelElements(come_set);
  if (!gone.ok() || !come.ok()) return std::nullopt;  // the full computation says why
  bool one_field_interval = s.interval && s.key.size() == 1;
  if (one_field_interval) {
    std::erase_if(*gone, IsZeroEnd);
    std::erase_if(*come, IsZeroEnd);
    // Present when the first range does not start at 0 (elements are sorted by start).
    auto needs_zero = [](const NftSet& set) {
      return !set.elements.empty() &&
             set.elements.front().key[0].from.find_first_not_of('\0') != std::string::npos;
    };
    bool had = needs_zero(before), has = needs_zero(s);
    if (had != has) {
      KernelElement z;
      // Key parts are the key type's length (KernelElements checked them).
      z.key.assign((has ? s : before).elements.front().key[0].from.size(), '\0');
      z.flags = NFT_SET_ELEM_INTERVAL_END;
      (had ? *gone : *come).push_back(z);
      std::sort(gone->begin(), gone->end());
      std::sort(come->begin(), come->end());
    }
  }
  DerivedElements out;
  out.delta.base = el->second;
  // A range that only grew keeps its start element: in both lists, so in neither difference.
  std::set_difference(gone->begin(), gone->end(), come->begin(), come->end(),
                      std::back_inserter(out.delta.removed));
  std::set_difference(come->begin(), come->end(), gone->begin(), gone->end(),
                      std::back_inserter(out.delta.added));
  for (const KernelElement& k : out.delta.removed) {
    if (!std::binary_search(was.begin(), was.end(), k)) return std::nullopt;
  }
  for (const KernelElement& k : out.delta.added) {
    if (std::binary_search(was.begin(), was.end(), k)) return std::nullopt;
  }
  // Elements: the applied ones, the removed out and the added in, one pass.
  out.elements.reserve(was.size() + out.delta.added.size() - out.delta.removed.size());
  {
    auto r = out.delta.removed.begin();
    auto ad = out.delta.added.begin();
    for (const KernelElement& k : was) {
      if (r != out.delta.removed.end() && *r == k) {
        ++r;
        continue;
      }
      while (ad != out.delta.added.end() && *ad < k) out.elements.push_back(*ad++);
      out.elements.push_back(k);
    }
    out.elements.insert(out.elements.end(), ad, out.delta.added.end());
  }
  // Lines the same way: the applied lines without those of the removed elements, merged with
  // those of the added ones.
  auto lines_of = [](const std::vector<KernelElement>& elements) {
    std::vector<std::string> lines;
    lines.reserve(elements.size());
    for (const KernelElement& k : elements) lines.push_back(ElementLine(k));
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  std::vector<std::string> gone_lines = lines_of(out.delta.removed);
  std::vector<std::string> come_lines = lines_of(out.delta.added);
  out.lines.reserve(out.elements.size());
  {
    auto g = gone_lines.begin();
    auto c = come_lines.begin();
    for (const std::string& line : was_lines) {
      if (g != gone_lines.end() && *g == line) {
        ++g;
        continue;
      }
      while (c != come_lines.end() && *c < line) out.lines.push_back(std::move(*c++));
      out.lines.push_back(line);
    }
    if (g != gone_lines.end()) return std::nullopt;  // a removed line was not there
    for (; c != come_lines.end(); ++c) out.lines.push_back(std::move(*c));
  }
  if (out.lines.size() != out.elements.size()) return std::nullopt;
  return out;
}

}  // namespace

absl::StatusOr<TableSnapshot> ExpectedElements(const NftRuleset& ruleset, const NftRuleset* applied,
                                               const TableSnapshot* applied_snapshot) {
  auto objects = std::make_shared<TableObjects>();
  const TableObjects* a_objects =
      applied_snapshot != nullptr ? applied_snapshot->objects.get() : nullptr;
  ByNameIndex<NftSet> applied_set(applied != nullptr ? &applied->sets : nullptr);
  for (const NftSet& s : ruleset.sets) {
    if (s.dynamic) continue;  // filled by traffic: always read
    const NftSet* before = applied_set(s.name);
    if (before != nullptr && a_objects != nullptr && SameKernelElements(*before, s) &&
        a_objects->elements.count(s.name) && a_objects->element_lines.count(s.name) &&
        a_objects->element_digests.count(s.name)) {
      objects->elements[s.name] = a_objects->elements.at(s.name);
      objects->element_lines[s.name] = a_objects->element_lines.at(s.name);
      objects->element_digests[s.name] = a_objects->element_digests.at(s.name);
      continue;
    }
    if (before != nullptr && a_objects != nullptr && SameSetType(*before, s)) {
      if (std::optional<DerivedElements> derived =
              ElementsAfterFewChanges(*before, *a_objects, s)) {
        objects->element_digests[s.name] = ElementsLine(s.name, derived->lines);
        objects->element_lines[s.name] =
            std::make_shared<const std::vector<std::string>>(std::move(derived->lines));
        objects->elements[s.name] =
            std::make_shared<const std::vector<KernelElement>>(std::move(derived->elements));
        objects->element_deltas[s.name] = std::move(derived->delta);
        continue;
      }
    }
    absl::StatusOr<std::vector<KernelElement>> elements = KernelElements(s);
    if (!elements.ok()) return elements.status();
    std::vector<std::string> lines;
    {
      lines.reserve(elements->size());
      for (const KernelElement& k : *elements) lines.push_back(ElementLine(k));
      if (!std::is_sorted(lines.begin(), lines.end())) std::sort(lines.begin(), lines.end());
    }
    objects->element_digests[s.name] = ElementsLine(s.name, lines);
    objects->element_lines[s.name] =
        std::make_shared<const std::vector<std::string>>(std::move(lines));
    objects->elements[s.name] =
        std::make_shared<const std::vector<KernelElement>>(std::move(*elements));
  }
  TableSnapshot snap;
  snap.objects = std::move(objects);
  return snap;
}

absl::StatusOr<std::unique_ptr<NftnlWriter>> NftnlWriter::Open() {
  mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (sock == nullptr || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::string why = strerror(errno);
    if (sock != nullptr) mnl_socket_close(sock);
    return absl::InternalError(absl::StrCat("netlink socket: ", why));
  }
  // Room for the kernel's answers to a big batch.
  int rcvbuf = 4 << 20;
  if (setsockopt(mnl_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) !=
      0) {
    setsockopt(mnl_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  return std::unique_ptr<NftnlWriter>(new NftnlWriter(sock));
}

NftnlWriter::NftnlWriter(mnl_socket* sock) : sock_(sock), reader_(std::make_unique<TableReader>()) {}

NftnlWriter::~NftnlWriter() { mnl_socket_close(sock_); }

absl::Status NftnlWriter::Commit(NftnlBatch& batch) {
  if (guard_ != nullptr) guard_->BeforeCommit();
  absl::Status st = batch.Commit(sock_);
  if (guard_ != nullptr) guard_->AfterCommit(st.ok());
  return st;
}

absl::StatusOr<NftnlWriter::Result> NftnlWriter::ReplaceTable(const NftRuleset& desired) {
  NftnlBatch batch;
  if (absl::Status st = AddFullTable(desired, batch); !st.ok()) return st;
  Result result{true, batch.size(), {}, {}};
  if (absl::Status st = Commit(batch); !st.ok()) return st;
  return result;
}

absl::StatusOr<NftnlWriter::Result> NftnlWriter::Replace(const NftRuleset& desired) {
  absl::StatusOr<TableSnapshot> now = reader_->Snapshot();
  // No table (or none readable): nothing to keep.
  if (!now.ok()) return ReplaceTable(desired);
  absl::StatusOr<Result> synced = SyncOnce(nullptr, nullptr, desired, *now, nullptr, false);
  if (!synced.ok()) return synced;
  synced->full = true;  // whatever was there, the whole table is now as desired
  return synced;
}

absl::StatusOr<NftnlWriter::Declarations> NftnlWriter::DeclarationsOf(const NftRuleset& ruleset) {
  // The ruleset without its named sets' elements, in an empty network namespace of a
  // short-lived thread: a few messages, and the kernel's own lines for what they declare (what
  // it lists may differ from what was sent).
  absl::StatusOr<Declarations> result = absl::InternalError("not run");
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = absl::InternalError(absl::StrCat("unshare(CLONE_NEWNET): ", strerror(errno)));
      return;
    }
    absl::StatusOr<std::unique_ptr<NftnlWriter>> writer = Open();
    if (!writer.ok()) {
      result = writer.status();
      return;
    }
    NftnlBatch batch;
    batch.AddTable();
    for (const wire::NftNamedCounter& c : ruleset.counters) batch.AddCounter(c);
    absl::Status st;
    for (const NftChain& c : ruleset.chains) {
      if (st.ok()) st = batch.AddChain(c);
    }
    for (const NftSet& set : ruleset.sets) {
      if (st.ok()) st = batch.AddSet(set);
    }
    for (const NftChain& c : ruleset.chains) {
      for (const NftRule& r : c.rules) {
        if (st.ok()) st = batch.AddRule(ruleset, c.name, r);
      }
    }
    if (st.ok()) st = (*writer)->Commit(batch);
    SnapshotScope declarations;
    declarations.without_elements = true;
    absl::StatusOr<TableSnapshot> snap =
        st.ok() ? TableReader().Snapshot(declarations) : absl::StatusOr<TableSnapshot>(st);
    if (!snap.ok()) {
      result = snap.status();
      return;
    }
    Declarations d;
    d.sets = snap->objects->sets;
    d.chains = snap->objects->chains;
    std::map<std::string, std::vector<const TableObjects::Rule*>> by_chain;
    for (const TableObjects::Rule& r : snap->objects->rules) by_chain[r.chain].push_back(&r);
    for (const auto& [chain, rules] : by_chain) {
      d.rules[chain] = RuleIdentities(*snap->objects, chain, rules);
    }
    result = std::move(d);
  });
  worker.join();
  return result;
}

absl::StatusOr<NftnlWriter::Result> NftnlWriter::Sync(const NftRuleset* applied,
                                                      const TableSnapshot* applied_snapshot,
                                                      const NftRuleset& desired,
                                                      const TableSnapshot* kernel,
                                                      const TableSnapshot* desired_elements) {
  if (kernel == nullptr || kernel->objects == nullptr) return Replace(desired);
  return SyncOnce(applied, applied_snapshot, desired, *kernel, desired_elements, true);
}

absl::StatusOr<NftnlWriter::Result> NftnlWriter::SyncOnce(const NftRuleset* applied,
                                                          const TableSnapshot* applied_snapshot,
                                                          const NftRuleset& desired,
                                                          const TableSnapshot& kernel,
                                                          const TableSnapshot* desired_elements,
                                                          bool may_read_again) {
  if (absl::Status st = CheckRulesetNames(desired); !st.ok()) return st;
  const TableObjects& k = *kernel.objects;
  const TableObjects* a_objects =
      applied_snapshot != nullptr ? applied_snapshot->objects.get() : nullptr;
  if (applied == nullptr || a_objects == nullptr) {
    applied = nullptr;
    a_objects = nullptr;
  }

  ByNameIndex<NftSet> applied_set(applied != nullptr ? &applied->sets : nullptr);
  ByNameIndex<NftChain> applied_chain(applied != nullptr ? &applied->chains : nullptr);
  ByNameIndex<NftSet> desired_set(&desired.sets);
  ByNameIndex<NftChain> desired_chain(&desired.chains);
  ByNameIndex<wire::NftNamedCounter> desired_counter(&desired.counters);
  NftnlBatch batch;
  std::set<std::string> element_sets;
  // Counters.
  for (const wire::NftNamedCounter& c : desired.counters) {
    if (!k.objects.count(c.name)) batch.AddCounter(c);
  }
  // Without the applied ruleset, or for a set whose declaration is not the one applied, what
  // the desired objects look like in the kernel: from loading them into an empty namespace.
  std::optional<absl::StatusOr<Declarations>> fresh;
  auto declarations = [&]() -> const Declarations* {
    if (!fresh) fresh = DeclarationsOf(desired);
    return fresh->ok() ? &**fresh : nullptr;  // unknown: every such set is added again
  };
  // Chains: new ones, and those whose declaration differs from what we put in (or is not
  // known). A chain stays hooked where it is, or unhooked: one that changes between base and
  // regular, or its hook, is redefined only by adding the table again.
  std::vector<ChainPlan> plans;
  for (const NftChain& c : desired.chains) {
    ChainPlan plan;
    plan.chain = &c;
    auto in_kernel = k.chains.find(c.name);
    const NftChain* before = applied_chain(c.name);
    if (in_kernel == k.chains.end()) {
      plan.is_new = true;
      if (absl::Status st = batch.AddChain(c); !st.ok()) return st;
      plans.push_back(std::move(plan));
      continue;
    }
    std::optional<std::string> want_hook, have_hook;
    if (c.base) {
      absl::StatusOr<std::string> hook = DeclaredHook(c);
      if (!hook.ok()) return hook.status();
      want_hook = *hook;
    }
    if (auto h = k.base_chain_hooks.find(c.name); h != k.base_chain_hooks.end())
      have_hook = h->second;
    if (want_hook != have_hook) return ReplaceTable(desired);
    bool as_applied = before != nullptr && before->base == c.base && before->hook == c.hook &&
                      before->policy == c.policy && a_objects->chains.count(c.name) != 0 &&
                      a_objects->chains.at(c.name) == in_kernel->second;
    if (!as_applied && before == nullptr) {
      const Declarations* d = declarations();
      as_applied = d != nullptr && d->chains.count(c.name) != 0 &&
                   d->chains.at(c.name) == in_kernel->second;
    }
    if (!as_applied) {
      if (absl::Status st = batch.AddChain(c); !st.ok()) return st;  // updates the policy
      plan.redeclared = true;
    }
    plans.push_back(std::move(plan));
  }
  // Sets: new ones with their elements; one whose type or flags change is added again.
  std::vector<std::pair<const NftSet*, std::shared_ptr<const std::vector<KernelElement>>>>
      recreated;
  std::set<std::string> recreated_names;
  std::vector<std::pair<const NftSet*, std::vector<KernelElement>>> element_changes_add;
  std::vector<std::pair<const NftSet*, std::vector<KernelElement>>> element_changes_del;
  for (const NftSet& s : desired.sets) {
    const NftSet* before = applied_set(s.name);
    absl::StatusOr<std::shared_ptr<const std::vector<KernelElement>>> want =
        WantedElements(s, before, a_objects, desired_elements);
    if (!want.ok()) return want.status();
    auto in_kernel = k.sets.find(s.name);
    if (in_kernel == k.sets.end()) {
      if (absl::Status st = batch.AddSet(s); !st.ok()) return st;
      if (absl::Status st = batch.AddElements(s, **want); !st.ok()) return st;
      element_sets.insert(s.name);
      continue;
    }
    // A set's type and flags cannot change in place. Known from the applied ruleset when the
    // kernel's set is still the one applied, else from the fresh declaration.
    bool same_type;
    if (before != nullptr && a_objects->sets.count(s.name) != 0 &&
        a_objects->sets.at(s.name) == in_kernel->second) {
      same_type = SameSetType(*before, s);
    } else {
      const Declarations* d = declarations();
      same_type = d != nullptr && d->sets.count(s.name) != 0 &&
                  d->sets.at(s.name) == in_kernel->second;
    }
    if (!same_type) {
      recreated.emplace_back(&s, *want);
      recreated_names.insert(s.name);
      element_sets.insert(s.name);
      continue;
    }
    if (s.dynamic) continue;  // filled by traffic, not configuration
    auto have_it = k.elements.find(s.name);
    // The kernel snapshot shares a set's elements with the applied one when it did not read
    // the set again (no notification named it): nothing to compare then.
    if (have_it != k.elements.end() && have_it->second == *want) continue;
    static const std::vector<KernelElement> kNone;
    const std::vector<KernelElement>& have =
        have_it != k.elements.end() && have_it->second ? *have_it->second : kNone;
    const std::vector<KernelElement>& wanted = **want;
    std::vector<KernelElement> add, del;
    const TableObjects::ElementDelta* delta = nullptr;
    if (desired_elements != nullptr && desired_elements->objects != nullptr &&
        have_it != k.elements.end()) {
      auto d = desired_elements->objects->element_deltas.find(s.name);
      // Only when the kernel holds exactly the elements the delta starts from.
      if (d != desired_elements->objects->element_deltas.end() && d->second.base == have_it->second)
        delta = &d->second;
    }
    if (delta != nullptr) {
      add = delta->added;
      del = delta->removed;
    } else {
      std::set_difference(wanted.begin(), wanted.end(), have.begin(), have.end(),
                          std::back_inserter(add));
      std::set_difference(have.begin(), have.end(), wanted.begin(), wanted.end(),
                          std::back_inserter(del));
    }
    if (!del.empty() || !add.empty()) element_sets.insert(s.name);
    if (!del.empty()) element_changes_del.emplace_back(&s, std::move(del));
    if (!add.empty()) element_changes_add.emplace_back(&s, std::move(add));
  }
  // Rules, chain by chain.
  std::map<std::string, std::vector<const TableObjects::Rule*>> kernel_rules, applied_rules;
  for (const TableObjects::Rule& r : k.rules) kernel_rules[r.chain].push_back(&r);
  if (a_objects != nullptr) {
    for (const TableObjects::Rule& r : a_objects->rules) applied_rules[r.chain].push_back(&r);
  }
  for (ChainPlan& plan : plans) {
    const NftChain& c = *plan.chain;
    const std::vector<const TableObjects::Rule*>& have = kernel_rules[c.name];
    std::vector<int> kept_at(c.rules.size(), -1);  // desired index -> kernel index
    const NftChain* before = applied_chain(c.name);
    const std::vector<const TableObjects::Rule*>& before_lines = applied_rules[c.name];
    if (!plan.is_new && before != nullptr && before_lines.size() == before->rules.size() &&
        have.size() * before_lines.size() < kMaxAlign &&
        before->rules.size() * c.rules.size() < kMaxAlign) {
      std::vector<std::string> have_l, before_l, before_k, want_k;
      for (const auto* r : have) have_l.push_back(r->line);
      for (const auto* r : before_lines) before_l.push_back(r->line);
      for (const NftRule& r : before->rules) before_k.push_back(RuleKey(r));
      for (const NftRule& r : c.rules) want_k.push_back(RuleKey(r));
      std::vector<int> kernel_to_before = Align(have_l, before_l);
      std::vector<int> before_to_want = Align(before_k, want_k);
      for (size_t i = 0; i < have.size(); ++i) {
        int b = kernel_to_before[i];
        if (b >= 0 && before_to_want[b] >= 0) kept_at[before_to_want[b]] = static_cast<int>(i);
      }
    } else if (!plan.is_new && before == nullptr && have.size() * c.rules.size() < kMaxAlign) {
      // The kernel's rules against the desired ones as a fresh load lists them, anonymous
      // sets by their contents.
      const Declarations* d = declarations();
      const std::vector<std::string>* fresh_rules = nullptr;
      if (d != nullptr) {
        if (auto f = d->rules.find(c.name); f != d->rules.end()) fresh_rules = &f->second;
      }
      if (fresh_rules != nullptr && fresh_rules->size() == c.rules.size()) {
        std::vector<std::string> have_l = RuleIdentities(k, c.name, have);
        std::vector<int> kernel_to_want = Align(have_l, *fresh_rules);
        for (size_t i = 0; i < have.size(); ++i) {
          if (kernel_to_want[i] >= 0) kept_at[kernel_to_want[i]] = static_cast<int>(i);
        }
      }
    }
    // A rule that uses a set added again is added again too, bound to the new set.
    for (size_t d = 0; d < c.rules.size() && !recreated_names.empty(); ++d) {
      if (kept_at[d] >= 0 && UsesAnySet(c.rules[d], recreated_names)) kept_at[d] = -1;
    }
    std::vector<bool> kernel_kept(have.size(), false);
    for (int i : kept_at) {
      if (i >= 0) kernel_kept[i] = true;
    }
    size_t deleted = 0;
    for (size_t i = 0; i < have.size(); ++i) {
      if (kernel_kept[i]) continue;
      // Its anonymous set, if any, goes with it. (Snapshots name anonymous sets by their place,
      // not by the kernel's number, so the survivors and a rule put back compare as in a fresh
      // load.)
      plan.delete_handles.push_back(have[i]->handle);
      ++deleted;
    }
    if (deleted > 1 && deleted == have.size()) {
      plan.flush = true;
      plan.delete_handles.clear();
    }
    std::optional<uint64_t> next_kept;
    for (size_t d = c.rules.size(); d-- > 0;) {
      if (kept_at[d] >= 0) {
        next_kept = have[kept_at[d]]->handle;
        continue;
      }
      plan.inserts.emplace_back(d, RulePosition{next_kept});
    }
    std::reverse(plan.inserts.begin(), plan.inserts.end());
  }
  for (const ChainPlan& plan : plans) {
    if (plan.flush) batch.FlushChain(plan.chain->name);
    for (uint64_t h : plan.delete_handles) batch.DeleteRule(plan.chain->name, h);
  }
  // Rules of chains that go, before anything they jump to goes.
  std::vector<std::string> chains_gone;
  for (const auto& [name, line] : k.chains) {
    if (desired_chain(name) == nullptr) {
      chains_gone.push_back(name);
      if (!kernel_rules[name].empty()) batch.FlushChain(name);
    }
  }
  // No rule uses them any more (rules of gone chains too are flushed by now).
  for (const auto& [set, elements] : recreated) {
    batch.DeleteSet(set->name);
    if (absl::Status st = batch.AddSet(*set); !st.ok()) return st;
    if (absl::Status st = batch.AddElements(*set, *elements); !st.ok()) return st;
  }
  for (const auto& [set, elements] : element_changes_del) {
    if (absl::Status st = batch.DeleteElements(*set, elements); !st.ok()) return st;
  }
  for (const auto& [set, elements] : element_changes_add) {
    if (absl::Status st = batch.AddElements(*set, elements); !st.ok()) return st;
  }
  for (const ChainPlan& plan : plans) {
    for (const auto& [index, position] : plan.inserts) {
      if (absl::Status st =
              batch.AddRule(desired, plan.chain->name, plan.chain->rules[index], position);
          !st.ok()) {
        return st;
      }
    }
  }
  for (const std::string& name : chains_gone) batch.DeleteChain(name);
  for (const auto& [name, line] : k.sets) {
    if (name.rfind("__set", 0) != 0 && desired_set(name) == nullptr) {
      batch.DeleteSet(name);
      element_sets.insert(name);
    }
  }
  for (const auto& [name, line] : k.objects) {
    if (desired_counter(name) == nullptr) batch.DeleteCounter(name);
  }
  std::set<std::string> rule_chains(chains_gone.begin(), chains_gone.end());
  for (const ChainPlan& plan : plans) {
    if (plan.is_new || plan.redeclared || plan.flush || !plan.delete_handles.empty() ||
        !plan.inserts.empty())
      rule_chains.insert(plan.chain->name);
  }
  Result result{false, batch.size(), std::move(element_sets), std::move(rule_chains)};
  if (batch.size() == 0) return result;
  if (absl::Status st = Commit(batch); !st.ok()) {
    // Whatever the kernel would not take in place: say the table changed since `kernel` was
    // read, so once more from a fresh read; then adding the table again, which refuses a
    // ruleset the kernel refuses.
    if (may_read_again) {
      if (absl::StatusOr<TableSnapshot> now = reader_->Snapshot(); now.ok()) {
        absl::StatusOr<Result> again = SyncOnce(nullptr, nullptr, desired, *now, nullptr, false);
        if (again.ok()) again->full = true;
        return again;
      }
    }
    return ReplaceTable(desired);
  }
  return result;
}

}  // namespace polder::agent
