// polder: the network-segmentation policy compiler's command line.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/check_command.h"
#include "cli/cli_common.h"
#include "cli/compile_commands.h"
#include "cli/fleet_commands.h"
#include "cli/lab_commands.h"
#include "cli/verify_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"polder: compile, verify and enforce network segmentation policies"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "polder 0.1.0");
  polder::cli::AddCheckCommand(app);
  polder::cli::AddCompileCommands(app);
  polder::cli::AddLabCommands(app);
  polder::cli::AddVerifyCommands(app);
  polder::cli::AddFleetCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& done) {
    // Subcommands finish by throwing their exit code (CLI11's idiom).
    return done.get_exit_code();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return polder::cli::kExitCannotRun;
  }
  return polder::cli::kExitOk;
}
