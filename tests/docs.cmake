# The docs that are generated from the code stay equal to it.
add_test(NAME docs.diagnostic_codes
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/diagnostic_codes_test.sh $<TARGET_FILE:polder>)
