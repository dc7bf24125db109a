// RulesetStore keeps the last ruleset this agent applied and the controller confirmed, on local
// disk, so an agent that restarts while its controller is unreachable enforces it again at once
// instead of waiting with an empty (or stale) table. One file, replaced atomically (write a
// temporary beside it, fsync, rename, fsync the directory): a crash leaves the old or the new
// ruleset, never half of one.
#ifndef POLDER_AGENT_RULESET_STORE_H_
#define POLDER_AGENT_RULESET_STORE_H_

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polder::agent {

struct StoredRuleset {
  std::string revision;  // The policy revision the controller assigned it under.
  std::string text;      // The ruleset exactly as received (its SHA-256 is its identity).
  // Its structured form as received (a serialized polder.v1.NftRuleset), or empty; opaque here.
  std::string structured = {};
};

class RulesetStore {
 public:
  // Files larger than this are refused on load (a ruleset on the wire is bounded too).
  static constexpr size_t kMaxFileBytes = 64 << 20;

  explicit RulesetStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Nothing stored yet gives nullopt; an unreadable or corrupt file gives an error.
  absl::StatusOr<std::optional<StoredRuleset>> Load() const;
  // Creates the directory (mode 0700) if needed and replaces the stored ruleset.
  absl::Status Save(const StoredRuleset& ruleset) const;

  std::filesystem::path path() const { return dir_ / "ruleset"; }

 private:
  std::filesystem::path dir_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_RULESET_STORE_H_
