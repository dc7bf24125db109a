#include "compiler/frontend/policy_loader.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "compiler/frontend/parse_cache.h"
#include "compiler/frontend/resolver.h"
#include "compiler/frontend/yaml_reader.h"
#include "compiler/model/parallel_for.h"
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
    // Read one byte past the limit: enough to tell the reader it is too big. The buffer is
    // the file's size (plus one, to notice a file that grew meanwhile), not the limit: a
    // buffer of the limit per file was 16 MiB of zeroed memory each, most of a big policy's RSS.
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read ", it->path().string()));
    uintmax_t size = fs::file_size(it->path(), ec);
    if (ec) size = max_bytes;
    f.content.resize(static_cast<size_t>(std::min<uintmax_t>(size, max_bytes)) + 1);
    in.read(f.content.data(), static_cast<std::streamsize>(f.content.size()));
    f.content.resize(static_cast<size_t>(in.gcount()));
    if (in.gcount() == static_cast<std::streamsize>(size + 1) && size < max_bytes) {
      // It grew while being read: read on up to the limit, as before.
      f.content.resize(max_bytes + 1);
      in.read(f.content.data() + size + 1, static_cast<std::streamsize>(max_bytes - size));
      f.content.resize(static_cast<size_t>(size + 1 + in.gcount()));
      f.content.shrink_to_fit();
    }
    files.push_back(std::move(f));
  }
  return files;
}

struct FileParse {
  std::shared_ptr<const YamlNode> root;
  DiagnosticList diagnostics;
  size_t nodes = 0;
  bool from_cache = false;
};

// Parses every file, on `jobs` threads: yaml-cpp is most of the load time and the
// files are independent. A file the cache knows is decoded instead. A file stops
// early when it and the files before it pass the node limit (see YamlBudget); the
// total is checked again afterwards in file order, so the excess is reported at the
// first file that crosses it whatever the thread timing.
std::vector<ParsedFile> ParseAll(const std::vector<SourceFile>& files, int jobs, ParseCache* cache,
                                 DiagnosticList& out, size_t& from_cache) {
  YamlLimits limits;
  std::vector<FileParse> results(files.size());
  std::unique_ptr<std::atomic<size_t>[]> counts(new std::atomic<size_t>[files.size()]());
  auto parse = [&](size_t i) {
    std::string key;
    if (cache != nullptr) {
      key = ParseCacheKey(files[i].content);
      if (std::optional<CachedParse> hit = cache->Find(key)) {
        results[i].root = std::move(hit->root);
        results[i].nodes = hit->nodes;
        results[i].from_cache = true;
        counts[i].store(hit->nodes);
        return;
      }
    }
    YamlBudget budget{0, &counts[i], [&counts, i] {
                        size_t sum = 0;
                        for (size_t j = 0; j < i; ++j) sum += counts[j].load();
                        return sum;
                      }};
    std::optional<YamlNode> root =
        ReadYaml(files[i].path, files[i].content, limits, budget, results[i].diagnostics);
    results[i].nodes = budget.nodes;
    if (!root) return;
    results[i].root = std::make_shared<const YamlNode>(std::move(*root));
    // Only a file without findings: its diagnostics then cannot differ from a fresh parse's,
    // and a stop caused by the files before it is never remembered as the file's own.
    if (cache != nullptr && results[i].diagnostics.items().empty())
      cache->Store(key, CachedParse{results[i].root, results[i].nodes});
  };
  ParallelFor(files.size(), EffectiveJobs(jobs), parse);

  std::vector<ParsedFile> parsed;
  size_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    out.Append(results[i].diagnostics);
    total += results[i].nodes;
    if (results[i].from_cache) ++from_cache;
    if (total > limits.max_nodes) {
      if (results[i].diagnostics.HasErrors()) break;  // the file said so itself
      out.Error({files[i].path, 1, 1}, "limit-exceeded",
                absl::StrCat("the policy has more than ", limits.max_nodes,
                             " YAML nodes (aliases counted as expanded) by this file; "
                             "split or simplify it"));
      break;
    }
    if (results[i].root) parsed.push_back(ParsedFile{files[i].path, std::move(results[i].root)});
  }
  return parsed;
}

}  // namespace

int EffectiveJobs(int jobs) {
  if (jobs > 0) return jobs;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

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
  std::vector<ParsedFile> parsed =
      ParseAll(files, options.jobs, options.cache, result.diagnostics, result.files_from_cache);
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
