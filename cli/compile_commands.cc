#include "cli/compile_commands.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_common.h"
#include "compiler/frontend/did_you_mean.h"
#include "compiler/model/parallel_for.h"
#include "compiler/model/posture.h"
#include "compiler/model/revision.h"
#include "compiler/render/ruleset_batch.h"
#include "compiler/render/ruleset_renderer.h"
#include "nlohmann/json.hpp"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

struct CompileArgs {
  std::string dir;
  std::string host;
  std::string out;
  std::string now;
  std::string posture;  // "" for the policy itself
  LoadFlags load;
};

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  // Write beside, then rename: a reader (an agent, the controller) never sees
  // half a ruleset.
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot write ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<int> RunCompile(const CompileArgs& args) {
  if (args.host.empty() == args.out.empty()) {
    return absl::InvalidArgumentError("give exactly one of --host H or --out OUTDIR");
  }
  // Rulesets are only worth enforcing for a policy that passes check, as
  // the controller also insists.
  absl::StatusOr<std::optional<LoadResult>> loaded =
      LoadOrReport(args.dir, args.now, /*verify=*/true, &args.load);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitFindings;  // its errors are printed, as `polder check` would
  Policy policy = std::move((*loaded)->policy);
  if (!args.posture.empty()) {
    // What the agents enforce while the posture is active (spec §6a), without quarantines:
    // those are the controller's, not the policy's.
    std::vector<std::string> names;
    for (const Posture& p : policy.postures) names.push_back(p.name);
    absl::StatusOr<Policy> effective = PostureApplied(std::move(policy), args.posture);
    if (!effective.ok()) {
      std::string hint = DidYouMean(args.posture, names);
      if (hint.empty()) {
        hint = names.empty() ? " (it declares none)"
                             : absl::StrCat("; it declares: ", absl::StrJoin(names, ", "));
      }
      return absl::NotFoundError(
          absl::StrCat("no posture `", args.posture, "` in ", args.dir, hint));
    }
    policy = *std::move(effective);
  }
  if (!args.host.empty()) {
    std::optional<HostId> h = policy.FindHost(args.host);
    if (!h) {
      std::vector<std::string> names;
      for (const Host& host : policy.hosts) names.push_back(host.name);
      return absl::NotFoundError(
          absl::StrCat("no host `", args.host, "` in ", args.dir, DidYouMean(args.host, names)));
    }
    std::cout << RenderRuleset(policy, *h);
    return kExitOk;
  }
  if (absl::Status written = WriteRulesets(policy, args.out, args.load.jobs); !written.ok())
    return written;
  std::cerr << "polder compile: " << policy.hosts.size() << " rulesets in " << args.out
            << (args.posture.empty() ? "" : absl::StrCat(" for posture ", args.posture))
            << "; revision " << policy.revision << "\n";
  return kExitOk;
}

}  // namespace

absl::Status WriteRulesets(const Policy& policy, const std::string& out_dir, int jobs) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  std::vector<HostRuleset> rulesets = RenderAllRulesetsParallel(policy, jobs);
  // Creating a thousand files is a good part of the time, in the kernel: on all threads too.
  std::vector<absl::Status> written(rulesets.size());
  std::vector<std::string> hashes(rulesets.size());
  ParallelFor(rulesets.size(), EffectiveJobs(jobs), [&](size_t i) {
    written[i] =
        WriteFile(std::filesystem::path(out_dir) / (rulesets[i].host + ".nft"), rulesets[i].text);
    hashes[i] = wire::Sha256Hex(rulesets[i].text);
  });
  nlohmann::ordered_json manifest;
  manifest["revision"] = policy.revision;
  manifest["hosts"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < rulesets.size(); ++i) {
    if (!written[i].ok()) return written[i];
    const HostRuleset& r = rulesets[i];
    manifest["hosts"][r.host] = {{"file", r.host + ".nft"}, {"sha256", hashes[i]}};
  }
  return WriteFile(std::filesystem::path(out_dir) / "manifest.json", manifest.dump(2) + "\n");
}

void AddCompileCommands(CLI::App& app, ChosenCommand& chosen) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App* cmd = app.add_subcommand("compile", "Render nftables rulesets for managed hosts");
  cmd->add_option("DIR", args->dir, "Policy directory")->required();
  cmd->add_option("--host", args->host, "Print this host's ruleset");
  cmd->add_option("--out", args->out, "Write every host's ruleset and manifest.json here");
  cmd->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time instead of now");
  cmd->add_option("--posture", args->posture,
                  "Render what the agents enforce while this posture is active");
  AddLoadFlags(cmd, args->load);
  OnChosen(cmd, chosen, [args] { return RunCompile(*args); });
}

}  // namespace polder::cli
