#!/usr/bin/env bash
# Benchmark: the edit loop. A one-line change to product-service's source, timed until the new
# container is healthy: `msctl up --watch` against `docker compose up -d --build` of the
# exported compose file, in one run (issue #16; target: msctl under 20 s on 2 cores, and faster
# than compose). Then, with product-service at 2 replicas, a bounded loop of GETs through the
# gateway while watch replaces them: the failed requests are counted (target: 0).
#
#   bench/edit-loop.sh [EDITS]        (default 3 edits per tool)
#
# Everything happens in a scratch copy of the repository (the real tree is never edited), with
# this repository's target directory. Not timed: the copy's first build and stack start.
#
# The compose side: with no registry and no Rust image, compose cannot compile inside Docker
# here, so its "build" is what a compose user without one does: `cargo build -p
# product-service`, the binary copied into a build context whose Dockerfile is the one msctl
# packs with, then `up -d --build --no-deps product-service`. Compose v1 has no --wait. The clock
# stops, for both tools, when product-service's container has a new id and passes its
# healthcheck, run through `docker exec` (this engine, API 1.41, ignores `start_interval`: its
# own `healthy` would come only after the first 10 s `interval`).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
EDITS=${1:-3}
# A fixed path: cargo tells packages apart by path, so later runs reuse this one's builds.
SCRATCH=/tmp/msctl-scratch-edit-loop
PROJECT=msctleditbench
export GATEWAY_PORT=18500
export CARGO_TARGET_DIR=$REPO/target
export ADMIN_PASSWORD=edit-loop-bench-password-1
# The request loop is one client: the gateway's per-client limit (50/s) would answer 429.
export RATE_LIMIT_PER_SECOND=100000 RATE_LIMIT_BURST=100000
OUT=$SCRATCH/bench-out
SOURCE=services/product-service/src/startup.rs
MODE=msctl

cargo build -q -p msctl
MSCTL=$REPO/target/debug/msctl
msctl() { "$MSCTL" -p "$PROJECT" "$@"; }
compose() { docker-compose -p "$PROJECT" -f "$OUT/compose.yaml" -f "$OUT/override.yaml" "$@"; }
WATCH_PID=
cleanup() {
  [ -n "$WATCH_PID" ] && kill -INT "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null || true
  (cd "$SCRATCH" 2>/dev/null && { compose down -v >/dev/null 2>&1 || true; msctl down --volumes >/dev/null 2>&1 || true; })
}
trap cleanup EXIT

rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source scripts/scratch-copy.sh
scratch_copy "$SCRATCH"
cd "$SCRATCH"
mkdir -p "$OUT/ctx"

echo "edit-loop bench: building the copy and starting its stack (not timed)..."
msctl up >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log"; exit 1; }

now() { date +%s.%N; }
# product-service's container: msctl names it; Compose v1 names it its own way (newest first).
container() {
  if [ "$MODE" = msctl ]; then echo "$PROJECT-product-service-1"; else
    docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$PROJECT" \
      --filter label=com.docker.compose.service=product-service | head -1
  fi
}
id_of() { docker inspect -f '{{.Id}}' "$(container)" 2>/dev/null || true; }
# Waits until the container has an id other than $1 and passes its healthcheck.
wait_replaced() {
  while :; do
    local c state
    c=$(container)
    state=$(docker inspect -f '{{.Id}} {{.State.Running}}' "$c" 2>/dev/null || true)
    if [ "${state% *}" != "$1" ] && [ "${state#* }" = true ] &&
      docker exec "$c" product-service healthcheck >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
}
# A one-line change that changes the binary (a `touch` would not: same binary, same image,
# nothing replaced): a comment line first shifts every line number in panic locations.
# The nanosecond stamp makes every run's binaries new: the same edits as the last run would give
# byte-identical binaries, and the builder's layer cache would make either tool look fast.
edit() { sed -i "1i // edit-loop $1 $(date +%s%N)" "$SOURCE"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# --- msctl up --watch ---
# Not through the msctl function: a backgrounded function is a subshell, which ignores the
# SIGINT meant for msctl.
"$MSCTL" -p "$PROJECT" up --watch >"$OUT/watch.log" 2>&1 &
WATCH_PID=$!
until grep -q '^watching ' "$OUT/watch.log"; do sleep 0.2; done
declare -a m c
for i in $(seq "$EDITS"); do
  before=$(id_of); t0=$(now)
  edit "msctl $i"
  wait_replaced "$before"
  m+=("$(echo "$(now) - $t0" | bc)")
  echo "msctl   edit $i: ${m[-1]} s" >&2
  sleep 2 # the round's last line (the old container removed)
done
grep ' round ' "$OUT/watch.log" >&2 || true

# --- 2 replicas through the gateway: failed requests during a rolling replace ---
kill -INT "$WATCH_PID"; wait "$WATCH_PID" || true; WATCH_PID=
sed -i 's/^  product-service:$/  product-service:\n    replicas: 2/' msctl.yaml
msctl up >>"$OUT/up.log" 2>&1
"$MSCTL" -p "$PROJECT" up --watch >"$OUT/watch-replicas.log" 2>&1 &
WATCH_PID=$!
until grep -q '^watching ' "$OUT/watch-replicas.log"; do sleep 0.2; done
URL="http://127.0.0.1:$GATEWAY_PORT/products/search?q=garden"
(
  # Bounded: at most 3,000 requests, and never more than 120 s.
  end=$(( $(date +%s) + 120 ))
  for n in $(seq 3000); do
    curl -s -o /dev/null -w '%{http_code}\n' "$URL" || echo 000
    [ -f "$OUT/stop-requests" ] || [ "$(date +%s)" -ge "$end" ] && break
  done
) >"$OUT/codes.txt" &
LOOP=$!
sleep 1
edit "replicas"
until grep -q ' round 1: ' "$OUT/watch-replicas.log"; do sleep 0.2; done
sleep 1
touch "$OUT/stop-requests"; wait "$LOOP"
total=$(wc -l <"$OUT/codes.txt")
failed=$(grep -vc '^2' "$OUT/codes.txt" || true)
grep ' round 1: ' "$OUT/watch-replicas.log" >&2
kill -INT "$WATCH_PID"; wait "$WATCH_PID" || true; WATCH_PID=

# --- docker compose up -d --build ---
sed -i '/^    replicas: 2$/d' msctl.yaml
msctl up >>"$OUT/up.log" 2>&1
msctl export compose -o "$OUT/compose.yaml"
# The export probes at the start pace (500 ms) throughout, because Compose v1 knows no
# `start_interval`. Left so, 17 containers probed twice a second take enough CPU to slow cargo
# from ~15 s to ~37 s here. The stack's own `interval` (10 s) gives compose's stack the same
# background load as msctl's: the comparison is of the edit loop, not of probe rates.
sed -i 's/^      interval: 500ms$/      interval: 10s/' "$OUT/compose.yaml"
msctl down --volumes >/dev/null
MODE=compose
# The Dockerfile msctl packs a crate's binary with (product-service has the default base).
printf 'FROM debian:bookworm-slim\nCOPY product-service /usr/local/bin/product-service\nENTRYPOINT ["/usr/local/bin/product-service"]\n' >"$OUT/ctx/Dockerfile"
printf 'services:\n  product-service:\n    build: { context: %s }\n' "$OUT/ctx" >"$OUT/override.yaml"
cargo build -q -p product-service
cp "$CARGO_TARGET_DIR/debug/product-service" "$OUT/ctx/"
compose up -d >"$OUT/compose-up.log" 2>&1
wait_replaced none
for i in $(seq "$EDITS"); do
  before=$(id_of); t0=$(now)
  edit "compose $i"
  cargo build -q -p product-service
  cp "$CARGO_TARGET_DIR/debug/product-service" "$OUT/ctx/"
  t1=$(now)
  compose up -d --build --no-deps product-service >>"$OUT/compose-up.log" 2>&1
  t2=$(now)
  wait_replaced "$before"
  c+=("$(echo "$(now) - $t0" | bc)")
  printf 'compose edit %s: %.1f s (cargo %.1f s, compose up --build %.1f s, then ready %.1f s)\n' \
    "$i" "${c[-1]}" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$(now) - $t2" | bc)" >&2
done

mm=$(printf '%s\n' "${m[@]}" | median); cm=$(printf '%s\n' "${c[@]}" | median)
printf '\n%-40s %10s\n' "one-line edit → new container healthy" "median (s)"
printf '%-40s %10.1f\n' "msctl up --watch" "$mm"
printf '%-40s %10.1f\n' "docker-compose up -d --build (v1)" "$cm"
printf 'compose / msctl: %.2fx\n' "$(echo "$cm / $mm" | bc -l)"
echo "gateway during a 2-replica replace: $total requests, $failed failed (non-2xx)"
echo "targets: msctl < 20 s: $(echo "$mm < 20" | bc -l | sed 's/1/met/;s/0/MISSED/'); faster than compose: $(echo "$mm < $cm" | bc -l | sed 's/1/met/;s/0/MISSED/'); 0 failed: $([ "$failed" = 0 ] && echo met || echo MISSED)"
