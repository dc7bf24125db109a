#include "agent/testing/kernel_test_util.h"
#include "wire/sha256.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/libnftables_kernel.h"
#include "agent/ruleset.h"
#include "wire/ruleset_header.h"

namespace polder::agent::testing {

std::string SampleRuleset(const std::string& host, const std::vector<int>& ports,
                          int extra_elements, const std::string& revision_seed) {
  std::vector<std::string> elements;
  for (int p : ports) elements.push_back(absl::StrCat("10.1.0.0/24 . tcp . ", p));
  for (int i = 0; i < extra_elements; ++i) {
    elements.push_back(absl::StrCat("10.", 100 + (i >> 16), ".", (i >> 8) & 0xff, ".", i & 0xff,
                                    " . tcp . ", 1000 + i % 50000));
  }
  std::string body = absl::StrCat(
      "table inet polder {\n"
      "\tset in_allow_v4 { type ipv4_addr . inet_proto . inet_service; flags interval; "
      "elements = { ",
      absl::StrJoin(elements, ", "),
      " } }\n"
      "\tchain input { type filter hook input priority filter; policy drop;\n"
      "\t\tct state established,related accept\n"
      "\t\tiif \"lo\" accept\n"
      "\t\tip saddr . meta l4proto . th dport @in_allow_v4 counter accept\n"
      "\t}\n"
      "\tchain output { type filter hook output priority filter; policy accept;\n"
      "\t\tct state established,related accept\n"
      "\t\toif \"lo\" accept\n"
      "\t}\n"
      "}\n");
  return absl::StrCat(
      wire::FormatRulesetHeader({host, wire::Sha256Hex(revision_seed), wire::Mode::kEnforce}),
      "table inet polder\ndelete table inet polder\n", body);
}

ScopedNetns::ScopedNetns() {
  original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  ok_ = original_ >= 0 && unshare(CLONE_NEWNET) == 0;
}

ScopedNetns::~ScopedNetns() {
  if (original_ < 0) return;
  if (ok_ && setns(original_, CLONE_NEWNET) != 0) abort();  // Never continue in the wrong netns.
  close(original_);
}

namespace {
std::atomic<int> next_netns{0};

bool Run(const std::string& command) { return std::system(command.c_str()) == 0; }
}  // namespace

NamedNetns::NamedNetns() : name_(absl::StrCat("polder-t", getpid(), "-", next_netns++)) {
  ok_ = Run(absl::StrCat("ip netns add ", name_));
}

NamedNetns::~NamedNetns() {
  if (ok_) Run(absl::StrCat("ip netns del ", name_));
}

bool NamedNetns::Ip(const std::string& command) const {
  return ok_ && Run(absl::StrCat("ip -n ", name_, " ", command));
}

bool LinkNamespaces(const NamedNetns& a, const std::string& a_cidr, const NamedNetns& b,
                    const std::string& b_cidr) {
  return a.Ip(absl::StrCat("link add va type veth peer name vb netns ", b.name())) &&
         a.Ip(absl::StrCat("addr add ", a_cidr, " dev va")) &&
         b.Ip(absl::StrCat("addr add ", b_cidr, " dev vb")) && a.Ip("link set va up") &&
         b.Ip("link set vb up") && a.Ip("link set lo up") && b.Ip("link set lo up");
}

EnterNetns::EnterNetns(const NamedNetns& ns) {
  original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(absl::StrCat("/var/run/netns/", ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  ok_ = original_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
  if (target >= 0) close(target);
}

EnterNetns::~EnterNetns() {
  if (original_ < 0) return;
  if (ok_ && setns(original_, CLONE_NEWNET) != 0) abort();  // Never continue in the wrong netns.
  close(original_);
}

bool RunNft(const std::string& script, std::string* error) {
  auto kernel = LibNftablesKernel::Create();
  if (!kernel.ok()) return false;
  absl::Status st = (*kernel)->Run(script, false);
  if (error) *error = std::string(st.message());
  return st.ok();
}

}  // namespace polder::agent::testing
