// KernelTest: a gtest fixture for tests of the real kernel. Each test runs in a fresh network
// namespace of its own (never the host's) with a LibNftablesKernel opened in it, and is
// skipped when not run as root. Test-only: include it from *_test.cc files.
#ifndef POLDER_AGENT_TESTING_KERNEL_FIXTURE_H_
#define POLDER_AGENT_TESTING_KERNEL_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "agent/libnftables_kernel.h"
#include "agent/testing/kernel_test_util.h"

namespace polder::agent::testing {

class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
    netns_ = std::make_unique<ScopedNetns>();
    ASSERT_TRUE(netns_->ok());
    auto k = LibNftablesKernel::Create();
    ASSERT_TRUE(k.ok());
    kernel_ = std::move(*k);
  }
  void TearDown() override {
    kernel_.reset();  // before leaving the namespace it was opened in
    netns_.reset();
  }

  std::unique_ptr<ScopedNetns> netns_;
  std::unique_ptr<LibNftablesKernel> kernel_;
};

}  // namespace polder::agent::testing

#endif  // POLDER_AGENT_TESTING_KERNEL_FIXTURE_H_
