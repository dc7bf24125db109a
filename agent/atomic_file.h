// Replacing a small file so that a crash leaves the old or the new contents, never half: write
// a temporary beside it, fsync, rename over it, fsync the directory. Used for what an agent
// keeps across restarts (the last good ruleset, the traffic collector's baseline).
//
//   absl::Status st = WriteFileAtomically("/var/lib/polder-agent/ruleset", bytes, 0600);
#ifndef POLDER_AGENT_ATOMIC_FILE_H_
#define POLDER_AGENT_ATOMIC_FILE_H_

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "absl/status/status.h"

namespace polder::agent {

// The directory must exist. On error the file is unchanged and no temporary is left.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data,
                                 mode_t mode);

}  // namespace polder::agent

#endif  // POLDER_AGENT_ATOMIC_FILE_H_
