#include "compiler/check.h"

namespace polder {

void VerifyLoaded(LoadResult& loaded, const CheckOptions& options) {
  (void)options;
  loaded.diagnostics.Sort();
}

absl::StatusOr<LoadResult> CheckPolicy(const std::filesystem::path& dir,
                                       const CheckOptions& options) {
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, LoadOptions{options.now});
  if (!loaded.ok()) return loaded.status();
  VerifyLoaded(*loaded, options);
  return loaded;
}

}  // namespace polder
