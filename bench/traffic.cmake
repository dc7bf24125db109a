# Observed traffic at scale (issue 11): aggregating reports and answering `polder unused`.
#   build/bin/polder_traffic_bench --benchmark_repetitions=5
if(TARGET polder_verify)
  find_package(benchmark REQUIRED)
  add_executable(polder_traffic_bench ${CMAKE_CURRENT_LIST_DIR}/traffic/traffic_bench.cc)
  target_link_libraries(polder_traffic_bench PRIVATE polder_verify polder_policy_testing
                        benchmark::benchmark)
endif()
# Kernel cost per new connection of the observation sets, and the agent's CPU and memory while
# it collects (root; own namespaces):
#   bench/traffic/observe_cost.sh build/bin/polder build/bin/polder-agent build/bin/udp_new_flows
add_executable(udp_new_flows ${CMAKE_CURRENT_LIST_DIR}/traffic/udp_new_flows.cc)
if(TARGET polder AND TARGET polder-agent)
  # CI runs it at a small size: no assertion on time, but the capped set and the agent must work.
  add_test(NAME bench_traffic_observe_cost_small
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/traffic/observe_cost.sh $<TARGET_FILE:polder>
                   $<TARGET_FILE:polder-agent> $<TARGET_FILE:udp_new_flows> 20000 1 20000 2)
  set_tests_properties(bench_traffic_observe_cost_small PROPERTIES LABELS "root;bench;traffic"
                       TIMEOUT 300 RESOURCE_LOCK polder_kernel_lab)
endif()
