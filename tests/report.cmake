# The HTML report (polder report) in a real browser: headless Chromium takes a
# screenshot and dumps the DOM of the page for the bundled policies. Skips
# (77) when chromium is not installed; scripts/install-deps.sh --test brings it.
if(TARGET polder)
  add_test(NAME report_browser
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/report/report_browser.sh $<TARGET_FILE:polder>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(report_browser PROPERTIES TIMEOUT 300 LABELS "report;browser"
                       SKIP_RETURN_CODE 77)
endif()
