#include "agent/uplink/controller_list.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

TEST(ControllerListTest, ParsesAListAndNamesWhatIsWrong) {
  auto one = ParseControllerList("10.0.0.1:7443");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<std::string>{"10.0.0.1:7443"});
  auto three = ParseControllerList("a:1, b:2,[::1]:3");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(*three, (std::vector<std::string>{"a:1", "b:2", "[::1]:3"}));
  for (const char* bad : {"", "a", "a:0", "a:70000", ":5", "a:1,,b:2", "a:1,a:1"}) {
    auto parsed = ParseControllerList(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
  }
  EXPECT_NE(ParseControllerList("a:1,a:1").status().message().find("twice"), std::string::npos);
}

TEST(ControllerListTest, RendezvousOrderIsStableSpreadsAndMovesOnlyTheLostOnesAgents) {
  std::vector<std::string> three = {"c1:7443", "c2:7443", "c3:7443"};
  std::map<std::string, int> preferred;
  int moved_wrongly = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string host = absl::StrCat("host-", i);
    std::vector<std::string> order = RendezvousOrder(three, host);
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(order, RendezvousOrder({"c3:7443", "c1:7443", "c2:7443"}, host))
        << "the order of the flag does not matter";
    ++preferred[order[0]];
    // Without c2, an agent that did not prefer c2 keeps its controller.
    std::vector<std::string> two = RendezvousOrder({"c1:7443", "c3:7443"}, host);
    if (order[0] != "c2:7443" && two[0] != order[0]) ++moved_wrongly;
    if (order[0] == "c2:7443" && two[0] != order[1]) ++moved_wrongly;
  }
  EXPECT_EQ(moved_wrongly, 0);
  for (const auto& [target, n] : preferred) {
    EXPECT_GT(n, 850) << target;  // about 1000 each
    EXPECT_LT(n, 1150) << target;
  }
}

}  // namespace
}  // namespace polder::agent
