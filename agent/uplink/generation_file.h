// The generation (Assignment.generation) of the ruleset the agent applied and the controller
// confirmed, kept beside the stored ruleset (DIR/generation, one decimal number) so that after
// a restart the Hello still says it: a controller serving an older generation then sends this
// agent nothing instead of rolling it back. Replaced atomically (temporary file, fsync, rename).
#ifndef POLDER_AGENT_UPLINK_GENERATION_FILE_H_
#define POLDER_AGENT_UPLINK_GENERATION_FILE_H_

#include <cstdint>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polder::agent {

class GenerationFile {
 public:
  explicit GenerationFile(std::filesystem::path dir) : path_(std::move(dir) / "generation") {}
  // 0 when nothing is stored; an error for a file that is not one decimal number.
  absl::StatusOr<uint64_t> Load() const;
  absl::Status Save(uint64_t generation) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_GENERATION_FILE_H_
