#!/usr/bin/env bash
# Peers benchmark: Debian's newsboat, rss2email and feed2exec, then feedwatch,
# over one farm of N feeds on 127.0.0.1 (bench/farm). Each peer runs with
# its default settings, twice on a fresh state: cold (every feed answers
# 200 with a ~30 KB 20-item document, every item new) and warm (the same
# documents again: 304 to a conditional request, else the full document).
#
#   bash bench/peers.sh            # N=500, as bench/README.md reports
#   N=100 PEER_TIMEOUT=300 bash bench/peers.sh
#
# Needs root for apt-get (skipped when the tools are installed) and Go.
# Every run is bounded by PEER_TIMEOUT; all traffic goes to 127.0.0.1.
set -euo pipefail

N=${N:-500}
PEER_TIMEOUT=${PEER_TIMEOUT:-900}
FW_WINDOW=${FW_WINDOW:-15}   # seconds feedwatch is measured in steady state
PROFILES=${PROFILES:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/feedwatch-peers.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

need=()
command -v newsboat >/dev/null || need+=(newsboat)
command -v r2e >/dev/null || need+=(rss2email)
command -v feed2exec >/dev/null || need+=(feed2exec)
if ((${#need[@]})); then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

cd "$ROOT"
go build -o "$WORK/farm" ./bench/farm
go build -o "$WORK/feedwatch" ./cmd/feedwatch

# start_farm MODE: starts the farm, sets FARM (address) and FARM_PID.
start_farm() {
	"$WORK/farm" -n "$N" -mode "$1" >"$WORK/farm.addr" 2>"$WORK/farm.log" &
	FARM_PID=$!
	PIDS+=("$FARM_PID")
	for _ in $(seq 100); do
		[[ -s $WORK/farm.addr ]] && break
		sleep 0.1
	done
	FARM=$(head -1 "$WORK/farm.addr")
	[[ $FARM == 127.0.0.1:* ]] || { echo "farm did not start" >&2; exit 1; }
}
stop_farm() { kill "$FARM_PID"; wait "$FARM_PID" 2>/dev/null || true; }
farm_stats() { curl -s "http://$FARM/stats" | tr '\n' ' '; }

declare -A RATE
# timed NAME PHASE CMD...: runs CMD under the timeout, prints wall time,
# CPU (user+sys of CMD and its children) and the farm's counts, and records
# feeds/s.
timed() {
	local name=$1 phase=$2
	shift 2
	local before after rc=0 wall usr sys
	before=$(farm_stats)
	local TIMEFORMAT='%R %U %S'
	{ time timeout "$PEER_TIMEOUT" "$@" >"$WORK/$name-$phase.out" 2>&1 || rc=$?; } 2>"$WORK/$name-$phase.time"
	read -r wall usr sys <"$WORK/$name-$phase.time"
	after=$(farm_stats)
	RATE[$name-$phase]=$(echo "$N / $wall" | bc -l)
	printf '%-10s %-4s %8.2f s wall %7.2f s cpu %8.1f feeds/s  exit %d  farm before [%s] after [%s]\n' \
		"$name" "$phase" "$wall" "$(echo "$usr + $sys" | bc -l)" "${RATE[$name-$phase]}" "$rc" "$before" "$after"
}

start_farm static
echo "farm: $N feeds at $FARM ($(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg))"
seq 0 $((N - 1)) | sed "s|^|http://$FARM/f/|" >"$WORK/urls"

# newsboat: a urls file, its own config and cache; -x reload fetches all.
mkdir -p "$WORK/newsboat"
: >"$WORK/newsboat/config"
NB=(newsboat -u "$WORK/urls" -c "$WORK/newsboat/cache.db" -C "$WORK/newsboat/config" -x reload)
timed newsboat cold "${NB[@]}"
timed newsboat warm "${NB[@]}"

# rss2email: a new config, feeds imported from OPML, run without sending.
{
	echo '<?xml version="1.0"?><opml version="1.0"><head><title>farm</title></head><body>'
	for i in $(seq 0 $((N - 1))); do echo "<outline type=\"rss\" text=\"f$i\" xmlUrl=\"http://$FARM/f/$i\"/>"; done
	echo '</body></opml>'
} >"$WORK/feeds.opml"
R2E=(r2e -c "$WORK/r2e.cfg" -d "$WORK/r2e.json")
"${R2E[@]}" new bench@example.org >/dev/null 2>&1
"${R2E[@]}" opmlimport "$WORK/feeds.opml" >/dev/null 2>&1
timed rss2email cold "${R2E[@]}" run --no-send
timed rss2email warm "${R2E[@]}" run --no-send

# feed2exec: an ini with every feed going to the null output plugin.
for i in $(seq 0 $((N - 1))); do
	printf '[f%d]\nurl = http://%s/f/%d\noutput = feed2exec.plugins.null\n\n' "$i" "$FARM" "$i"
done >"$WORK/feed2exec.ini"
F2E=(feed2exec --config "$WORK/feed2exec.ini" --database "$WORK/feed2exec.db" fetch)
timed feed2exec cold "${F2E[@]}"
timed feed2exec warm "${F2E[@]}"
stop_farm

# feedwatch (`feedwatch watch`: poll, match against PROFILES profiles,
# publish hits to the embedded JetStream, seen-state in KV). It is a daemon,
# not a one-shot fetcher, so it is measured in steady state with every feed
# always due: cold = the farm in fresh mode (every poll a 200 with 20 new
# items: the work of a peer's first run, plus matching and publishing),
# warm = the static farm (every poll after the first a 304).
fw_run() { # MODE PHASE PROFILES
	start_farm "$1"
	local dir=$WORK/fw-$2 port
	mkdir -p "$dir"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	{
		printf 'data_dir: %s/data\nhttp: {listen: "127.0.0.1:%d"}\n' "$dir" "$port"
		printf 'watcher: {interval: 1ms, concurrency: 64, per_host: 64, timeout: 30s, backfill: 24h}\nfeeds:\n'
		for i in $(seq 0 $((N - 1))); do printf '  - {url: "http://%s/f/%d", name: f%d}\n' "$FARM" "$i" "$i"; done
		echo 'profiles:'
		"$WORK/farm" -profiles "$3"
		printf 'notifiers:\n  console: {type: console}\n'
	} >"$dir/feedwatch.yaml"
	local t0 t1 polls0 polls1 c0 c1 first
	t0=$(date +%s.%N)
	"$WORK/feedwatch" watch --config "$dir/feedwatch.yaml" >"$dir/out" 2>"$dir/log" &
	local fw=$!
	PIDS+=("$fw")
	polls() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^feedwatch_polls_total/ {s+=$2} END {printf "%d", s}'; }
	first=""
	for _ in $(seq 600); do # first round: every feed requested once (bounded: 60 s)
		if [[ $(curl -s "http://$FARM/stats" | awk '/^feeds/ {print $2}') == "$N" ]]; then
			first=$(echo "$(date +%s.%N) - $t0" | bc -l)
			break
		fi
		sleep 0.05
	done
	[[ -n $first ]] || { echo "feedwatch: first round not done in 60 s" >&2; first=60; }
	sleep 3 # past the startup spread
	polls0=$(polls); c0=$(awk '{print $14+$15}' "/proc/$fw/stat"); t0=$(date +%s.%N)
	sleep "$FW_WINDOW"
	polls1=$(polls); c1=$(awk '{print $14+$15}' "/proc/$fw/stat"); t1=$(date +%s.%N)
	kill "$fw"; wait "$fw" 2>/dev/null || true
	local rate el
	el=$(echo "$t1 - $t0" | bc -l)
	rate=$(echo "($polls1 - $polls0) / $el" | bc -l)
	RATE[feedwatch-$2]=$rate
	printf '%-10s %-4s %d profiles: process start to every feed fetched once %.2f s (first polls are spread over >= 2 s); steady %8.1f feeds/s, %.3f cpu-ms/poll  farm [%s]\n' \
		feedwatch "$2" "$3" "$first" "$rate" "$(echo "($c1 - $c0) * 10 / ($polls1 - $polls0)" | bc -l)" "$(farm_stats)"
	stop_farm
}
fw_run fresh cold-1p 1
fw_run fresh cold "$PROFILES"
fw_run static warm "$PROFILES"

echo
for phase in cold warm; do
	for peer in newsboat rss2email feed2exec; do
		printf 'feedwatch (%s profiles) / %-9s %s: %6.1fx\n' "$PROFILES" "$peer" "$phase" "$(echo "${RATE[feedwatch-$phase]} / ${RATE[$peer-$phase]}" | bc -l)"
		[[ $phase == cold ]] && printf 'feedwatch (1 profile) / %-9s %s: %6.1fx\n' "$peer" "$phase" "$(echo "${RATE[feedwatch-cold-1p]} / ${RATE[$peer-$phase]}" | bc -l)"
	done
done
echo "work dir (outputs, configs): $WORK"
