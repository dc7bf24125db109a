# Simulated agents for the several-controllers benchmark (bench/ha/ha_fleet_bench.sh): they
# speak the agent protocol and choose controllers as polder-agent does (its rendezvous order).
if(TARGET polder_agent_uplink)
  add_executable(polder_ha_fleet_sim ${CMAKE_CURRENT_LIST_DIR}/ha/ha_fleet_sim.cc)
  target_link_libraries(polder_ha_fleet_sim PRIVATE polder_agent_uplink)
endif()

# Small runs in CI (no root, needs etcd): the fleet benchmark at 600 agents (it fails when an
# agent never acknowledges, is not back in sync after the kill, loses its stream on a surviving
# controller or is sent an unchanged ruleset again), and the "nothing lost" run with 90
# operations under faults.
if(TARGET polder_ha_fleet_sim AND TARGET polder-controller AND TARGET polder)
  add_test(NAME bench_ha_fleet_small
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ha/ha_fleet_bench.sh ${CMAKE_BINARY_DIR} 600 1 1 1)
  set_tests_properties(bench_ha_fleet_small PROPERTIES LABELS "ha;bench" TIMEOUT 300)
  add_test(NAME ha_nothing_lost
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ha/nothing_lost.sh ${CMAKE_BINARY_DIR} 90 60)
  set_tests_properties(ha_nothing_lost PROPERTIES LABELS "ha" TIMEOUT 300)
endif()
