# Zone-graph verification at scale (Google Benchmark) and the synthetic
# policy generator:
#   build/bin/polder_graph_bench --benchmark_repetitions=5
#   build/bin/polder_gen_policy --zones 1000 --hosts 100000 --flows 50000 --seed 1 OUTDIR
if(TARGET polder_verify)
  find_package(benchmark REQUIRED)
  find_package(CLI11 REQUIRED)
  add_library(polder_policy_generator STATIC ${CMAKE_CURRENT_LIST_DIR}/graph/policy_generator.cc)
  target_link_libraries(polder_policy_generator PUBLIC polder_verify)
  add_executable(polder_graph_bench ${CMAKE_CURRENT_LIST_DIR}/graph/graph_benchmark.cc)
  target_link_libraries(polder_graph_bench PRIVATE polder_policy_generator benchmark::benchmark)
  add_executable(polder_gen_policy ${CMAKE_CURRENT_LIST_DIR}/graph/gen_policy_main.cc)
  target_link_libraries(polder_gen_policy PRIVATE polder_policy_generator CLI11::CLI11)
endif()
