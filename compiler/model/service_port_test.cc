#include "compiler/model/service_port.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>

namespace polder {
namespace {

// The ICMP type names nftables knows, as `nft describe` lists them: every one of them is a
// valid port item, with nftables' number.
void ExpectEveryNftTypeName(const std::string& protocol) {
  FILE* nft = popen(("nft describe " + protocol + " type 2>/dev/null").c_str(), "r");
  if (nft == nullptr) GTEST_SKIP() << "nft not available";
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, nft)) > 0) text.append(buf, n);
  pclose(nft);
  if (text.find("pre-defined symbolic constants") == std::string::npos) {
    GTEST_SKIP() << "nft describe gave no table";
  }
  std::istringstream lines(text.substr(text.find("pre-defined symbolic constants")));
  std::string line;
  std::getline(lines, line);
  int names = 0;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    int number = -1;
    if (!(fields >> name >> number)) continue;
    ++names;
    absl::StatusOr<ServicePort> port = ServicePort::Parse(protocol + "/" + name);
    ASSERT_TRUE(port.ok()) << protocol << "/" << name << ": " << port.status();
    EXPECT_EQ(port->lo, number) << name;
    EXPECT_EQ(port->hi, number) << name;
  }
  EXPECT_GT(names, 10);
}

TEST(ServicePortTest, AcceptsEveryIcmpTypeNftablesKnows) { ExpectEveryNftTypeName("icmp"); }

TEST(ServicePortTest, AcceptsEveryIcmpv6TypeNftablesKnows) { ExpectEveryNftTypeName("icmpv6"); }

TEST(ServicePortTest, RefusesUnknownTypeNamesWithTheKnownOnes) {
  absl::StatusOr<ServicePort> port = ServicePort::Parse("icmpv6/neighbour-solicit");
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("nd-neighbor-solicit"), std::string::npos)
      << port.status();
}

}  // namespace
}  // namespace polder
