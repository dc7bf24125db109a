// NftnlBatch builds one nftables netlink transaction (batch begin … batch end) from the
// structured ruleset (wire/nft_ruleset.h) with libnftnl, and sends it over libmnl. The kernel
// commits a batch whole or not at all, so a full replace (delete table + add everything) or an
// incremental change never shows a mix. The messages are the ones nft 1.0.6 sends for the text
// the compiler prints from the same NftRuleset, so both paths leave the same kernel state (the
// same TableSnapshot); kernel tests compare the two.
//
//   NftnlBatch batch;
//   batch.ReplaceTable();                        // add + delete table inet polder, then
//   for (const NftSet& s : rs.sets) { batch.AddSet(s); batch.AddElements(s, KernelElements(s)); }
//   ... AddChain, AddRule ...
//   absl::Status st = batch.Commit(socket);      // one sendmsg; the first error, if any
#ifndef POLDER_AGENT_NFTNL_BATCH_H_
#define POLDER_AGENT_NFTNL_BATCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/table_snapshot.h"
#include "wire/nft_ruleset.h"

struct nftnl_batch;
struct mnl_socket;

namespace polder::agent {

// The kernel elements `set` stands for, sorted; InvalidArgument when a key does not fit the
// set's type.
absl::StatusOr<std::vector<KernelElement>> KernelElements(const wire::NftSet& set);

// Where a new rule goes in its chain.
struct RulePosition {
  std::optional<uint64_t> before_handle;  // none: appended at the end
};

class NftnlBatch {
 public:
  NftnlBatch();
  ~NftnlBatch();
  NftnlBatch(const NftnlBatch&) = delete;
  NftnlBatch& operator=(const NftnlBatch&) = delete;

  // `table inet polder` + `delete table inet polder` + `table inet polder`: whatever was there
  // goes, in the same transaction as what follows.
  void ReplaceTable();
  void AddTable();
  void DeleteTable();

  absl::Status AddSet(const wire::NftSet& set);
  void DeleteSet(const std::string& name);
  absl::Status AddElements(const wire::NftSet& set, const std::vector<KernelElement>& elements);
  absl::Status DeleteElements(const wire::NftSet& set, const std::vector<KernelElement>& elements);

  void AddCounter(const wire::NftNamedCounter& counter);
  void DeleteCounter(const std::string& name);

  absl::Status AddChain(const wire::NftChain& chain);  // declaration; rules come separately
  void FlushChain(const std::string& name);
  void DeleteChain(const std::string& name);

  // `ruleset` supplies the declarations of the sets the rule looks up.
  absl::Status AddRule(const wire::NftRuleset& ruleset, const std::string& chain,
                       const wire::NftRule& rule, RulePosition position = {});
  void DeleteRule(const std::string& chain, uint64_t handle);

  // Messages queued besides begin/end.
  size_t size() const { return messages_; }

  // Ends the batch and sends it as one transaction on `sock` (a NETLINK_NETFILTER socket);
  // OK when the kernel committed it, otherwise the kernel's first error (nothing changed).
  absl::Status Commit(mnl_socket* sock);

 private:
  void* Next();  // buffer for the next message
  void Done();   // the message just written is complete
  uint32_t NextSetId() { return ++set_id_; }

  nftnl_batch* batch_;
  uint32_t seq_;
  uint32_t first_seq_;
  uint32_t set_id_ = 0;
  size_t messages_ = 0;
  std::vector<std::pair<uint32_t, std::string>> what_;  // seq -> what the message does
};

// Whole table inet polder as `ruleset`, in one transaction: ReplaceTable, then the counters,
// sets and elements, chains and rules. Not hitless for a table that exists: the kernel hooks
// a new base chain when the batch is prepared, with its policy and none of its rules until
// the commit, so a drop policy drops new connections for as long as the rest of the batch
// takes to prepare (NftnlWriter::Replace avoids it).
absl::Status AddFullTable(const wire::NftRuleset& ruleset, NftnlBatch& batch);

// The TableObjects::base_chain_hooks entry of a base chain as `chain` declares it.
absl::StatusOr<std::string> DeclaredHook(const wire::NftChain& chain);

// Refuses names that would reach outside what the agent manages (the table is fixed; set and
// chain names must be plain nft identifiers).
absl::Status CheckRulesetNames(const wire::NftRuleset& ruleset);

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFTNL_BATCH_H_
