#!/usr/bin/env bash
# Benchmark: the msctl gateway vs nginx as a plain reverse proxy, same backend, same load, one run.
#
#   bench/gateway-vs-nginx.sh [DURATION_SECONDS=15] [CONNECTIONS=64]
#
# Both proxies forward GET /products/<id> to bench-backend (a fixed small JSON answer over
# keep-alive), release builds, on loopback. wrk drives each in turn with the same threads,
# connections and duration; the script prints requests/s and p99 latency of both and the
# ratio. Target (issue #3): gateway throughput >= 0.8x nginx.
#
# The route is public (no JWT) and the gateway's rate limit is raised out of the way, so this
# measures proxying: routing, header rewriting, trace/request ids, metrics, the circuit breaker
# and pooled upstream connections. On 2 cores wrk, the proxy and the backend share the machine;
# both proxies get the same conditions. nginx runs one worker process per core
# (`worker_processes auto`), the gateway one single-threaded runtime per core (WORKERS).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
CONNECTIONS=${2:-64}
BACKEND_PORT=19100 NGINX_PORT=19200 GATEWAY_PORT=19300
OUT=target/bench/gateway
mkdir -p "$OUT"

for pkg in nginx wrk; do
  if ! command -v "$pkg" >/dev/null; then
    echo "installing $pkg from Debian (the benchmark's peer / load generator)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
done
cargo build --release -q -p gateway -p bench-backend

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

target/release/bench-backend "$BACKEND_PORT" & pids+=($!)

cat > "$OUT/nginx.conf" <<CONF
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
nginx -c "$PWD/$OUT/nginx.conf" & pids+=($!)

# The bundled stack's routing table (what msctl hands the gateway), its upstreams pointed here.
PORT=$GATEWAY_PORT GATEWAY_ROUTES="$(target/debug/msctl routes --json 2>/dev/null || cat services/gateway/tests/data/shop-routes.json)" \
  UPSTREAM_PRODUCT_SERVICE=http://127.0.0.1:$BACKEND_PORT UPSTREAM_USER_SERVICE=http://127.0.0.1:$BACKEND_PORT \
  RATE_LIMIT_PER_SECOND=100000000 RATE_LIMIT_BURST=100000000 RUST_LOG=warn \
  target/release/gateway > "$OUT/gateway.log" 2>&1 & pids+=($!)

for port in $BACKEND_PORT $NGINX_PORT $GATEWAY_PORT; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/products/1" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/products/1" >/dev/null || { echo "nothing answers on port $port" >&2; exit 1; }
done

run() { # name port -> "rps p99_ms"
  wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$2/products/1" >/dev/null   # warm-up
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/products/1" > "$OUT/wrk-$1.txt"
  local rps p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$1.txt")
  # wrk prints latencies with a unit: us, ms or s.
  p99=$(echo "$p99" | awk '/us$/ {sub("us",""); print $1/1000; next} /ms$/ {sub("ms",""); print $1; next} /s$/ {sub("s",""); print $1*1000}')
  local errors; errors=$(grep -E "Non-2xx|Socket errors" "$OUT/wrk-$1.txt" || true)
  [ -z "$errors" ] || echo "$1: $errors" >&2
  echo "$rps $p99"
}

read -r nginx_rps nginx_p99 < <(run nginx "$NGINX_PORT")
read -r gw_rps gw_p99 < <(run gateway "$GATEWAY_PORT")
printf '\n%-10s %14s %10s\n' proxy "requests/s" "p99 (ms)"
printf '%-10s %14.0f %10.2f\n' nginx "$nginx_rps" "$nginx_p99" gateway "$gw_rps" "$gw_p99"
ratio=$(echo "$gw_rps / $nginx_rps" | bc -l)
printf '\ngateway/nginx throughput: %.2fx (target >= 0.8x: %s); p99 %.2f ms vs %.2f ms\n' \
  "$ratio" "$(echo "$ratio >= 0.8" | bc -l | sed 's/1/met/;s/0/MISSED/')" "$gw_p99" "$nginx_p99"
