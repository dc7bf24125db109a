#include "cli/cli_common.h"

#include <exception>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "compiler/render/diagnostic_format.h"
#include "compiler/verify/check.h"
#include "wire/rfc3339.h"

namespace polder::cli {

void OnChosen(CLI::App* cmd, ChosenCommand& chosen, CommandBody body) {
  cmd->callback([&chosen, body = std::move(body)] { chosen.body = body; });
}

int RunCommandLine(CLI::App& app, ChosenCommand& chosen, int argc, const char* const* argv) {
  chosen.body = nullptr;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitCannotRun;
  }
  if (!chosen.body) {
    // Every subcommand records a body; a group (`pki`, `lab`) requires one of its own.
    std::cerr << "polder: no command to run; see --help\n";
    return kExitCannotRun;
  }
  absl::StatusOr<int> exit_code;
  try {
    exit_code = chosen.body();
  } catch (const std::exception& e) {
    // Bodies report through their Status; this is only the last guard against a crash.
    exit_code = absl::InternalError(absl::StrCat("internal error: ", e.what()));
  }
  if (!exit_code.ok()) {
    std::cerr << "polder: " << exit_code.status().message() << "\n";
    return kExitCannotRun;
  }
  return *exit_code;
}

absl::StatusOr<absl::Time> ParseNow(const std::string& text) {
  if (text.empty()) return absl::Now();
  std::optional<absl::Time> t = ParseRfc3339(text);
  if (!t) {
    return absl::InvalidArgumentError(
        absl::StrCat("--now `", text, "` is not an RFC 3339 time, e.g. 2026-11-24T12:00:00Z"));
  }
  return *t;
}

void AddLoadFlags(CLI::App* cmd, LoadFlags& flags) {
  cmd->add_option("--jobs", flags.jobs,
                  "Threads for parsing and rendering (default 0: one per core); the output is "
                  "the same for any number")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--cache", flags.cache,
                  "Keep parsed files in this directory, by content (default "
                  "$XDG_CACHE_HOME/polder/parse)");
  cmd->add_flag("--no-cache", flags.no_cache, "Parse every file, use no parse cache");
}

std::unique_ptr<ParseCache> OpenParseCache(const LoadFlags& flags) {
  if (flags.no_cache) return nullptr;
  if (!flags.cache.empty()) return std::make_unique<DirectoryParseCache>(flags.cache);
  std::optional<std::filesystem::path> dir = DefaultParseCacheDir();
  if (!dir) return nullptr;
  return std::make_unique<DirectoryParseCache>(*dir);
}

absl::StatusOr<std::optional<LoadResult>> LoadOrReport(const std::string& dir,
                                                       const std::string& now_text, bool verify,
                                                       const LoadFlags* flags) {
  absl::StatusOr<absl::Time> now = ParseNow(now_text);
  if (!now.ok()) return now.status();
  LoadOptions options{*now};
  std::unique_ptr<ParseCache> cache;
  if (flags != nullptr) {
    cache = OpenParseCache(*flags);
    options.jobs = flags->jobs;
    options.cache = cache.get();
  }
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, options);
  if (!loaded.ok()) return loaded.status();
  if (verify) {
    CheckOptions options;
    options.now = *now;
    VerifyLoaded(*loaded, options);
  }
  if (loaded->diagnostics.HasErrors()) {
    loaded->diagnostics.Sort();
    std::cerr << FormatText(loaded->diagnostics, loaded->sources);
    return std::optional<LoadResult>();
  }
  return std::optional<LoadResult>(std::move(*loaded));
}

}  // namespace polder::cli
