// The nftables ruleset generation of the calling thread's network namespace: the kernel adds
// one for every committed transaction, whoever commits it (NFT_MSG_GETGEN).
#ifndef POLDER_AGENT_NFT_GENERATION_H_
#define POLDER_AGENT_NFT_GENERATION_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

struct mnl_socket;

namespace polder::agent {

class NftGenerationReader {
 public:
  // A netfilter netlink socket in the network namespace of the calling thread.
  static absl::StatusOr<std::unique_ptr<NftGenerationReader>> Open();
  ~NftGenerationReader();
  NftGenerationReader(const NftGenerationReader&) = delete;
  NftGenerationReader& operator=(const NftGenerationReader&) = delete;

  absl::StatusOr<uint32_t> Read();

 private:
  explicit NftGenerationReader(mnl_socket* sock) : sock_(sock) {}
  mnl_socket* sock_;
  uint32_t seq_ = 1;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFT_GENERATION_H_
