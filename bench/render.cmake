# Ruleset compile time (Google Benchmark):
#   build/bin/polder_render_bench
# Packet cost and load time per layout (root; own namespaces):
#   bench/render/packet_cost.sh [COUNT [N...]]
# Load time of the 50,000-flow host of issue 10 (root; own namespace):
#   bench/render/big_host_load.sh build/bin/polder
if(TARGET polder_render)
  find_package(benchmark REQUIRED)
  add_executable(polder_render_bench ${CMAKE_CURRENT_LIST_DIR}/render/render_bench.cc)
  target_link_libraries(polder_render_bench PRIVATE polder_render polder_policy_testing benchmark::benchmark)
endif()
# CI runs both scripts at a small size: they assert nothing about time, only that every layout
# loads and passes the probe traffic (ping fails the script otherwise).
add_test(NAME bench_render_packet_cost_small
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/render/packet_cost.sh 200 10 1000)
set_tests_properties(bench_render_packet_cost_small PROPERTIES LABELS "root;bench;render"
                     TIMEOUT 300 RESOURCE_LOCK polder_kernel_lab)
if(TARGET polder)
  add_test(NAME bench_render_big_host_small
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/render/big_host_load.sh $<TARGET_FILE:polder> 100 5 50 1)
  set_tests_properties(bench_render_big_host_small PROPERTIES LABELS "root;bench;render"
                       TIMEOUT 300 RESOURCE_LOCK polder_kernel_lab)
endif()
