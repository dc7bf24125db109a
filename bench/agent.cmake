# Benchmarks of polder-agent (Google Benchmark). The binary unshares its own network namespace,
# so it never touches the host's ruleset; it needs root. Run:
#   build/bin/polder_agent_bench --benchmark_filter=...
if(TARGET polder_agent)
  find_package(benchmark REQUIRED)
  add_executable(polder_agent_bench ${CMAKE_CURRENT_LIST_DIR}/agent/agent_bench.cc)
  target_link_libraries(polder_agent_bench PRIVATE polder_agent benchmark::benchmark)
  # The libnftnl path (structured rulesets): build/bin/polder_agent_nftnl_bench
  add_executable(polder_agent_nftnl_bench ${CMAKE_CURRENT_LIST_DIR}/agent/nftnl_bench.cc)
  target_link_libraries(polder_agent_nftnl_bench PRIVATE polder_agent polder_agent_testing
                        benchmark::benchmark)
  # CI runs the libnftnl benchmarks at a small size: no assertion on time, only that every
  # load, change, drift report and restore works (the binary exits 1 otherwise).
  add_test(NAME bench_agent_nftnl_small
           COMMAND polder_agent_nftnl_bench
                   "--benchmark_filter=BM_StructuredLoad/addresses:10000/|BM_StructuredChange1k/addresses:10000/|BM_StructuredDrift/addresses:100/")
  set_tests_properties(bench_agent_nftnl_small PROPERTIES LABELS "root;bench;agent" TIMEOUT 300
                       RESOURCE_LOCK polder_kernel_lab)
endif()
