// The fast paths change nothing in meaning (issue 15): loading on several
// threads and from the parse cache (cold and warm), and rendering on several
// threads, give byte for byte the diagnostics, revision and rulesets of the
// plain path (one thread, no cache, RenderAllRulesets), on the bundled
// policies, the goldens and 200 random policies, half of them with findings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "bench/graph/policy_generator.h"
#include "compiler/frontend/parse_cache.h"
#include "compiler/frontend/policy_loader.h"
#include "compiler/render/diagnostic_format.h"
#include "compiler/render/ruleset_batch.h"
#include "compiler/render/ruleset_renderer.h"
#include "compiler/verify/check.h"

namespace polder {
namespace {

namespace fs = std::filesystem;

const absl::Time kNow = absl::FromUnixSeconds(1'790'000'000);

// Everything a user or agent sees of one load.
struct Outcome {
  std::string text;
  std::string json;
  std::string revision;
  std::vector<HostRuleset> rulesets;
};

Outcome RunPath(const fs::path& dir, int jobs, ParseCache* cache, bool parallel_render,
                size_t* from_cache = nullptr) {
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, LoadOptions{kNow, jobs, cache});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return {};
  if (from_cache) *from_cache = loaded->files_from_cache;
  CheckOptions check;
  check.now = kNow;
  VerifyLoaded(*loaded, check);
  Outcome o;
  o.text = FormatText(loaded->diagnostics, loaded->sources);
  o.json = FormatJson(loaded->diagnostics, loaded->policy.revision);
  o.revision = loaded->policy.revision;
  if (!loaded->diagnostics.HasErrors()) {
    o.rulesets = parallel_render ? RenderAllRulesetsParallel(loaded->policy, jobs)
                                 : RenderAllRulesets(loaded->policy);
  }
  return o;
}

void ExpectSame(const Outcome& want, const Outcome& got, const std::string& what) {
  EXPECT_EQ(got.text, want.text) << what;
  EXPECT_EQ(got.json, want.json) << what;
  EXPECT_EQ(got.revision, want.revision) << what;
  ASSERT_EQ(got.rulesets.size(), want.rulesets.size()) << what;
  for (size_t i = 0; i < want.rulesets.size(); ++i) {
    EXPECT_EQ(got.rulesets[i].host, want.rulesets[i].host) << what;
    EXPECT_EQ(got.rulesets[i].text, want.rulesets[i].text) << what << " host " << i;
  }
}

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = fs::temp_directory_path() / absl::StrCat("polder-equivalence-", getpid(), "-", name);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The plain path against every fast one; returns the plain outcome.
Outcome CheckAllPaths(const fs::path& policy, const fs::path& cache_dir) {
  Outcome plain = RunPath(policy, 1, nullptr, false);
  std::string name = policy.string();
  ExpectSame(plain, RunPath(policy, 2, nullptr, true), name + " on 2 threads");
  ExpectSame(plain, RunPath(policy, 3, nullptr, true), name + " on 3 threads");
  DirectoryParseCache cache(cache_dir);
  ExpectSame(plain, RunPath(policy, 2, &cache, true), name + " cold cache");
  size_t hits = 0;
  ExpectSame(plain, RunPath(policy, 2, &cache, true, &hits), name + " warm cache");
  EXPECT_GT(hits, 0u) << name;
  MemoryParseCache memory;
  RunPath(policy, 2, &memory, true);
  ExpectSame(plain, RunPath(policy, 1, &memory, true), name + " memory cache");
  return plain;
}

TEST(LoadEquivalenceTest, BundledPolicies) {
  TempDir cache("bundled");
  for (const char* dir : {"policies/municipality", "policies/shared-service"}) {
    CheckAllPaths(fs::path(POLDER_SOURCE_DIR) / dir, cache.path());
  }
}

TEST(LoadEquivalenceTest, ExamplePolicies) {
  TempDir cache("examples");
  int found = 0;
  for (const auto& entry :
       fs::recursive_directory_iterator(fs::path(POLDER_SOURCE_DIR) / "examples")) {
    if (!entry.is_directory()) continue;
    bool has_yaml = false;
    for (const auto& f : fs::directory_iterator(entry.path()))
      has_yaml |= f.path().extension() == ".yaml" || f.path().extension() == ".yml";
    if (!has_yaml) continue;
    ++found;
    // Run directly: an example may be a fragment with findings; all paths must agree.
    CheckAllPaths(entry.path(), cache.path());
  }
  SUCCEED() << found << " example directories";
}

// The goldens are the rulesets of the bundled policies as committed: the parallel
// renderer writes exactly those files.
TEST(LoadEquivalenceTest, GoldensFromTheParallelPath) {
  TempDir cache("goldens");
  for (const char* name : {"municipality", "shared-service"}) {
    fs::path golden = fs::path(POLDER_SOURCE_DIR) / "tests/goldens" / name;
    DirectoryParseCache disk(cache.path());
    RunPath(fs::path(POLDER_SOURCE_DIR) / "policies" / name, 2, &disk, true);  // warms the cache
    absl::StatusOr<LoadResult> loaded =
        LoadPolicy(fs::path(POLDER_SOURCE_DIR) / "policies" / name, LoadOptions{kNow, 2, &disk});
    ASSERT_TRUE(loaded.ok());
    int compared = 0;
    for (const HostRuleset& r : RenderAllRulesetsParallel(loaded->policy, 2)) {
      fs::path file = golden / (r.host + ".nft");
      if (!fs::exists(file)) continue;
      std::ifstream in(file, std::ios::binary);
      std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // A golden's header carries the revision it was made at; the body is what must match.
      EXPECT_EQ(r.text.substr(r.text.find('\n')), want.substr(want.find('\n'))) << file;
      ++compared;
    }
    EXPECT_GT(compared, 0) << golden;
  }
}

// A file of findings for some random policies, so diagnostics (not only clean loads)
// go through every path: unknown names, a duplicate, an unknown key, a parse error.
void AddFindings(const fs::path& dir, std::mt19937& rng) {
  std::ofstream f(dir / "zz-mistakes.yaml");
  switch (rng() % 4) {
    case 0:
      f << "flows:\n  - from: zone-2\n    to: no-such-zone\n    services: svc-0\n";
      break;
    case 1:
      f << "zones:\n  - name: mgmt\n    cidrs: [192.0.2.0/24]\n";
      break;
    case 2:
      f << "servces:\n  - name: x\n";
      break;
    default:
      f << "flows: [\n";
      break;
  }
}

TEST(LoadEquivalenceTest, TwoHundredRandomPolicies) {
  TempDir root("random");
  std::mt19937 rng(15);
  for (int i = 0; i < 200; ++i) {
    bench::GeneratorOptions o;
    o.seed = static_cast<uint32_t>(i + 1);
    o.zones = 4 + static_cast<int>(rng() % 30);
    o.hosts = o.zones + static_cast<int>(rng() % 120);
    o.flows = 5 + static_cast<int>(rng() % 150);
    o.services = 2 + static_cast<int>(rng() % 20);
    o.invariants = static_cast<int>(rng() % 8);
    o.now = kNow;
    ASSERT_TRUE(bench::ValidateOptions(o).ok());
    fs::path dir = root.path() / absl::StrCat("p", i);
    ASSERT_TRUE(bench::WritePolicyYaml(bench::GeneratePolicy(o), dir).ok());
    if (i % 2 == 1) AddFindings(dir, rng);
    CheckAllPaths(dir, root.path() / "cache");
    if (HasFailure()) FAIL() << "policy " << i << " (kept in " << dir << ")";
  }
}

}  // namespace
}  // namespace polder
