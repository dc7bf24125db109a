# The build enforces the one-way arrows of docs/architecture.md:
# - at configure time, the link closure of each part may not contain targets
#   its arrows forbid (the agent never links the compiler, nothing links the
#   CLI, the compiler links no gRPC);
# - on every build, check_includes.cmake reads every source's #includes.

# Every target `target` links, directly or through others.
function(polder_link_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(type ${t} TYPE)
    set(deps "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(d ${deps})
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      list(APPEND todo ${d})
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(polder_forbid_links target why)
  polder_link_closure(${target} closure)
  foreach(bad ${ARGN})
    if(bad IN_LIST closure)
      message(FATAL_ERROR "${target} links ${bad}: ${why} (docs/architecture.md)")
    endif()
  endforeach()
endfunction()

set(polder_compiler_targets polder_model polder_frontend polder_verify polder_render)
foreach(t polder_agent polder_agent_uplink polder-agent)
  polder_forbid_links(${t} "the agent never links the compiler" ${polder_compiler_targets})
  polder_forbid_links(${t} "agent and controller meet only on the wire" polder_controller)
endforeach()
foreach(t polder_wire ${polder_compiler_targets})
  polder_forbid_links(${t} "the compiler and the gRPC-free wire contract know no gRPC"
                      polder_proto polder_wire_grpc PkgConfig::GRPCPP)
endforeach()
# yaml-cpp is PRIVATE to the front end: no other compiler target may reach it.
foreach(t polder_model polder_wire)
  polder_forbid_links(${t} "yaml-cpp only in the front end" yaml-cpp)
endforeach()
foreach(t polder_model polder_verify polder_render polder_wire polder_wire_grpc polder_agent
          polder_agent_uplink polder_controller polder_pki polder_lab)
  polder_forbid_links(${t} "nothing depends on the CLI" polder_cli_commands)
endforeach()

add_custom_target(check_boundaries ALL
  COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
  COMMENT "Checking include boundaries (docs/architecture.md)")
add_test(NAME check_boundaries
  COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake)
