// JUnit XML output of a policy check, for CI systems that show test reports
// (GitLab, Jenkins, GitHub test-report actions).
//
// One test case per invariant (failed when it is violated, with each
// counterexample path; skipped when the policy's errors kept invariants from
// being checked) and one test case for the policy itself (failed when it has
// any other error). Warnings go to the policy case's system-out. Each keep
// entry of each posture (spec §6a) is a test case of its own, classname
// "polder.postures.NAME", failed when check finds it violated in that
// posture.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"

namespace polder {

std::string ToJunit(const DiagnosticList& diagnostics, const std::string& revision,
                    const std::vector<Invariant>& invariants,
                    const std::vector<Posture>& postures = {});

}  // namespace polder
