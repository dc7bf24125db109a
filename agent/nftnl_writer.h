// NftnlWriter puts a structured ruleset (wire/nft_ruleset.h) into table inet polder through
// libnftnl, always as one netlink batch, so the kernel holds the old table or the new one and
// never a mix:
//   - Replace: delete the table and add everything (the first load, or when nothing else fits);
//   - Sync: from the kernel's table as just read (a TableSnapshot with its objects), send only
//     what differs from the desired ruleset: set elements added or removed, rules deleted or
//     inserted in place, chains and sets added or removed, a base chain's policy. The same call
//     applies a new revision and undoes a tamper (a foreign rule is deleted by its handle, a
//     flushed chain refilled, removed elements put back).
// What one batch cannot change in place (a set's type or flags, a rule with an anonymous set
// added or removed, whose kernel-chosen name would then differ from a fresh load) falls back
// to Replace, as does a batch the kernel refuses. After either, the table equals a fresh full
// load of the same ruleset (kernel tests compare snapshots over random edits).
#ifndef POLDER_AGENT_NFTNL_WRITER_H_
#define POLDER_AGENT_NFTNL_WRITER_H_

#include <memory>
#include <set>
#include <string>

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
  explicit NftnlWriter(mnl_socket* sock) : sock_(sock) {}
  absl::Status Commit(NftnlBatch& batch);

  mnl_socket* sock_;
  CommitGuard* guard_ = nullptr;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFTNL_WRITER_H_
