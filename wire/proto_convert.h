// Conversions between polder's own types and their polder.v1 messages, the
// one place both ends of the wire translate them: times keep nanoseconds
// both ways (a confirmation deadline is never rounded), modes map one to one,
// a structured ruleset converts losslessly (FromProto refuses what the agent
// could not load, naming the set, chain or rule).
//
//   wire::SetTimestamp(absl::Now(), msg.mutable_time());
//   absl::Time t = wire::FromTimestamp(msg.time());
//   wire::ToProto(ruleset, assignment.mutable_nft_ruleset());
//   absl::StatusOr<wire::RulesetFile> f = wire::ParseRulesetFile(bytes);
#ifndef POLDER_WIRE_PROTO_CONVERT_H_
#define POLDER_WIRE_PROTO_CONVERT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "polder/v1/polder.pb.h"
#include "wire/mode.h"
#include "wire/nft_ruleset.h"

namespace polder::wire {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromTimestamp(const google::protobuf::Timestamp& t);
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, as google.protobuf.Timestamp defines.
bool IsValidTimestamp(const google::protobuf::Timestamp& t);

v1::Mode ToProto(Mode mode);
// MODE_UNSPECIFIED and unknown values give nullopt.
std::optional<Mode> FromProto(v1::Mode mode);

void ToProto(const NftRuleset& ruleset, v1::NftRuleset* out);
// Refuses unknown enum values, elements whose key does not fit their set's
// key, ranges whose ends differ in length, and jumps without a chain.
absl::StatusOr<NftRuleset> FromProto(const v1::NftRuleset& ruleset);

// The bytes of `polder compile --format wire` (a serialized polder.v1.RulesetFile).
std::string SerializeRulesetFile(const RulesetFile& file);
// Also refuses bytes that are not a RulesetFile and a header without host, with a
// revision that is not SHA-256 hex, or without a mode.
absl::StatusOr<RulesetFile> ParseRulesetFile(absl::string_view bytes);

}  // namespace polder::wire

#endif  // POLDER_WIRE_PROTO_CONVERT_H_
