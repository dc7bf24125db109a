# Renderer and lab tests. The nft/lab ones need root and make their own
# network namespaces (pt-<pid>-...), never touching the root ruleset.
if(TARGET polder)
  add_test(NAME render_goldens
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/render/goldens.sh $<TARGET_FILE:polder> ${PROJECT_SOURCE_DIR})
  add_test(NAME render_nft_check
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/render/nft_check.sh $<TARGET_FILE:polder> ${PROJECT_SOURCE_DIR} 40)
  set_tests_properties(render_nft_check PROPERTIES TIMEOUT 300 LABELS "root;render")
  add_test(NAME render_ipv6_host_e2e
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/render/ipv6_host_e2e.sh $<TARGET_FILE:polder> ${PROJECT_SOURCE_DIR})
  set_tests_properties(render_ipv6_host_e2e PROPERTIES TIMEOUT 120 LABELS "root;e2e;render"
                       RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
  if(TARGET polder-agent)
    foreach(kind bundled random)
      add_test(NAME render_lab_${kind}
               COMMAND ${CMAKE_CURRENT_LIST_DIR}/render/lab_e2e.sh $<TARGET_FILE:polder>
                       $<TARGET_FILE:polder-agent> ${PROJECT_SOURCE_DIR} ${kind} 12)
      set_tests_properties(render_lab_${kind} PROPERTIES TIMEOUT 900 LABELS "root;e2e;render"
                           RUN_SERIAL TRUE)
    endforeach()
  endif()
endif()
