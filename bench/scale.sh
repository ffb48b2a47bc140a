#!/usr/bin/env bash
# Scale run: the feedwatch binary (`feedwatch watch`: poll, match against
# PROFILES profiles, publish hits, seen-state in the embedded JetStream)
# on N feeds of one bench/farm with a real interval, long enough for a
# first round (spread over the interval) and a steady window after it.
# Reports polls/s, CPU per poll, schedule lag (p50/p99 from the
# feedwatch_schedule_lag_seconds histogram, steady window only), resident
# memory per feed and the seen bucket's size.
#
#   bash bench/scale.sh                    # N=50000 INTERVAL=5m MODE=slide
#   N=10000 INTERVAL=1m bash bench/scale.sh
#   MODE=static BACKFILL=0s bash bench/scale.sh   # 304s, no hits: the daemon's own memory per feed
#
# MODE is the farm's: slide (every poll a 200 with one new item: every feed
# changing every interval) or static (304s). All traffic is on 127.0.0.1.
set -euo pipefail

N=${N:-50000}
INTERVAL=${INTERVAL:-5m}
MODE=${MODE:-slide}
PROFILES=${PROFILES:-1000}
BACKFILL=${BACKFILL:-24h} # 0s: the first poll alerts nothing (no hits stored)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/feedwatch-scale.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

secs() { # 5m -> 300
	local v=$1
	case $v in
	*h) echo $((${v%h} * 3600)) ;;
	*m) echo $((${v%m} * 60)) ;;
	*s) echo "${v%s}" ;;
	*) echo "$v" ;;
	esac
}
IV=$(secs "$INTERVAL")

cd "$ROOT"
go build -o "$WORK/farm" ./bench/farm
go build -o "$WORK/feedwatch" ./cmd/feedwatch

"$WORK/farm" -n "$N" -mode "$MODE" >"$WORK/farm.addr" 2>"$WORK/farm.log" &
FARM_PID=$!
PIDS+=("$FARM_PID")
for _ in $(seq 600); do
	[[ -s $WORK/farm.addr ]] && break
	sleep 0.1
done
FARM=$(head -1 "$WORK/farm.addr")
[[ $FARM == 127.0.0.1:* ]] || { echo "farm did not start" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	printf 'data_dir: %s/data\nhttp: {listen: "127.0.0.1:%d"}\n' "$WORK" "$port"
	printf 'watcher: {interval: %s, concurrency: 64, per_host: 64, timeout: 30s, backfill: %s}\nfeeds:\n' "$INTERVAL" "$BACKFILL"
	for ((i = 0; i < N; i++)); do printf '  - {url: "http://%s/f/%d", name: f%d}\n' "$FARM" "$i" "$i"; done
	printf 'profiles:\n'
	"$WORK/farm" -profiles "$PROFILES"
} >"$WORK/feedwatch.yaml"

"$WORK/feedwatch" watch --config "$WORK/feedwatch.yaml" >"$WORK/out" 2>"$WORK/log" &
FW_PID=$!
PIDS+=("$FW_PID")
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
for _ in $(seq 600); do
	metrics >/dev/null 2>&1 && break
	sleep 0.1
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks
snap() { metrics >"$WORK/m.$1"; cpu "$FW_PID" >"$WORK/cpu.$1"; date +%s.%N >"$WORK/t.$1"; }
# Steady window: after the first round (spread over the interval) plus a
# little, for one more interval.
echo "scale: $N feeds, interval $INTERVAL, farm $MODE, $PROFILES profiles, backfill $BACKFILL; first round ${IV}s, then a ${IV}s window" >&2
sleep $((IV + IV / 10 + 5))
snap 0
sleep "$IV"
snap 1

polls() { awk '/^feedwatch_polls_total/ {s+=$2} END {printf "%d", s}' "$1"; }
lag() { # cumulative bucket counts of the lag histogram: "le count" lines
	grep '^feedwatch_schedule_lag_seconds_bucket' "$1" | sed -E 's/.*le="([^"]+)"} ([0-9.e+]+)/\1 \2/'
}
p0=$(polls "$WORK/m.0")
p1=$(polls "$WORK/m.1")
el=$(awk '{print $1}' "$WORK/t.1" "$WORK/t.0" | awk 'NR == 1 {a = $1} NR == 2 {printf "%f", a - $1}')
dcpu=$(($(cat "$WORK/cpu.1") - $(cat "$WORK/cpu.0"))) # clock ticks, 100/s
rss=$(awk '/^process_resident_memory_bytes/ {printf "%d", $2}' "$WORK/m.1")
heap=$(awk '/^go_memstats_heap_inuse_bytes/ {printf "%d", $2}' "$WORK/m.1")
seen=$(find "$WORK/data" -path "*KV_feedwatch_seen*" -type f -printf "%s\n" | awk '{s+=$1} END {printf "%d", s}')
paste <(lag "$WORK/m.0") <(lag "$WORK/m.1") | awk '
	{ le[NR] = $1; c[NR] = $4 - $2 }
	END {
		total = c[NR]
		for (i = 1; i <= NR; i++) {
			if (p50 == "" && c[i] >= 0.50 * total) p50 = le[i]
			if (p99 == "" && c[i] >= 0.99 * total) p99 = le[i]
		}
		printf "schedule lag in the window: p50 <= %s s, p99 <= %s s (%d polls)\n", p50, p99, total
	}'
awk -v n="$N" -v iv="$IV" -v p="$((p1 - p0))" -v el="$el" -v cpu="$dcpu" -v rss="$rss" -v heap="$heap" -v seen="$seen" 'BEGIN {
	printf "polls in the window: %d (%.1f/s; the interval allows at most %.1f/s, jitter adds 0-20 %%), %.3f CPU-ms/poll\n", p, p / el, n / iv, cpu * 10 / p
	printf "resident memory %.0f MB = %.0f B per feed; Go heap in use %.0f MB = %.0f B per feed; seen bucket on disk %.1f MB\n", rss / 1e6, rss / n, heap / 1e6, heap / n, seen / 1e6
}'
echo "log lines: $(grep -c . "$WORK/log" || true) (work dir $WORK)"
