#!/usr/bin/env bash
# Benchmark: the msctl gateway vs nginx as a plain reverse proxy, same backend, same load, one run.
#
#   bench/gateway-vs-nginx.sh [DURATION_SECONDS=15] [CONNECTIONS=64] [ROUNDS=2]
#   bench/gateway-vs-nginx.sh --smoke      # (or BENCH_SMOKE=1) debug builds, 2 rounds of 1 s
#                                          # at 4 connections, no warm-up: ~10 s
#
# Both proxies forward GET /products/<id> to bench-backend (a fixed small JSON answer over
# keep-alive), release builds, on loopback. wrk drives each with the same threads, connections
# and duration, ROUNDS times, alternating which proxy goes first (nginx first in odd rounds, the
# gateway first in even ones: ABBA), each run after a 2 s warm-up; the script prints every run,
# then the median requests/s and p99 of each proxy over the rounds and the throughput ratio.
# Target (issue #3): gateway throughput >= 0.8x nginx.
#
# A failed run ends the bench with what failed and no figure: wrk's exit status, no request
# counted, any non-2xx answer or socket error (connect, read, write, timeout), or a proxy or the
# backend no longer running.
#
# The route is public (no JWT) and the gateway's rate limit is raised out of the way, so this
# measures proxying: routing, header rewriting, trace/request ids, metrics, the circuit breaker,
# pooled upstream connections, and the identity token (`x-identity`) the gateway signs for the
# upstream (with its own Ed25519 key, IDENTITY_SIGNING_KEY, which it needs to start; the bench
# generates one). On 2 cores wrk, the proxy and the backend share the machine; both proxies get
# the same conditions. nginx runs one worker process per core (`worker_processes auto`), the
# gateway one single-threaded runtime per core (WORKERS).
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${1:-15}
CONNECTIONS=${2:-64}
ROUNDS=${3:-2}
WARMUP=2
BACKEND_PORT=19100 NGINX_PORT=19200 GATEWAY_PORT=19300
OUT=target/bench/gateway
mkdir -p "$OUT"

need_pkg nginx nginx
need_pkg wrk wrk
if smoke; then
  DURATION=1 CONNECTIONS=4 ROUNDS=2 WARMUP=0
  cargo build -q -p gateway -p bench-backend
  BIN=target/debug
else
  cargo build --release -q -p gateway -p bench-backend
  BIN=target/release
fi
bench_keys

for port in $BACKEND_PORT $NGINX_PORT $GATEWAY_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is already taken: something else would answer for this bench"
  fi
done

pids=()
names=()
on_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done'

"$BIN/bench-backend" "$BACKEND_PORT" &
pids+=($!) names+=(bench-backend)

cat >"$OUT/nginx.conf" <<CONF
worker_processes auto;
pid $PWD/$OUT/nginx.pid;
error_log $PWD/$OUT/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF
nginx -c "$PWD/$OUT/nginx.conf" &
pids+=($!) names+=(nginx)

# The bundled stack's routing table (what msctl hands the gateway), its upstreams pointed here.
if [ -x target/debug/msctl ]; then
  routes=$(target/debug/msctl routes --json)
else
  echo "gateway-vs-nginx: no target/debug/msctl; the routing table is the gateway's test fixture" >&2
  routes=$(cat services/gateway/tests/data/shop-routes.json)
fi
PORT=$GATEWAY_PORT GATEWAY_ROUTES=$routes AMQP_URL= \
  UPSTREAM_PRODUCT_SERVICE=http://127.0.0.1:$BACKEND_PORT UPSTREAM_USER_SERVICE=http://127.0.0.1:$BACKEND_PORT \
  RATE_LIMIT_PER_SECOND=100000000 RATE_LIMIT_BURST=100000000 RUST_LOG=warn \
  "$BIN/gateway" >"$OUT/gateway.log" 2>&1 &
pids+=($!) names+=(gateway)

alive() { # every process this bench started is still running
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2>/dev/null || {
      show 5 "$OUT/gateway.log" "$OUT/nginx-error.log"
      fail "${names[i]} is no longer running"
    }
  done
}
answers() { curl -sf -o /dev/null "http://127.0.0.1:$1/products/1"; }
for port in $BACKEND_PORT $NGINX_PORT $GATEWAY_PORT; do
  for _ in $(seq 100); do answers "$port" && break; alive; sleep 0.1; done
  answers "$port" || {
    [ "$port" != "$GATEWAY_PORT" ] || show 5 "$OUT/gateway.log"
    fail "nothing answers GET /products/1 on port $port"
  }
done

# run NAME PORT ROUND: one wrk run against a proxy; sets RPS and P99 (ms), or fails the bench.
run() {
  local file="$OUT/wrk-$1-$3.txt" errors requests
  if [ "$WARMUP" -gt 0 ]; then
    wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$2/products/1" >"$OUT/wrk-warm-up.txt" ||
      fail "wrk's warm-up against $1 exited $?"
  fi
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/products/1" >"$file" ||
    fail "wrk against $1 (round $3) exited $?"
  requests=$(awk '/requests in/ {print $1}' "$file")
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || fail "wrk counted no request against $1 (round $3): $file"
  errors=$(grep -E "Non-2xx|Socket errors" "$file" || true)
  [ -z "$errors" ] || fail "$1 (round $3): $(echo "$errors" | sed 's/^ *//' | paste -sd ';' -) of $requests requests ($file)"
  alive
  RPS=$(awk '/^Requests\/sec/ {print $2}' "$file")
  # wrk prints latencies with a unit: us, ms or s.
  P99=$(awk '$1 == "99%" {v = $2
    if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000}' "$file")
  [ -n "$RPS" ] && [ -n "$P99" ] || fail "wrk's report against $1 (round $3) has no Requests/sec or 99% line: $file"
  result "round $3: $(printf '%-8s %10.0f requests/s  p99 %7.2f ms' "$1" "$RPS" "$P99")"
}

nginx_rps=() nginx_p99=() gw_rps=() gw_p99=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order=(nginx gateway); else order=(gateway nginx); fi
  for proxy in "${order[@]}"; do
    if [ "$proxy" = nginx ]; then
      run nginx "$NGINX_PORT" "$round"
      nginx_rps+=("$RPS") nginx_p99+=("$P99")
    else
      run gateway "$GATEWAY_PORT" "$round"
      gw_rps+=("$RPS") gw_p99+=("$P99")
    fi
  done
done

n_rps=$(printf '%s\n' "${nginx_rps[@]}" | median) n_p99=$(printf '%s\n' "${nginx_p99[@]}" | median)
g_rps=$(printf '%s\n' "${gw_rps[@]}" | median) g_p99=$(printf '%s\n' "${gw_p99[@]}" | median)
ratio=$(echo "$g_rps / $n_rps" | bc -l)
{
  echo
  echo "median of $ROUNDS rounds (${DURATION} s each, $CONNECTIONS connections, $([ "$BIN" = target/release ] && echo release || echo debug) builds):"
  printf '%-10s %14s %10s\n' proxy "requests/s" "p99 (ms)"
  printf '%-10s %14.0f %10.2f\n' nginx "$n_rps" "$n_p99" gateway "$g_rps" "$g_p99"
  printf 'gateway/nginx throughput: %.2fx (target >= 0.8x: %s); p99 %.2f ms vs %.2f ms\n' \
    "$ratio" "$(verdict "$(echo "$ratio >= 0.8" | bc -l)")" "$g_p99" "$n_p99"
} | mark
