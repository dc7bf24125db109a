// NftnlWriter puts a structured ruleset (wire/nft_ruleset.h) into table inet polder through
// libnftnl, always as one netlink batch, so the kernel holds the old table or the new one and
// never a mix. It is also hitless: a connection that both the old and the new ruleset allow
// is never dropped while the batch commits (kernel tests probe through a veth pair). That
// rules out deleting the table, or any set a kept flow is looked up in, and adding it again:
//   - a base chain added in a batch is hooked when the batch is prepared, with its policy and
//     none of its rules until the commit, so a drop policy drops for as long as the rest of
//     the batch takes to prepare;
//   - an interval set (rbtree, pipapo) added in a batch misses every lookup from the moment
//     the commit switches generations until the set's own commit step builds its lookup data.
// So both calls send only what differs:
//   - Sync: from the kernel's table as just read (a TableSnapshot with its objects): set
//     elements added or removed, rules deleted or inserted in place, chains and sets added or
//     removed, a base chain's policy. The same call applies a new revision and undoes a tamper
//     (a foreign rule is deleted by its handle, a flushed chain refilled, removed elements put
//     back). Without the applied ruleset (an agent that just started) a kernel set stays when
//     its declaration is the one the desired set gets in an empty namespace.
//   - Replace: reads the table and syncs from it; no table: adds it.
// A set whose type or flags change is deleted and added again, with the rules that use it
// (flows through it alone see that gap). A chain that changes between base and regular, or
// hook, and a batch the kernel refuses twice, fall back to deleting the table and adding it
// again. After any of these the table equals a fresh full load of the same ruleset (kernel
// tests compare snapshots over random edits).
#ifndef POLDER_AGENT_NFTNL_WRITER_H_
#define POLDER_AGENT_NFTNL_WRITER_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/commit_guard.h"
#include "agent/table_snapshot.h"
#include "wire/nft_ruleset.h"

struct mnl_socket;

namespace polder::agent {

// The elements of `ruleset`'s named sets as a snapshot of the kernel would show them (its
// objects' elements and element_lines, nothing else): after a committed batch the table holds
// exactly these, so the agent takes them as the read-back (SnapshotScope::base) instead of
// dumping big sets, which costs the kernel time quadratic in their size.
// A set whose elements equal those of the same set in `applied` takes its computed elements,
// lines and digest from `applied_snapshot` (shared, not copied): sorting and digesting 200k
// kernel elements is most of an apply's user time, and most applies change few sets.
absl::StatusOr<TableSnapshot> ExpectedElements(const wire::NftRuleset& ruleset,
                                               const wire::NftRuleset* applied = nullptr,
                                               const TableSnapshot* applied_snapshot = nullptr);

class NftnlBatch;

class NftnlWriter {
 public:
  struct Result {
    bool full = false;    // the whole table was replaced
    size_t messages = 0;  // netlink messages in the committed batch
    // What the batch changed, for a read-back that asks only for those (SnapshotScope): sets
    // whose elements or existence changed (all when `full`), chains whose rules, declaration
    // or existence changed.
    std::set<std::string> element_sets;
    std::set<std::string> rule_chains;
  };

  // A netfilter netlink socket in the network namespace of the calling thread.
  static absl::StatusOr<std::unique_ptr<NftnlWriter>> Open();
  ~NftnlWriter();
  NftnlWriter(const NftnlWriter&) = delete;
  NftnlWriter& operator=(const NftnlWriter&) = delete;

  // The whole table as `desired`. An existing table is read and synced as from an unknown
  // state (hitless: see Sync); only a table that cannot be read is deleted and added again.
  absl::StatusOr<Result> Replace(const wire::NftRuleset& desired);

  // Brackets every batch this writer commits (not owned; null: none).
  void set_commit_guard(CommitGuard* guard) { guard_ = guard; }

  // `kernel`: the table as read just now (NotFound snapshot: pass nullptr). `applied` and
  // `applied_snapshot`: the ruleset this agent last put in and the table read right after it
  // (nullptr when unknown); they tell which kernel rule is which desired rule.
  // `desired_elements`: ExpectedElements(desired) when the caller has it, so that it is not
  // computed twice.
  absl::StatusOr<Result> Sync(const wire::NftRuleset* applied,
                              const TableSnapshot* applied_snapshot,
                              const wire::NftRuleset& desired, const TableSnapshot* kernel,
                              const TableSnapshot* desired_elements = nullptr);

 private:
  explicit NftnlWriter(mnl_socket* sock);
  absl::Status Commit(NftnlBatch& batch);
  // Deletes the table and adds it again, one batch. Not hitless (AddFullTable): only for a
  // table that is not there, cannot be read or cannot be synced.
  absl::StatusOr<Result> ReplaceTable(const wire::NftRuleset& desired);
  // `may_read_again`: a batch the kernel refuses is retried once from a fresh read (the table
  // changed since `kernel`), then by ReplaceTable.
  absl::StatusOr<Result> SyncOnce(const wire::NftRuleset* applied,
                                  const TableSnapshot* applied_snapshot,
                                  const wire::NftRuleset& desired, const TableSnapshot& kernel,
                                  const TableSnapshot* desired_elements, bool may_read_again);
  // What a ruleset's objects look like in the kernel, from loading it without its named
  // sets' elements into an empty network namespace: which of the kernel's sets can stay and
  // which of its rules are desired ones, when the applied ruleset does not tell.
  struct Declarations {
    std::map<std::string, std::string> sets;                // name -> TableObjects::sets line
    std::map<std::string, std::string> chains;              // name -> TableObjects::chains line
    std::map<std::string, std::vector<std::string>> rules;  // chain -> rule identities
  };
  static absl::StatusOr<Declarations> DeclarationsOf(const wire::NftRuleset& ruleset);

  mnl_socket* sock_;
  std::unique_ptr<TableReader> reader_;  // what Replace syncs from
  CommitGuard* guard_ = nullptr;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFTNL_WRITER_H_
