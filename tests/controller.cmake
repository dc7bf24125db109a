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
