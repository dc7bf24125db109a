# High availability (issue 12): a hostile agent against a real controller on 127.0.0.1 with
# mutual TLS (messages it must refuse or not believe; the Hello's in-sync and generation rules).
if(TARGET polder_controller)
  add_executable(ha_hostile_agent_test
    ${CMAKE_CURRENT_LIST_DIR}/ha/hostile_agent_test.cc ${CMAKE_CURRENT_LIST_DIR}/ha/raw_agent.cc)
  target_link_libraries(ha_hostile_agent_test PRIVATE polder_controller GTest::gtest_main)
  add_test(NAME ha_hostile_agent_test COMMAND ha_hostile_agent_test)
  set_tests_properties(ha_hostile_agent_test PROPERTIES TIMEOUT 300 LABELS "ha")
endif()

# The state-store contract on SQLite and on a real etcd (started by the test on 127.0.0.1 with
# free ports, data on tmpfs, killed at the end), and two Fleets sharing one etcd store. Needs
# etcd (etcd-server, installed by scripts/install-deps.sh --test).
if(TARGET polder_controller)
  add_executable(ha_state_store_contract_test
    ${CMAKE_CURRENT_LIST_DIR}/ha/state_store_contract_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/ha/etcd_process.cc)
  target_link_libraries(ha_state_store_contract_test PRIVATE polder_controller GTest::gtest_main)
  add_test(NAME ha_state_store_contract_test COMMAND ha_state_store_contract_test)
  set_tests_properties(ha_state_store_contract_test PROPERTIES TIMEOUT 300 LABELS "ha")
endif()

# Publish end to end (issue 12, step 1): 3 etcd members and 2 controllers on 127.0.0.1; adopt at
# start (an old checkout cannot roll back), `polder publish` reaching the other controller, a
# refused publish, an edited --policy published while running. Needs etcd; no root.
if(TARGET polder-controller AND TARGET polder)
  add_test(NAME ha_publish
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/ha/publish_e2e.sh $<TARGET_FILE:polder>
                   $<TARGET_FILE:polder-controller> ${PROJECT_SOURCE_DIR}/policies/municipality)
  set_tests_properties(ha_publish PROPERTIES TIMEOUT 120 LABELS "ha" SKIP_RETURN_CODE 77)
endif()

# Membership and fenced leader election on a real etcd: a leader paused past its lease has its
# stale writes refused (issue 12, step 2); the fleet's traffic high-water marks. Needs etcd; no
# root.
if(TARGET polder_controller)
  add_executable(ha_leadership_test
    ${CMAKE_CURRENT_LIST_DIR}/ha/leadership_test.cc ${CMAKE_CURRENT_LIST_DIR}/ha/traffic_marks_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/ha/etcd_process.cc)
  target_link_libraries(ha_leadership_test PRIVATE polder_controller GTest::gtest_main)
  add_test(NAME ha_leadership_test COMMAND ha_leadership_test)
  set_tests_properties(ha_leadership_test PROPERTIES TIMEOUT 120 LABELS "ha")
endif()

# The fault test (issue 12): 3 etcd members, 3 controllers and real agents in namespaces the test
# makes (ph-<pid>-*); SIGKILL of a controller (failover, nothing re-applied), publish and
# quarantine across controllers, SIGKILL of the etcd leader, SIGSTOP of the leading controller,
# loss of etcd quorum, a black-holed controller port, every controller down while an agent
# restarts, all under a never-open watch. Prints FIGURE lines (~105 s). Root and etcd.
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  add_test(NAME ha_faults
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/ha/fault_e2e.sh $<TARGET_FILE:polder>
                   $<TARGET_FILE:polder-controller> $<TARGET_FILE:polder-agent>
                   ${PROJECT_SOURCE_DIR}/policies/municipality)
  set_tests_properties(ha_faults PROPERTIES TIMEOUT 360 LABELS "ha;root;e2e"
                       RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()

# Observed traffic on 2 controllers on etcd with real agents that fail over (traffic_e2e.sh):
# the fleet's answer from either controller, a dead controller named as missing, exact counts
# after its restart (the fleet's high-water marks). Root and etcd.
if(TARGET polder-agent AND TARGET polder-controller AND TARGET polder)
  add_test(NAME ha_traffic
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/ha/traffic_e2e.sh $<TARGET_FILE:polder>
                   $<TARGET_FILE:polder-controller> $<TARGET_FILE:polder-agent>
                   ${PROJECT_SOURCE_DIR}/policies/municipality)
  set_tests_properties(ha_traffic PROPERTIES TIMEOUT 240 LABELS "ha;root;e2e"
                       RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()
