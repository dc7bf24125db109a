# The lab's own end-to-end tests: `polder lab drill` with a real controller and agents in
# network namespaces the test makes (pt-<pid>-*). Root only; they run under the kernel lock.
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  foreach(scenario agree disagree)
    add_test(NAME lab_drill_${scenario}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/lab/drill_e2e.sh ${scenario}
                     $<TARGET_FILE:polder> $<TARGET_FILE:polder-controller>
                     $<TARGET_FILE:polder-agent> ${PROJECT_SOURCE_DIR})
    set_tests_properties(lab_drill_${scenario} PROPERTIES TIMEOUT 240 LABELS "root;e2e;lab"
                         SKIP_RETURN_CODE 77 RESOURCE_LOCK polder_kernel_lab)
  endforeach()
endif()
