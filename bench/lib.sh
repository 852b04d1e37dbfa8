# Sourced by every bench/*.sh (never run): the smoke switch, loud failures, clean-up on exit,
# timing that cannot record a failed run, and what several benches share.
#
# Smoke mode: `--smoke` anywhere among a bench's arguments, or BENCH_SMOKE=1 in the environment.
# A smoke run does the bench's real work end to end (real containers where the bench uses
# them) with tiny counts, in seconds rather than minutes; it fails on a failed run exactly as a
# full run does, judges no target, and marks its result lines `[smoke]`: its figures are not
# results, never record them. scripts/bench-smoke.sh runs every bench this way (CI runs it).
#
# Failures: `fail SENTENCE` prints "BENCH: FAILED: SENTENCE" on stderr and exits 1; any other
# command that fails under `set -e` does the same, naming the command (the ERR trap below, also
# inside functions and command substitutions: errtrace, inherit_errexit). A function run in a
# condition (`if f`, `f || …`, `timed … f`) runs with `set -e` suspended, as bash does: such a
# function must chain its steps with `&&` or `|| return`.

BENCH=$(basename "$0" .sh)
BENCH_SMOKE=${BENCH_SMOKE:-0}
_bench_args=()
for _bench_a in "$@"; do
  if [ "$_bench_a" = --smoke ]; then BENCH_SMOKE=1; else _bench_args+=("$_bench_a"); fi
done
set -- ${_bench_args[@]+"${_bench_args[@]}"}
unset _bench_a _bench_args
smoke() { [ "$BENCH_SMOKE" = 1 ]; }

set -Eeuo pipefail
shopt -s inherit_errexit

_bench_failed=$(mktemp)
fail() {
  echo "$BENCH: FAILED: $*" >&2
  echo failed >"$_bench_failed"
  exit 1
}
_bench_err() {
  # Only the script's own shell speaks, and only if `fail` has not said what failed (in a
  # subshell: `x=$(f)`); a subshell just passes the status up.
  if [ "$BASHPID" = "$$" ] && [ ! -s "$_bench_failed" ]; then
    echo "$BENCH: FAILED: \`$3\` exited $1 (line $2)" >&2
  fi
  exit "$1"
}
trap '_bench_err $? $LINENO "$BASH_COMMAND"' ERR

# on_exit COMMAND: run COMMAND (eval'd) when the bench ends, however it ends; last added, first
# run. Clean-up must not fail the bench, nor hide its status.
_bench_cleanups=('rm -f "$_bench_failed"')
on_exit() { _bench_cleanups+=("$1"); }
_bench_exit() {
  local rc=$? i
  trap - ERR
  set +e
  for ((i = ${#_bench_cleanups[@]} - 1; i >= 0; i--)); do eval "${_bench_cleanups[i]}"; done
  if [ "$rc" = 0 ] && smoke; then echo "$BENCH: smoke run passed (its figures are not results)"; fi
  exit "$rc"
}
trap _bench_exit EXIT
trap 'echo "$BENCH: interrupted" >&2; exit 130' INT
trap 'echo "$BENCH: terminated" >&2; exit 143' TERM

if smoke; then
  echo "$BENCH: SMOKE run: tiny counts, no target judged; its figures are not results, do not record them"
fi

# Result lines: marked in a smoke run. `result TEXT`, or `… | mark` for a table.
result() { if smoke; then printf '[smoke] %s\n' "$*"; else printf '%s\n' "$*"; fi; }
mark() { if smoke; then sed 's/^/[smoke] /'; else cat; fi; }
# A target's verdict: met/MISSED in a full run, "not judged" in a smoke run.
verdict() { # 1|0
  if smoke; then echo "not judged (smoke)"; elif [ "$1" = 1 ]; then echo met; else echo MISSED; fi
}

now() { date +%s.%N; }
# show N FILE...: the last N lines of FILE(s), indented, on stderr (what a failure message points
# at); never fails itself.
show() {
  local n=$1
  shift
  tail -n "$n" "$@" 2>/dev/null | sed 's/^/    /' >&2 || true
}
# logged LOG WHAT CMD...: runs CMD with its stdout and stderr in LOG. When CMD fails, the bench
# ends: WHAT, its exit status and LOG's tail.
logged() {
  local log=$1 what=$2 rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    show 15 "$log"
    fail "$what exited $rc (log: $log)"
  fi
}
# timed VAR LOG WHAT CMD...: the same, and stores CMD's wall time in seconds in VAR; a failed
# CMD ends the bench before any time is recorded.
timed() {
  local -n _timed_into=$1
  local t0 t1
  shift
  t0=$(now)
  logged "$@"
  t1=$(now)
  _timed_into=$(echo "$t1 - $t0" | bc)
}
median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) exit 1; print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds; after SECONDS the bench
# fails with "WHAT: not within SECONDS s".
wait_for() {
  local limit=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + limit))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within $limit s"
    sleep 0.2
  done
}

# need_pkg PACKAGE COMMAND: installs PACKAGE from Debian if COMMAND is missing, and says so.
need_pkg() {
  command -v "$2" >/dev/null 2>&1 && return 0
  echo "$BENCH: installing $1 from Debian (apt-get install $1)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; } ||
    fail "could not install $1 (apt-get install $1)"
  command -v "$2" >/dev/null 2>&1 || fail "$1 is installed but there is no $2"
}

# scratch_copy DIR (scripts/scratch-copy.sh): a copy of this repository that shares its builds.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/scratch-copy.sh"

# bench_keys (bench/keys.sh): the gateway's identity keys, a fresh pair unless the environment has both.
source "$(dirname "${BASH_SOURCE[0]}")/keys.sh"

# What carries a project's label, msctl's or compose's (empty when nothing is left).
project_leftovers() { # PROJECT
  {
    docker ps -aq --filter "label=msctl.project=$1"
    docker ps -aq --filter "label=com.docker.compose.project=$1"
    docker volume ls -q --filter "label=msctl.project=$1"
    docker volume ls -q --filter "label=com.docker.compose.project=$1"
    docker network ls -q --filter "label=msctl.project=$1"
    docker network ls -q --filter "label=com.docker.compose.project=$1"
  } 2>/dev/null
}

# probe CONTAINER: runs the container's own healthcheck test in it, as msctl's start probes do
# (this engine, API 1.41, reports `starting` until the first `interval` has passed, whatever
# the container's state; msctl up returns before that). Fails when the check fails.
probe() {
  local json
  local -a test
  json=$(docker inspect -f '{{json .Config.Healthcheck.Test}}' "$1") || return 1
  mapfile -t test < <(jq -r '.[]?' <<<"$json")
  case "${test[0]:-}" in
    CMD) docker exec "$1" "${test[@]:1}" >/dev/null 2>&1 ;;
    CMD-SHELL) docker exec "$1" sh -c "${test[1]}" >/dev/null 2>&1 ;;
    *) return 0 ;;
  esac
}
# stack_state LABELS [probe]: sets STACK_TOTAL (containers carrying every label of LABELS,
# space-separated `key=value` or `key`),
# STACK_READY (of them, running and, with a healthcheck, healthy; or, without one, exited 0) and
# STACK_PROBLEM (the first that can no longer get there: "name: exited 1", "name: unhealthy";
# empty if none). With `probe`, a container Docker still calls `starting` counts as ready if
# its own healthcheck passes now (probe, above). Returns 1 when Docker could not say (a
# container removed between the list and the inspect, say).
stack_state() {
  STACK_TOTAL=0 STACK_READY=0 STACK_PROBLEM=
  local ids lines name state health code label
  local -a filters=()
  for label in $1; do filters+=(--filter "label=$label"); done
  ids=$(docker ps -aq "${filters[@]}") || return 1
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086
  lines=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' $ids) || return 1
  while read -r name state health code; do
    STACK_TOTAL=$((STACK_TOTAL + 1))
    case "$state/$health" in
      running/healthy | running/none) STACK_READY=$((STACK_READY + 1)) ;;
      running/starting) if [ "${2:-}" = probe ] && probe "${name#/}"; then STACK_READY=$((STACK_READY + 1)); fi ;;
      # Exited 0 is done (a one-shot job: migrations); a service with a healthcheck is not.
      exited/none) if [ "$code" = 0 ]; then STACK_READY=$((STACK_READY + 1)); else STACK_PROBLEM=${STACK_PROBLEM:-"${name#/}: exited $code"}; fi ;;
      exited/*) STACK_PROBLEM=${STACK_PROBLEM:-"${name#/}: exited $code"} ;;
      */unhealthy) STACK_PROBLEM=${STACK_PROBLEM:-"${name#/}: unhealthy"} ;;
      dead/* | removing/*) STACK_PROBLEM=${STACK_PROBLEM:-"${name#/}: $state"} ;;
    esac
  done <<<"$lines"
}
# stack_ready LABEL EXPECTED: fails the bench unless exactly EXPECTED containers carry LABEL
# and every one of them is ready now (its healthcheck run if Docker has not yet).
stack_ready() {
  stack_state "$1" probe || fail "docker could not list the containers of $1"
  [ -z "$STACK_PROBLEM" ] || fail "$1: container $STACK_PROBLEM"
  [ "$STACK_TOTAL" = "$2" ] ||
    fail "$1: $STACK_TOTAL containers, expected $2: $(docker ps -a --filter "label=${1%% *}" --format '{{.Names}} ({{.Status}})' | paste -sd ',' -)"
  [ "$STACK_READY" = "$2" ] || fail "$1: only $STACK_READY of $2 containers are running and pass their healthcheck"
}

# bundled_stack LOG: the bundled stack (msctl.yaml) brought up fresh as $PROJECT with $MSCTL
# (anything an interrupted run left of $PROJECT removed first), and removed with its volumes
# when the bench ends, however it ends; a failed `up` ends the bench. In a smoke run with
# BENCH_STACK=NAME, PROJECT becomes NAME instead: a bundled stack already running (the one
# scripts/bench-smoke.sh shares between benches), checked running and healthy, and left up.
bundled_stack() {
  if smoke && [ -n "${BENCH_STACK:-}" ]; then
    PROJECT=$BENCH_STACK
    stack_state "msctl.project=$PROJECT msctl.service" probe || fail "docker could not list the containers of $PROJECT"
    [ "$STACK_TOTAL" -gt 0 ] || fail "BENCH_STACK=$PROJECT: no such stack runs"
    [ -z "$STACK_PROBLEM" ] || fail "BENCH_STACK=$PROJECT: container $STACK_PROBLEM"
    [ "$STACK_READY" = "$STACK_TOTAL" ] ||
      fail "BENCH_STACK=$PROJECT: only $STACK_READY of $STACK_TOTAL containers are running (healthy)"
    echo "$BENCH: using the running stack $PROJECT (BENCH_STACK), gateway on port $GATEWAY_PORT"
    return 0
  fi
  bench_keys
  on_exit '"$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1'
  "$MSCTL" -p "$PROJECT" down --volumes >/dev/null 2>&1 || true
  logged "$1" "msctl up of the bundled stack as $PROJECT" "$MSCTL" -p "$PROJECT" up
}
