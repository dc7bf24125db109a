# Simulated agents for the several-controllers benchmark (bench/ha/ha_fleet_bench.sh): they
# speak the agent protocol and choose controllers as polder-agent does (its rendezvous order).
if(TARGET polder_agent_uplink)
  add_executable(polder_ha_fleet_sim ${CMAKE_CURRENT_LIST_DIR}/ha/ha_fleet_sim.cc)
  target_link_libraries(polder_ha_fleet_sim PRIVATE polder_agent_uplink)
endif()
