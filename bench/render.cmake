# Ruleset compile time (Google Benchmark):
#   build/bin/polder_render_bench
# Packet cost, sets vs one rule per flow (root; own namespaces):
#   bench/render/packet_cost.sh build/bin/polder
if(TARGET polder_render)
  find_package(benchmark REQUIRED)
  add_executable(polder_render_bench ${CMAKE_CURRENT_LIST_DIR}/render/render_bench.cc)
  target_link_libraries(polder_render_bench PRIVATE polder_render polder_policy_testing benchmark::benchmark)
endif()
