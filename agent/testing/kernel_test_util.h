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

// A named network namespace (`ip netns add polder-t<pid>-<n>`), deleted on destruction, for
// tests that need two namespaces linked by a veth pair (traffic that crosses the hooks; a
// namespace's own addresses only ever talk over lo).
class NamedNetns {
 public:
  NamedNetns();
  ~NamedNetns();
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // Runs `command` (an `ip` command line, without the `ip`) inside this namespace.
  bool Ip(const std::string& command) const;

 private:
  std::string name_;
  bool ok_ = false;
};

// Links `a` (address `a_cidr`) and `b` (`b_cidr`) with a veth pair, both up, lo up in both.
bool LinkNamespaces(const NamedNetns& a, const std::string& a_cidr, const NamedNetns& b,
                    const std::string& b_cidr);

// Moves the calling thread into `ns` and back on destruction.
class EnterNetns {
 public:
  explicit EnterNetns(const NamedNetns& ns);
  ~EnterNetns();
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;
  bool ok() const { return ok_; }

 private:
  int original_ = -1;
  bool ok_ = false;
};

// Runs `script` with a separate libnftables context (another "process" tampering).
bool RunNft(const std::string& script, std::string* error = nullptr);

}  // namespace polder::agent::testing

#endif  // POLDER_AGENT_TESTING_KERNEL_TEST_UTIL_H_
