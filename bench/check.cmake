# `polder check` at scale (issue 15), and yaml-cpp's bare parse time beside it:
#   bench/check/check_bench.sh build
#   build/bin/polder_yaml_parse FILE...
if(TARGET polder_frontend)
  add_executable(polder_yaml_parse ${CMAKE_CURRENT_LIST_DIR}/check/yaml_parse_main.cc)
  target_link_libraries(polder_yaml_parse PRIVATE polder_frontend)
endif()
