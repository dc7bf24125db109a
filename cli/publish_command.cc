#include "cli/publish_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/fleet_commands.h"

namespace polder::cli {
namespace fs = std::filesystem;
namespace {

// Larger than the controller's 3 MiB bound, so that it, not this, says what is too big.
constexpr size_t kMaxReadBytes = 8 << 20;

struct PublishOptions {
  ControllerConnection connection;
  std::string dir;
  std::string reason;
};

absl::StatusOr<int> RunPublish(const PublishOptions& o) {
  auto files = ReadPolicyFiles(o.dir);
  if (!files.ok()) return files.status();
  v1::PublishRequest request;
  for (const auto& [path, content] : *files) {
    auto* f = request.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  request.set_reason(o.reason);
  auto reply = PublishTo(o.connection, request);
  if (!reply.ok()) {
    absl::StatusCode code = reply.status().code();
    if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded)
      return reply.status();
    std::cerr << "polder: " << reply.status().message() << "\n";
    return kExitFindings;
  }
  if (reply->unchanged()) {
    std::cout << "unchanged: " << o.dir << " is already the published policy (revision "
              << reply->revision() << ")\n";
  } else {
    std::cout << "published revision " << reply->revision() << " ("
              << (reply->previous_revision().empty() ? "first publish"
                                                     : "was " + reply->previous_revision())
              << "); " << o.connection.controller << " serves revision " << reply->served_revision()
              << "\n";
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ReadPolicyFiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return absl::InvalidArgumentError(absl::StrCat(dir.string(), " is not a directory"));
  std::map<std::string, std::string> files;
  size_t total = 0;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", it->path().string()));
    total += text.str().size();
    if (total > kMaxReadBytes)
      return absl::InvalidArgumentError(absl::StrCat(
          dir.string(), " holds more than ", kMaxReadBytes, " bytes: not a policy directory?"));
    files[fs::relative(it->path(), dir).generic_string()] = text.str();
  }
  if (ec)
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  return files;
}

void AddPublishCommand(CLI::App& app, ChosenCommand& chosen) {
  auto* cmd = app.add_subcommand("publish",
                                 "Make DIR the policy every controller on the shared store serves");
  auto o = std::make_shared<PublishOptions>();
  AddConnectionOptions(cmd, &o->connection);
  cmd->add_option("DIR", o->dir, "Policy directory")->required();
  cmd->add_option("--reason", o->reason, "Why (recorded in the audit log)");
  OnChosen(cmd, chosen, [o] { return RunPublish(*o); });
}

}  // namespace polder::cli
