# End-to-end tests of `polder explain`, `diff` and `reach` (text and JSON) as
# users run them, on the bundled policies.
add_test(NAME cli.explain_diff_reach
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/explain_diff_reach_test.sh $<TARGET_FILE:polder>
          ${PROJECT_SOURCE_DIR})

# `polder traffic`, `unused` and `suggest` over an agent's traffic spool (issue 11).
add_test(NAME cli.traffic
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/traffic_test.sh $<TARGET_FILE:polder>
          ${PROJECT_SOURCE_DIR})

# `polder compile` writes the provenance map of every host's counters beside its ruleset (issue 11).
add_test(NAME cli.compile_provenance
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/compile_provenance_test.sh $<TARGET_FILE:polder>
          ${PROJECT_SOURCE_DIR})
