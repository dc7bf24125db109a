#include "controller/policy_bundle.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace fs = std::filesystem;
namespace {

bool ValidUtf8(const std::string& s) {
  constexpr size_t kBad = ~size_t{0};
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80           ? 0
               : (c >> 5) == 0x6  ? 1
               : (c >> 4) == 0xe  ? 2
               : (c >> 3) == 0x1e ? 3
                                  : kBad;
    if (n == kBad || i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n + 1;
  }
  return true;
}

absl::Status CheckPath(const std::string& path) {
  if (path.empty() || path.size() > PolicyBundle::kMaxPathBytes)
    return absl::InvalidArgumentError(absl::StrCat("policy bundle: a file path must have 1 to ",
                                                   PolicyBundle::kMaxPathBytes, " bytes: '",
                                                   path.substr(0, 64), "'"));
  if (path.find('\0') != std::string::npos || path.front() == '/')
    return absl::InvalidArgumentError(
        absl::StrCat("policy bundle: '", path, "' is not a relative path"));
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part.front() == '.')
      return absl::InvalidArgumentError(
          absl::StrCat("policy bundle: '", path, "' has an empty, '.', '..' or hidden component"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PolicyBundle> PolicyBundle::FromFiles(std::map<std::string, std::string> files) {
  if (files.size() > kMaxFiles)
    return absl::InvalidArgumentError(
        absl::StrCat("policy bundle: ", files.size(), " files; at most ", kMaxFiles, " are taken"));
  size_t total = 0;
  for (const auto& [path, content] : files) {
    if (auto s = CheckPath(path); !s.ok()) return s;
    if (!ValidUtf8(content))
      return absl::InvalidArgumentError(
          absl::StrCat("policy bundle: ", path, " is not UTF-8 text"));
    total += path.size() + content.size();
    if (total > kMaxBytes)
      return absl::InvalidArgumentError(absl::StrCat("policy bundle: more than ", kMaxBytes,
                                                     " bytes (a publish is one message); at ",
                                                     path));
  }
  return PolicyBundle(std::move(files));
}

absl::StatusOr<PolicyBundle> PolicyBundle::ReadDirectory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return absl::NotFoundError(
        absl::StrCat("policy bundle: ", dir.string(), " is not a directory"));
  std::map<std::string, std::string> files;
  size_t total = 0;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec)
      return absl::UnavailableError(absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
    std::string name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::UnavailableError(absl::StrCat("cannot read ", it->path().string()));
    total += text.str().size();
    if (total > kMaxBytes || files.size() >= kMaxFiles)
      return absl::InvalidArgumentError(absl::StrCat("policy bundle: ", dir.string(),
                                                     " holds more than ", kMaxBytes, " bytes or ",
                                                     kMaxFiles, " files"));
    files[fs::relative(it->path(), dir).generic_string()] = text.str();
  }
  return FromFiles(std::move(files));
}

absl::StatusOr<PolicyBundle> PolicyBundle::Parse(const std::string& serialized) {
  nlohmann::json j = nlohmann::json::parse(serialized, nullptr, /*allow_exceptions=*/false);
  auto f = j.is_object() ? j.find("files") : j.end();
  if (!j.is_object() || f == j.end() || !f->is_object())
    return absl::DataLossError("policy bundle: stored bundle is not {\"files\": {...}}");
  std::map<std::string, std::string> files;
  for (const auto& [path, content] : f->items()) {
    if (!content.is_string())
      return absl::DataLossError(absl::StrCat("policy bundle: ", path, " is not text"));
    files[path] = content.get<std::string>();
  }
  return FromFiles(std::move(files));
}

std::string PolicyBundle::Digest() const {
  std::string all;
  for (const auto& [path, content] : files_)
    absl::StrAppend(&all, path.size(), ":", path, content.size(), ":", content);
  return wire::Sha256Hex(all);
}

std::string PolicyBundle::Serialize() const {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, content] : files_) files[path] = content;
  return nlohmann::json{{"files", files}}.dump();
}

absl::Status PolicyBundle::WriteTo(const fs::path& dir) const {
  std::error_code ec;
  fs::path staging = dir;
  staging += absl::StrCat(".tmp-", getpid());
  fs::remove_all(staging, ec);
  for (const auto& [path, content] : files_) {
    fs::path file = staging / path;
    fs::create_directories(file.parent_path(), ec);
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) {
      fs::remove_all(staging, ec);
      return absl::UnavailableError(absl::StrCat("cannot write ", file.string()));
    }
  }
  fs::create_directories(staging, ec);  // an empty bundle is an empty directory
  fs::rename(staging, dir, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    return absl::UnavailableError(
        absl::StrCat("cannot move the bundle into ", dir.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace polder::controller
