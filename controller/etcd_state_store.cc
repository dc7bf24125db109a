#include "controller/etcd_state_store.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

using etcdserverpb::RequestOp;
using nlohmann::json;

constexpr char kRoot[] = "/polder/v1/";

std::string Key(absl::string_view rel) { return absl::StrCat(kRoot, rel); }

// The first key after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // everything
}

RequestOp Put(const std::string& rel, const std::string& value) {
  RequestOp op;
  op.mutable_request_put()->set_key(Key(rel));
  op.mutable_request_put()->set_value(value);
  return op;
}

RequestOp Delete(const std::string& rel, bool prefix = false) {
  RequestOp op;
  op.mutable_request_delete_range()->set_key(Key(rel));
  if (prefix) op.mutable_request_delete_range()->set_range_end(PrefixEnd(Key(rel)));
  return op;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

absl::Status Corrupt(const std::string& key, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("etcd state store: ", key, " is corrupt: ", why));
}

// Parses a stored JSON object; nullopt (and `error` set) when it is not one.
std::optional<json> Object(const std::string& key, const std::string& value, absl::Status* error) {
  json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    *error = Corrupt(key, "not a JSON object");
    return std::nullopt;
  }
  return j;
}

std::string Str(const json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
int64_t Int(const json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// An endpoint URL as gRPC's target address, and whether it is TLS.
absl::StatusOr<std::pair<std::string, bool>> Endpoint(absl::string_view url) {
  bool tls = false;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint '", url,
                     "' must start with http:// or https:// (e.g. http://127.0.0.1:2379)"));
  }
  absl::ConsumeSuffix(&rest, "/");
  size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(colon + 1), &port) ||
      port <= 0 || port > 65535 || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint '", url, "' needs HOST:PORT (e.g. http://127.0.0.1:2379)"));
  }
  return std::pair{std::string(rest), tls};
}

}  // namespace

struct EtcdStateStore::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::string description;
  absl::Duration timeout;
  bool batching = false;
  std::vector<RequestOp> batch;
  std::mt19937_64 rng{std::random_device{}()};

  struct KeyValue {
    std::string key;  // relative to kRoot
    std::string value;
    int64_t mod_revision = 0;
  };

  void Deadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  }
  absl::Status Failed(const grpc::Status& s, absl::string_view what) const {
    return absl::UnavailableError(absl::StrCat("etcd (", description, "): ", what, " failed: ",
                                               s.error_message(), " (code ", s.error_code(), ")"));
  }
  absl::Status Send(const std::vector<RequestOp>& ops) {
    // etcd refuses a transaction that touches one key twice ("duplicate key given in txn
    // request"), and takes at most kMaxOpsPerTxn operations: a new transaction starts at
    // whichever comes first, so the operations still apply in their order.
    etcdserverpb::TxnRequest txn;
    std::vector<std::pair<std::string, std::string>> touched;  // [key, range_end) per op
    auto overlaps = [&](const std::string& key, const std::string& end) {
      for (const auto& [k, e] : touched) {
        bool a_point = end.empty(), b_point = e.empty();
        if (a_point && b_point ? key == k
            : a_point          ? key >= k && key < e
            : b_point          ? k >= key && k < end
                               : key < e && k < end)
          return true;
      }
      return false;
    };
    auto flush = [&]() -> absl::Status {
      if (txn.success_size() == 0) return absl::OkStatus();
      etcdserverpb::TxnResponse reply;
      grpc::ClientContext ctx;
      Deadline(ctx);
      grpc::Status s = kv->Txn(&ctx, txn, &reply);
      txn.Clear();
      touched.clear();
      return s.ok() ? absl::OkStatus() : Failed(s, "write");
    };
    for (const RequestOp& op : ops) {
      std::string key, end;
      if (op.has_request_put()) {
        key = op.request_put().key();
      } else {
        key = op.request_delete_range().key();
        end = op.request_delete_range().range_end();
      }
      if (txn.success_size() >= kMaxOpsPerTxn || overlaps(key, end)) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      touched.emplace_back(key, end);
      *txn.add_success() = op;
    }
    return flush();
  }
  absl::Status Write(std::vector<RequestOp> ops) {
    if (batching) {
      for (auto& op : ops) batch.push_back(std::move(op));
      return absl::OkStatus();
    }
    return Send(ops);
  }
  // Keys under `prefix` (relative), from `from` (relative; default: the prefix) on.
  absl::StatusOr<std::vector<KeyValue>> Range(const std::string& prefix, int64_t limit = 0,
                                              bool descending = false,
                                              const std::string& from = "") {
    etcdserverpb::RangeRequest req;
    req.set_key(Key(from.empty() ? prefix : from));
    req.set_range_end(PrefixEnd(Key(prefix)));
    req.set_limit(limit);
    if (descending) {
      req.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
      req.set_sort_target(etcdserverpb::RangeRequest::KEY);
    }
    etcdserverpb::RangeResponse reply;
    grpc::ClientContext ctx;
    Deadline(ctx);
    if (grpc::Status s = kv->Range(&ctx, req, &reply); !s.ok()) return Failed(s, "read");
    std::vector<KeyValue> out;
    for (const auto& kv : reply.kvs()) {
      std::string key = kv.key();
      if (!absl::StartsWith(key, kRoot)) continue;
      out.push_back({key.substr(sizeof(kRoot) - 1), kv.value(), kv.mod_revision()});
    }
    return out;
  }
  absl::StatusOr<std::optional<std::string>> Get(const std::string& rel) {
    etcdserverpb::RangeRequest req;
    req.set_key(Key(rel));
    etcdserverpb::RangeResponse reply;
    grpc::ClientContext ctx;
    Deadline(ctx);
    if (grpc::Status s = kv->Range(&ctx, req, &reply); !s.ok()) return Failed(s, "read");
    if (reply.kvs_size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(reply.kvs(0).value());
  }
};

EtcdStateStore::EtcdStateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdStateStore::~EtcdStateStore() = default;

absl::StatusOr<std::unique_ptr<EtcdStateStore>> EtcdStateStore::Open(
    const std::vector<std::string>& endpoints, const std::string& tls_dir, absl::Duration timeout) {
  if (endpoints.empty())
    return absl::InvalidArgumentError("etcd store: give at least one endpoint (etcd:http://H:P)");
  std::vector<std::string> addresses;
  std::set<bool> tls;
  for (const std::string& url : endpoints) {
    auto e = Endpoint(url);
    if (!e.ok()) return e.status();
    addresses.push_back(e->first);
    tls.insert(e->second);
  }
  if (tls.size() > 1)
    return absl::InvalidArgumentError("etcd store: endpoints mix http:// and https://");
  bool use_tls = *tls.begin();
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (use_tls) {
    if (tls_dir.empty()) {
      return absl::InvalidArgumentError(
          "etcd store: https:// endpoints need --store-tls-dir DIR (ca.crt, client.crt, "
          "client.key)");
    }
    grpc::SslCredentialsOptions files;
    for (auto [name, into] : {std::pair{"ca.crt", &files.pem_root_certs},
                              std::pair{"client.crt", &files.pem_cert_chain},
                              std::pair{"client.key", &files.pem_private_key}}) {
      std::filesystem::path path = std::filesystem::path(tls_dir) / name;
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) {
        return absl::NotFoundError(absl::StrCat("etcd store: cannot read ", path.string(),
                                                " (--store-tls-dir holds ca.crt, client.crt, "
                                                "client.key)"));
      }
      *into = text.str();
    }
    creds = grpc::SslCredentials(files);
  }
  // Several members: one channel over all of them, each address tried in order (pick_first),
  // so a dead member costs one failed connection attempt, not an outage.
  std::string target;
  if (addresses.size() == 1) {
    target = addresses[0];
  } else {
    target = absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(target, creds, args);
  impl->kv = etcdserverpb::KV::NewStub(impl->channel);
  impl->description = absl::StrJoin(endpoints, ",");
  impl->timeout = timeout;
  std::unique_ptr<EtcdStateStore> store(new EtcdStateStore(std::move(impl)));
  // Reached now, or a clear error at start rather than at the first write.
  if (auto served = store->impl_->Get("meta/served"); !served.ok()) return served.status();
  return store;
}

absl::Status EtcdStateStore::Begin() {
  impl_->batching = true;
  impl_->batch.clear();
  return absl::OkStatus();
}

absl::Status EtcdStateStore::Commit() {
  impl_->batching = false;
  std::vector<RequestOp> ops;
  ops.swap(impl_->batch);
  return impl_->Send(ops);
}

absl::Status EtcdStateStore::Rollback() {
  impl_->batching = false;
  impl_->batch.clear();
  return absl::OkStatus();
}

absl::Status EtcdStateStore::SaveRollout(const std::string& revision, wire::Mode mode,
                                         const std::vector<DesiredRuleset>& changed,
                                         const std::vector<std::string>& all_hosts, absl::Time time,
                                         uint64_t generation) {
  if (generation == 0) {
    auto stored = LoadGeneration();
    if (!stored.ok()) return stored.status();
    generation = *stored;
  }
  std::vector<RequestOp> ops;
  ops.push_back(Put("meta/served", Dump({{"revision", revision},
                                         {"mode", std::string(wire::ModeName(mode))},
                                         {"generation", generation},
                                         {"time_us", Micros(time)}})));
  auto desired = impl_->Range("desired/");
  if (!desired.ok()) return desired.status();
  std::set<std::string> keep(all_hosts.begin(), all_hosts.end());
  std::map<std::string, std::string> stored;
  for (auto& kv : *desired) {
    std::string host(absl::StripPrefix(kv.key, "desired/"));
    if (keep.count(host)) {
      stored[kv.key] = std::move(kv.value);
      continue;
    }
    ops.push_back(Delete(kv.key));
    ops.push_back(Delete(absl::StrCat("state/", host, "/"), /*prefix=*/true));
  }
  // Not the ruleset text (state_store.h, LoadServed). Every controller rolls out the same
  // revision and would write the same 10,000 values: only the first one's writes are needed.
  for (const auto& d : changed) {
    std::string key = absl::StrCat("desired/", d.host);
    std::string value = Dump({{"revision", d.revision}, {"hash", d.hash}});
    auto it = stored.find(key);
    if (it == stored.end() || it->second != value) ops.push_back(Put(key, std::move(value)));
  }
  return impl_->Write(std::move(ops));
}

absl::StatusOr<std::optional<ServedRevision>> EtcdStateStore::LoadServed() {
  auto served = impl_->Get("meta/served");
  if (!served.ok()) return served.status();
  if (!served->has_value()) return std::optional<ServedRevision>();
  absl::Status error;
  auto j = Object("meta/served", **served, &error);
  if (!j) return error;
  ServedRevision out;
  out.revision = Str(*j, "revision");
  if (out.revision.empty()) return std::optional<ServedRevision>();  // as SQLite: none yet
  std::optional<wire::Mode> mode = wire::ParseMode(Str(*j, "mode"));
  if (!mode) return Corrupt("meta/served", absl::StrCat("unknown mode '", Str(*j, "mode"), "'"));
  out.mode = *mode;
  out.generation = static_cast<uint64_t>(Int(*j, "generation"));
  auto desired = impl_->Range("desired/");
  if (!desired.ok()) return desired.status();
  for (const auto& kv : *desired) {
    auto d = Object(kv.key, kv.value, &error);
    if (!d) return error;
    out.hosts.push_back({std::string(absl::StripPrefix(kv.key, "desired/")), Str(*d, "revision"),
                         "", Str(*d, "hash")});
  }
  return std::optional<ServedRevision>(std::move(out));
}

absl::StatusOr<uint64_t> EtcdStateStore::LoadGeneration() {
  auto served = impl_->Get("meta/served");
  if (!served.ok()) return served.status();
  if (!served->has_value()) return 0;
  absl::Status error;
  auto j = Object("meta/served", **served, &error);
  if (!j) return error;
  return static_cast<uint64_t>(Int(*j, "generation"));
}

absl::Status EtcdStateStore::RecordApply(const std::string& host, const ApplyRecord& r) {
  std::string state = absl::StrCat("state/", host, "/");
  std::vector<RequestOp> ops;
  ops.push_back(Put(state + "last_report", absl::StrCat(Micros(r.time))));
  if (!r.ok) {
    ops.push_back(Put(state + "last_error", r.error));
  } else {
    ops.push_back(
        Put(state + "applied",
            Dump({{"revision", r.revision}, {"hash", r.hash}, {"generation", r.generation}})));
    ops.push_back(Put(state + "drift", "0"));
    ops.push_back(Put(state + "last_error", ""));
  }
  return impl_->Write(std::move(ops));
}

absl::Status EtcdStateStore::RecordDrift(const std::string& host, const DriftRecord& r) {
  // Only the transition between clean and drifted is shared; the report itself stays local.
  std::string state = absl::StrCat("state/", host, "/");
  return impl_->Write({Put(state + "drift", r.remediated ? "0" : "1"),
                       Put(state + "last_report", absl::StrCat(Micros(r.time)))});
}

absl::Status EtcdStateStore::SetLastReport(const std::string& host, absl::Time time) {
  return impl_->Write(
      {Put(absl::StrCat("state/", host, "/last_report"), absl::StrCat(Micros(time)))});
}

absl::Status EtcdStateStore::SetReported(const std::string& host, const std::string& revision,
                                         const std::string& hash) {
  return impl_->Write({Put(absl::StrCat("state/", host, "/reported"),
                           Dump({{"revision", revision}, {"hash", hash}}))});
}

absl::StatusOr<std::vector<HostRecord>> EtcdStateStore::LoadHosts() {
  std::map<std::string, HostRecord> hosts;
  auto desired = impl_->Range("desired/");
  if (!desired.ok()) return desired.status();
  for (const auto& kv : *desired) {
    std::string host(absl::StripPrefix(kv.key, "desired/"));
    hosts[host].host = host;
  }
  auto state = impl_->Range("state/");
  if (!state.ok()) return state.status();
  absl::Status error;
  for (const auto& kv : *state) {
    absl::string_view rest = absl::StripPrefix(kv.key, "state/");
    size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) continue;
    std::string host(rest.substr(0, slash));
    absl::string_view field = rest.substr(slash + 1);
    auto it = hosts.find(host);
    if (it == hosts.end()) continue;  // not (or no longer) in the served revision
    HostRecord& h = it->second;
    if (field == "applied" || field == "reported") {
      auto j = Object(kv.key, kv.value, &error);
      if (!j) return error;
      (field == "applied" ? h.applied_revision : h.reported_revision) = Str(*j, "revision");
      (field == "applied" ? h.applied_hash : h.reported_hash) = Str(*j, "hash");
    } else if (field == "drift") {
      h.drift = kv.value == "1";
    } else if (field == "last_error") {
      h.last_error = kv.value;
    } else if (field == "last_report") {
      int64_t us = 0;
      if (!absl::SimpleAtoi(kv.value, &us)) return Corrupt(kv.key, "not a number");
      h.last_report = absl::FromUnixMicros(us);
    }
  }
  std::vector<HostRecord> out;
  for (auto& [name, h] : hosts) out.push_back(std::move(h));
  return out;
}

absl::Status EtcdStateStore::SaveQuarantine(const QuarantineRecord& q) {
  return impl_->Write(
      {Put(absl::StrCat("quarantine/", q.target), Dump({{"allow", q.allow},
                                                        {"reason", q.reason},
                                                        {"actor", q.actor},
                                                        {"since_us", Micros(q.since)}}))});
}

absl::Status EtcdStateStore::DeleteQuarantine(const std::string& target) {
  return impl_->Write({Delete(absl::StrCat("quarantine/", target))});
}

absl::StatusOr<std::vector<QuarantineRecord>> EtcdStateStore::LoadQuarantines() {
  auto rows = impl_->Range("quarantine/");
  if (!rows.ok()) return rows.status();
  std::vector<QuarantineRecord> out;
  absl::Status error;
  for (const auto& kv : *rows) {
    auto j = Object(kv.key, kv.value, &error);
    if (!j) return error;
    QuarantineRecord q{std::string(absl::StripPrefix(kv.key, "quarantine/")),
                       {},
                       Str(*j, "reason"),
                       Str(*j, "actor"),
                       absl::FromUnixMicros(Int(*j, "since_us"))};
    auto allow = j->find("allow");
    if (allow == j->end() || !allow->is_array()) return Corrupt(kv.key, "allow is not a list");
    for (const auto& z : *allow) {
      if (!z.is_string()) return Corrupt(kv.key, "allow holds a non-name");
      q.allow.push_back(z.get<std::string>());
    }
    out.push_back(std::move(q));
  }
  return out;
}

absl::Status EtcdStateStore::SavePosture(const PostureRecord& p) {
  return impl_->Write({Put("posture", Dump({{"name", p.name},
                                            {"reason", p.reason},
                                            {"actor", p.actor},
                                            {"since_us", Micros(p.since)},
                                            {"forced", p.forced}}))});
}

absl::Status EtcdStateStore::DeletePosture() { return impl_->Write({Delete("posture")}); }

absl::StatusOr<std::optional<PostureRecord>> EtcdStateStore::LoadPosture() {
  auto value = impl_->Get("posture");
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<PostureRecord>();
  absl::Status error;
  auto j = Object("posture", **value, &error);
  if (!j) return error;
  auto forced = j->find("forced");
  return std::optional<PostureRecord>(
      PostureRecord{Str(*j, "name"), Str(*j, "reason"), Str(*j, "actor"),
                    absl::FromUnixMicros(Int(*j, "since_us")),
                    forced != j->end() && forced->is_boolean() && forced->get<bool>()});
}

RequestOp EtcdStateStore::AuditOp(const AuditRecord& r) {
  // Keys sort by time (zero-padded microseconds), then by a random tag so that two controllers
  // auditing in the same microsecond never overwrite each other. The id is etcd's revision of
  // the entry: unique and growing across the whole cluster.
  std::string key = absl::StrFormat("audit/%020d-%016x", Micros(r.time), impl_->rng());
  return Put(key, Dump({{"time_us", Micros(r.time)},
                        {"kind", r.kind},
                        {"actor", r.actor},
                        {"target", r.target},
                        {"detail", r.detail},
                        {"reason", r.reason},
                        {"revision", r.revision}}));
}

absl::Status EtcdStateStore::Audit(const AuditRecord& r) { return impl_->Write({AuditOp(r)}); }

namespace {
constexpr char kDesiredKey[] = "policy/desired";

absl::StatusOr<DesiredPolicy> ParseDesired(const std::string& value, int64_t mod_revision) {
  absl::Status error;
  auto j = Object(kDesiredKey, value, &error);
  if (!j) return error;
  DesiredPolicy d{Str(*j, "revision"), Str(*j, "digest"), Str(*j, "actor"),
                  absl::FromUnixMicros(Int(*j, "time_us")), mod_revision};
  if (d.revision.empty()) return Corrupt(kDesiredKey, "no revision");
  return d;
}
}  // namespace

absl::StatusOr<std::optional<DesiredPolicy>> EtcdStateStore::LoadDesiredPolicy() {
  auto rows = impl_->Range(kDesiredKey);  // the key and any longer one: pick the exact one
  if (!rows.ok()) return rows.status();
  for (const auto& kv : *rows) {
    if (kv.key != kDesiredKey) continue;
    auto d = ParseDesired(kv.value, kv.mod_revision);
    if (!d.ok()) return d.status();
    return std::optional<DesiredPolicy>(*d);
  }
  return std::optional<DesiredPolicy>();
}

namespace {

// A bundle larger than one etcd request takes (--max-request-bytes, 1.5 MiB by default: a
// 30,000-host policy's hosts file alone is 1.4 MB) is stored as chunks under
// bundle/<revision>/<index>, each written on its own before the publish, and bundle/<revision>
// holds this marker, the chunk count and the whole bundle's SHA-256. Chunks of a publish that
// lost its race stay behind: content-addressed by revision, a later publish of the same
// revision writes them again unchanged.
constexpr absl::string_view kChunkedMarker = "polder-chunked-bundle-v1 ";
constexpr size_t kBundleChunkBytes = 512 << 10;

std::string ChunkKey(const std::string& revision, size_t i) {
  return absl::StrFormat("bundle/%s/%06d", revision, i);
}

}  // namespace

absl::StatusOr<std::optional<std::string>> EtcdStateStore::LoadBundle(const std::string& revision) {
  auto stored = impl_->Get(absl::StrCat("bundle/", revision));
  if (!stored.ok() || !stored->has_value() || !absl::StartsWith(**stored, kChunkedMarker))
    return stored;
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripPrefix(**stored, kChunkedMarker), ' ');
  size_t chunks = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &chunks))
    return Corrupt(absl::StrCat("bundle/", revision), "a chunked bundle without its count");
  auto rows = impl_->Range(absl::StrCat("bundle/", revision, "/"));
  if (!rows.ok()) return rows.status();
  std::string bundle;
  for (size_t i = 0; i < rows->size(); ++i) {
    if ((*rows)[i].key != ChunkKey(revision, i)) break;
    bundle += (*rows)[i].value;
  }
  if (rows->size() != chunks || wire::Sha256Hex(bundle) != fields[1])
    return Corrupt(absl::StrCat("bundle/", revision),
                   absl::StrCat("its ", chunks, " chunks are missing or do not match its SHA-256 (",
                                rows->size(), " found)"));
  return std::optional<std::string>(std::move(bundle));
}

absl::StatusOr<PublishOutcome> EtcdStateStore::PublishPolicy(const DesiredPolicy& desired,
                                                             const std::string& bundle,
                                                             int64_t expected_version,
                                                             const AuditRecord& audit) {
  // One transaction: if the desired key is still at `expected_version` (its mod_revision; for
  // 0, absent: create_revision 0), put the bundle, the desired key and the audit entry; else
  // read the desired key, so the loser learns the winner in the same round trip.
  std::string stored = bundle;
  if (bundle.size() > kBundleChunkBytes) {
    size_t chunks = (bundle.size() + kBundleChunkBytes - 1) / kBundleChunkBytes;
    for (size_t i = 0; i < chunks; ++i)
      if (absl::Status s =
              impl_->Write({Put(ChunkKey(desired.revision, i),
                                bundle.substr(i * kBundleChunkBytes, kBundleChunkBytes))});
          !s.ok())
        return s;
    stored = absl::StrCat(kChunkedMarker, chunks, " ", wire::Sha256Hex(bundle));
  }
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(Key(kDesiredKey));
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  if (expected_version == 0) {
    cmp->set_target(etcdserverpb::Compare::CREATE);
    cmp->set_create_revision(0);
  } else {
    cmp->set_target(etcdserverpb::Compare::MOD);
    cmp->set_mod_revision(expected_version);
  }
  *txn.add_success() = Put(absl::StrCat("bundle/", desired.revision), stored);
  *txn.add_success() = Put(kDesiredKey, Dump({{"revision", desired.revision},
                                              {"digest", desired.digest},
                                              {"actor", desired.actor},
                                              {"time_us", Micros(desired.time)}}));
  *txn.add_success() = AuditOp(audit);
  txn.add_failure()->mutable_request_range()->set_key(Key(kDesiredKey));
  etcdserverpb::TxnResponse reply;
  grpc::ClientContext ctx;
  impl_->Deadline(ctx);
  if (grpc::Status s = impl_->kv->Txn(&ctx, txn, &reply); !s.ok())
    return impl_->Failed(s, "publish");
  if (reply.succeeded()) {
    DesiredPolicy next = desired;
    next.version = reply.header().revision();
    return PublishOutcome{true, next};
  }
  PublishOutcome out;
  if (reply.responses_size() == 1 && reply.responses(0).has_response_range() &&
      reply.responses(0).response_range().kvs_size() == 1) {
    const auto& kv = reply.responses(0).response_range().kvs(0);
    auto d = ParseDesired(kv.value(), kv.mod_revision());
    if (!d.ok()) return d.status();
    out.current = *d;
  }
  return out;
}

std::shared_ptr<grpc::Channel> EtcdStateStore::channel() const { return impl_->channel; }

absl::StatusOr<int64_t> EtcdStateStore::TrimAudit(absl::Time before, const Fence& fence) {
  // Audit keys sort by time: everything from "audit/" up to the first key of `before`'s
  // microsecond goes, in one transaction that holds only while the election key is still the
  // one this leader created.
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(fence.key);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_create_revision(fence.create_revision);
  auto* del = txn.add_success()->mutable_request_delete_range();
  del->set_key(Key("audit/"));
  del->set_range_end(Key(absl::StrFormat("audit/%020d", Micros(before))));
  etcdserverpb::TxnResponse reply;
  grpc::ClientContext ctx;
  impl_->Deadline(ctx);
  if (grpc::Status s = impl_->kv->Txn(&ctx, txn, &reply); !s.ok())
    return impl_->Failed(s, "audit trim");
  if (!reply.succeeded()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "audit trim refused: ", fence.key, " is no longer the one created at revision ",
        fence.create_revision, " (another controller was elected leader)"));
  }
  if (reply.responses_size() != 1) return absl::InternalError("audit trim: unexpected reply");
  return reply.responses(0).response_delete_range().deleted();
}

absl::StatusOr<std::vector<AuditRecord>> EtcdStateStore::AuditLog(int limit,
                                                                  std::optional<absl::Time> since) {
  std::string from;
  if (since) from = absl::StrFormat("audit/%020d", std::max<int64_t>(0, Micros(*since)));
  auto rows = impl_->Range("audit/", limit, /*descending=*/true, from);
  if (!rows.ok()) return rows.status();
  std::vector<AuditRecord> out;
  absl::Status error;
  for (const auto& kv : *rows) {
    auto j = Object(kv.key, kv.value, &error);
    if (!j) return error;
    out.push_back({kv.mod_revision, absl::FromUnixMicros(Int(*j, "time_us")), Str(*j, "kind"),
                   Str(*j, "actor"), Str(*j, "target"), Str(*j, "detail"), Str(*j, "reason"),
                   Str(*j, "revision")});
  }
  return out;
}

absl::StatusOr<int64_t> EtcdStateStore::CountApplyResults(const std::string&) {
  return absl::UnimplementedError("the etcd store keeps no apply-result history");
}

absl::StatusOr<int64_t> EtcdStateStore::CountDriftReports(const std::string&) {
  return absl::UnimplementedError("the etcd store keeps no drift-report history");
}

}  // namespace polder::controller
