#include "cli/report_command.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/graphviz.h"
#include "compiler/model/posture.h"
#include "compiler/render/diagnostic_format.h"
#include "compiler/render/drill_result.h"
#include "compiler/render/graph_export.h"
#include "compiler/render/html_report.h"
#include "compiler/verify/check.h"
#include "compiler/verify/lint.h"
#include "compiler/verify/zone_graph.h"
#include "wire/version.h"

namespace polder::cli {
namespace {

struct ReportArgs {
  std::string dir;
  std::string format = "html";
  std::string out;
  std::string drill;
  std::string now;
  std::string expiring_within = "90d";
};

// The file's bytes, or an error naming it (a drill file that cannot be read
// leaves the command unable to do what was asked).
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return text.str();
}

absl::StatusOr<int> RunReport(const ReportArgs& args) {
  absl::StatusOr<absl::Time> now = ParseNow(args.now);
  if (!now.ok()) return now.status();
  absl::StatusOr<absl::Duration> within = ParseExpiryWindow(args.expiring_within);
  if (!within.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--expiring-within: ", within.status().message()));
  }
  HtmlReportInput input;
  input.expiring_within = *within;
  input.generator = absl::StrCat("polder ", kPolderVersion);
  if (!args.drill.empty()) {
    absl::StatusOr<std::string> text = ReadFile(args.drill);
    if (!text.ok()) return text.status();
    absl::StatusOr<DrillResult> drill = ParseDrillResult(*text, args.drill);
    if (!drill.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          drill.status().message(), " (expected the JSON of `polder lab drill --format json`)"));
    }
    input.drill = *std::move(drill);
    input.drill_file = args.drill;
  }

  CheckOptions options;
  options.now = *now;
  absl::StatusOr<LoadResult> loaded = LoadPolicy(args.dir, LoadOptions{*now});
  if (!loaded.ok()) return loaded.status();
  if (loaded->diagnostics.HasErrors()) {
    // Without a valid policy there is no graph to report on.
    loaded->diagnostics.Sort();
    std::cerr << FormatText(loaded->diagnostics, loaded->sources);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot report on ", args.dir,
                     ": the policy has errors (above); `polder check ", args.dir, "` lists them"));
  }
  // The same pipeline as `polder check`: invariants, postures' keep lists, lint.
  VerifyLoaded(*loaded, options);
  const Policy& policy = loaded->policy;
  ZoneGraph graph = BuildZoneGraph(policy);
  for (const Posture& posture : policy.postures) {
    std::vector<PostureCut> cuts =
        PostureCuts(posture.name, graph, BuildZoneGraph(ApplyPosture(policy, posture)));
    input.posture_cuts.insert(input.posture_cuts.end(), cuts.begin(), cuts.end());
  }
  Picture picture = RenderSvg(ToDot(policy, graph, loaded->diagnostics, input.posture_cuts));
  if (picture.svg.empty()) {
    std::cerr << "polder report: warning: the page has no picture of the zone graph: "
              << picture.note << "\n";
  }
  input.policy = &policy;
  input.diagnostics = &loaded->diagnostics;
  input.graph = &graph;
  input.title = std::filesystem::absolute(args.dir).lexically_normal().filename().string();
  if (input.title.empty()) {  // DIR ended with a slash
    input.title =
        std::filesystem::absolute(args.dir).lexically_normal().parent_path().filename().string();
  }
  input.graph_svg = std::move(picture.svg);
  input.graph_note = std::move(picture.note);
  std::string html = RenderHtmlReport(input);

  std::ofstream out(args.out, std::ios::binary | std::ios::trunc);
  out << html;
  out.close();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", args.out));
  std::cerr << "polder report: wrote " << args.out << " (" << Summary(loaded->diagnostics)
            << " from polder check";
  if (input.drill) std::cerr << "; drill of " << input.drill->posture;
  std::cerr << ")\n";
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, ChosenCommand& chosen) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page about a policy: zone graph, invariants, exposure, "
      "expiring flows by owner, postures and their last drill");
  cmd->add_option("DIR", args->dir, "Policy directory")->required();
  cmd->add_option("--format", args->format, "Page format (html)")->check(CLI::IsMember({"html"}));
  cmd->add_option("-o,--out", args->out, "The file to write")->required();
  cmd->add_option("--drill", args->drill,
                  "The JSON of `polder lab drill --format json`, shown with its posture");
  cmd->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time instead of now");
  cmd->add_option("--expiring-within", args->expiring_within,
                  "List the flows that expire within this window (default 90d)");
  OnChosen(cmd, chosen, [args] { return RunReport(*args); });
}

}  // namespace polder::cli
