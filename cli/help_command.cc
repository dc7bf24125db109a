#include "cli/help_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "compiler/model/diagnostic_codes.h"

namespace polder::cli {
namespace {

// What an option's value looks like: CLI11 spells a choice "TEXT:{text,json}",
// which people read as "text|json"; other types ("TEXT", "INT:INT in [50 -
// 10000]") read as VALUE.
std::string ValueSpelling(const std::string& type_name) {
  size_t brace = type_name.find(":{");
  if (brace != std::string::npos && type_name.back() == '}') {
    return absl::StrReplaceAll(type_name.substr(brace + 2, type_name.size() - brace - 3),
                               {{",", "|"}});
  }
  return "VALUE";
}

// "--from VALUE" / "DIR" / "--complete": how an option is written.
std::string Spelling(const CLI::Option& option) {
  if (option.get_positional()) return option.get_name(true, false);
  std::string name = option.get_name(false, true);
  if (option.get_type_size() != 0 && option.get_expected_min() != 0) {
    absl::StrAppend(&name, " ", ValueSpelling(option.get_type_name()));
  }
  return name;
}

void PrintCommand(const CLI::App& command, const std::string& prefix, std::string& out) {
  std::string path = absl::StrCat(prefix, " ", command.get_name());
  std::vector<const CLI::App*> children = command.get_subcommands({});
  std::vector<const CLI::Option*> options = command.get_options([](const CLI::Option* o) {
    return o->get_name() != "--help" && o->get_name() != "-h";
  });
  if (!options.empty() || children.empty()) {
    absl::StrAppend(&out, path, "\n    ", command.get_description(), "\n");
    for (const CLI::Option* o : options) {
      absl::StrAppend(&out, "    ", Spelling(*o), o->get_required() ? "" : "  (optional)", "\n",
                      "        ", o->get_description(), "\n");
    }
  }
  for (const CLI::App* child : children) PrintCommand(*child, path, out);
}

absl::StatusOr<int> RunHelp(const CLI::App& app) {
  std::string out =
      "polder: compile, verify and enforce network segmentation policies.\n"
      "Exit status (spec §9): 0 clean or yes, 1 findings or no, 2 cannot run.\n\n";
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->get_name() == "help") continue;
    PrintCommand(*command, "polder", out);
  }
  absl::StrAppend(&out, "polder help codes [--format text|markdown]\n",
                  "    The diagnostic codes, what they mean and how to fix them\n");
  std::cout << out;
  return kExitOk;
}

absl::StatusOr<int> RunHelpCodes(const std::string& format) {
  if (format == "markdown") {
    std::cout << DiagnosticCodesMarkdown();
    return kExitOk;
  }
  for (const DiagnosticCode& c : AllDiagnosticCodes()) {
    std::cout << c.code << "\n    " << c.summary << ".\n    Fix: " << c.fix << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddHelpCommand(CLI::App& app, ChosenCommand& chosen) {
  CLI::App* help = app.add_subcommand("help", "Every command and flag, or the diagnostic codes");
  // CLI11 runs this after `codes`'s callback; a chosen `codes` keeps its body.
  help->callback([&app, &chosen, help] {
    if (help->get_subcommands().empty()) chosen.body = [&app] { return RunHelp(app); };
  });
  auto format = std::make_shared<std::string>("text");
  CLI::App* codes = help->add_subcommand("codes", "The diagnostic codes and how to fix them");
  codes->add_option("--format", *format, "text or markdown (docs/diagnostics.md)")
      ->check(CLI::IsMember({"text", "markdown"}));
  OnChosen(codes, chosen, [format] { return RunHelpCodes(*format); });
}

}  // namespace polder::cli
