#include "cli/check_command.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/cli_common.h"
#include "compiler/render/diagnostic_format.h"
#include "compiler/render/junit.h"
#include "compiler/render/sarif.h"
#include "compiler/verify/check.h"
#include "compiler/verify/lint.h"

namespace polder::cli {
namespace {

struct CheckArgs {
  std::string dir;
  std::string now;
  std::string format = "text";
  std::string warn_expiry;
  std::string sarif_prefix;
  LoadFlags load;
};

absl::StatusOr<int> RunCheck(const CheckArgs& args) {
  absl::StatusOr<absl::Time> now = ParseNow(args.now);
  if (!now.ok()) return now.status();
  CheckOptions options;
  options.now = *now;
  if (!args.warn_expiry.empty()) {
    absl::StatusOr<absl::Duration> window = ParseExpiryWindow(args.warn_expiry);
    if (!window.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--warn-expiry: ", window.status().message()));
    }
    options.warn_expiry = *window;
  }
  std::unique_ptr<ParseCache> cache = OpenParseCache(args.load);
  absl::StatusOr<LoadResult> result =
      LoadPolicy(args.dir, LoadOptions{options.now, args.load.jobs, cache.get()});
  if (!result.ok()) return result.status();
  VerifyLoaded(*result, options);
  const DiagnosticList& d = result->diagnostics;
  if (args.format == "json") {
    std::cout << FormatJson(d, result->policy.revision);
  } else if (args.format == "sarif") {
    SarifOptions sarif;
    sarif.revision = result->policy.revision;
    sarif.uri_prefix = args.sarif_prefix;
    std::cout << ToSarif(d, sarif);
  } else if (args.format == "junit") {
    std::cout << ToJunit(d, result->policy.revision, result->policy.invariants,
                         result->policy.postures);
  } else {
    std::cout << FormatText(d, result->sources);
    std::cerr << "polder check: " << Summary(d);
    if (!d.HasErrors()) std::cerr << "; revision " << result->policy.revision;
    std::cerr << "\n";
  }
  return d.HasErrors() ? kExitFindings : kExitOk;
}

}  // namespace

void AddCheckCommand(CLI::App& app, ChosenCommand& chosen) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd =
      app.add_subcommand("check", "Parse, resolve, verify invariants and lint a policy");
  cmd->add_option("DIR", args->dir, "Policy directory")->required();
  cmd->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time instead of now");
  cmd->add_option("--format", args->format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif", "junit"}));
  cmd->add_option("--sarif-uri-prefix", args->sarif_prefix,
                  "Policy directory relative to the repository root, for SARIF locations");
  cmd->add_option("--warn-expiry", args->warn_expiry,
                  "Warn about flows expiring within this window (default 14d; 0 turns it off)");
  AddLoadFlags(cmd, args->load);
  OnChosen(cmd, chosen, [args] { return RunCheck(*args); });
}

}  // namespace polder::cli
