// NftMonitor listens to the kernel's nftables change notifications (netlink group
// NFNLGRP_NFTABLES) and folds each committed transaction into one NftTransaction, delivered
// when its closing NFT_MSG_NEWGEN arrives. It only reads notifications; it never asks the
// kernel for a dump, so watching costs nothing while nobody changes the ruleset.
#ifndef POLDER_AGENT_NFT_MONITOR_H_
#define POLDER_AGENT_NFT_MONITOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mnl_socket;
struct nlmsghdr;

namespace polder::agent {

struct NftTransaction {
  uint32_t generation = 0;
  uint32_t pid = 0;  // Kernel task id (thread id) of the process that committed it.
  std::string process;
  bool touches_polder = false;  // Some message of the transaction names table inet polder.
  std::set<std::string> foreign_base_chains;  // "ip filter/input" for base chains elsewhere.
  // Sets of table inet polder whose elements the transaction changed, or that it added or
  // deleted: a check after it reads only their elements from the kernel.
  std::set<std::string> polder_sets;
  // Chains of table inet polder whose rules the transaction added or deleted, or that it added
  // or deleted, for a check that reads only their rules; `polder_other` when it touched
  // anything else of the table (the table, a named counter, a flowtable): read it all then.
  std::set<std::string> polder_chains;
  bool polder_other = false;
};

// What the foreign transactions read at once changed in table inet polder, judged by one
// check: the sets and chains to read again, or `other` when it must read the whole table.
struct PolderChanges {
  std::set<std::string> sets;
  std::set<std::string> chains;
  bool other = false;
  void Add(const NftTransaction& t);
};

// Where the Enforcer reads committed transactions from: the kernel (NftMonitor) or, in unit
// tests, FakeNftKernel, which reports the transactions it was given.
class NftNotifications {
 public:
  virtual ~NftNotifications() = default;

  // Readable (poll) while notifications wait.
  virtual int fd() const = 0;

  // Reads every notification already queued, without blocking, calling `on_transaction` for
  // each completed transaction. DataLossError means notifications were dropped (the kernel's
  // ENOBUFS): the caller must compare the whole table instead.
  virtual absl::Status ReadAvailable(
      const std::function<void(const NftTransaction&)>& on_transaction) = 0;

  // Stop and start receiving notifications (the agent's own commits are not worth hearing, and
  // a listener makes the kernel build one per set element: see commit_guard.h). Notifications
  // queued before LeaveGroup stay readable.
  virtual absl::Status LeaveGroup() { return absl::OkStatus(); }
  virtual absl::Status JoinGroup() { return absl::OkStatus(); }
};

class NftMonitor final : public NftNotifications {
 public:
  // `receive_buffer` bytes of socket buffer; large rulesets produce one message per element.
  static absl::StatusOr<std::unique_ptr<NftMonitor>> Open(int receive_buffer = 64 << 20);
  ~NftMonitor() override;

  int fd() const override;
  absl::Status ReadAvailable(
      const std::function<void(const NftTransaction&)>& on_transaction) override;
  absl::Status LeaveGroup() override;
  absl::Status JoinGroup() override;

  // Folds one netlink message into the pending transaction; exposed for tests.
  void HandleMessage(const ::nlmsghdr* nlh,
                     const std::function<void(const NftTransaction&)>& on_transaction);

 private:
  explicit NftMonitor(mnl_socket* sock) : sock_(sock) {}

  mnl_socket* sock_;
  NftTransaction pending_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFT_MONITOR_H_
