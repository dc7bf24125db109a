#include "cli/lab/lab_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "compiler/frontend/policy_loader.h"

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

TEST_F(LabStateFileTest, AControllerLabKeepsItsController) {
  LabState s = Sample();
  s.apply = "controller";
  s.controller_pid = 77;
  s.controller_address = "10.0.0.5:7443";
  s.controller_netns = "n0";
  s.admin_tls_dir = "/run/polder-lab/t/pki/admins/lab";
  s.owner_pid = 4343;
  ASSERT_TRUE(WriteLabState(s).ok());
  absl::StatusOr<LabState> state = ReadLabState("t");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->controller_pid, 77);
  EXPECT_EQ(state->controller_address, "10.0.0.5:7443");
  EXPECT_EQ(state->controller_netns, "n0");
  EXPECT_EQ(state->admin_tls_dir, "/run/polder-lab/t/pki/admins/lab");
  EXPECT_EQ(state->owner_pid, 4343);
  ExpectCorrupt(R"({"controller": {"pid": "77"}})", "`controller.pid` is not a process id");
  ExpectCorrupt(R"({"controller": 7})", "`controller` is not an object");
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

// The issue 9 policy: tcp/445 to the file server and the controller on tcp/7443, with more
// ports named than the old 24-port sample kept.
Policy SmbPolicy(const std::string& extra_services = "") {
  std::string services = R"(services:
  - name: smb
    ports: [tcp/445]
  - name: web-alt
    ports: [tcp/8000-8099]
  - name: dns
    ports: [udp/53, tcp/53]
  - name: ping
    ports: [icmp/echo-request]
)" + extra_services;
  for (int i = 0; i < 30; ++i) {
    services += "  - name: s" + std::to_string(i) + "\n    ports: [tcp/" +
                std::to_string(20000 + 10 * i) + "]\n";
  }
  LoadResult r = LoadPolicyFromFiles(
      {{"zones.yaml", R"(zones:
  - name: office
    cidrs: [10.0.1.0/24]
  - name: files
    cidrs: [10.0.2.0/24]
  - name: control
    cidrs: [10.0.0.0/28]
)"},
       {"hosts.yaml", R"(hosts:
  - name: fs-1
    addresses: [10.0.2.10]
  - name: controller-1
    addresses: [10.0.0.2]
)"},
       {"services.yaml", services},
       {"flows.yaml", R"(flows:
  - from: office
    to: files
    services: [smb]
)"},
       {"settings.yaml", "settings:\n  controller: { addresses: [10.0.0.2], port: 7443 }\n"}});
  EXPECT_FALSE(r.diagnostics.HasErrors());
  return r.policy;
}

std::vector<std::string> Labels(const std::vector<PortClass>& classes, Protocol p) {
  std::vector<std::string> out;
  for (const PortClass& c : classes) {
    if (c.protocol == p) out.push_back(c.Label());
  }
  return out;
}

const PortClass* ClassHolding(const std::vector<PortClass>& classes, Protocol p, uint16_t port) {
  for (const PortClass& c : classes) {
    if (c.protocol != p) continue;
    for (const PortRange& r : c.members) {
      if (r.lo <= port && port <= r.hi) return &c;
    }
  }
  return nullptr;
}

TEST(PortClassTest, EveryPortAServiceOrTheControllerNamesIsProbed) {
  std::vector<PortClass> classes = PlanPortClasses(SmbPolicy());
  for (uint16_t port : {445, 7443, 53, 8000, 8099, 20290}) {
    const PortClass* c = ClassHolding(classes, Protocol::kTcp, port);
    ASSERT_NE(c, nullptr) << port;
    EXPECT_FALSE(c->outside) << port;
    ASSERT_TRUE(c->probe.has_value()) << c->Label();
    EXPECT_TRUE(c->members.front().lo <= *c->probe && *c->probe <= c->members.back().hi);
  }
  EXPECT_EQ(*ClassHolding(classes, Protocol::kTcp, 445)->probe, 445);
  EXPECT_EQ(*ClassHolding(classes, Protocol::kTcp, 7443)->probe, 7443);
  // tcp/53, tcp/445, tcp/8000-8099, the 30 others, the controller's and the ports nobody names.
  EXPECT_EQ(Labels(classes, Protocol::kTcp).size(), 35u);
}

TEST(PortClassTest, ThePortsNoServiceNamesAreOneClassProbedOnce) {
  std::vector<PortClass> classes = PlanPortClasses(SmbPolicy());
  const PortClass* rest = ClassHolding(classes, Protocol::kTcp, 1);
  ASSERT_NE(rest, nullptr);
  EXPECT_TRUE(rest->outside);
  EXPECT_EQ(rest, ClassHolding(classes, Protocol::kTcp, 446));
  EXPECT_EQ(rest, ClassHolding(classes, Protocol::kTcp, 65535));
  EXPECT_EQ(ClassHolding(classes, Protocol::kTcp, 0), nullptr) << "port 0 is never probed";
  EXPECT_EQ(*rest->probe, 40999);
  EXPECT_EQ(Labels(classes, Protocol::kUdp),
            (std::vector<std::string>{"udp/1-52,54-65535 (ports no service names)", "udp/53"}));
}

TEST(PortClassTest, OverlappingRangesSplitIntoElementaryIntervals) {
  std::vector<PortClass> classes =
      PlanPortClasses(SmbPolicy("  - name: wide\n    ports: [tcp/8050-8200, udp/10-20]\n"));
  std::vector<std::string> tcp = Labels(classes, Protocol::kTcp);
  for (const char* want : {"tcp/8000-8049", "tcp/8050-8099", "tcp/8100-8200"}) {
    EXPECT_NE(std::find(tcp.begin(), tcp.end(), want), tcp.end()) << want;
  }
  EXPECT_EQ(Labels(classes, Protocol::kUdp),
            (std::vector<std::string>{"udp/1-9,21-52,54-65535 (ports no service names)",
                                      "udp/10-20", "udp/53"}));
}

TEST(PortClassTest, IcmpClassesWithoutEchoCannotBeProbedAndSaySo) {
  std::vector<PortClass> classes = PlanPortClasses(SmbPolicy());
  const PortClass* echo = ClassHolding(classes, Protocol::kIcmp, 8);
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->probe, 8);
  const PortClass* rest = ClassHolding(classes, Protocol::kIcmp, 0);
  ASSERT_NE(rest, nullptr);
  EXPECT_FALSE(rest->probe.has_value());
  EXPECT_NE(rest->skip_reason.find("only echo-request can be probed"), std::string::npos);
  // No service names ICMPv6: its one class holds echo-request and is probed with it.
  const PortClass* v6 = ClassHolding(classes, Protocol::kIcmpv6, 128);
  ASSERT_NE(v6, nullptr);
  EXPECT_TRUE(v6->outside);
  EXPECT_EQ(v6->probe, 128);
  // Host-essential types belong to no class.
  for (uint16_t t : HostEssentialIcmpTypes(false)) {
    EXPECT_EQ(ClassHolding(classes, Protocol::kIcmp, t), nullptr) << t;
  }
  for (uint16_t t : HostEssentialIcmpTypes(true)) {
    EXPECT_EQ(ClassHolding(classes, Protocol::kIcmpv6, t), nullptr) << t;
  }
}

TEST(PortClassTest, ClassesBeyondTheListenLimitAreSkippedAndSaySo) {
  std::vector<PortClass> all = PlanPortClasses(SmbPolicy(), {false, 1000});
  std::vector<PortClass> limited = PlanPortClasses(SmbPolicy(), {false, 10});
  ASSERT_EQ(all.size(), limited.size()) << "a limit skips classes, it never drops them";
  size_t skipped = 0;
  for (const PortClass& c : limited) {
    if (!c.probe && !IsIcmp(c.protocol)) {
      ++skipped;
      EXPECT_NE(c.skip_reason.find("limit of 10 port classes"), std::string::npos);
    }
  }
  size_t listened = 0;
  for (const PortClass& c : all) listened += c.probe && !IsIcmp(c.protocol);
  EXPECT_EQ(skipped, listened - 10);
}

TEST(PortClassTest, SctpIsPlannedWhenNamedAndSkippedWithoutKernelSupport) {
  EXPECT_EQ(Labels(PlanPortClasses(SmbPolicy()), Protocol::kSctp).size(), 0u);
  Policy p = SmbPolicy("  - name: sig\n    ports: [sctp/2905]\n");
  for (bool sctp : {false, true}) {
    const PortClass* c = ClassHolding(PlanPortClasses(p, {sctp}), Protocol::kSctp, 2905);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->probe.has_value(), sctp);
    if (!sctp) {
      EXPECT_NE(c->skip_reason.find("SCTP"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace polder::cli
