#include "agent/nft_monitor.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

// Attribute 1 of every nf_tables object message (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
// NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, ...) is the
// name of the table the object lives in.
constexpr uint16_t kTableAttr = 1;
static_assert(NFTA_TABLE_NAME == kTableAttr && NFTA_CHAIN_TABLE == kTableAttr &&
              NFTA_RULE_TABLE == kTableAttr && NFTA_SET_TABLE == kTableAttr &&
              NFTA_SET_ELEM_LIST_TABLE == kTableAttr && NFTA_OBJ_TABLE == kTableAttr &&
              NFTA_FLOWTABLE_TABLE == kTableAttr);

const char* FamilyName(uint8_t family) {
  switch (family) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    default:
      return "unknown";
  }
}

struct Attrs {
  const nlattr* by_type[32] = {};
};

int CollectAttr(const nlattr* attr, void* data) {
  auto* attrs = static_cast<Attrs*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type < 32) attrs->by_type[type] = attr;
  return MNL_CB_OK;
}

std::string StrAttr(const nlattr* a) {
  if (a == nullptr) return "";
  return std::string(mnl_attr_get_str(a),
                     strnlen(mnl_attr_get_str(a), mnl_attr_get_payload_len(a)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NftMonitor>> NftMonitor::Open(int receive_buffer) {
  mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (sock == nullptr)
    return absl::InternalError(absl::StrCat("netlink socket: ", strerror(errno)));
  std::unique_ptr<NftMonitor> monitor(new NftMonitor(sock));
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    return absl::InternalError(absl::StrCat("netlink bind: ", strerror(errno)));
  }
  if (absl::Status st = monitor->JoinGroup(); !st.ok()) return st;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which the agent has; fall back quietly otherwise.
  if (setsockopt(monitor->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer,
                 sizeof(receive_buffer)) != 0) {
    setsockopt(monitor->fd(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  return monitor;
}

NftMonitor::~NftMonitor() { mnl_socket_close(sock_); }

absl::Status NftMonitor::JoinGroup() {
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(sock_, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
    return absl::InternalError(absl::StrCat("join NFNLGRP_NFTABLES: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status NftMonitor::LeaveGroup() {
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(sock_, NETLINK_DROP_MEMBERSHIP, &group, sizeof(group)) < 0) {
    return absl::InternalError(absl::StrCat("leave NFNLGRP_NFTABLES: ", strerror(errno)));
  }
  return absl::OkStatus();
}

int NftMonitor::fd() const { return mnl_socket_get_fd(sock_); }

void PolderChanges::Add(const NftTransaction& t) {
  sets.insert(t.polder_sets.begin(), t.polder_sets.end());
  chains.insert(t.polder_chains.begin(), t.polder_chains.end());
  other = other || t.polder_other;
}

void NftMonitor::HandleMessage(const nlmsghdr* nlh,
                               const std::function<void(const NftTransaction&)>& on_transaction) {
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) return;
  uint16_t msg = nlh->nlmsg_type & 0xff;
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs attrs;
  mnl_attr_parse(nlh, sizeof(nfgenmsg), CollectAttr, &attrs);
  if (msg == NFT_MSG_NEWGEN) {
    if (attrs.by_type[NFTA_GEN_ID])
      pending_.generation = ntohl(mnl_attr_get_u32(attrs.by_type[NFTA_GEN_ID]));
    if (attrs.by_type[NFTA_GEN_PROC_PID]) {
      pending_.pid = ntohl(mnl_attr_get_u32(attrs.by_type[NFTA_GEN_PROC_PID]));
    }
    pending_.process = StrAttr(attrs.by_type[NFTA_GEN_PROC_NAME]);
    on_transaction(pending_);
    pending_ = NftTransaction{};
    return;
  }
  std::string table = StrAttr(attrs.by_type[kTableAttr]);
  if (table.empty()) return;
  if (nfg->nfgen_family == NFPROTO_INET && table == "polder") {
    pending_.touches_polder = true;
    if (msg == NFT_MSG_NEWSETELEM || msg == NFT_MSG_DELSETELEM) {
      pending_.polder_sets.insert(StrAttr(attrs.by_type[NFTA_SET_ELEM_LIST_SET]));
    } else if (msg == NFT_MSG_NEWSET || msg == NFT_MSG_DELSET) {
      pending_.polder_sets.insert(StrAttr(attrs.by_type[NFTA_SET_NAME]));
    } else if (msg == NFT_MSG_NEWRULE || msg == NFT_MSG_DELRULE) {
      pending_.polder_chains.insert(StrAttr(attrs.by_type[NFTA_RULE_CHAIN]));
    } else if (msg == NFT_MSG_NEWCHAIN || msg == NFT_MSG_DELCHAIN) {
      pending_.polder_chains.insert(StrAttr(attrs.by_type[NFTA_CHAIN_NAME]));
    } else {
      pending_.polder_other = true;
    }
  } else if (msg == NFT_MSG_NEWCHAIN && attrs.by_type[NFTA_CHAIN_HOOK] != nullptr) {
    pending_.foreign_base_chains.insert(absl::StrCat(FamilyName(nfg->nfgen_family), " ", table, "/",
                                                     StrAttr(attrs.by_type[NFTA_CHAIN_NAME])));
  }
}

absl::Status NftMonitor::ReadAvailable(
    const std::function<void(const NftTransaction&)>& on_transaction) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 16);
  bool lost = false;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (lost) return absl::DataLossError("nftables notifications lost (ENOBUFS)");
        return absl::OkStatus();
      }
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        // The half-seen transaction cannot be judged; the caller compares the whole table.
        pending_ = NftTransaction{};
        lost = true;
        continue;
      }
      return absl::InternalError(absl::StrCat("netlink recv: ", strerror(errno)));
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      HandleMessage(nlh, on_transaction);
    }
  }
}

}  // namespace polder::agent
