// The parse cache: the YAML trees of policy files parsed before, by content.
//
// Parsing is most of a cold `polder check`, and between two checks nearly
// every file is unchanged. An entry is keyed by the SHA-256 of the file's
// bytes, polder's version and the entry format (ParseCacheKey), so an edited
// file, another polder or another layout simply misses. Only files that
// parsed without a single diagnostic are stored, which is why diagnostics of
// a cached file are exactly those of a fresh parse: the resolver sees the
// same tree either way and a file with parse findings is always parsed again.
//
// DirectoryParseCache keeps entries as files (`polder check --cache DIR`);
// it checks each entry's header, key, length and checksum, and decodes it
// with bounds checks, so a corrupt, truncated or foreign entry is ignored
// (the file is then parsed and the entry rewritten), never trusted.
// MemoryParseCache is the controller's: it shares trees without copying.
//
// Implementations are safe to call from several parsing threads at once.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "compiler/frontend/yaml_tree.h"

namespace polder {

struct CachedParse {
  std::shared_ptr<const YamlNode> root;
  size_t nodes = 0;  // what the file counts against the policy's node limit (YamlBudget)
};

// 64 hex digits: SHA-256 over the entry format, polder's version and `content`.
std::string ParseCacheKey(std::string_view content);

class ParseCache {
 public:
  virtual ~ParseCache() = default;
  virtual std::optional<CachedParse> Find(const std::string& key) = 0;
  virtual void Store(const std::string& key, const CachedParse& parse) = 0;
};

class DirectoryParseCache : public ParseCache {
 public:
  // Nothing is created until the first Store; a directory that cannot be
  // written only makes every load a cold one.
  explicit DirectoryParseCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::optional<CachedParse> Find(const std::string& key) override;
  void Store(const std::string& key, const CachedParse& parse) override;

  std::filesystem::path EntryPath(const std::string& key) const;

 private:
  std::filesystem::path dir_;
};

// `$XDG_CACHE_HOME/polder/parse`, else `$HOME/.cache/polder/parse`, else
// nullopt (no cache).
std::optional<std::filesystem::path> DefaultParseCacheDir();

class MemoryParseCache : public ParseCache {
 public:
  std::optional<CachedParse> Find(const std::string& key) override;
  void Store(const std::string& key, const CachedParse& parse) override;

  // Forgets every entry neither found nor stored since the previous call, so
  // the cache holds about one policy's trees however often files change.
  void DropUnused();
  size_t size() const;

 private:
  struct Entry {
    CachedParse parse;
    bool used = true;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// The entry file's bytes for `key` (exposed for tests that forge entries).
std::string EncodeParseCacheEntry(const std::string& key, const CachedParse& parse);
// The parse in an entry file, or nullopt unless it is intact and for `key`.
std::optional<CachedParse> DecodeParseCacheEntry(const std::string& key, std::string_view bytes);

}  // namespace polder
