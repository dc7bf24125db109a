#include "controller/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polder::controller {
namespace {
std::atomic<bool> enabled{true};
}

void Log(std::string_view message) {
  if (!enabled.load(std::memory_order_relaxed)) return;
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(), absl::UTCTimeZone()),
                   std::string(message), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void SetLogEnabled(bool e) { enabled.store(e, std::memory_order_relaxed); }

}  // namespace polder::controller
