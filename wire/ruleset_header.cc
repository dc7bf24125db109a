#include "wire/ruleset_header.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "wire/sha256.h"

namespace polder::wire {
namespace {

constexpr absl::string_view kHeaderPrefix = "# polder ruleset ";

}  // namespace

std::string FormatRulesetHeader(const RulesetHeader& header) {
  return absl::StrCat(kHeaderPrefix, "host=", header.host, " revision=", header.revision,
                      " mode=", ModeName(header.mode), "\n");
}

absl::StatusOr<RulesetHeader> ParseRulesetHeader(absl::string_view script) {
  absl::string_view first = script.substr(0, script.find('\n'));
  if (!absl::StartsWith(first, kHeaderPrefix)) {
    return absl::InvalidArgumentError("ruleset refused: missing '# polder ruleset' header line");
  }
  RulesetHeader header;
  absl::string_view mode;
  for (absl::string_view field :
       absl::StrSplit(first.substr(kHeaderPrefix.size()), ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    if (kv.first == "host") header.host = std::string(kv.second);
    if (kv.first == "revision") header.revision = std::string(kv.second);
    if (kv.first == "mode") mode = kv.second;
  }
  if (header.host.empty()) return absl::InvalidArgumentError("ruleset refused: header has no host");
  if (!IsSha256Hex(header.revision)) {
    return absl::InvalidArgumentError(
        "ruleset refused: header revision is not 64 lower-case hex digits");
  }
  std::optional<Mode> parsed = ParseMode(mode);
  if (!parsed) {
    return absl::InvalidArgumentError("ruleset refused: header mode is not enforce or audit");
  }
  header.mode = *parsed;
  return header;
}

}  // namespace polder::wire
