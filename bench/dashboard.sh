#!/usr/bin/env bash
# Benchmark: `msctl dashboard`'s OTLP ingest rate, its memory at the storage cap, and how fast
# its trace pages render (issue #26).
#
#   bench/dashboard.sh [SPANS=100000] [LOGS=100000] [--report-only]
#   BATCH=5000 CONCURRENCY=8 bench/dashboard.sh   # rows per request (500), requests in flight (4)
#   bench/dashboard.sh --smoke   # (or BENCH_SMOKE=1) 2,000 spans and 2,000 log lines against
#                                # caps of 1,000, 3 page loads each, no target judged: ~5 s built
#
# Starts `target/debug/msctl dashboard --receive-only` (OTLP receiver and pages only: no Docker
# log tailing, no scraping) for a one-service stack file in a temporary directory (its
# `.msctl/dashboard.sqlite` lands there), on a free loopback port with a fixed token, caps
# `--max-spans 50000 --max-logs 50000`, then:
#   a. SPANS spans at full speed (target/debug/otlp-flood, bench/backend: protobuf bodies of
#      BATCH spans, each one service's, CONCURRENCY requests in flight; traces of 8-12 spans over
#      5 services, 3-4 attributes each, random ids; bodies encoded before the clock starts).
#      Ingest rate =
#      spans written (stored + dropped at the cap, from /api/fill, polled every 50 ms until it
#      equals what was sent, 60 s at most) / wall time from the first request sent to the poll
#      that saw the last row written. The receiver answers before the writer thread has stored
#      a batch, so the sender's own rate (accepted/s) is shown too, but is not the figure.
#   b. LOGS log records likewise (/v1/logs).
#   c. The dashboard's peak and current RSS (VmHWM, VmRSS in /proc/PID/status), both tables now
#      at their caps.
#   d. One trace of exactly 500 spans (deep and wide, 5 services) sent and written, then 20 loads
#      each (no warm-up: the first load is in the max) of /traces and of /traces/<its id>, with
#      curl's time_total: median and max. Every load must answer 200; the list must show the
#      trace, and the waterfall must hold its 500 spans (`<details class="span`, counted once).
# Targets: >= 20,000 spans/s ingested; peak RSS < 200 MiB at the cap; both pages < 200 ms (every
# load: the max). A failed run (a sender error or non-2xx, rows never all written, a page not
# 200 or without the trace, the dashboard gone) prints no figure for it and exits 1. A missed
# target prints MISSED and exits 1 too, unless --report-only. The dashboard is stopped and the
# temporary directory removed on any exit. Logs in target/bench/dashboard/.
cd "$(dirname "$0")/.."
source bench/lib.sh
REPORT_ONLY=0
args=()
for a in "$@"; do
  if [ "$a" = --report-only ]; then REPORT_ONLY=1; else args+=("$a"); fi
done
set -- ${args[@]+"${args[@]}"}
SPANS=${1:-100000}
LOGS=${2:-100000}
CAP=50000 LOADS=20
if smoke; then SPANS=2000 LOGS=2000 CAP=1000 LOADS=3; fi
TRACE_SPANS=500
BATCH=${BATCH:-500} CONCURRENCY=${CONCURRENCY:-4}
TARGET_SPANS_PER_S=20000 TARGET_RSS_MIB=200 TARGET_PAGE_MS=200
TOKEN=bench-dashboard-token-0123456789
COOKIE="msctl_dashboard=$TOKEN"
BIN=${CARGO_TARGET_DIR:-target}/debug
OUT=target/bench/dashboard
mkdir -p "$OUT"
need_pkg jq jq
need_pkg curl curl

logged "$OUT/build.log" "cargo build -p msctl -p bench-backend --bins" \
  cargo build -q -p msctl -p bench-backend --bins
MSCTL=$BIN/msctl FLOOD=$BIN/otlp-flood
[ -x "$MSCTL" ] && [ -x "$FLOOD" ] || fail "no $MSCTL or $FLOOD after the build"

DIR=$(mktemp -d /tmp/msctl-bench-dashboard.XXXXXX)
on_exit 'rm -rf "$DIR"'
printf 'name: benchdash\nservices:\n  web:\n    image: debian:bookworm-slim\n' >"$DIR/msctl.yaml"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

"$MSCTL" -f "$DIR/msctl.yaml" dashboard --port "$PORT" --token "$TOKEN" --receive-only \
  --max-spans "$CAP" --max-logs "$CAP" >"$OUT/dashboard.log" 2>&1 &
DASH=$!
on_exit 'kill "$DASH" 2>/dev/null; wait "$DASH" 2>/dev/null'

# The dashboard must still run; a bench that measured a dead one would time nothing.
alive() {
  kill -0 "$DASH" 2>/dev/null && return 0
  show 15 "$OUT/dashboard.log"
  fail "the dashboard (pid $DASH) is no longer running (log: $OUT/dashboard.log)"
}
ready() { alive && curl -sf --max-time 2 -o /dev/null -b "$COOKIE" "$URL/api/fill"; }
wait_for 30 "the dashboard answering on $URL" ready
# The login the pages use: /login?t=TOKEN redirects and sets the cookie.
login=$(curl -s --max-time 5 -o /dev/null -D - "$URL/login?t=$TOKEN")
grep -qi "^set-cookie: $COOKIE;" <<<"$login" || fail "/login?t=TOKEN set no $COOKIE cookie: $(head -1 <<<"$login")"
echo "machine: $(nproc) cores; dashboard pid $DASH on $URL, caps $CAP spans / $CAP logs, store in $DIR"

# written KIND: rows of KIND (spans, logs) written so far, stored + dropped at the cap.
written() {
  local json
  json=$(curl -sf --max-time 5 -b "$COOKIE" "$URL/api/fill") || { alive; fail "GET /api/fill failed"; }
  jq -r --arg k "$1" '.[$k] + .["dropped_" + $k]' <<<"$json"
}
json_field() { jq -r --arg f "$2" '.[$f]' "$1"; }

# flood KIND COUNT: sends COUNT rows of KIND (spans, logs) and waits for all to be written;
# sets RATE (rows written per second, first request to last row), SECONDS_TAKEN and SENDER_RATE.
flood() {
  local kind=$1 count=$2 mode=$1 before after rc=0 started deadline end
  before=$(written "$kind")
  timeout --foreground 90 "$FLOOD" "$mode" "$count" --url "$URL" --batch "$BATCH" --concurrency "$CONCURRENCY" >"$OUT/$kind.json" 2>"$OUT/$kind.err" || rc=$?
  if [ "$rc" != 0 ]; then
    show 10 "$OUT/$kind.err"
    fail "otlp-flood $mode $count exited $rc$([ "$rc" != 124 ] || echo ': not done in 90 s') ($(cat "$OUT/$kind.json" 2>/dev/null))"
  fi
  deadline=$(($(date +%s) + 60))
  while :; do
    after=$(written "$kind")
    end=$(now)
    [ "$((after - before))" -lt "$count" ] || break
    alive
    [ "$(date +%s)" -lt "$deadline" ] ||
      fail "$kind: only $((after - before)) of $count rows written 60 s after the last was accepted"
    sleep 0.05
  done
  [ "$((after - before))" = "$count" ] || fail "$kind: $((after - before)) rows written for $count sent"
  started=$(json_field "$OUT/$kind.json" started_at)
  RATE=$(echo "$count / ($end - $started)" | bc -l)
  SENDER_RATE=$(json_field "$OUT/$kind.json" per_second)
  SECONDS_TAKEN=$(echo "$end - $started" | bc -l)
}

flood spans "$SPANS"
SPAN_RATE=$RATE SPAN_SENDER=$SENDER_RATE SPAN_S=$SECONDS_TAKEN
result "$(printf 'spans: %d written in %.2f s = %.0f/s (the receiver accepted %s/s)' "$SPANS" "$SPAN_S" "$SPAN_RATE" "$SPAN_SENDER")"
flood logs "$LOGS"
LOG_RATE=$RATE LOG_SENDER=$SENDER_RATE LOG_S=$SECONDS_TAKEN
result "$(printf 'logs:  %d written in %.2f s = %.0f/s (the receiver accepted %s/s)' "$LOGS" "$LOG_S" "$LOG_RATE" "$LOG_SENDER")"

alive
status_file=/proc/$DASH/status
HWM=$(awk '/^VmHWM:/ {print $2}' "$status_file")
RSS=$(awk '/^VmRSS:/ {print $2}' "$status_file")
[ -n "$HWM" ] && [ -n "$RSS" ] && [ "$HWM" -gt 0 ] || fail "cannot read VmHWM/VmRSS in $status_file"
FILL=$(curl -sf --max-time 5 -b "$COOKIE" "$URL/api/fill") || fail "GET /api/fill failed"
result "at the cap: $FILL; VmHWM $HWM KiB, VmRSS $RSS KiB"

# d. One trace of 500 spans, written, then its pages.
before=$(written spans)
rc=0
timeout --foreground 30 "$FLOOD" trace --url "$URL" >"$OUT/trace.json" 2>"$OUT/trace.err" || rc=$?
[ "$rc" = 0 ] || { show 10 "$OUT/trace.err"; fail "otlp-flood trace exited $rc"; }
TRACE=$(json_field "$OUT/trace.json" trace_id)
[[ $TRACE =~ ^[0-9a-f]{32}$ ]] || fail "otlp-flood trace printed no trace id: $(cat "$OUT/trace.json")"
trace_written() { [ "$(($(written spans) - before))" -ge "$TRACE_SPANS" ]; }
wait_for 30 "the $TRACE_SPANS spans of trace $TRACE written" trace_written

# load NAME PATH: LOADS loads of PATH; the times (ms) into $OUT/NAME.times, the last body kept.
load() {
  local name=$1 path=$2 i out code t
  : >"$OUT/$name.times"
  for ((i = 1; i <= LOADS; i++)); do
    out=$(curl -s --max-time 10 -o "$OUT/$name.html" -w '%{http_code} %{time_total}' -b "$COOKIE" "$URL$path") ||
      { alive; fail "GET $path: curl failed (load $i)"; }
    read -r code t <<<"$out"
    [ "$code" = 200 ] || { show 5 "$OUT/$name.html"; fail "GET $path answered $code (load $i)"; }
    echo "$t * 1000" | bc -l >>"$OUT/$name.times"
  done
}
load list /traces
grep -q "$TRACE" "$OUT/list.html" || fail "/traces does not list trace $TRACE (the newest)"
load waterfall "/traces/$TRACE"
n=$(grep -o '<details class="span' "$OUT/waterfall.html" | wc -l)
[ "$n" = "$TRACE_SPANS" ] || fail "/traces/$TRACE shows $n spans, not $TRACE_SPANS"
LIST_MED=$(median <"$OUT/list.times") LIST_MAX=$(sort -n "$OUT/list.times" | tail -1)
WF_MED=$(median <"$OUT/waterfall.times") WF_MAX=$(sort -n "$OUT/waterfall.times" | tail -1)
WF_KB=$(($(wc -c <"$OUT/waterfall.html") / 1024))

ok() { echo "$1" | bc -l; } # 1 if the comparison holds
v_spans=$(ok "$SPAN_RATE >= $TARGET_SPANS_PER_S")
v_rss=$(ok "$HWM < $TARGET_RSS_MIB * 1024")
v_list=$(ok "$LIST_MAX < $TARGET_PAGE_MS")
v_wf=$(ok "$WF_MAX < $TARGET_PAGE_MS")
mib() { echo "$1 / 1024" | bc -l; }
{
  echo
  echo "msctl dashboard --receive-only, $(nproc) cores, caps $CAP spans / $CAP logs; $BATCH rows per request, $CONCURRENCY in flight; pages: $LOADS loads each"
  printf '| %-58s | %-22s | %-16s | %-20s |\n' figure value target verdict
  printf '|%s|%s|%s|%s|\n' ------------------------------------------------------------ ------------------------ ------------------ ----------------------
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "spans ingested ($SPANS, first send to last row written)" \
    "$(printf '%.0f/s (%.2f s)' "$SPAN_RATE" "$SPAN_S")" ">= $TARGET_SPANS_PER_S/s" "$(verdict "$v_spans")"
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "log lines ingested ($LOGS, likewise)" \
    "$(printf '%.0f/s (%.2f s)' "$LOG_RATE" "$LOG_S")" "none" "-"
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "RSS peak (VmHWM), both tables at the cap" \
    "$(printf '%.1f MiB' "$(mib "$HWM")")" "< $TARGET_RSS_MIB MiB" "$(verdict "$v_rss")"
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "RSS now (VmRSS)" "$(printf '%.1f MiB' "$(mib "$RSS")")" "" ""
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "GET /traces (newest 200), median / max" \
    "$(printf '%.1f / %.1f ms' "$LIST_MED" "$LIST_MAX")" "< $TARGET_PAGE_MS ms" "$(verdict "$v_list")"
  printf '| %-58s | %-22s | %-16s | %-20s |\n' "GET /traces/<id> ($TRACE_SPANS spans, $WF_KB KiB), median / max" \
    "$(printf '%.1f / %.1f ms' "$WF_MED" "$WF_MAX")" "< $TARGET_PAGE_MS ms" "$(verdict "$v_wf")"
} | mark
if ! smoke && [ "$v_spans$v_rss$v_list$v_wf" != 1111 ]; then
  if [ "$REPORT_ONLY" = 1 ]; then
    echo "$BENCH: a target was MISSED (--report-only: exit 0)"
  else
    echo "$BENCH: a target was MISSED" >&2
    exit 1
  fi
fi
