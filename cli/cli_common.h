// What every `polder` subcommand shares: exit codes, how a subcommand's body
// reports its result and the one place that turns it into the process's exit
// status, time parsing, and loading a policy while printing its diagnostics.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "compiler/frontend/parse_cache.h"
#include "compiler/frontend/policy_loader.h"

namespace polder::cli {

// Spec §9: 0 clean, 1 errors or a negative answer, 2 cannot run.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitCannotRun = 2;

// What a subcommand does once its options are parsed. It returns the exit
// code (kExitOk; kExitFindings for findings, a negative answer or a refusal,
// after printing them), or an error Status when it cannot run, which
// RunCommandLine prints as `polder: MESSAGE` and exits kExitCannotRun with.
// A body never throws.
using CommandBody = std::function<absl::StatusOr<int>()>;

// The body of the subcommand the command line chose. CLI11 calls a
// subcommand's callback while it parses; the callback only records the body
// here (see OnChosen) and RunCommandLine runs it once parsing is over, so an
// exit code never travels as an exception.
struct ChosenCommand {
  CommandBody body;
};

// Makes `body` what runs when the command line chooses `cmd`.
void OnChosen(CLI::App* cmd, ChosenCommand& chosen, CommandBody body);

// Parses argv with `app`, runs the body of the subcommand it chose (recorded
// in `chosen`) and returns the process's exit status: --help and --version
// print and give 0, a usage error prints CLI11's message and gives 2.
int RunCommandLine(CLI::App& app, ChosenCommand& chosen, int argc, const char* const* argv);

// Parses --now (RFC 3339); empty means the wall clock.
absl::StatusOr<absl::Time> ParseNow(const std::string& text);

// --jobs, --cache and --no-cache of the commands that load a policy (check, compile).
struct LoadFlags {
  int jobs = 0;       // 0: one thread per core
  std::string cache;  // "": the default directory (DefaultParseCacheDir)
  bool no_cache = false;
};
void AddLoadFlags(CLI::App* cmd, LoadFlags& flags);
// The parse cache the flags ask for, or nullptr (--no-cache, or no directory known).
std::unique_ptr<ParseCache> OpenParseCache(const LoadFlags& flags);

// Loads DIR at `now` (and with `verify`, also checks invariants and lint, as
// `polder check` does). A policy with errors prints its diagnostics as text to
// stderr and gives nullopt: whether that is a finding (1) or leaves the
// command unable to answer (2) is the caller's to say. An error Status means
// DIR could not be read or --now is not a time.
absl::StatusOr<std::optional<LoadResult>> LoadOrReport(const std::string& dir,
                                                       const std::string& now_text,
                                                       bool verify = false,
                                                       const LoadFlags* flags = nullptr);

}  // namespace polder::cli
