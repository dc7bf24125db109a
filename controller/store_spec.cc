#include "controller/store_spec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/etcd_state_store.h"
#include "controller/sqlite_state_store.h"

namespace polder::controller {

absl::StatusOr<StoreSpec> ParseStoreSpec(const std::string& spec) {
  absl::string_view rest = spec;
  StoreSpec out;
  if (absl::ConsumePrefix(&rest, "sqlite:")) {
    if (rest.empty()) return absl::InvalidArgumentError("--store sqlite:FILE needs a FILE");
    out.file = std::string(rest);
    return out;
  }
  if (absl::ConsumePrefix(&rest, "etcd:")) {
    out.kind = StoreSpec::Kind::kEtcd;
    for (absl::string_view url : absl::StrSplit(rest, ',', absl::SkipWhitespace()))
      out.endpoints.emplace_back(absl::StripAsciiWhitespace(url));
    if (out.endpoints.empty()) {
      return absl::InvalidArgumentError(
          "--store etcd:URL[,URL...] needs at least one URL (e.g. etcd:http://127.0.0.1:2379)");
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--store '", spec,
      "' is neither sqlite:FILE nor etcd:URL[,URL...] (e.g. etcd:http://127.0.0.1:2379)"));
}

absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const StoreSpec& spec,
                                                           const std::string& tls_dir) {
  if (spec.kind == StoreSpec::Kind::kSqlite) {
    if (!tls_dir.empty())
      return absl::InvalidArgumentError("--store-tls-dir is for an etcd store only");
    return StateStore::Open(spec.file);
  }
  auto etcd = EtcdStateStore::Open(spec.endpoints, tls_dir);
  if (!etcd.ok()) return etcd.status();
  return std::unique_ptr<StateStore>(std::move(*etcd));
}

}  // namespace polder::controller
