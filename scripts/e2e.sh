#!/usr/bin/env bash
# End to end: the bundled stack up with `msctl up`, every journey in scenarios/ run against it
# (JUnit report written), the stack taken down with its volumes even when something failed, and
# a check that nothing carrying msctl's label is left on the engine.
#
#   scripts/e2e.sh            (after `cargo build`; scripts/test.sh runs it last)
#
# Then schemathesis against every service's OpenAPI document through the gateway
# (scripts/schemathesis.sh), after `msctl load smoke` (loadtests/smoke.yaml, about 25 s).
# Environment: JUNIT (default target/journeys.xml).
set -euo pipefail
cd "$(dirname "$0")/.."
MSCTL=target/debug/msctl
JUNIT=${JUNIT:-target/journeys.xml}

leftovers() {
  { docker ps -aq --filter label=msctl.project;
    docker network ls -q --filter label=msctl.project;
    docker volume ls -q --filter label=msctl.project; } 2>/dev/null
}

finish() {
  local rc=$?
  echo "e2e: msctl down --volumes"
  "$MSCTL" down --volumes || rc=1
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "e2e: FAILED: resources labelled msctl.project are left on the engine:"
    docker ps -a --filter label=msctl.project --format '  container {{.Names}} ({{.Label "msctl.project"}})'
    docker network ls --filter label=msctl.project --format '  network {{.Name}}'
    docker volume ls --filter label=msctl.project --format '  volume {{.Name}}'
    rc=1
  else
    echo "e2e: nothing labelled msctl.project is left"
  fi
  exit $rc
}
trap finish EXIT

echo "e2e: msctl up (the bundled stack)"
"$MSCTL" up
echo "e2e: msctl test journeys --junit $JUNIT"
"$MSCTL" test journeys --junit "$JUNIT"
# A small load on the same stack (loadtests/smoke.yaml: 4 users, 20 s), its thresholds must
# hold (exit 99 otherwise); goose's HTML report is kept in target/.
echo "e2e: msctl load smoke --report target/load-smoke.html"
"$MSCTL" load smoke --report target/load-smoke.html --junit target/load-smoke.xml | tee target/load-smoke.txt
# The stack section (Docker stats and error lines during the run) names the gateway.
grep -q "shop-gateway-1 " target/load-smoke.txt || { echo "e2e: msctl load printed no stack section" >&2; exit 1; }
# After the journeys, so a fuzzer's leftovers cannot disturb them; bounded (under 3 minutes).
echo "e2e: schemathesis through the gateway (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh
