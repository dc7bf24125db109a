// Conversions between polder's own types and their polder.v1 messages, the
// one place both ends of the wire translate them: times keep nanoseconds
// both ways (a confirmation deadline is never rounded), modes map one to one.
//
//   wire::SetTimestamp(absl::Now(), msg.mutable_time());
//   absl::Time t = wire::FromTimestamp(msg.time());
#ifndef POLDER_WIRE_PROTO_CONVERT_H_
#define POLDER_WIRE_PROTO_CONVERT_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "polder/v1/polder.pb.h"
#include "wire/mode.h"

namespace polder::wire {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromTimestamp(const google::protobuf::Timestamp& t);
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, as google.protobuf.Timestamp defines.
bool IsValidTimestamp(const google::protobuf::Timestamp& t);

v1::Mode ToProto(Mode mode);
// MODE_UNSPECIFIED and unknown values give nullopt.
std::optional<Mode> FromProto(v1::Mode mode);

}  // namespace polder::wire

#endif  // POLDER_WIRE_PROTO_CONVERT_H_
