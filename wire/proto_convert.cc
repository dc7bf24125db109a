#include "wire/proto_convert.h"

namespace polder::wire {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  // Split at whole seconds towards the past, so nanos is always in [0, 1e9)
  // as google.protobuf.Timestamp requires, also before 1970.
  int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62'135'596'800 && t.seconds() <= 253'402'300'799 && t.nanos() >= 0 &&
         t.nanos() <= 999'999'999;
}

v1::Mode ToProto(Mode mode) { return mode == Mode::kAudit ? v1::MODE_AUDIT : v1::MODE_ENFORCE; }

std::optional<Mode> FromProto(v1::Mode mode) {
  switch (mode) {
    case v1::MODE_ENFORCE:
      return Mode::kEnforce;
    case v1::MODE_AUDIT:
      return Mode::kAudit;
    default:
      return std::nullopt;
  }
}

}  // namespace polder::wire
