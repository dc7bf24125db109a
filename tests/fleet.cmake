# Fleet end-to-end tests: polder-controller plus one polder-agent per host of
# policies/municipality, each in network namespaces the test makes (pt-<pid>-*)
# and removes, mutual TLS, real packets. Root only; labelled `root` like the
# agent e2e tests (ctest -L fleet runs just these).
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  foreach(scenario converge edit tamper controller-restart refused commit-confirmed quarantine
                   posture certificates)
    add_test(NAME fleet_${scenario}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/fleet/fleet_e2e.sh ${scenario}
                     $<TARGET_FILE:polder> $<TARGET_FILE:polder-controller>
                     $<TARGET_FILE:polder-agent> ${PROJECT_SOURCE_DIR}/policies/municipality)
    set_tests_properties(fleet_${scenario} PROPERTIES TIMEOUT 180 LABELS "root;e2e;fleet"
                         RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
  endforeach()
  set_tests_properties(fleet_posture fleet_certificates PROPERTIES RESOURCE_LOCK polder_kernel_lab)
endif()

# An agent that cannot store its ruleset shows as degraded (store-error) in `polder status`
# (issue 13.3): controller and agent on the loopback of one namespace the test makes.
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  add_test(NAME fleet_degraded
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/fleet/degraded_e2e.sh $<TARGET_FILE:polder>
                   $<TARGET_FILE:polder-controller> $<TARGET_FILE:polder-agent>
                   ${PROJECT_SOURCE_DIR}/policies/municipality)
  set_tests_properties(fleet_degraded PROPERTIES TIMEOUT 120 LABELS "root;e2e;fleet"
                       RUN_SERIAL TRUE SKIP_RETURN_CODE 77 RESOURCE_LOCK polder_kernel_lab)
endif()
