// A Ruleset is one host's finished nftables script as the compiler writes it, plus the
// metadata from its header line. ParseRuleset is the gate every script from disk or from
// the network passes before it can reach the kernel: it refuses any script that would touch
// anything but the table `inet polder`, so a malformed or hostile ruleset is never trusted.
#ifndef POLDER_AGENT_RULESET_H_
#define POLDER_AGENT_RULESET_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "wire/mode.h"
#include "wire/nft_ruleset.h"

namespace polder::agent {

struct Ruleset {
  std::string text;
  std::string host;
  std::string revision;
  wire::Mode mode = wire::Mode::kEnforce;
  std::string hash;  // SHA-256 hex of `text` (or of the wire form), the ruleset's identity.
  // The structured form (`polder compile --format wire`), applied through libnftnl; `text` is
  // then empty. Null for nft text, applied through libnftables.
  std::shared_ptr<const wire::NftRuleset> structured;
};

// Turns the bytes of a ruleset file or message into a Ruleset; ParseRuleset for nft text.
using RulesetParser = std::function<absl::StatusOr<Ruleset>(std::string bytes)>;

// Checks the header line and the scope of `text` and computes its hash.
absl::StatusOr<Ruleset> ParseRuleset(std::string text);

// Every top-level statement must be `table inet polder [{...}]`, `delete table inet polder`
// or `flush table inet polder`; no `include` anywhere and no table flags (`owner` would drop
// the table when the agent exits, `dormant` would switch it off).
absl::Status CheckScope(absl::string_view script);

}  // namespace polder::agent

#endif  // POLDER_AGENT_RULESET_H_
