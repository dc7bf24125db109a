#include "agent/nft_generation.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

int ParseGeneration(const nlmsghdr* nlh, void* data) {
  nftnl_gen* gen = static_cast<nftnl_gen*>(data);
  if (nftnl_gen_nlmsg_parse(nlh, gen) < 0) return MNL_CB_ERROR;
  return MNL_CB_OK;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NftGenerationReader>> NftGenerationReader::Open() {
  mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (sock == nullptr || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::string why = strerror(errno);
    if (sock != nullptr) mnl_socket_close(sock);
    return absl::InternalError(absl::StrCat("netlink socket: ", why));
  }
  return std::unique_ptr<NftGenerationReader>(new NftGenerationReader(sock));
}

NftGenerationReader::~NftGenerationReader() { mnl_socket_close(sock_); }

absl::StatusOr<uint32_t> NftGenerationReader::Read() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t seq = seq_++;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) {
    return absl::InternalError(absl::StrCat("netlink send (getgen): ", strerror(errno)));
  }
  auto free_gen = [](nftnl_gen* g) { nftnl_gen_free(g); };
  std::unique_ptr<nftnl_gen, decltype(free_gen)> gen(nftnl_gen_alloc(), free_gen);
  if (gen == nullptr) return absl::ResourceExhaustedError("nftnl_gen_alloc");
  uint32_t portid = mnl_socket_get_portid(sock_);
  // The reply, then the ack; bounded: the kernel sends two messages for one request.
  for (int reads = 0; reads < 8; ++reads) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("netlink recv (getgen): ", strerror(errno)));
    int ret =
        mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, ParseGeneration, gen.get());
    if (ret < 0) return absl::InternalError(absl::StrCat("getgen: ", strerror(errno)));
    if (ret == MNL_CB_STOP) break;  // the ack
  }
  if (!nftnl_gen_is_set(gen.get(), NFTNL_GEN_ID))
    return absl::InternalError("getgen: the kernel's answer has no generation");
  return nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
}

}  // namespace polder::agent
