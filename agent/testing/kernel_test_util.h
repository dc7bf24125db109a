// Helpers for the agent's tests: sample rulesets in the compiler's shape, and a private
// network namespace for tests that use the real kernel (never the host's ruleset).
#ifndef POLDER_AGENT_TESTING_KERNEL_TEST_UTIL_H_
#define POLDER_AGENT_TESTING_KERNEL_TEST_UTIL_H_

#include <string>
#include <vector>

namespace polder::agent::testing {

// A ruleset for `host` allowing TCP to each of `ports` from 10.1.0.0/24, plus `extra_elements`
// generated addresses in the allow set (for large-set tests).
std::string SampleRuleset(const std::string& host, const std::vector<int>& ports,
                          int extra_elements = 0, const std::string& revision_seed = "a");

// Moves the calling thread into a fresh network namespace and back on destruction. Threads
// started inside inherit the namespace.
class ScopedNetns {
 public:
  ScopedNetns();
  ~ScopedNetns();
  bool ok() const { return ok_; }

 private:
  int original_ = -1;
  bool ok_ = false;
};

// Runs `script` with a separate libnftables context (another "process" tampering).
bool RunNft(const std::string& script, std::string* error = nullptr);

}  // namespace polder::agent::testing

#endif  // POLDER_AGENT_TESTING_KERNEL_TEST_UTIL_H_
