// SetCounters reads traffic state out of table inet polder over netlink (libnftnl + libmnl):
// the elements of one set with their per-element counters, and named counters. It is how the
// agent learns what the network did (issue 11): observation sets that the packet path fills
// with first-seen tuples (`update @seen4 { ip saddr . meta l4proto . th dport }` in a set
// declared with `counter`), and named counters such as the overflow counter that follows such
// an update rule.
//
//   SetCounterReader reader;  // in the namespace the agent enforces
//   absl::StatusOr<std::vector<CountedElement>> seen = reader.ReadSet("seen4");
//   absl::StatusOr<CounterValue> lost = reader.ReadCounter("seen4_overflow");
//
// Keys are the kernel's bytes: each part of a concatenation is padded to 4 bytes, in network
// byte order (an IPv4 address, then the protocol in 4 bytes, then the port in 4 bytes).
#ifndef POLDER_AGENT_SET_COUNTERS_H_
#define POLDER_AGENT_SET_COUNTERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct mnl_socket;

namespace polder::agent {

struct CounterValue {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct CountedElement {
  std::string key;  // the kernel's key bytes
  bool has_counter = false;
  CounterValue counter;
  bool interval_end = false;  // the end of an interval (NFT_SET_ELEM_INTERVAL_END): no element
};

class SetCounterReader {
 public:
  SetCounterReader();
  ~SetCounterReader();
  SetCounterReader(const SetCounterReader&) = delete;
  SetCounterReader& operator=(const SetCounterReader&) = delete;

  // Every element of set `name` in table inet polder; NotFoundError when there is no such set.
  absl::StatusOr<std::vector<CountedElement>> ReadSet(const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The names of every set of table inet polder; NotFoundError when there is no such table.
  absl::StatusOr<std::vector<std::string>> ListSets() ABSL_LOCKS_EXCLUDED(mu_);
  // The names of every named counter of table inet polder.
  absl::StatusOr<std::vector<std::string>> ListCounters() ABSL_LOCKS_EXCLUDED(mu_);
  // Named counter `name` of table inet polder; NotFoundError when there is none.
  absl::StatusOr<CounterValue> ReadCounter(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status Open() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  mnl_socket* sock_ ABSL_GUARDED_BY(mu_) = nullptr;
  unsigned int seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_SET_COUNTERS_H_
