# End-to-end tests that run agents, controllers and real packets in network
# namespaces measure time-bounded behaviour (drift reported within 1 s,
# probes with short timeouts). Run them one at a time so that on a 2-core CI
# machine they never starve each other; unit tests still run alongside.
# (Included last: fragments are read in sorted order.)
set(polder_kernel_tests
  agent_drift_e2e agent_traffic_e2e agent_boot_e2e agent_uplink_e2e
  fleet_converge fleet_edit fleet_tamper fleet_controller-restart fleet_refused
  fleet_commit-confirmed fleet_quarantine ha_faults
  render_nft_check render_lab_bundled render_lab_random render_ipv6_host_e2e)
foreach(t ${polder_kernel_tests})
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RESOURCE_LOCK polder_kernel_lab)
  endif()
endforeach()
