# The counting assertions of the CLI shell tests. Source it, run `expect`
# lines, then end with `expect_summary` (exit status 1 when any failed).
passed=0
failed=0

expect() {  # expect NAME WANT_EXIT WANT_TEXT COMMAND...
  local name=$1 want_exit=$2 want_text=$3
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want_exit" ] && grep -qF -- "$want_text" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc (want $want_exit), want text: $want_text"
    echo "$out" | head -20
  fi
}

expect_summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
