// libFuzzer target for the front end: arbitrary bytes as one or two policy
// files must give diagnostics, never a crash, hang or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/verify/check.h"
#include "compiler/frontend/policy_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // A 0xff byte (never valid UTF-8) splits the input into two files, so the
  // cross-file resolution is fuzzed too.
  size_t split = input.find('\xff');
  std::vector<polder::SourceFile> files;
  if (split == std::string::npos) {
    files.push_back({"a.yaml", input});
  } else {
    files.push_back({"a.yaml", input.substr(0, split)});
    files.push_back({"b/c.yml", input.substr(split + 1)});
  }
  polder::CheckOptions options;
  options.now = absl::FromUnixSeconds(1'800'000'000);
  polder::LoadResult result = polder::LoadPolicyFromFiles(files, polder::LoadOptions{options.now});
  polder::VerifyLoaded(result, options);
  return 0;
}
