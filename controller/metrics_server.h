// A minimal HTTP endpoint for Prometheus: GET /metrics returns the
// controller's metrics in the text exposition format; anything else is 404.
// One thread, one request per connection: scrapes are rare and small.
#ifndef POLDER_CONTROLLER_METRICS_SERVER_H_
#define POLDER_CONTROLLER_METRICS_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace polder::controller {

class MetricsServer {
 public:
  // `listen` is HOST:PORT or [V6]:PORT; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              std::function<std::string()> body);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> body);
  void Serve();
  int fd_;
  int port_;
  std::function<std::string()> body_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Splits HOST:PORT / [V6]:PORT.
absl::StatusOr<std::pair<std::string, std::string>> SplitHostPort(const std::string& s);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_METRICS_SERVER_H_
