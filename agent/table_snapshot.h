// TableSnapshot reads table inet polder straight from the kernel over netlink (libmnl dumps of
// the table, its chains, rules, sets, set elements, objects and flowtables) and turns it into
// canonical lines: handles, ids and traffic state (counter, quota values) left out, set
// elements sorted. Two snapshots are equal exactly when the configuration is. It costs a few
// milliseconds where `nft list` (libnftables) needs seconds for sets of 100k elements, because
// libnftables fetches and decodes every element; the drift check compares snapshots and
// only renders text when they differ.
#ifndef POLDER_AGENT_TABLE_SNAPSHOT_H_
#define POLDER_AGENT_TABLE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct mnl_socket;

namespace polder::agent {

// One set element as the kernel holds it. Interval sets of one field keep a start element and
// an end element (flag NFT_SET_ELEM_INTERVAL_END) per range, as nft writes them; concatenated
// interval sets keep key and key_end in one element. Keys are padded to 32-bit words.
struct KernelElement {
  std::string key;
  std::string key_end;  // concatenated interval sets only
  uint32_t flags = 0;
  bool has_verdict = false;  // verdict maps
  int32_t verdict = 0;       // NF_ACCEPT, NF_DROP, NFT_JUMP, ...
  std::string chain;         // for jump / goto

  bool operator==(const KernelElement& o) const {
    return key == o.key && key_end == o.key_end && flags == o.flags &&
           has_verdict == o.has_verdict && verdict == o.verdict && chain == o.chain;
  }
  bool operator<(const KernelElement& o) const;
};

// The table's objects one by one, for computing the batch that turns the kernel's table into
// the desired one (see NftnlWriter). Lines are the snapshot's lines.
struct TableObjects {
  struct Rule {
    std::string chain;
    uint64_t handle = 0;
    std::string line;
  };
  std::vector<Rule> rules;                    // by chain, in the kernel's order within one
  std::map<std::string, std::string> chains;  // name -> line
  // Base chains: name -> "<type> <hook number> <priority>" (BaseChainHook), so that a writer
  // can tell whether a chain can stay where it is hooked.
  std::map<std::string, std::string> base_chain_hooks;
  // Anonymous sets go by a name of the snapshot's own, "__set.<chain>.<n>" (the n-th anonymous
  // set of a chain's rules, in rule order), in every line and map here: the kernel names them
  // __set%d with the lowest free number, so a rule put back by a restore may get another
  // number than a fresh load gives it, and the configuration would look different.
  std::map<std::string, std::string> sets;          // name -> line (anonymous sets included)
  std::map<std::string, std::string> kernel_names;  // anonymous sets: our name -> the kernel's
  std::map<std::string, uint32_t> set_flags;        // name -> NFT_SET_* flags
  // Shared, not copied, when a snapshot takes a set's elements from its base.
  std::map<std::string, std::shared_ptr<const std::vector<KernelElement>>> elements;  // sorted
  std::map<std::string, std::shared_ptr<const std::vector<std::string>>> element_lines;
  std::map<std::string, std::string> element_digests;  // the set's line in `lines`
  std::map<std::string, std::string> objects;          // name -> line (named counters)
  // For an expected snapshot (ExpectedElements): a set whose elements were derived from the
  // applied ones records what changed, so the batch need not compare 200k elements again.
  struct ElementDelta {
    std::shared_ptr<const std::vector<KernelElement>> base;  // the applied elements
    std::vector<KernelElement> added, removed;               // sorted, disjoint
  };
  std::map<std::string, ElementDelta> element_deltas;
};

struct TableSnapshot {
  // "chain <hex>", "rule <chain> <hex>", "elements <set> n=<count> fnv=<digest>", ...: one
  // line per set for its elements (their lines are in objects->element_lines).
  std::string lines;
  size_t elements = 0;  // Set elements in all sets of the table.
  // The same, object by object; shared because snapshots are copied around.
  std::shared_ptr<const TableObjects> objects;
  bool operator==(const TableSnapshot& o) const { return lines == o.lines; }
};

// The form of TableObjects::base_chain_hooks.
std::string BaseChainHook(const std::string& type, uint32_t hook, int32_t priority);

// The snapshot line for a set's sorted element lines.
std::string ElementsLine(const std::string& set, const std::vector<std::string>& elements);

// Which set elements a snapshot reads from the kernel. Dumping a big interval set costs the
// kernel time quadratic in its size (each dump chunk walks the tree from its start), so a
// check after a notification that names the sets it changed reads only those; the others'
// elements are taken from `base`.
struct SnapshotScope {
  const std::set<std::string>* element_sets = nullptr;  // null: every set
  const TableSnapshot* base = nullptr;
  // Likewise for rules: only these chains' rules are read, the other chains' are taken from
  // `base` (a chain the kernel no longer has has none). Null: every chain's.
  const std::set<std::string>* rule_chains = nullptr;
  // The table's declarations and rules, and the elements of anonymous sets only (they are
  // part of their rules): a named set's dump is the expensive part of a snapshot.
  bool without_elements = false;
  // With both lists and a base, the declarations too: only the chains in `rule_chains`, the
  // sets in `element_sets` and the anonymous sets of the rules read are asked for by name,
  // the rest are the base's. So both lists must name every chain and set whose declaration
  // may differ from the base (nftables notifications name each one a commit touched).
};

// Takes snapshots over one netlink socket, kept open: closing a netfilter netlink socket
// right after a ruleset commit waits for the kernel (about 12 ms here, against 0.2 ms for the
// snapshot itself), which delayed every drift report by as much. Thread-safe.
class TableReader {
 public:
  TableReader();
  ~TableReader();
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // NotFoundError when the table does not exist. The socket lives in the network namespace
  // of the thread that first calls this.
  absl::StatusOr<TableSnapshot> Snapshot(const SnapshotScope& scope = {}) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  mnl_socket* sock_ ABSL_GUARDED_BY(mu_);
  unsigned int seq_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TABLE_SNAPSHOT_H_
