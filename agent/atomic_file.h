// The small files an agent keeps across restarts (the last good ruleset, the traffic
// collector's baseline) and reads at start (the bootstrap ruleset): read whole and bounded, and
// replaced so that a crash leaves the old or the new contents, never half (write a temporary
// beside it, fsync, rename over it, fsync the directory).
//
//   absl::Status st = WriteFileAtomically("/var/lib/polder-agent/ruleset", bytes, 0600);
//   absl::StatusOr<std::optional<std::string>> text = ReadSmallFile(path, 64 << 20);
#ifndef POLDER_AGENT_ATOMIC_FILE_H_
#define POLDER_AGENT_ATOMIC_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polder::agent {

// The directory must exist. On error the file is unchanged and no temporary is left.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data,
                                 mode_t mode);

// The file's bytes; nullopt when there is no such file. FailedPreconditionError "PATH is too
// large" beyond `max_bytes`; InternalError naming the path when it cannot be read.
absl::StatusOr<std::optional<std::string>> ReadSmallFile(const std::filesystem::path& path,
                                                         uintmax_t max_bytes);

}  // namespace polder::agent

#endif  // POLDER_AGENT_ATOMIC_FILE_H_
