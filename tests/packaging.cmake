# The Debian packages (issue 13.6): scripts/package.sh builds them, lintian finds no error, and
# dpkg -i installs them into a throwaway overlay root where polder checks the bundled example
# and systemd-analyze verifies the installed units. Root only (it mounts and chroots); skipped
# only when a tool is missing (install-deps.sh --test installs them all).
if(TARGET polder AND TARGET polder-agent AND TARGET polder-controller)
  add_test(NAME packaging_deb
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/packaging/deb_install.sh ${PROJECT_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR})
  # RUN_SERIAL: package.sh may build (and, if help2man came after the configure, reconfigure)
  # this build tree, which must not happen while other tests run its programs.
  set_tests_properties(packaging_deb PROPERTIES TIMEOUT 600 LABELS "root;packaging"
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
