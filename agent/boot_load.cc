#include "agent/boot_load.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "agent/atomic_file.h"
#include "agent/ruleset.h"
#include "agent/ruleset_applier.h"
#include "agent/ruleset_store.h"

namespace polder::agent {
namespace {

// Loads `parsed` (described as `what`) in one transaction; false, after saying why, if it is not
// loaded. A failed load changes nothing in the kernel.
bool Load(RulesetApplier& applier, const BootLoadOptions& options, const std::string& what,
          absl::StatusOr<Ruleset> parsed, const std::function<void(const std::string&)>& say) {
  if (!parsed.ok()) {
    say(absl::StrCat(what, " is not a usable ruleset: ", parsed.status().message()));
    return false;
  }
  if (!options.host.empty() && parsed->host != options.host) {
    say(absl::StrCat(what, " is for host ", parsed->host, ", not ", options.host, ": not loaded"));
    return false;
  }
  std::string host = parsed->host, revision = parsed->revision, hash = parsed->hash;
  absl::StatusOr<RulesetApplier::Result> result = applier.Apply(std::move(*parsed));
  if (!result.ok()) {
    say(absl::StrCat(what, " could not be loaded: ", result.status().message()));
    return false;
  }
  say(absl::StrCat(
      result->outcome == RulesetApplier::Outcome::kApplied ? "loaded " : "already in force: ", what,
      " (host ", host, ", revision ", revision, ", sha256 ", hash, ") in table inet polder",
      result->outcome == RulesetApplier::Outcome::kApplied
          ? absl::StrCat(" in one transaction (", absl::ToDoubleMilliseconds(result->duration),
                         " ms)")
          : ""));
  return true;
}

}  // namespace

int BootExitCode(BootLoadOutcome outcome) { return outcome == BootLoadOutcome::kFailed ? 1 : 0; }

BootLoadOutcome BootLoad(const BootLoadOptions& options, NftKernel* kernel,
                         const std::function<void(const std::string&)>& say) {
  RulesetApplier::Options applier_options;
  applier_options.dry_run = options.dry_run;
  RulesetApplier applier(kernel, applier_options);
  bool had_a_ruleset = false;

  RulesetStore store(options.state_dir);
  absl::StatusOr<std::optional<StoredRuleset>> stored = store.Load();
  if (!stored.ok()) {
    had_a_ruleset = true;
    say(absl::StrCat("stored ruleset unusable (", stored.status().message(), ")",
                     options.bootstrap.empty() ? "" : ": falling back to the bootstrap ruleset"));
  } else if (!stored->has_value()) {
    say(absl::StrCat("no stored ruleset in ", options.state_dir.string()));
  } else {
    had_a_ruleset = true;
    absl::StatusOr<Ruleset> parsed = options.parse_stored ? options.parse_stored(**stored)
                                     : options.parse      ? options.parse((*stored)->text)
                                                          : ParseRuleset((*stored)->text);
    if (Load(applier, options, absl::StrCat("the stored ruleset ", store.path().string()),
             std::move(parsed), say)) {
      return BootLoadOutcome::kLoadedStored;
    }
    if (!options.bootstrap.empty()) say("falling back to the bootstrap ruleset");
  }

  if (!options.bootstrap.empty()) {
    // Optional (nullopt when absent); the same bound as a stored ruleset: both end up in
    // one kernel transaction.
    absl::StatusOr<std::optional<std::string>> bootstrap =
        ReadSmallFile(options.bootstrap, RulesetStore::kMaxFileBytes);
    if (!bootstrap.ok()) {
      had_a_ruleset = true;
      say(absl::StrCat("bootstrap ruleset unusable: ", bootstrap.status().message()));
    } else if (!bootstrap->has_value()) {
      say(absl::StrCat("no bootstrap ruleset at ", options.bootstrap.string()));
    } else {
      had_a_ruleset = true;
      std::string& text = **bootstrap;
      if (Load(applier, options, absl::StrCat("the bootstrap ruleset ", options.bootstrap.string()),
               options.parse ? options.parse(text) : ParseRuleset(text), say)) {
        return BootLoadOutcome::kLoadedBootstrap;
      }
    }
  }

  if (had_a_ruleset) {
    say("FAILED: no ruleset could be loaded; table inet polder is left as it was");
    return BootLoadOutcome::kFailed;
  }
  say("nothing to load: table inet polder is left as it was (the agent will apply its ruleset)");
  return BootLoadOutcome::kNothingToLoad;
}

}  // namespace polder::agent
