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
// TrafficBatch: samples in one batch (a collector's batch beyond it is split), and batches an
// agent has sent and not yet seen acknowledged on one stream.
inline constexpr int kMaxTrafficSamplesPerBatch = 20000;
inline constexpr int kMaxTrafficHitsPerBatch = 20000;
inline constexpr int kMaxTrafficBatchesInFlight = 8;
// Batches an agent keeps waiting for an acknowledgement (in its spool, indexed in memory); the
// oldest beyond it are given up, counted and logged.
inline constexpr size_t kMaxTrafficBatchesPending = 100000;
// TrafficHit.counter.
inline constexpr size_t kMaxTrafficCounterNameBytes = 256;
// TrafficResponse: reports in one answer (the oldest beyond it are left out and counted).
inline constexpr size_t kMaxTrafficResponseBytes = kMaxMessageToAgentBytes;

}  // namespace polder::wire

#endif  // POLDER_WIRE_LIMITS_H_
