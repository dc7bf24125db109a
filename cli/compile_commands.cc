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
#include "compiler/render/provenance.h"
#include "compiler/render/ruleset_batch.h"
#include "compiler/render/ruleset_renderer.h"
#include "nlohmann/json.hpp"
#include "wire/proto_convert.h"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

struct CompileArgs {
  std::string dir;
  std::string host;
  std::string out;
  std::string now;
  std::string posture;          // "" for the policy itself
  std::string format = "text";  // or "wire": the structured form (polder.v1.RulesetFile)
  std::string output;           // --host: write here instead of stdout
  LoadFlags load;
};

// What one host's file holds in `format`.
std::string HostFile(const HostRuleset& r, const std::string& format) {
  return format == "wire" ? wire::SerializeRulesetFile({r.header, *r.ruleset}) : r.text;
}

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
    HostRuleset rendered = RulesetRenderer(policy).RenderHost(*h);
    std::string file = HostFile(rendered, args.format);
    if (!args.output.empty()) {
      // The provenance map beside the ruleset, so that a standalone agent's hits can be
      // attributed to flows and prefixes (docs/traffic.md).
      if (absl::Status w = WriteFile(args.output + kProvenanceSuffix,
                                     ProvenanceJson(policy, rendered.header, *rendered.provenance));
          !w.ok())
        return w;
      if (absl::Status w = WriteFile(args.output, file); !w.ok()) return w;
      return kExitOk;
    }
    if (args.format == "wire") {
      return absl::InvalidArgumentError("--format wire is binary: give -o FILE with --host");
    }
    std::cout << file;
    return kExitOk;
  }
  if (!args.output.empty())
    return absl::InvalidArgumentError("-o goes with --host; --out is a directory");
  if (absl::Status written = WriteRulesets(policy, args.out, args.format, args.load.jobs);
      !written.ok())
    return written;
  std::cerr << "polder compile: " << policy.hosts.size() << " rulesets in " << args.out
            << (args.posture.empty() ? "" : absl::StrCat(" for posture ", args.posture))
            << "; revision " << policy.revision << "\n";
  return kExitOk;
}

}  // namespace

absl::Status WriteRulesets(const Policy& policy, const std::string& out_dir,
                           const std::string& format, int jobs) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  std::vector<HostRuleset> rulesets = RenderAllRulesetsParallel(policy, jobs);
  // Creating a thousand files is a good part of the time, in the kernel: on all threads too.
  std::vector<absl::Status> written(rulesets.size());
  std::vector<std::string> files(rulesets.size()), hashes(rulesets.size());
  std::vector<std::string> provenance_hashes(rulesets.size());
  ParallelFor(rulesets.size(), EffectiveJobs(jobs), [&](size_t i) {
    files[i] = rulesets[i].host + (format == "wire" ? ".wire" : ".nft");
    std::string provenance = ProvenanceJson(policy, rulesets[i].header, *rulesets[i].provenance);
    written[i] =
        WriteFile(std::filesystem::path(out_dir) / (files[i] + kProvenanceSuffix), provenance);
    provenance_hashes[i] = wire::Sha256Hex(provenance);
    if (!written[i].ok()) return;
    std::string bytes = HostFile(rulesets[i], format);
    written[i] = WriteFile(std::filesystem::path(out_dir) / files[i], bytes);
    hashes[i] = wire::Sha256Hex(bytes);
  });
  nlohmann::ordered_json manifest;
  manifest["revision"] = policy.revision;
  manifest["hosts"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < rulesets.size(); ++i) {
    if (!written[i].ok()) return written[i];
    manifest["hosts"][rulesets[i].host] = {{"file", files[i]},
                                           {"sha256", hashes[i]},
                                           {"provenance", files[i] + kProvenanceSuffix},
                                           {"provenance_sha256", provenance_hashes[i]}};
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
  cmd->add_option("--format", args->format,
                  "text (nft script, default) or wire (structured form for polder-agent --ruleset)")
      ->check(CLI::IsMember({"text", "wire"}));
  cmd->add_option("-o", args->output,
                  "With --host: write the ruleset to this file (and FILE.provenance.json)");
  AddLoadFlags(cmd, args->load);
  OnChosen(cmd, chosen, [args] { return RunCompile(*args); });
}

}  // namespace polder::cli
