#include "cli/lab_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/lab/lab_plan.h"
#include "cli/lab/lab_process.h"

namespace polder::cli {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out, err;
};

// Runs `polder lab ARGS...`.
Result RunLab(const std::vector<std::string>& args) {
  CLI::App app;
  app.require_subcommand(1);
  ChosenCommand chosen;
  AddLabCommands(app, chosen);
  std::vector<const char*> argv{"polder", "lab"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = RunCommandLine(app, chosen, static_cast<int>(argv.size()), argv.data());
  std::string err = ::testing::internal::GetCapturedStderr();
  return {code, ::testing::internal::GetCapturedStdout(), err};
}

// `lab down` of lab `t` in a POLDER_LAB_DIR of its own, with a namespace
// prefix no other lab on this machine uses.
class LabDownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("lab-down-test-" + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_);
    setenv("POLDER_LAB_DIR", base_.c_str(), 1);
    ns_prefix_ = "pldt" + std::to_string(getpid()) + "-";
  }
  void TearDown() override {
    unsetenv("POLDER_LAB_DIR");
    fs::remove_all(base_);
  }
  std::string netns_prefix() const { return LabNetnsPrefix(ns_prefix_, "t"); }
  fs::path base_;
  std::string ns_prefix_;
};

TEST_F(LabDownTest, SaysWhenThereIsNothingToRemove) {
  Result r = RunLab({"down", "--name", "t", "--ns-prefix", ns_prefix_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "lab t: nothing to remove (no state in " + (base_ / "t").string() +
                       ", no namespace starting " + netns_prefix() + ")\n");
}

TEST_F(LabDownTest, ACorruptStateFileIsReportedAndTheLabStillRemoved) {
  fs::create_directories(base_ / "t");
  std::ofstream(base_ / "t" / "state.json") << R"({"name": "t", "agents": [{"pid": "12"}]})";
  Result r = RunLab({"down", "--name", "t", "--ns-prefix", ns_prefix_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("lab state " + (base_ / "t" / "state.json").string() + " is corrupt"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("removing the namespaces starting " + netns_prefix() + " anyway"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out,
            "lab t is down: removed no namespaces, stopped no agents, killed no other "
            "processes\n");
  EXPECT_FALSE(fs::exists(base_ / "t"));
}

TEST_F(LabDownTest, NamesTheNamespacesItRemoved) {
  std::string ns = netns_prefix() + "0";
  if (!RunCommand({"ip", "netns", "add", ns}).ok()) GTEST_SKIP() << "cannot add a namespace here";
  LabState s;
  s.name = "t";
  s.ns_prefix = ns_prefix_;
  fs::create_directories(base_ / "t");
  ASSERT_TRUE(WriteLabState(s).ok());
  Result r = RunLab({"down", "--name", "t"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "lab t is down: removed 1 namespace (" + ns +
                       "), stopped no agents, killed no other processes\n");
  EXPECT_EQ(RunCommand({"ip", "netns", "pids", ns}).ok(), false) << "namespace still there";
  RunCommand({"ip", "netns", "del", ns}).IgnoreError();
}

TEST_F(LabDownTest, ProbeOfACorruptLabCannotRunAndNamesTheFile) {
  fs::create_directories(base_ / "t");
  std::ofstream(base_ / "t" / "state.json") << R"({"name": "t", "endpoints": [{"add)";
  Result r = RunLab({"probe", "--name", "t"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("polder: lab state " + (base_ / "t" / "state.json").string() +
                            " is corrupt: not JSON",
                        0),
            0u)
      << r.err;
}

}  // namespace
}  // namespace polder::cli
