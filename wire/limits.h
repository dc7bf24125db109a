// Sizes both ends of polder.v1 hold each other to. An agent clips what it
// sends to these bounds; the controller refuses (and logs) a message that
// exceeds them; an agent refuses an assignment whose ruleset is larger.
// Changing one here changes both ends at once.
#ifndef POLDER_WIRE_LIMITS_H_
#define POLDER_WIRE_LIMITS_H_

#include <cstddef>

namespace polder::wire {

// A ruleset in an Assignment. A larger one means something is wrong.
inline constexpr size_t kMaxRulesetBytes = 16 << 20;
// One message an agent or admin sends the controller (gRPC receive limit).
inline constexpr size_t kMaxMessageToControllerBytes = 4 << 20;
// One message the controller sends an agent: a full ruleset as text and as the structured
// table (Assignment.nft_ruleset, about two thirds of the text's size), plus room for the rest.
inline constexpr size_t kMaxMessageToAgentBytes = 2 * kMaxRulesetBytes + (1 << 20);
// ApplyResult.error.
inline constexpr size_t kMaxErrorBytes = 16 * 1024;
// DriftReport.differences: how many lines, and the length of one.
inline constexpr int kMaxDifferences = 1000;
inline constexpr size_t kMaxDifferenceBytes = 4096;
// Hello.degraded / Heartbeat.degraded: how many lines, and the length of one.
inline constexpr int kMaxDegraded = 16;
inline constexpr size_t kMaxDegradedBytes = 1024;

}  // namespace polder::wire

#endif  // POLDER_WIRE_LIMITS_H_
