#include "cli/check_command.h"

#include <iostream>
#include <memory>

#include "compiler/verify/check.h"
#include "cli/cli_common.h"
#include "compiler/render/diagnostic_format.h"
#include "compiler/render/junit.h"
#include "compiler/verify/lint.h"
#include "compiler/render/sarif.h"

namespace polder::cli {
namespace {

struct CheckArgs {
  std::string dir;
  std::string now;
  std::string format = "text";
  std::string warn_expiry;
  std::string sarif_prefix;
};

int RunCheck(const CheckArgs& args) {
  absl::StatusOr<absl::Time> now = ParseNow(args.now);
  if (!now.ok()) {
    std::cerr << "polder: " << now.status().message() << "\n";
    return kExitCannotRun;
  }
  CheckOptions options;
  options.now = *now;
  if (!args.warn_expiry.empty()) {
    absl::StatusOr<absl::Duration> window = ParseExpiryWindow(args.warn_expiry);
    if (!window.ok()) {
      std::cerr << "polder: --warn-expiry: " << window.status().message() << "\n";
      return kExitCannotRun;
    }
    options.warn_expiry = *window;
  }
  absl::StatusOr<LoadResult> result = CheckPolicy(args.dir, options);
  if (!result.ok()) {
    std::cerr << "polder: " << result.status().message() << "\n";
    return kExitCannotRun;
  }
  const DiagnosticList& d = result->diagnostics;
  if (args.format == "json") {
    std::cout << FormatJson(d, result->policy.revision);
  } else if (args.format == "sarif") {
    SarifOptions sarif;
    sarif.revision = result->policy.revision;
    sarif.uri_prefix = args.sarif_prefix;
    std::cout << ToSarif(d, sarif);
  } else if (args.format == "junit") {
    std::cout << ToJunit(d, result->policy.revision, result->policy.invariants);
  } else {
    std::cout << FormatText(d, result->sources);
    std::cerr << "polder check: " << Summary(d);
    if (!d.HasErrors()) std::cerr << "; revision " << result->policy.revision;
    std::cerr << "\n";
  }
  return d.HasErrors() ? kExitFindings : kExitOk;
}

}  // namespace

void AddCheckCommand(CLI::App& app) {
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
  cmd->callback([args] { throw CLI::RuntimeError(RunCheck(*args)); });
}

}  // namespace polder::cli
