// The parse cache gives the same load as no cache, and never trusts an entry
// it cannot verify: a corrupt, truncated or foreign entry is ignored, the file
// is parsed again and the entry rewritten.
#include "compiler/frontend/parse_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "compiler/frontend/policy_loader.h"
#include "compiler/frontend/yaml_tree_codec.h"
#include "compiler/render/diagnostic_format.h"

namespace polder {
namespace {

namespace fs = std::filesystem;

const char* kZones = R"(zones:
  - name: internet
    external: true
    cidrs: [0.0.0.0/0, "::/0"]
  - &web
    name: web
    cidrs: [10.1.0.0/24, "2001:db8:1::/64"]
  - name: db
    cidrs: ['10.2.0.0/24']
    description: |
      the database tier
services:
  - name: https
    ports: [tcp/443]
)";
// Loads cleanly but has findings of the resolver (an unknown zone), which a cached
// tree must reproduce exactly.
const char* kFlows = R"(flows:
  - from: web
    to: dbb
    services: https
  - from: internet
    to: web
    services: https
)";
// Has a parse error: never stored.
const char* kBroken = "hosts: [\n";

absl::Time Now() { return absl::FromUnixSeconds(1'800'000'000); }

std::vector<SourceFile> Files() { return {{"a.yaml", kZones}, {"b.yaml", kFlows}}; }

struct Loaded {
  std::string text;
  std::string revision;
  size_t from_cache;
};

Loaded Load(ParseCache* cache, int jobs = 1) {
  LoadResult r = LoadPolicyFromFiles(Files(), LoadOptions{Now(), jobs, cache});
  return {FormatText(r.diagnostics, r.sources), r.policy.revision, r.files_from_cache};
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            absl::StrCat("polder-parse-cache-test-", getpid(), "-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST(YamlTreeCodecTest, RoundTripsEveryField) {
  YamlNode root;
  root.kind = YamlNode::Kind::kMap;
  root.line = 1;
  root.column = 1;
  YamlNode key;
  key.kind = YamlNode::Kind::kScalar;
  key.scalar = "zones";
  key.line = 1;
  key.column = 1;
  YamlNode seq;
  seq.kind = YamlNode::Kind::kSequence;
  seq.line = 2;
  seq.column = 3;
  seq.anchor = 7;
  YamlNode quoted;
  quoted.kind = YamlNode::Kind::kScalar;
  quoted.scalar = std::string("with\0nul and ü", 15);
  quoted.plain = false;
  quoted.line = 300000;
  quoted.column = 129;
  YamlNode null;
  null.line = 4;
  null.column = 5;
  seq.items = {quoted, null};
  root.entries.push_back({key, seq});
  std::string bytes;
  EncodeYamlTree(root, bytes);
  std::optional<YamlNode> back = DecodeYamlTree(bytes);
  ASSERT_TRUE(back);
  std::string again;
  EncodeYamlTree(*back, again);
  EXPECT_EQ(again, bytes);
  ASSERT_EQ(back->entries.size(), 1u);
  const YamlNode& items = back->entries[0].value;
  EXPECT_EQ(items.anchor, 7);
  ASSERT_EQ(items.items.size(), 2u);
  EXPECT_EQ(items.items[0].scalar, quoted.scalar);
  EXPECT_FALSE(items.items[0].plain);
  EXPECT_EQ(items.items[0].line, 300000);
  EXPECT_TRUE(items.items[1].IsNull());
}

TEST(YamlTreeCodecTest, RefusesEveryTruncationAndTrailingBytes) {
  LoadResult r = LoadPolicyFromFiles({{"a.yaml", kZones}}, LoadOptions{Now()});
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  MemoryParseCache memory;
  LoadPolicyFromFiles({{"a.yaml", kZones}}, LoadOptions{Now(), 1, &memory});
  std::optional<CachedParse> entry = memory.Find(ParseCacheKey(kZones));
  ASSERT_TRUE(entry);
  std::string bytes;
  EncodeYamlTree(*entry->root, bytes);
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(DecodeYamlTree(std::string_view(bytes).substr(0, n))) << n;
  EXPECT_FALSE(DecodeYamlTree(bytes + "x"));
}

TEST(ParseCacheTest, KeyDependsOnContent) {
  EXPECT_EQ(ParseCacheKey("zones: []\n"), ParseCacheKey("zones: []\n"));
  EXPECT_NE(ParseCacheKey("zones: []\n"), ParseCacheKey("zones: [] \n"));
  EXPECT_EQ(ParseCacheKey("").size(), 64u);
}

TEST(ParseCacheTest, CachedLoadEqualsFreshLoadAndSkipsFilesWithFindings) {
  TempDir dir;
  Loaded fresh = Load(nullptr);
  ASSERT_NE(fresh.text.find("dbb"), std::string::npos) << fresh.text;
  DirectoryParseCache cache(dir.path());
  Loaded cold = Load(&cache, 2);
  Loaded warm = Load(&cache, 2);
  EXPECT_EQ(cold.text, fresh.text);
  EXPECT_EQ(warm.text, fresh.text);
  EXPECT_EQ(warm.revision, fresh.revision);
  EXPECT_EQ(cold.from_cache, 0u);
  EXPECT_EQ(warm.from_cache, 2u);
  EXPECT_TRUE(fs::exists(cache.EntryPath(ParseCacheKey(kZones))));
}

TEST(ParseCacheTest, FileWithParseErrorIsNeverStored) {
  TempDir dir;
  DirectoryParseCache cache(dir.path());
  std::vector<SourceFile> files = {{"a.yaml", kZones}, {"c.yaml", kBroken}};
  LoadResult fresh = LoadPolicyFromFiles(files, LoadOptions{Now()});
  LoadPolicyFromFiles(files, LoadOptions{Now(), 2, &cache});
  LoadResult warm = LoadPolicyFromFiles(files, LoadOptions{Now(), 2, &cache});
  EXPECT_EQ(warm.files_from_cache, 1u);
  EXPECT_EQ(FormatText(warm.diagnostics, warm.sources),
            FormatText(fresh.diagnostics, fresh.sources));
  EXPECT_NE(FormatText(warm.diagnostics, warm.sources).find("c.yaml:2:1"), std::string::npos);
  EXPECT_FALSE(fs::exists(cache.EntryPath(ParseCacheKey(kBroken))));
}

TEST(ParseCacheTest, CleanPolicyHasTheSameRevisionFromCache) {
  TempDir dir;
  DirectoryParseCache cache(dir.path());
  std::vector<SourceFile> files = {{"a.yaml", kZones}};
  LoadResult fresh = LoadPolicyFromFiles(files, LoadOptions{Now()});
  ASSERT_FALSE(fresh.diagnostics.HasErrors());
  LoadPolicyFromFiles(files, LoadOptions{Now(), 1, &cache});
  LoadResult warm = LoadPolicyFromFiles(files, LoadOptions{Now(), 1, &cache});
  EXPECT_EQ(warm.files_from_cache, 1u);
  EXPECT_EQ(warm.policy.revision, fresh.policy.revision);
  EXPECT_FALSE(warm.policy.revision.empty());
}

// Each way an entry can be wrong: the load ignores it (parses the file, same result)
// and rewrites it, so the next load is warm again.
TEST(ParseCacheTest, CorruptOrForeignEntriesAreIgnoredAndRewritten) {
  TempDir dir;
  DirectoryParseCache cache(dir.path());
  Loaded fresh = Load(nullptr);
  Load(&cache);
  fs::path zones_entry = cache.EntryPath(ParseCacheKey(kZones));
  fs::path flows_entry = cache.EntryPath(ParseCacheKey(kFlows));
  const std::string good = ReadAll(zones_entry);
  ASSERT_FALSE(good.empty());
  std::string flipped_payload = good;
  flipped_payload[flipped_payload.size() - 3] ^= 0x01;
  std::string flipped_header = good;
  flipped_header[3] ^= 0x20;
  std::string wrong_count = good;
  char& digit = wrong_count[wrong_count.find('\n', 20) + 1];
  digit = digit == '9' ? '8' : '9';
  struct Corruption {
    const char* name;
    std::string bytes;
  };
  const Corruption corruptions[] = {
      {"empty", ""},
      {"truncated", good.substr(0, good.size() / 2)},
      {"payload bit flipped", flipped_payload},
      {"magic changed", flipped_header},
      {"extra bytes", good + "\n"},
      {"another file's entry", ReadAll(flows_entry)},
      {"garbage", std::string(4096, '\xff')},
      {"node count changed", wrong_count},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(c.name);
    WriteAll(zones_entry, c.bytes);
    Loaded again = Load(&cache);
    EXPECT_EQ(again.text, fresh.text);
    EXPECT_EQ(again.from_cache, 1u);        // b.yaml only
    EXPECT_EQ(ReadAll(zones_entry), good);  // rewritten
    EXPECT_EQ(Load(&cache).from_cache, 2u);
  }
}

TEST(ParseCacheTest, UnwritableDirectoryOnlyCostsTime) {
  TempDir dir;
  fs::create_directories(dir.path());
  WriteAll(dir.path() / "file", "not a directory");
  DirectoryParseCache cache(dir.path() / "file" / "cache");
  Loaded fresh = Load(nullptr);
  Loaded with = Load(&cache);
  EXPECT_EQ(with.text, fresh.text);
  EXPECT_EQ(Load(&cache).from_cache, 0u);
}

TEST(ParseCacheTest, MemoryCacheDropsWhatTheLastLoadDidNotUse) {
  MemoryParseCache memory;
  Load(&memory);
  EXPECT_EQ(memory.size(), 2u);
  memory.DropUnused();
  LoadPolicyFromFiles({{"a.yaml", kZones}}, LoadOptions{Now(), 1, &memory});
  memory.DropUnused();
  EXPECT_EQ(memory.size(), 1u);
  EXPECT_TRUE(memory.Find(ParseCacheKey(kZones)));
}

TEST(ParseCacheTest, DefaultDirectoryFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  std::string saved = old_xdg ? old_xdg : "";
  setenv("XDG_CACHE_HOME", "/var/tmp/xdg", 1);
  EXPECT_EQ(DefaultParseCacheDir(), fs::path("/var/tmp/xdg/polder/parse"));
  setenv("XDG_CACHE_HOME", "relative", 1);  // invalid per the XDG spec: ignored
  std::optional<fs::path> fallback = DefaultParseCacheDir();
  if (fallback) {
    EXPECT_NE(fallback->string().find("/.cache/polder/parse"), std::string::npos);
  }
  if (old_xdg) {
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    unsetenv("XDG_CACHE_HOME");
  }
}

}  // namespace
}  // namespace polder
