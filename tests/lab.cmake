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
# A lab with its own controller: `lab drill` without a lab brings one up and removes it;
# `lab up --with-controller` + `lab probe` compare with what that controller enforces.
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  add_test(NAME lab_controller_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/lab/lab_controller_e2e.sh $<TARGET_FILE:polder>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(lab_controller_e2e PROPERTIES TIMEOUT 240 LABELS "root;e2e;lab"
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK polder_kernel_lab)
endif()
# From audit to enforce (issue 11): the shared-service policy in audit mode in a lab, a known
# traffic mix, `polder traffic` counts it exactly, `polder suggest` + enforce lets the same mix
# through except what the suggestion refused by invariant, and `lab probe --complete` agrees.
if(TARGET polder-agent AND TARGET polder)
  add_test(NAME lab_audit_workflow
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/lab/audit_workflow_e2e.sh $<TARGET_FILE:polder>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(lab_audit_workflow PROPERTIES TIMEOUT 240 LABELS "root;e2e;lab"
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK polder_kernel_lab)
endif()
