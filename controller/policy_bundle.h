// A policy directory as one value that controllers share through the state store: its files
// (relative path -> content), bounded in size so a bundle fits one etcd request, checked so
// that writing it out can never leave the directory it is written to.
//
//   auto b = PolicyBundle::ReadDirectory("policy/");   // or FromFiles(...) from a Publish RPC
//   std::string text = b->Serialize();                  // stored under the policy's revision
//   b->WriteTo(cache / revision);                       // what the controller compiles
#ifndef POLDER_CONTROLLER_POLICY_BUNDLE_H_
#define POLDER_CONTROLLER_POLICY_BUNDLE_H_

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polder::controller {

class PolicyBundle {
 public:
  // etcd takes requests of at most 1.5 MiB by default; the bundle, its JSON escaping and the
  // rest of the publish transaction stay under that.
  // A publish carries the bundle in one admin message (wire::kMaxMessageToControllerBytes, 4 MiB);
  // 3 MiB is a 60,000-host policy. The etcd store splits what one request cannot take.
  static constexpr size_t kMaxBytes = 3 << 20;
  static constexpr size_t kMaxFiles = 1000;
  static constexpr size_t kMaxPathBytes = 255;

  // Every regular file under `dir`, except hidden ones (.git/, editors' .swp files).
  static absl::StatusOr<PolicyBundle> ReadDirectory(const std::filesystem::path& dir);
  // Validates: relative paths of plain names (no "..", ".", empty parts, no hidden part, no
  // NUL), UTF-8 text, at most kMaxFiles files and kMaxBytes in all.
  static absl::StatusOr<PolicyBundle> FromFiles(std::map<std::string, std::string> files);
  static absl::StatusOr<PolicyBundle> Parse(const std::string& serialized);

  const std::map<std::string, std::string>& files() const { return files_; }
  // SHA-256 (hex) of the paths and contents: equal exactly when the files are.
  std::string Digest() const;
  std::string Serialize() const;
  // Writes the files into `dir`, which must not exist yet: they are written beside it, then the
  // whole directory is renamed into place, so a reader sees all of it or none.
  absl::Status WriteTo(const std::filesystem::path& dir) const;

 private:
  explicit PolicyBundle(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  std::map<std::string, std::string> files_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_POLICY_BUNDLE_H_
