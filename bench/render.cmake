# Ruleset compile time (Google Benchmark):
#   build/bench/polder_render_bench
# Packet cost, sets vs one rule per flow (root; own namespaces):
#   bench/render/packet_cost.sh build/compiler/cli/polder
if(TARGET polder_compiler)
  find_package(benchmark REQUIRED)
  add_executable(polder_render_bench ${CMAKE_CURRENT_LIST_DIR}/render/render_bench.cc)
  target_link_libraries(polder_render_bench PRIVATE polder_compiler benchmark::benchmark)
endif()
