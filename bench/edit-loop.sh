#!/usr/bin/env bash
# Benchmark: the edit loop. A one-line change to product-service's source, timed until the new
# container is healthy: `msctl up --watch` against `docker compose up -d --build` of the
# exported compose file, in one run (issue #16; target: msctl under 20 s on 2 cores, and faster
# than compose). Then, with product-service at 2 replicas, a bounded loop of GETs through the
# gateway while watch replaces them: the failed requests are counted (target: 0).
#
#   bench/edit-loop.sh [EDITS]        (default 3 edits per tool)
#   bench/edit-loop.sh --smoke        (or BENCH_SMOKE=1) bench/smoke-stack.yaml (products-db,
#                                     product-service, gateway), 1 edit per tool, msctl's at 2
#                                     replicas with the GETs running (no separate replica
#                                     round): two cargo builds, ~1.5 min
#
# Everything happens in a scratch copy of the repository (the real tree is never edited), with
# this repository's target directory. Not timed: the copy's first build and the two stacks'
# start. Both stacks run side by side for the whole run, msctl's (project msctleditbench, gateway
# on 18500) and compose's (msctleditbenchc, 18501), so every edit, whichever the tool, has the
# same machine around it. Edit i is made by both tools, one after the other, and the order
# alternates: msctl first for odd i, compose first for even i (ABBA). `msctl up --watch` runs
# only during msctl's edits (it would rebuild on compose's edits too).
#
# The compose side: with no registry and no Rust image, compose cannot compile inside Docker
# here, so its "build" is what a compose user without one does: `cargo build -p
# product-service`, the binary copied into a build context whose Dockerfile is the one msctl
# packs with, then `up -d --build --no-deps product-service`. Compose v1 has no --wait. The clock
# stops, for both tools, when product-service's container has a new id and passes its
# healthcheck, run through `docker exec` (this engine, API 1.41, ignores `start_interval`: its
# own `healthy` would come only after the first 10 s `interval`).
#
# A failed edit ends the bench with what failed, and no time is recorded for it: a build or an
# `up` that exits non-zero, a watch round that did not replace product-service (its round line
# must say `replaced 1/1`, `replaced 2/2` with replicas), no new healthy container within 5
# minutes (3 in a smoke run), `msctl up --watch` exiting, or no request through the gateway
# during the 2-replica replace. Both stacks are removed with their volumes at the end, however
# the bench ends.
cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$PWD
EDITS=${1:-3}
STACK=msctl.yaml
LIMIT=300
# product-service's replicas in msctl's stack during the timed edits.
REPLICAS=1
if smoke; then EDITS=1 STACK=bench/smoke-stack.yaml LIMIT=180 REPLICAS=2; fi
# A fixed path: cargo tells packages apart by path, so later runs reuse this one's builds.
SCRATCH=/tmp/msctl-scratch-edit-loop
PROJECT=msctleditbench
CPROJECT=msctleditbenchc
export GATEWAY_PORT=18500
COMPOSE_GATEWAY_PORT=18501
export CARGO_TARGET_DIR=$REPO/target
export ADMIN_PASSWORD=edit-loop-bench-password-1
# The request loop is one client: the gateway's per-client limit (50/s) would answer 429.
export RATE_LIMIT_PER_SECOND=100000 RATE_LIMIT_BURST=100000
# Logs and compose's files, outside the copy (removed at the end).
OUT=$REPO/target/bench/edit-loop
SOURCE=services/product-service/src/startup.rs

command -v docker-compose >/dev/null || fail "needs docker-compose (apt-get install docker-compose)"
cargo build -q -p msctl
MSCTL=$REPO/target/debug/msctl
bench_keys
msctl() { "$MSCTL" -f "$STACK" -p "$PROJECT" "$@"; }
compose() { docker-compose -p "$CPROJECT" -f "$OUT/compose.yaml" -f "$OUT/override.yaml" "$@"; }
WATCH_PID= LOOP_PID=
stop_watch() {
  if [ -n "$WATCH_PID" ]; then
    kill -INT "$WATCH_PID" 2>/dev/null
    wait "$WATCH_PID" 2>/dev/null || true
    WATCH_PID=
  fi
}
cleanup() {
  stop_watch
  [ -z "$LOOP_PID" ] || { kill "$LOOP_PID"; wait "$LOOP_PID"; } 2>/dev/null
  [ ! -f "$OUT/compose.yaml" ] || compose down -v >/dev/null 2>&1
  [ ! -d "$SCRATCH" ] || (cd "$SCRATCH" && msctl down --volumes) >/dev/null 2>&1
  # Whatever compose's down could not reach (no compose file yet): its project's label.
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$CPROJECT")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=com.docker.compose.project=$CPROJECT")
  [ -z "$ids" ] || docker volume rm $ids >/dev/null 2>&1
  ids=$(docker network ls -q --filter "label=com.docker.compose.project=$CPROJECT")
  [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1
  rm -rf "$SCRATCH"
}
on_exit cleanup

rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
scratch_copy "$SCRATCH"
cd "$SCRATCH"
rm -rf "$OUT" && mkdir -p "$OUT/ctx"

echo "edit-loop bench: building the copy and starting both stacks (not timed)..."
# Compose's copy of the stack publishes its gateway on a port of its own.
GATEWAY_PORT=$COMPOSE_GATEWAY_PORT msctl export compose -o "$OUT/compose.yaml"
if ! smoke; then
  # The export probes at the start pace (500 ms) throughout, because Compose v1 knows no
  # `start_interval`. Left so, a dozen containers probed twice a second take enough CPU to slow
  # cargo from ~15 s to ~37 s here. The stack's own `interval` (10 s) gives compose's stack the
  # same background load as msctl's: the comparison is of the edit loop, not of probe rates.
  # (The smoke stack's three containers are left at 500 ms: cheap, and compose's start, which
  # waits for health level by level, stays short.)
  sed -i 's/^      interval: 500ms$/      interval: 10s/' "$OUT/compose.yaml"
fi
# The Dockerfile msctl packs a crate's binary with (product-service has the default base), and
# an image name of compose's own (never one of msctl's tags).
printf 'FROM debian:bookworm-slim\nCOPY product-service /usr/local/bin/product-service\nENTRYPOINT ["/usr/local/bin/product-service"]\n' >"$OUT/ctx/Dockerfile"
printf 'services:\n  product-service:\n    image: %s-product-service:edit-loop\n    build: { context: %s }\n' "$CPROJECT" "$OUT/ctx" >"$OUT/override.yaml"
EXPECTED=$(compose config --services | wc -l)
[ "$EXPECTED" -gt 0 ] || fail "the exported compose file has no services"

set_replicas() {
  sed -i 's/^  product-service:$/  product-service:\n    replicas: 2/' "$STACK"
  grep -q '^    replicas: 2$' "$STACK" || fail "could not set product-service to 2 replicas in $STACK"
}
# (After the export: compose's stack keeps one product-service.)
[ "$REPLICAS" = 1 ] || set_replicas
logged "$OUT/up.log" "msctl up (the copy's stack)" msctl up
stack_ready "msctl.project=$PROJECT msctl.service" $((EXPECTED + REPLICAS - 1))
logged "$OUT/cargo.log" "cargo build -p product-service (compose's first image)" cargo build -q -p product-service
cp "$CARGO_TARGET_DIR/debug/product-service" "$OUT/ctx/"
logged "$OUT/compose-up.log" "docker-compose up -d (compose's stack)" compose up -d
compose_ready() {
  stack_state "com.docker.compose.project=$CPROJECT" || return 1
  [ -z "$STACK_PROBLEM" ] || fail "compose's stack: container $STACK_PROBLEM"
  [ "$STACK_TOTAL" = "$EXPECTED" ] && [ "$STACK_READY" = "$EXPECTED" ]
}
wait_for "$LIMIT" "compose's stack running and healthy" compose_ready

# product-service's running container (the newest), for either tool; empty if none.
container_of() {
  local filter
  if [ "$1" = msctl ]; then filter="label=msctl.project=$PROJECT"; else filter="label=com.docker.compose.project=$CPROJECT"; fi
  docker ps -q --no-trunc --filter "$filter" \
    --filter "label=$([ "$1" = msctl ] && echo msctl.service || echo com.docker.compose.service)=product-service" | awk 'NR == 1'
}
# replaced TOOL ID: product-service's container is no longer ID, runs, and passes its healthcheck.
replaced() {
  local c
  if [ "$1" = msctl ] && ! kill -0 "$WATCH_PID" 2>/dev/null; then
    show 15 "$WATCH_LOG"
    fail "msctl up --watch exited"
  fi
  c=$(container_of "$1")
  [ -n "$c" ] && [ "$c" != "$2" ] && docker exec "$c" product-service healthcheck >/dev/null 2>&1
}
watching() { # msctl up --watch has said it watches
  kill -0 "$WATCH_PID" 2>/dev/null || { show 15 "$WATCH_LOG"; fail "msctl up --watch exited"; }
  grep -q '^watching ' "$WATCH_LOG"
}
start_watch() { # LOG
  WATCH_LOG=$1
  # Not through the msctl function: a backgrounded function is a subshell, which ignores the
  # SIGINT meant for msctl.
  "$MSCTL" -f "$STACK" -p "$PROJECT" up --watch >"$WATCH_LOG" 2>&1 &
  WATCH_PID=$!
  wait_for "$LIMIT" "msctl up --watch to start watching" watching
}
# round_line REPLICAS: watch's line for round 1 says it replaced all REPLICAS, or the bench fails.
round_line() {
  local line
  wait_for 60 "msctl up --watch: a line for round 1" grep -q ' round 1: ' "$WATCH_LOG"
  line=$(grep ' round 1: ' "$WATCH_LOG")
  [[ "$line" == *"replaced $1/$1"* && "$line" != *fail* ]] ||
    fail "msctl up --watch's round did not replace product-service ($1 replicas): $line"
  echo "$line" >&2
}
# A one-line change that changes the binary (a `touch` would not: same binary, same image,
# nothing replaced): a comment line first shifts every line number in panic locations.
# The nanosecond stamp makes every run's binaries new: the same edits as the last run would give
# byte-identical binaries, and the builder's layer cache would make either tool look fast.
edit() { sed -i "1i // edit-loop $1 $(date +%s%N)" "$SOURCE"; }
# A bounded loop of sequential GETs through msctl's gateway (at most 3,000, never more than
# 120 s), one status code per line; stop_requests ends it and counts: TOTAL, FAILED (non-2xx).
URL="http://127.0.0.1:$GATEWAY_PORT/products/search?q=garden"
start_requests() {
  rm -f "$OUT/stop-requests"
  (
    end=$(($(date +%s) + 120))
    for _ in $(seq 3000); do
      curl -s -o /dev/null -w '%{http_code}\n' "$URL" || echo 000
      [ -f "$OUT/stop-requests" ] || [ "$(date +%s)" -ge "$end" ] && break
    done
    true
  ) >"$OUT/codes.txt" &
  LOOP_PID=$!
  sleep 1
}
stop_requests() {
  touch "$OUT/stop-requests"
  wait "$LOOP_PID"
  LOOP_PID=
  TOTAL=$(wc -l <"$OUT/codes.txt")
  [ "$TOTAL" -gt 0 ] || fail "no request went through the gateway during the 2-replica replace"
  FAILED=$(grep -vc '^2' "$OUT/codes.txt" || true)
}

declare -a M C
msctl_edit() { # i; at 2 replicas, with the GETs through the gateway running
  local before t0 t
  start_watch "$OUT/watch-$1.log"
  [ "$REPLICAS" = 1 ] || start_requests
  before=$(container_of msctl)
  [ -n "$before" ] || fail "msctl's product-service has no running container"
  t0=$(now)
  edit "msctl $1"
  wait_for "$LIMIT" "msctl up --watch: a new healthy product-service after edit $1" replaced msctl "$before"
  t=$(echo "$(now) - $t0" | bc)
  round_line "$REPLICAS"
  [ "$REPLICAS" = 1 ] || stop_requests
  stop_watch
  M+=("$t")
  result "msctl   edit $1: $(printf '%.1f' "$t") s"
}
compose_edit() { # i
  local before t0 t1 t2 t
  before=$(container_of compose)
  [ -n "$before" ] || fail "compose's product-service has no running container"
  t0=$(now)
  edit "compose $1"
  logged "$OUT/cargo.log" "cargo build -p product-service (compose, edit $1)" cargo build -q -p product-service
  cp "$CARGO_TARGET_DIR/debug/product-service" "$OUT/ctx/"
  t1=$(now)
  logged "$OUT/compose-edit.log" "docker-compose up -d --build (edit $1)" compose up -d --build --no-deps product-service
  t2=$(now)
  wait_for "$LIMIT" "compose: a new healthy product-service after edit $1" replaced compose "$before"
  t=$(echo "$(now) - $t0" | bc)
  C+=("$t")
  result "$(printf 'compose edit %s: %.1f s (cargo %.1f s, compose up --build %.1f s, then ready %.1f s)' \
    "$1" "$t" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t - ($t2 - $t0)" | bc)")"
}
for i in $(seq "$EDITS"); do
  if [ $((i % 2)) = 1 ]; then msctl_edit "$i"; compose_edit "$i"; else compose_edit "$i"; msctl_edit "$i"; fi
done

# --- 2 replicas through the gateway: failed requests during a rolling replace ---
# (A smoke run's msctl edit did this already.)
if [ "$REPLICAS" = 1 ]; then
  set_replicas
  logged "$OUT/up-replicas.log" "msctl up (product-service at 2 replicas)" msctl up
  stack_ready "msctl.project=$PROJECT msctl.service" $((EXPECTED + 1))
  start_watch "$OUT/watch-replicas.log"
  start_requests
  edit "replicas"
  wait_for "$LIMIT" "msctl up --watch: the round of the 2-replica edit" grep -q ' round 1: ' "$WATCH_LOG"
  sleep 1
  stop_requests
  round_line 2
  stop_watch
fi

mm=$(printf '%s\n' "${M[@]}" | median) cm=$(printf '%s\n' "${C[@]}" | median)
{
  printf '\n%-40s %10s\n' "one-line edit → new container healthy" "median (s)"
  printf '%-40s %10.1f\n' "msctl up --watch" "$mm"
  printf '%-40s %10.1f\n' "docker-compose up -d --build (v1)" "$cm"
  printf 'compose / msctl: %.2fx (%s edits each, %s)\n' "$(echo "$cm / $mm" | bc -l)" "$EDITS" "$STACK"
  echo "gateway during a 2-replica replace: $TOTAL requests, $FAILED failed (non-2xx)"
  echo "targets: msctl < 20 s: $(verdict "$(echo "$mm < 20" | bc -l)"); faster than compose: $(verdict "$(echo "$mm < $cm" | bc -l)"); 0 failed: $(verdict "$([ "$FAILED" = 0 ] && echo 1 || echo 0)")"
} | mark
