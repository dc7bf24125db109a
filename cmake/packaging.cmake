# Debian packages (issue 13.6): polder, polder-agent and polder-controller, built by CPack's DEB
# generator from the install rules of the three programs (COMPONENT polder|agent|controller) and
# the files below. scripts/package.sh builds them into build/packages/; tests/packaging/ installs
# them into a throwaway root and checks them with lintian and systemd-analyze.
#
# Paths are the ones Debian 12 uses: programs in /usr/bin, units in /lib/systemd/system,
# configuration in /etc, state in /var/lib. The /etc and /lib paths are absolute, so install
# through the packages (or with DESTDIR), not with a bare `cmake --install`.

# CPack needs only the three programs and their man pages, not every test and benchmark.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
# Directories the install rules create are 0755 whatever the umask of the build.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(POLDER_DEB_MAINTAINER "polder developers <polder@example.org>"
    CACHE STRING "Maintainer field of the Debian packages")
set(POLDER_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages (VERSION-RELEASE)")
set(POLDER_DEB_DATE "Wed, 02 Dec 2026 12:00:00 +0000"
    CACHE STRING "Date of the packages' changelog.Debian entry (RFC 2822)")
set(pkg_src ${PROJECT_SOURCE_DIR}/packaging/deb)
set(pkg_out ${CMAKE_BINARY_DIR}/packaging)

# Man pages made from each program's --help (help2man) plus its FILES and SEE ALSO sections
# (packaging/deb/PROGRAM.h2m), compressed as Debian wants them.
find_program(POLDER_HELP2MAN help2man)
find_program(POLDER_GZIP gzip)
set(man_polder "the network-segmentation policy checker and compiler")
set(man_polder-agent "enforce a host's polder ruleset in nftables")
set(man_polder-controller "serve each polder agent its host's ruleset")
if(POLDER_HELP2MAN AND POLDER_GZIP)
  set(man_pages)
  foreach(prog polder polder-agent polder-controller)
    add_custom_command(
      OUTPUT ${pkg_out}/man/${prog}.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${pkg_out}/man
      COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=1796212800 ${POLDER_HELP2MAN}
              --no-info --no-discard-stderr --version-string=${PROJECT_VERSION}
              --name=${man_${prog}} --include=${pkg_src}/${prog}.h2m
              --output=${pkg_out}/man/${prog}.1 $<TARGET_FILE:${prog}>
      COMMAND ${POLDER_GZIP} -9nf ${pkg_out}/man/${prog}.1
      DEPENDS ${prog} ${pkg_src}/${prog}.h2m
      COMMENT "man page ${prog}(1) from --help"
      VERBATIM)
    list(APPEND man_pages ${pkg_out}/man/${prog}.1.gz)
  endforeach()
  add_custom_target(polder_man ALL DEPENDS ${man_pages})
  install(FILES ${pkg_out}/man/polder.1.gz DESTINATION share/man/man1 COMPONENT polder)
  install(FILES ${pkg_out}/man/polder-agent.1.gz DESTINATION share/man/man1 COMPONENT agent)
  install(FILES ${pkg_out}/man/polder-controller.1.gz DESTINATION share/man/man1
          COMPONENT controller)
else()
  message(STATUS "help2man or gzip not found: no man pages, so no Debian packages "
                 "(bash scripts/install-deps.sh installs help2man)")
endif()

# Per package: copyright and changelog.Debian.gz in /usr/share/doc/PACKAGE.
configure_file(${pkg_src}/changelog.in ${pkg_out}/changelog.Debian @ONLY)
add_custom_command(
  OUTPUT ${pkg_out}/changelog.Debian.gz
  COMMAND ${POLDER_GZIP} -9nc ${pkg_out}/changelog.Debian > ${pkg_out}/changelog.Debian.gz
  DEPENDS ${pkg_out}/changelog.Debian
  COMMENT "changelog.Debian.gz")
add_custom_target(polder_deb_changelog ALL DEPENDS ${pkg_out}/changelog.Debian.gz)
foreach(comp polder agent controller)
  if(comp STREQUAL "polder")
    set(pkg polder)
  else()
    set(pkg polder-${comp})
  endif()
  install(FILES ${pkg_src}/copyright ${pkg_out}/changelog.Debian.gz
          DESTINATION share/doc/${pkg} COMPONENT ${comp})
endforeach()

# polder: the example policies and the JSON Schema of the policy files.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/policies/ DESTINATION share/polder/examples
        COMPONENT polder)
install(FILES ${PROJECT_SOURCE_DIR}/docs/policy.schema.json DESTINATION share/polder
        COMPONENT polder)

# polder-agent: both units, the configuration file and /etc/polder/tls. The postinst makes the
# state directory /var/lib/polder-agent (0700, as StateDirectoryMode= has it).
install(FILES ${PROJECT_SOURCE_DIR}/examples/systemd/polder-agent.service
              ${PROJECT_SOURCE_DIR}/examples/systemd/polder-agent-boot.service
        DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/examples/systemd/polder-agent.default
        DESTINATION /etc/default RENAME polder-agent COMPONENT agent)
install(DIRECTORY DESTINATION /etc/polder/tls COMPONENT agent)

# polder-controller: its unit and configuration file; the postinst makes the user polder and
# /var/lib/polder (owned by it), so that directory is not in the package.
install(FILES ${PROJECT_SOURCE_DIR}/examples/systemd/polder-controller.service
        DESTINATION /lib/systemd/system COMPONENT controller)
install(FILES ${PROJECT_SOURCE_DIR}/examples/systemd/polder-controller.default
        DESTINATION /etc/default RENAME polder-controller COMPONENT controller)
install(DIRECTORY DESTINATION /etc/polder/policy COMPONENT controller)
install(DIRECTORY DESTINATION /etc/polder/pki COMPONENT controller)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME polder)
set(CPACK_PACKAGE_VENDOR "polder")
set(CPACK_PACKAGE_CONTACT "${POLDER_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL polder agent controller)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${POLDER_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${POLDER_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_POLDER_PACKAGE_NAME polder)
set(CPACK_DEBIAN_POLDER_PACKAGE_RECOMMENDS "graphviz")
set(CPACK_DEBIAN_POLDER_PACKAGE_SUGGESTS "iproute2, nftables")
set(CPACK_COMPONENT_POLDER_DESCRIPTION
    "network-segmentation policies: check, compile, fleet commands\n\
polder makes network segmentation a reviewed, tested, enforced artefact:\n\
zones, hosts, services, flows and invariants are written in YAML. polder\n\
check proves that no unintended path exists and shows the shortest\n\
counterexample; polder compile writes each host's nftables ruleset; the\n\
fleet commands (pki, status, quarantine, audit) talk to polder-controller.\n\
Example policies are in /usr/share/polder/examples.")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME polder-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION net)
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${pkg_src}/polder-agent/conffiles ${pkg_src}/polder-agent/postinst
    ${pkg_src}/polder-agent/prerm ${pkg_src}/polder-agent/postrm)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "polder agent: enforces this host's ruleset in nftables\n\
polder-agent applies the ruleset polder-controller assigns to this host\n\
(table inet polder) in one atomic transaction, watches the kernel for\n\
changes to it and restores it. polder-agent-boot.service loads the last\n\
confirmed ruleset before the network comes up. Configure the host name and\n\
the controller in /etc/default/polder-agent and put the files of\n\
polder pki issue in /etc/polder/tls.")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME polder-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_CONTROL_EXTRA
    ${pkg_src}/polder-controller/conffiles ${pkg_src}/polder-controller/postinst
    ${pkg_src}/polder-controller/prerm ${pkg_src}/polder-controller/postrm)
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION
    "polder controller: serves each agent its host's ruleset\n\
polder-controller compiles the policy in /etc/polder/policy and serves\n\
every polder-agent its host's nftables ruleset over mutual TLS, keeps the\n\
fleet's state and audit log in SQLite (/var/lib/polder) and exports\n\
Prometheus metrics. Configure it in /etc/default/polder-controller.")

include(CPack)
