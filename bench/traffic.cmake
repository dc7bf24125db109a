# Observed traffic at scale (issue 11): aggregating reports and answering `polder unused`.
#   build/bin/polder_traffic_bench --benchmark_repetitions=5
if(TARGET polder_verify)
  find_package(benchmark REQUIRED)
  add_executable(polder_traffic_bench ${CMAKE_CURRENT_LIST_DIR}/traffic/traffic_bench.cc)
  target_link_libraries(polder_traffic_bench PRIVATE polder_verify polder_policy_testing
                        benchmark::benchmark)
endif()
