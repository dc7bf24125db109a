#include "cli/lab/lab_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace polder::cli {
namespace {

namespace fs = std::filesystem;

// Each test gets its own POLDER_LAB_DIR and lab `t` in it.
class LabStateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("lab-plan-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "t");
    setenv("POLDER_LAB_DIR", base_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("POLDER_LAB_DIR");
    fs::remove_all(base_);
  }
  void WriteStateFile(const std::string& text) {
    std::ofstream(LabStatePath("t"), std::ios::binary | std::ios::trunc) << text;
  }
  // ReadLabState fails with DataLoss, naming the file and saying `what`.
  void ExpectCorrupt(const std::string& text, const std::string& what) {
    WriteStateFile(text);
    absl::StatusOr<LabState> state = ReadLabState("t");
    ASSERT_FALSE(state.ok()) << "accepted: " << text;
    EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss) << state.status();
    EXPECT_NE(state.status().message().find((base_ / "t" / "state.json").string()),
              std::string::npos)
        << state.status();
    EXPECT_NE(state.status().message().find(what), std::string::npos)
        << "want `" << what << "` in: " << state.status();
  }
  LabState Sample() {
    LabState s;
    s.name = "t";
    s.policy_dir = "/srv/policy";
    s.ns_prefix = "pl-";
    s.bridge_netns = "pl-0123abcd-br";
    s.apply = "nft";
    s.endpoints.push_back(
        {"db-1", true, "db", {*Address::Parse("10.0.0.5"), *Address::Parse("2001:db8::5")}, "n0"});
    s.endpoints.push_back({"internet", false, "internet", {*Address::Parse("203.0.113.77")}, "n1"});
    s.agents.push_back({"db-1", 4242});
    return s;
  }
  fs::path base_;
};

TEST_F(LabStateFileTest, WhatIsWrittenIsReadBack) {
  ASSERT_TRUE(WriteLabState(Sample()).ok());
  absl::StatusOr<LabState> state = ReadLabState("t");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(StateToJson(*state), StateToJson(Sample()));
  EXPECT_EQ(state->agents.at(0).pid, 4242);
  EXPECT_EQ(state->endpoints.at(0).addresses.at(1).ToString(), "2001:db8::5");
}

TEST_F(LabStateFileTest, NoFileIsNotFound) {
  absl::StatusOr<LabState> state = ReadLabState("other");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kNotFound) << state.status();
}

TEST_F(LabStateFileTest, TruncatedOrEmptyFileIsAnErrorNamingTheFile) {
  std::string full = StateToJson(Sample());
  ExpectCorrupt(full.substr(0, full.size() / 2), "not JSON");
  ExpectCorrupt("", "not JSON");
  ExpectCorrupt("[1, 2]", "not a JSON object");
}

TEST_F(LabStateFileTest, WrongTypesAreErrorsSayingWhere) {
  ExpectCorrupt(R"({"name": 7})", "`name` is not a string");
  ExpectCorrupt(R"({"ns_prefix": null})", "`ns_prefix` is not a string");
  ExpectCorrupt(R"({"endpoints": "n0"})", "`endpoints` is not an array");
  ExpectCorrupt(R"({"endpoints": ["n0"]})", "`endpoints[0]` is not an object");
  ExpectCorrupt(R"({"endpoints": [{"name": "a"}, {"managed": "yes"}]})",
                "`endpoints[1].managed` is not true or false");
  ExpectCorrupt(R"({"endpoints": [{"addresses": [10]}]})",
                "`endpoints[0].addresses[0]` is not an address");
  ExpectCorrupt(R"({"endpoints": [{"addresses": ["10.0.0.300"]}]})",
                "`endpoints[0].addresses[0]`: ");
  ExpectCorrupt(R"({"agents": [{"host": "db-1", "pid": "4242"}]})",
                "`agents[0].pid` is not a process id");
  ExpectCorrupt(R"({"agents": [{"pid": -1}]})", "`agents[0].pid` is not a process id");
  ExpectCorrupt(R"({"agents": [{"pid": 99999999999}]})", "`agents[0].pid` is not a process id");
}

TEST_F(LabStateFileTest, MissingKeysKeepTheirDefaults) {
  WriteStateFile(R"({"name": "t", "endpoints": [{"name": "db-1"}]})");
  absl::StatusOr<LabState> state = ReadLabState("t");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->apply, "agent");
  ASSERT_EQ(state->endpoints.size(), 1u);
  EXPECT_FALSE(state->endpoints[0].managed);
  EXPECT_TRUE(state->agents.empty());
}

}  // namespace
}  // namespace polder::cli
