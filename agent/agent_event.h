// AgentEvent is what the enforcer tells its observer: a ruleset applied or adopted, drift seen,
// the table restored, a foreign base chain appearing, or an error. ToJsonLine renders the one
// JSON object per line that `polder-agent` prints and a controller client can forward.
#ifndef POLDER_AGENT_AGENT_EVENT_H_
#define POLDER_AGENT_AGENT_EVENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace polder::agent {

struct AgentEvent {
  enum class Kind { kApplied, kAdopted, kUnchanged, kDrift, kRestored, kForeignTable, kError };

  Kind kind = Kind::kError;
  absl::Time time;
  std::string host;
  std::string revision;
  std::string hash;
  double duration_ms = 0;
  // kApplied, kAdopted, kUnchanged, kRestored: how the table reached the kernel, "libnftnl"
  // (the structured form) or "libnftables" (nft text), so a log shows which path a host is on.
  std::string via;
  std::vector<std::string> differences;  // kDrift: "+ ..." / "- ..." lines.
  uint32_t pid = 0;                      // kDrift, kForeignTable: 0 when not known.
  std::string process;
  std::string source;   // kDrift: "event", "periodic" or "resync" (after lost notifications).
  std::string table;    // kForeignTable: "family name/chain".
  std::string message;  // kError.
};

const char* KindName(AgentEvent::Kind kind);
std::string ToJsonLine(const AgentEvent& event);  // Ends with '\n'.

}  // namespace polder::agent

#endif  // POLDER_AGENT_AGENT_EVENT_H_
