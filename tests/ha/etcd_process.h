// One etcd member for tests: listens on 127.0.0.1 on free ports, keeps its data in a fresh
// directory (on tmpfs when /dev/shm exists), and is killed and removed by the destructor.
// Start waits (bounded) until it answers.
#ifndef POLDER_TESTS_HA_ETCD_PROCESS_H_
#define POLDER_TESTS_HA_ETCD_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace polder::testing {

class EtcdProcess {
 public:
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start(
      absl::Duration ready_within = absl::Seconds(20));
  ~EtcdProcess();
  // http://127.0.0.1:PORT
  const std::string& client_url() const { return client_url_; }
  // Stops the member at once (SIGKILL) and waits for it.
  void Kill();

 private:
  EtcdProcess() = default;
  pid_t pid_ = -1;
  std::filesystem::path dir_;
  std::string client_url_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace polder::testing

#endif  // POLDER_TESTS_HA_ETCD_PROCESS_H_
