// wire::TrafficReport <-> polder.v1.TrafficBatch (issue 11): the agent sends its spooled
// reports as batches, the controller stores them, and its Traffic answer comes back to the CLI
// as batches the CLI turns into reports again, so `--controller` runs the same aggregation as
// `--local`.
#ifndef POLDER_WIRE_TRAFFIC_PROTO_H_
#define POLDER_WIRE_TRAFFIC_PROTO_H_

#include "absl/status/statusor.h"
#include "polder/v1/polder.pb.h"
#include "wire/traffic_report.h"

namespace polder::wire {

// Every sample and hit (the caller clips to wire/limits.h first).
void ToProto(const TrafficReport& report, v1::TrafficBatch* out);
// InvalidArgument naming the field for an unknown enum, a bad time or port. Addresses are
// carried as text; the controller's validation checks them.
absl::StatusOr<TrafficReport> FromProto(const v1::TrafficBatch& batch);

}  // namespace polder::wire

#endif  // POLDER_WIRE_TRAFFIC_PROTO_H_
