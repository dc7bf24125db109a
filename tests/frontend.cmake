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
# The parallel and cached paths give the plain path's output byte for byte (issue 15).
if(TARGET polder_policy_generator)
  polder_test(load_equivalence_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/frontend/load_equivalence_test.cc
    LIBS polder_frontend polder_render polder_verify polder_policy_generator)
endif()
