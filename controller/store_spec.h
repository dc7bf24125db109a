// `polder-controller --store SPEC`: which state store to open. SPEC is sqlite:FILE (the
// default, one machine) or etcd:URL[,URL...] (several controllers sharing one store; URL is
// http://HOST:PORT, or https://HOST:PORT with --store-tls-dir DIR holding ca.crt, client.crt
// and client.key).
#ifndef POLDER_CONTROLLER_STORE_SPEC_H_
#define POLDER_CONTROLLER_STORE_SPEC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/state_store.h"

namespace polder::controller {

struct StoreSpec {
  enum class Kind { kSqlite, kEtcd };
  Kind kind = Kind::kSqlite;
  std::string file;                    // sqlite
  std::vector<std::string> endpoints;  // etcd
};

absl::StatusOr<StoreSpec> ParseStoreSpec(const std::string& spec);
absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const StoreSpec& spec,
                                                           const std::string& tls_dir = "");

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_STORE_SPEC_H_
