#include "compiler/policy_loader.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "compiler/resolver.h"
#include "compiler/revision.h"
#include "compiler/yaml_reader.h"

namespace polder {
namespace {

bool IsPolicyFile(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

absl::StatusOr<std::vector<SourceFile>> ReadPolicyFiles(const std::filesystem::path& dir,
                                                        size_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), " is not a readable directory"));
  }
  std::vector<SourceFile> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec)
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec)
      return absl::PermissionDeniedError(
          absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
    if (!it->is_regular_file(ec) || !IsPolicyFile(it->path())) continue;
    SourceFile f;
    f.path = fs::relative(it->path(), dir, ec).generic_string();
    // Read one byte past the limit: enough to tell the reader it is too big.
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read ", it->path().string()));
    f.content.resize(max_bytes + 1);
    in.read(f.content.data(), static_cast<std::streamsize>(f.content.size()));
    f.content.resize(static_cast<size_t>(in.gcount()));
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace

LoadResult LoadPolicyFromFiles(std::vector<SourceFile> files, const LoadOptions& options) {
  LoadResult result;
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  if (files.empty()) {
    result.diagnostics.Error({".", 1, 1}, "parse-error",
                             "the policy directory holds no *.yaml or *.yml files; add at least "
                             "one file with `zones:`");
    return result;
  }
  YamlLimits limits;
  YamlBudget budget;
  std::vector<ParsedFile> parsed;
  for (const SourceFile& f : files) {
    std::optional<YamlNode> root = ReadYaml(f.path, f.content, limits, budget, result.diagnostics);
    if (root) parsed.push_back(ParsedFile{f.path, std::move(*root)});
    if (budget.nodes > limits.max_nodes) break;
  }
  if (!result.diagnostics.HasErrors()) {
    result.policy = ResolvePolicy(parsed, options.now, result.diagnostics);
    result.policy.revision = ComputeRevision(result.policy);
  }
  result.sources = std::move(files);
  return result;
}

absl::StatusOr<LoadResult> LoadPolicy(const std::filesystem::path& dir,
                                      const LoadOptions& options) {
  absl::StatusOr<std::vector<SourceFile>> files = ReadPolicyFiles(dir, YamlLimits().max_file_bytes);
  if (!files.ok()) return files.status();
  return LoadPolicyFromFiles(std::move(*files), options);
}

}  // namespace polder
