// polder: the network-segmentation policy compiler's command line.
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/audit_command.h"
#include "cli/check_command.h"
#include "cli/cli_common.h"
#include "cli/compile_commands.h"
#include "cli/diff_command.h"
#include "cli/explain_command.h"
#include "cli/fleet_commands.h"
#include "cli/help_command.h"
#include "cli/lab_commands.h"
#include "cli/publish_command.h"
#include "cli/report_command.h"
#include "cli/traffic_commands.h"
#include "cli/verify_commands.h"
#include "wire/version.h"

int main(int argc, char** argv) {
  CLI::App app{"polder: compile, verify and enforce network segmentation policies"};
  app.require_subcommand(1);
  app.set_version_flag("--version", absl::StrCat("polder ", polder::kPolderVersion));
  polder::cli::ChosenCommand chosen;
  polder::cli::AddCheckCommand(app, chosen);
  polder::cli::AddCompileCommands(app, chosen);
  polder::cli::AddLabCommands(app, chosen);
  polder::cli::AddVerifyCommands(app, chosen);
  polder::cli::AddExplainCommand(app, chosen);
  polder::cli::AddDiffCommand(app, chosen);
  polder::cli::AddFleetCommands(app, chosen);
  polder::cli::AddAuditCommand(app, chosen);
  polder::cli::AddPublishCommand(app, chosen);
  polder::cli::AddReportCommand(app, chosen);
  polder::cli::AddTrafficCommands(app, chosen);
  polder::cli::AddHelpCommand(app, chosen);  // last: it lists the commands above
  return polder::cli::RunCommandLine(app, chosen, argc, argv);
}
