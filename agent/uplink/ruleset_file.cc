#include "agent/uplink/ruleset_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "polder/v1/polder.pb.h"
#include "wire/proto_convert.h"
#include "wire/sha256.h"

namespace polder::agent {

absl::StatusOr<Ruleset> ParseRulesetBytes(std::string bytes) {
  if (absl::StartsWith(bytes, "#")) return ParseRuleset(std::move(bytes));
  absl::StatusOr<wire::RulesetFile> file = wire::ParseRulesetFile(bytes);
  if (!file.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "neither nft text from `polder compile` (no header line) nor its --format wire form: ",
        file.status().message()));
  }
  Ruleset r;
  r.host = std::move(file->header.host);
  r.revision = std::move(file->header.revision);
  r.mode = file->header.mode;
  r.hash = wire::Sha256Hex(bytes);
  r.structured = std::make_shared<const wire::NftRuleset>(std::move(file->ruleset));
  return r;
}

absl::StatusOr<Ruleset> RulesetFromStored(const StoredRuleset& stored,
                                          std::string* structured_error) {
  absl::StatusOr<Ruleset> parsed = ParseRuleset(stored.text);
  if (!parsed.ok() || stored.structured.empty()) return parsed;
  v1::NftRuleset proto;
  absl::StatusOr<wire::NftRuleset> structured =
      absl::InvalidArgumentError("not a serialized polder.v1.NftRuleset");
  if (proto.ParseFromString(stored.structured)) structured = wire::FromProto(proto);
  if (structured.ok()) {
    parsed->structured = std::make_shared<const wire::NftRuleset>(std::move(*structured));
  } else if (structured_error != nullptr) {
    *structured_error = std::string(structured.status().message());
  }
  return parsed;
}

std::string SerializeStructured(const Ruleset& ruleset) {
  if (!ruleset.structured) return "";
  v1::NftRuleset proto;
  wire::ToProto(*ruleset.structured, &proto);
  return proto.SerializeAsString();
}

}  // namespace polder::agent
