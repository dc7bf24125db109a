# End-to-end tests of `polder check` as users run it.
add_test(NAME frontend.check_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/frontend/check_cli_test.sh $<TARGET_FILE:polder>
          ${PROJECT_SOURCE_DIR})
add_test(NAME frontend.schema
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/frontend/schema_test.py ${PROJECT_SOURCE_DIR})
# The loader fuzzer under ASan/UBSan for a bounded time (builds with clang).
add_test(NAME frontend.fuzz_loader
  COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh 60)
set_tests_properties(frontend.fuzz_loader PROPERTIES TIMEOUT 900)
