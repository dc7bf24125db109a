# End-to-end tests of polder-agent: real kernel, real packets, in network namespaces the tests
# create and remove themselves (names pt-<pid>-<n>). They need root; labelled `root` so they
# can be selected (ctest -L root) or skipped (ctest -LE root).
if(TARGET polder-agent)
  foreach(script drift_e2e traffic_e2e boot_e2e)
    add_test(NAME agent_${script}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/${script}.sh $<TARGET_FILE:polder-agent>)
    set_tests_properties(agent_${script} PROPERTIES TIMEOUT 300 LABELS "root;e2e;agent"
                         RUN_SERIAL TRUE)
  endforeach()
endif()

# The bootstrap ruleset `polder pki issue --controller` writes, loaded by `polder-agent --boot`
# in namespaces: only the controller's port gets through.
if(TARGET polder-agent AND TARGET polder)
  add_test(NAME agent_bootstrap_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/bootstrap_e2e.sh $<TARGET_FILE:polder-agent>
                   $<TARGET_FILE:polder>)
  set_tests_properties(agent_bootstrap_e2e PROPERTIES TIMEOUT 120 LABELS "root;e2e;agent"
                       RUN_SERIAL TRUE RESOURCE_LOCK polder_kernel_lab)
endif()

# Observed traffic (issue 11): known connections in, exact counts in the agent's spool and in
# `polder traffic --local`, loss counted.
if(TARGET polder-agent AND TARGET polder)
  add_test(NAME agent_observed_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/observed_e2e.sh $<TARGET_FILE:polder-agent>
                   $<TARGET_FILE:polder>)
  set_tests_properties(agent_observed_e2e PROPERTIES TIMEOUT 120 LABELS "root;e2e;agent"
                       RUN_SERIAL TRUE RESOURCE_LOCK polder_kernel_lab)
endif()

# Observed traffic through a controller (issue 11): agent and controller in a namespace, exact
# counts in `polder traffic --controller` before and after the controller is killed and
# restarted (replay after reconnect, a resend counted once).
if(TARGET polder-agent AND TARGET polder AND TARGET polder-controller)
  add_test(NAME agent_uplink_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/uplink_e2e.sh $<TARGET_FILE:polder-agent>
                   $<TARGET_FILE:polder> $<TARGET_FILE:polder-controller>)
  set_tests_properties(agent_uplink_e2e PROPERTIES TIMEOUT 120 LABELS "root;e2e;agent"
                       RUN_SERIAL TRUE RESOURCE_LOCK polder_kernel_lab)
endif()

# Issue 10's reliability goals through libnftnl: 200 revisions under live traffic (a long-lived
# connection, allowed and denied attempts), foreign tables byte for byte, kill -9 during applies.
if(TARGET polder-agent AND TARGET polder)
  add_test(NAME agent_reliability_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/reliability_e2e.sh $<TARGET_FILE:polder-agent>
                   $<TARGET_FILE:polder>)
  set_tests_properties(agent_reliability_e2e PROPERTIES TIMEOUT 300 LABELS "root;e2e;agent"
                       RUN_SERIAL TRUE RESOURCE_LOCK polder_kernel_lab)
endif()

# The shipped systemd units pass `systemd-analyze verify` (static, in a temporary root; no root
# needed). Skipped where systemd-analyze is missing.
add_test(NAME agent_systemd_units_verify
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/agent/systemd_units_verify.sh
                 ${PROJECT_SOURCE_DIR}/examples/systemd)
set_tests_properties(agent_systemd_units_verify PROPERTIES TIMEOUT 60 LABELS "agent"
                     SKIP_RETURN_CODE 77)
