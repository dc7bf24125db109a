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
endif()
