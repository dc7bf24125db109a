#include "compiler/frontend/policy_loader.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "compiler/frontend/resolver.h"
#include "compiler/frontend/yaml_reader.h"
#include "compiler/model/revision.h"

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
    // Spec §1: names starting with `.` (.git/, .github/, an editor's .#flows.yaml) are not
    // policy, and neither is anything below such a directory.
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
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

struct FileParse {
  std::optional<YamlNode> root;
  DiagnosticList diagnostics;
  size_t nodes = 0;
};

// Parses every file, on all cores: yaml-cpp is most of the load time and the
// files are independent. A file stops early when it and the files before it
// pass the node limit (see YamlBudget); the total is checked again afterwards
// in file order, so the excess is reported at the first file that crosses it
// whatever the thread timing.
std::vector<ParsedFile> ParseAll(const std::vector<SourceFile>& files, DiagnosticList& out) {
  YamlLimits limits;
  std::vector<FileParse> results(files.size());
  std::atomic<size_t> next{0};
  std::unique_ptr<std::atomic<size_t>[]> counts(new std::atomic<size_t>[files.size()]());
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      YamlBudget budget{0, &counts[i], [&counts, i] {
                          size_t sum = 0;
                          for (size_t j = 0; j < i; ++j) sum += counts[j].load();
                          return sum;
                        }};
      results[i].root =
          ReadYaml(files[i].path, files[i].content, limits, budget, results[i].diagnostics);
      results[i].nodes = budget.nodes;
    }
  };
  size_t threads =
      std::min<size_t>(files.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  std::vector<ParsedFile> parsed;
  size_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    out.Append(results[i].diagnostics);
    total += results[i].nodes;
    if (total > limits.max_nodes) {
      if (results[i].diagnostics.HasErrors()) break;  // the file said so itself
      out.Error({files[i].path, 1, 1}, "limit-exceeded",
                absl::StrCat("the policy has more than ", limits.max_nodes,
                             " YAML nodes (aliases counted as expanded) by this file; "
                             "split or simplify it"));
      break;
    }
    if (results[i].root) parsed.push_back(ParsedFile{files[i].path, std::move(*results[i].root)});
  }
  return parsed;
}

}  // namespace

LoadResult LoadPolicyFromFiles(std::vector<SourceFile> files, const LoadOptions& options) {
  LoadResult result;
  result.diagnostics.SetPhase(Phase::kParse);
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  if (files.empty()) {
    result.diagnostics.Error({".", 1, 1}, "parse-error",
                             "the policy directory holds no *.yaml or *.yml files; add at least "
                             "one file with `zones:`");
    result.diagnostics.SetPhase(Phase::kAnalysis);
    return result;
  }
  std::vector<ParsedFile> parsed = ParseAll(files, result.diagnostics);
  if (!result.diagnostics.HasErrors()) {
    result.policy = ResolvePolicy(parsed, options.now, result.diagnostics);
    result.policy.revision = ComputeRevision(result.policy);
  }
  // What is found from here on (invariants, lint) is analysis of a loaded policy.
  result.diagnostics.SetPhase(Phase::kAnalysis);
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
