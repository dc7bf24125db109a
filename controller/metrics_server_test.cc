#include "controller/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace polder::controller {
namespace {

std::string Get(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  EXPECT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsServerTest, ServesMetricsAndNothingElse) {
  int calls = 0;
  auto s = MetricsServer::Start("127.0.0.1:0", [&] { return "m " + std::to_string(++calls); });
  ASSERT_TRUE(s.ok()) << s.status();
  std::string r = Get((*s)->port(), "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.0 200 OK", 0), 0u);
  EXPECT_NE(r.find("\r\n\r\nm 1"), std::string::npos);
  EXPECT_EQ(Get((*s)->port(), "/").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(calls, 1);
}

TEST(MetricsServerTest, SplitHostPort) {
  EXPECT_EQ(*SplitHostPort("[::1]:9100"), std::make_pair(std::string("::1"), std::string("9100")));
  EXPECT_EQ(*SplitHostPort("0.0.0.0:1"), std::make_pair(std::string("0.0.0.0"), std::string("1")));
  EXPECT_FALSE(SplitHostPort("nohost").ok());
}

}  // namespace
}  // namespace polder::controller
