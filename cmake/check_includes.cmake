# The include rules of docs/architecture.md, checked on every build
# (cmake -DROOT=<source dir> -P check_includes.cmake). Each rule: files under
# a folder may not include headers matching a pattern (fields split at @). A violation fails the
# build with file:line and the rule it breaks.
set(rules
  # folder            forbidden include (regex)                         why
  "compiler/@grpc@the compiler knows no gRPC"
  "compiler/@polder/v1/@the compiler knows no wire messages"
  "compiler/@nftables/@the compiler knows no kernel (libnftables)"
  "compiler/@libmnl@the compiler knows no kernel (libmnl)"
  "compiler/@libnftnl@the compiler knows no kernel (libnftnl)"
  "compiler/@^(agent|controller|cli|pki)/@the compiler depends on nothing downstream"
  "wire/@^(compiler|agent|controller|cli|pki)/@the wire contract depends on nothing but proto/"
  "agent/@^compiler/@the agent never links the compiler"
  "agent/@^controller/@agent and controller meet only on the wire"
  "controller/@^agent/@agent and controller meet only on the wire"
  "pki/@^(compiler|agent|controller|cli)/@pki depends on nothing but OpenSSL"
  "agent/@^cli/@nothing depends on the CLI"
  "controller/@^cli/@nothing depends on the CLI"
  "compiler/@^cli/@nothing depends on the CLI"
)
# yaml-cpp belongs to the front end, Boost to verification's sources.
set(owned
  "yaml-cpp/@compiler/frontend/[^/]*\\.cc$@yaml-cpp only in the loader (compiler/frontend/*.cc)"
  "boost/@compiler/verify/[^/]*\\.cc$@Boost only in verification's sources (no public header shows it)"
)

file(GLOB_RECURSE sources RELATIVE ${ROOT}
  ${ROOT}/compiler/*.cc ${ROOT}/compiler/*.h ${ROOT}/wire/*.cc ${ROOT}/wire/*.h
  ${ROOT}/agent/*.cc ${ROOT}/agent/*.h ${ROOT}/controller/*.cc ${ROOT}/controller/*.h
  ${ROOT}/pki/*.cc ${ROOT}/pki/*.h ${ROOT}/cli/*.cc ${ROOT}/cli/*.h
  ${ROOT}/bench/*.cc ${ROOT}/bench/*.h ${ROOT}/tests/*.cc ${ROOT}/tests/*.h)
set(violations "")
foreach(f ${sources})
  file(STRINGS ${ROOT}/${f} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line ${lines})
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*)[>\"].*" "\\1" header "${line}")
    foreach(rule ${rules})
      string(REPLACE "@" ";" parts "${rule}")
      list(GET parts 0 folder)
      list(GET parts 1 pattern)
      list(GET parts 2 why)
      string(FIND "${f}" "${folder}" at)
      if(at EQUAL 0 AND header MATCHES "${pattern}")
        string(APPEND violations "${f}: includes <${header}>: ${why}\n")
      endif()
    endforeach()
    foreach(rule ${owned})
      string(REPLACE "@" ";" parts "${rule}")
      list(GET parts 0 prefix)
      list(GET parts 1 allowed)
      list(GET parts 2 why)
      string(FIND "${header}" "${prefix}" at)
      if(at EQUAL 0 AND NOT f MATCHES "${allowed}")
        string(APPEND violations "${f}: includes <${header}>: ${why}\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "include boundaries broken (see docs/architecture.md):\n${violations}")
endif()
