#include "agent/uplink/ruleset_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

}  // namespace polder::agent
