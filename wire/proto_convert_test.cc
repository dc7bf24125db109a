#include "wire/proto_convert.h"

#include <gtest/gtest.h>

namespace polder::wire {
namespace {

TEST(ProtoConvertTest, TimesKeepNanoseconds) {
  for (absl::Time t : {absl::FromUnixNanos(1'800'000'000'123'456'789),
                       absl::FromUnixNanos(-1'500'000'000), absl::UnixEpoch()}) {
    google::protobuf::Timestamp ts;
    SetTimestamp(t, &ts);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_LT(ts.nanos(), 1'000'000'000);
    EXPECT_EQ(FromTimestamp(ts), t);
  }
}

TEST(ProtoConvertTest, ModesMapOneToOne) {
  for (Mode m : {Mode::kEnforce, Mode::kAudit}) EXPECT_EQ(FromProto(ToProto(m)), m);
  EXPECT_EQ(FromProto(v1::MODE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(FromProto(static_cast<v1::Mode>(7)), std::nullopt);
}

}  // namespace
}  // namespace polder::wire
