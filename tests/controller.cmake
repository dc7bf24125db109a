# Controller tests over loopback (127.0.0.1 only): an in-process controller
# with mutual TLS and gRPC test clients posing as agents, admins and
# intruders.
if(TARGET polder_controller)
  add_executable(controller_loopback_test
    ${CMAKE_CURRENT_LIST_DIR}/controller/controller_loopback_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/controller/test_agent.cc)
  target_link_libraries(controller_loopback_test PRIVATE polder_controller GTest::gtest_main)
  add_test(NAME controller_loopback_test COMMAND controller_loopback_test)
  set_tests_properties(controller_loopback_test PROPERTIES TIMEOUT 300)
endif()

# Certificates over their life: the real controller and the real agent uplink
# (over a fake kernel) on 127.0.0.1: renew without a restart, revoke an open
# agent stream and an admin.
if(TARGET polder_controller AND TARGET polder_agent_uplink)
  add_executable(cert_lifecycle_test ${CMAKE_CURRENT_LIST_DIR}/controller/cert_lifecycle_test.cc)
  target_link_libraries(cert_lifecycle_test
    PRIVATE polder_controller polder_agent_uplink polder_agent_testing GTest::gtest_main)
  add_test(NAME cert_lifecycle_test COMMAND cert_lifecycle_test)
  set_tests_properties(cert_lifecycle_test PROPERTIES TIMEOUT 120)
endif()
