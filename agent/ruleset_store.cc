#include "agent/ruleset_store.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/atomic_file.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

// v1 files (no structured form) are still read: an upgraded agent keeps enforcing.
constexpr char kMagicV1[] = "polder-agent-ruleset-v1";
constexpr char kMagic[] = "polder-agent-ruleset-v2";

}  // namespace

absl::StatusOr<std::optional<StoredRuleset>> RulesetStore::Load() const {
  absl::StatusOr<std::optional<std::string>> read = ReadSmallFile(path(), kMaxFileBytes);
  if (!read.ok()) return read.status();
  if (!read->has_value()) return std::optional<StoredRuleset>();
  const std::string& data = **read;
  // Header line, then the ruleset's exact bytes and those of its structured form (any bytes:
  // no escaping to get wrong).
  auto corrupt = [&] {
    return absl::DataLossError(absl::StrCat(path().string(), " is not a stored ruleset"));
  };
  size_t eol = data.find('\n');
  if (eol == std::string::npos) return corrupt();
  std::vector<std::string> fields = absl::StrSplit(data.substr(0, eol), ' ');
  size_t body = data.size() - eol - 1;
  size_t text_bytes = 0;
  size_t structured_bytes = 0;
  if (fields.size() == 3 && fields[0] == kMagicV1) {
    if (!absl::SimpleAtoi(fields[2], &text_bytes) || text_bytes != body) return corrupt();
  } else if (fields.size() == 4 && fields[0] == kMagic) {
    if (!absl::SimpleAtoi(fields[2], &text_bytes) ||
        !absl::SimpleAtoi(fields[3], &structured_bytes) || text_bytes > body ||
        structured_bytes != body - text_bytes) {
      return corrupt();
    }
  } else {
    return corrupt();
  }
  return std::optional<StoredRuleset>(StoredRuleset{fields[1], data.substr(eol + 1, text_bytes),
                                                    data.substr(eol + 1 + text_bytes)});
}

absl::Status RulesetStore::Save(const StoredRuleset& ruleset) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir_.string(), ": ", ec.message()));
  chmod(dir_.c_str(), 0700);
  if (ruleset.revision.empty() || ruleset.revision.find_first_of(" \n") != std::string::npos) {
    return absl::InvalidArgumentError("a stored revision is one word");
  }
  std::string data =
      absl::StrCat(kMagic, " ", ruleset.revision, " ", ruleset.text.size(), " ",
                   ruleset.structured.size(), "\n", ruleset.text, ruleset.structured);
  return WriteFileAtomically(path(), data, 0600);
}

}  // namespace polder::agent
