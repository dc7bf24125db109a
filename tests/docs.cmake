# The docs that are generated from the code stay equal to it.
add_test(NAME docs.diagnostic_codes
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/diagnostic_codes_test.sh $<TARGET_FILE:polder>)
# The README's command reference names every command and flag the programs accept.
add_test(NAME docs.readme_commands
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/readme_commands_test.sh $<TARGET_FILE_DIR:polder>)
