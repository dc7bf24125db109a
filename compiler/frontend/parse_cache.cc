#include "compiler/frontend/parse_cache.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "compiler/frontend/yaml_tree_codec.h"
#include "wire/sha256.h"
#include "wire/version.h"

namespace polder {
namespace {

// Bumped whenever YamlNode, the codec or what the reader puts in a tree changes
// meaning, so that entries of an older build with the same version number miss.
constexpr int kEntryFormat = 1;
constexpr std::string_view kMagic = "polder parse cache\n";

// This abseil predates its string_view being std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ReadLine(std::string_view& bytes, std::string_view& line) {
  size_t end = bytes.find('\n');
  if (end == std::string_view::npos) return false;
  line = bytes.substr(0, end);
  bytes.remove_prefix(end + 1);
  return true;
}

bool ReadNumber(std::string_view& bytes, size_t& value) {
  std::string_view line;
  if (!ReadLine(bytes, line) || line.empty() || line.size() > 19) return false;
  value = 0;
  for (char c : line) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return true;
}

}  // namespace

std::string ParseCacheKey(std::string_view content) {
  std::string material = absl::StrCat("format ", kEntryFormat, "\npolder ", kPolderVersion, "\n");
  material.append(content.data(), content.size());
  return wire::Sha256Hex(material);
}

// What an entry's checksum covers: everything it claims, not just the tree.
std::string Checksum(std::string_view key, size_t nodes, std::string_view payload) {
  std::string material = absl::StrCat(Absl(key), "\n", nodes, "\n");
  material.append(payload.data(), payload.size());
  return wire::Sha256Hex(material);
}

// An entry: the magic, the key it claims, the node count, the payload's length and the
// SHA-256 of all three with the payload, each on its own line; then the payload (the
// encoded tree).
std::string EncodeParseCacheEntry(const std::string& key, const CachedParse& parse) {
  std::string payload;
  EncodeYamlTree(*parse.root, payload);
  std::string out = absl::StrCat(Absl(kMagic), key, "\n", parse.nodes, "\n", payload.size(), "\n",
                                 Checksum(key, parse.nodes, payload), "\n");
  out.append(payload);
  return out;
}

std::optional<CachedParse> DecodeParseCacheEntry(const std::string& key, std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) return std::nullopt;
  bytes.remove_prefix(kMagic.size());
  std::string_view line;
  size_t nodes = 0, payload_bytes = 0;
  if (!ReadLine(bytes, line) || line != key) return std::nullopt;
  if (!ReadNumber(bytes, nodes) || !ReadNumber(bytes, payload_bytes)) return std::nullopt;
  if (!ReadLine(bytes, line) || !wire::IsSha256Hex(Absl(line))) return std::nullopt;
  if (bytes.size() != payload_bytes || Checksum(key, nodes, bytes) != line) return std::nullopt;
  std::optional<YamlNode> root = DecodeYamlTree(bytes);
  if (!root) return std::nullopt;
  return CachedParse{std::make_shared<const YamlNode>(std::move(*root)), nodes};
}

std::filesystem::path DirectoryParseCache::EntryPath(const std::string& key) const {
  return dir_ / key;
}

std::optional<CachedParse> DirectoryParseCache::Find(const std::string& key) {
  std::ifstream in(EntryPath(key), std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return DecodeParseCacheEntry(key, bytes);
}

void DirectoryParseCache::Store(const std::string& key, const CachedParse& parse) {
  // Best effort: a cache that cannot be written costs time, never a result. Written
  // beside and renamed, so a concurrent reader (another polder) sees all or nothing.
  static std::atomic<unsigned> sequence{0};
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return;
  std::filesystem::path final_path = EntryPath(key);
  std::filesystem::path tmp = final_path;
  tmp += absl::StrCat(".", getpid(), ".", sequence++, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << EncodeParseCacheEntry(key, parse);
    if (!out.flush()) {
      out.close();
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, final_path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

std::optional<std::filesystem::path> DefaultParseCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  // The XDG spec: a relative value is invalid and must be ignored.
  if (xdg != nullptr && xdg[0] == '/') return std::filesystem::path(xdg) / "polder" / "parse";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/')
    return std::filesystem::path(home) / ".cache" / "polder" / "parse";
  return std::nullopt;
}

std::optional<CachedParse> MemoryParseCache::Find(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  it->second.used = true;
  return it->second.parse;
}

void MemoryParseCache::Store(const std::string& key, const CachedParse& parse) {
  absl::MutexLock lock(&mu_);
  entries_[key] = Entry{parse, true};
}

void MemoryParseCache::DropUnused() {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.used) {
      entries_.erase(it++);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

size_t MemoryParseCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace polder
