# Fleet simulator: many agent streams in one process against one controller
# in a child process (so the controller's memory can be measured alone).
if(TARGET polder_controller)
  add_executable(controller_fleet_bench ${CMAKE_CURRENT_LIST_DIR}/controller/fleet_bench.cc)
  target_link_libraries(controller_fleet_bench PRIVATE polder_controller)
endif()
