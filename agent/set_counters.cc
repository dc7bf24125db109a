#include "agent/set_counters.h"

#include <arpa/inet.h>  // Before the linux headers, which clash with it otherwise.
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

constexpr char kTable[] = "polder";

using MessageFn = std::function<int(const nlmsghdr*)>;

int OnMessage(const nlmsghdr* nlh, void* data) { return (*static_cast<MessageFn*>(data))(nlh); }

struct SetDeleter {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct ObjDeleter {
  void operator()(nftnl_obj* o) const { nftnl_obj_free(o); }
};

// Sends the request in `buf` and feeds every answer to `fn` until the kernel is done.
absl::Status Exchange(mnl_socket* sock, unsigned int seq, char* buf, size_t size, nlmsghdr* nlh,
                      const MessageFn& fn, const std::string& what) {
  if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
    return absl::InternalError(absl::StrCat("netlink send: ", strerror(errno)));
  }
  unsigned int portid = mnl_socket_get_portid(sock);
  // Bounded: a dump ends with NLMSG_DONE; a kernel that kept talking would be a bug, and 1M
  // messages is far past the largest set the agent declares.
  for (int i = 0; i < (1 << 20); ++i) {
    ssize_t n = mnl_socket_recvfrom(sock, buf, size);
    if (n < 0) return absl::InternalError(absl::StrCat("netlink recv: ", strerror(errno)));
    int rc = mnl_cb_run(buf, n, seq, portid, &OnMessage, const_cast<MessageFn*>(&fn));
    if (rc < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(what, " does not exist"));
      return absl::InternalError(absl::StrCat("netlink (", what, "): ", strerror(errno)));
    }
    if (rc == MNL_CB_STOP) return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("netlink (", what, "): the dump did not end"));
}

}  // namespace

SetCounterReader::SetCounterReader() = default;

SetCounterReader::~SetCounterReader() {
  absl::MutexLock lock(&mu_);
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

absl::Status SetCounterReader::Open() {
  if (sock_ != nullptr) return absl::OkStatus();
  sock_ = mnl_socket_open(NETLINK_NETFILTER);
  if (sock_ == nullptr)
    return absl::InternalError(absl::StrCat("netlink socket: ", strerror(errno)));
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(sock_);
    sock_ = nullptr;
    return absl::InternalError(absl::StrCat("netlink bind: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CountedElement>> SetCounterReader::ReadSet(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Open(); !s.ok()) return s;
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
  std::unique_ptr<nftnl_set, SetDeleter> request(nftnl_set_alloc());
  nftnl_set_set_str(request.get(), NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(request.get(), NFTNL_SET_NAME, name.c_str());
  unsigned int seq = ++seq_;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, NFPROTO_INET,
                                        NLM_F_DUMP | NLM_F_ACK, seq);
  nftnl_set_elems_nlmsg_build_payload(nlh, request.get());

  std::vector<CountedElement> out;
  absl::Status parse_error;
  MessageFn fn = [&](const nlmsghdr* msg) {
    std::unique_ptr<nftnl_set, SetDeleter> set(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(msg, set.get()) < 0) {
      parse_error = absl::InternalError(absl::StrCat("cannot parse the elements of set ", name));
      return MNL_CB_ERROR;
    }
    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set.get());
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e != nullptr;
         e = nftnl_set_elems_iter_next(it)) {
      CountedElement element;
      uint32_t len = 0;
      const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
      if (key != nullptr) element.key.assign(static_cast<const char*>(key), len);
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
        element.interval_end =
            (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) != 0;
      }
      // A counter declared on the set is the element's expression.
      nftnl_set_elem_expr_foreach(
          e,
          [](nftnl_expr* expr, void* data) {
            auto* el = static_cast<CountedElement*>(data);
            const char* kind = nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);
            if (kind != nullptr && strcmp(kind, "counter") == 0) {
              el->has_counter = true;
              el->counter.packets = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_PACKETS);
              el->counter.bytes = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_BYTES);
            }
            return 0;
          },
          &element);
      out.push_back(std::move(element));
    }
    nftnl_set_elems_iter_destroy(it);
    return MNL_CB_OK;
  };
  absl::Status s =
      Exchange(sock_, seq, buf.data(), buf.size(), nlh, fn, absl::StrCat("set ", name));
  if (!parse_error.ok()) return parse_error;
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<std::string>> SetCounterReader::ListSets() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Open(); !s.ok()) return s;
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
  std::unique_ptr<nftnl_set, SetDeleter> request(nftnl_set_alloc());
  nftnl_set_set_str(request.get(), NFTNL_SET_TABLE, kTable);
  unsigned int seq = ++seq_;
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, seq);
  nftnl_set_nlmsg_build_payload(nlh, request.get());
  std::vector<std::string> names;
  MessageFn fn = [&](const nlmsghdr* msg) {
    std::unique_ptr<nftnl_set, SetDeleter> set(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(msg, set.get()) < 0) return MNL_CB_ERROR;
    const char* table = nftnl_set_get_str(set.get(), NFTNL_SET_TABLE);
    const char* name = nftnl_set_get_str(set.get(), NFTNL_SET_NAME);
    if (table != nullptr && name != nullptr && strcmp(table, kTable) == 0) names.push_back(name);
    return MNL_CB_OK;
  };
  absl::Status s = Exchange(sock_, seq, buf.data(), buf.size(), nlh, fn, "table inet polder");
  if (!s.ok()) return s;
  return names;
}

absl::StatusOr<std::vector<std::string>> SetCounterReader::ListCounters() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Open(); !s.ok()) return s;
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
  std::unique_ptr<nftnl_obj, ObjDeleter> request(nftnl_obj_alloc());
  nftnl_obj_set_str(request.get(), NFTNL_OBJ_TABLE, kTable);
  nftnl_obj_set_u32(request.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  unsigned int seq = ++seq_;
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, seq);
  nftnl_obj_nlmsg_build_payload(nlh, request.get());
  std::vector<std::string> names;
  MessageFn fn = [&](const nlmsghdr* msg) {
    std::unique_ptr<nftnl_obj, ObjDeleter> obj(nftnl_obj_alloc());
    if (nftnl_obj_nlmsg_parse(msg, obj.get()) < 0) return MNL_CB_ERROR;
    const char* table = nftnl_obj_get_str(obj.get(), NFTNL_OBJ_TABLE);
    const char* name = nftnl_obj_get_str(obj.get(), NFTNL_OBJ_NAME);
    if (table != nullptr && name != nullptr && strcmp(table, kTable) == 0 &&
        nftnl_obj_get_u32(obj.get(), NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER) {
      names.push_back(name);
    }
    return MNL_CB_OK;
  };
  absl::Status s = Exchange(sock_, seq, buf.data(), buf.size(), nlh, fn, "table inet polder");
  if (!s.ok()) return s;
  return names;
}

absl::StatusOr<CounterValue> SetCounterReader::ReadCounter(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Open(); !s.ok()) return s;
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
  std::unique_ptr<nftnl_obj, ObjDeleter> request(nftnl_obj_alloc());
  nftnl_obj_set_str(request.get(), NFTNL_OBJ_TABLE, kTable);
  nftnl_obj_set_str(request.get(), NFTNL_OBJ_NAME, name.c_str());
  nftnl_obj_set_u32(request.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  unsigned int seq = ++seq_;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_ACK, seq);
  nftnl_obj_nlmsg_build_payload(nlh, request.get());
  std::optional<CounterValue> value;
  MessageFn fn = [&](const nlmsghdr* msg) {
    std::unique_ptr<nftnl_obj, ObjDeleter> obj(nftnl_obj_alloc());
    if (nftnl_obj_nlmsg_parse(msg, obj.get()) < 0) return MNL_CB_ERROR;
    value = CounterValue{nftnl_obj_get_u64(obj.get(), NFTNL_OBJ_CTR_PKTS),
                         nftnl_obj_get_u64(obj.get(), NFTNL_OBJ_CTR_BYTES)};
    return MNL_CB_OK;
  };
  absl::Status s =
      Exchange(sock_, seq, buf.data(), buf.size(), nlh, fn, absl::StrCat("counter ", name));
  if (!s.ok()) return s;
  if (!value) return absl::NotFoundError(absl::StrCat("counter ", name, " does not exist"));
  return *value;
}

}  // namespace polder::agent
