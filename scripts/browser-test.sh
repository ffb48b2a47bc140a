#!/usr/bin/env bash
# Browser test of the web console: runs the daemon on the offline example
# (examples/feedwatch.yaml, with the console's actions on), opens every page
# in headless Chromium and checks what a person sees there: the example's
# hits, the feed's state, a backtest in the query box. It also fails on any Content
# Security Policy violation Chromium reports.
#
#   bash scripts/browser-test.sh               # check
#   SCREENSHOTS=docs/console bash scripts/browser-test.sh   # and save one PNG per page
#
# Installs Debian's chromium when it is missing (apt-get, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

chrome=$(command -v chromium || command -v chromium-browser || true)
need=()
[ -n "$chrome" ] || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	echo "browser-test: installing ${need[*]} from Debian" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "browser-test: ${need[*]} missing, and neither root nor sudo to install" >&2; exit 1; }
		sudo="sudo"
	fi
	$sudo apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
	chrome=$(command -v chromium)
fi

work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/feedwatch" ./cmd/feedwatch
cp examples/feedwatch.yaml examples/world.xml "$work/"
# A free port: one in 20000-39999 where nothing answers (no python or
# netcat needed).
port=""
for _ in $(seq 1 20); do
	p=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "browser-test: no free port" >&2; exit 1; }
base="http://127.0.0.1:$port"
# The example as shipped, on a free port, with the console's actions on.
FEEDWATCH_HTTP_LISTEN="127.0.0.1:$port" FEEDWATCH_HTTP_ADMIN=true \
	"$work/feedwatch" run --config "$work/feedwatch.yaml" >"$work/stdout" 2>"$work/log" &
pid=$!

fail() {
	echo "browser-test: FAIL: $*" >&2
	echo "--- daemon log" >&2
	tail -20 "$work/log" >&2
	exit 1
}

for _ in $(seq 1 150); do
	if curl -fsS "$base/hits" 2>/dev/null | grep -q "page\|Trade Bill"; then
		if curl -fsS "$base/hits" | grep -q "Trade Bill" && curl -fsS "$base/hits" | grep -q "Xinjiang"; then break; fi
	fi
	kill -0 "$pid" 2>/dev/null || fail "the daemon exited"
	sleep 0.2
done
# The status pages read a status up to a second old.
sleep 1.2

# browse URL: the DOM Chromium built, and its log (CSP violations land there).
browse() {
	"$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
		"$@" 2>>"$work/chrome.log"
}

# check PATH NAME WANT...: the page as rendered holds every WANT.
check() {
	local path=$1 name=$2
	shift 2
	local dom
	dom=$(browse --dump-dom "$base$path") || fail "$path: chromium failed"
	for want in "$@"; do
		grep -qF -- "$want" <<<"$dom" || fail "$path: the page does not show \"$want\""
	done
	if [ -n "${SCREENSHOTS:-}" ]; then
		mkdir -p "$repo/$SCREENSHOTS"
		browse --hide-scrollbars --window-size=900,700 --screenshot="$repo/$SCREENSHOTS/$name.png" "$base$path" >/dev/null ||
			fail "$path: screenshot failed"
	fi
	echo "browser-test: ok $path"
}

check / overview "feedwatch" "<b>1</b> ok" ">xinjiang</a>" "Reload config" "archive on"
check /feeds feeds ">world</a>" "state ok" "<td>ok</td>" "items/day"
check /feeds/world feed "Recent items" "since it started" ">trade-bill</a>"
check /profiles profiles ">trade-bill</a>" ">console<"
check /profiles/xinjiang profile "<svg" "class=\"bar\"" "<mark>Xinjiang</mark>" "Mute"
check /hits hits "Peers back <mark>Trade Bill</mark> amendment" "console: delivered"
check /dead dead "no dead letters"
check /members members "<td>run</td>"
# The query box backtests the archive (on by default) with a query no
# profile has; the example's stories are from 2021, hence the wide window.
check "/search?q=genocide+AND+NOT+%22trade+bill%22&since=3650d" search "1 match." \
	"treatment of Uyghurs in Xinjiang a <mark>genocide</mark>"

if [ -n "${SCREENSHOTS:-}" ]; then
	# How it looks on a phone, and in dark mode.
	browse --hide-scrollbars --window-size=390,760 --screenshot="$repo/$SCREENSHOTS/hits-phone.png" "$base/hits" >/dev/null || fail "phone screenshot"
	browse --hide-scrollbars --force-dark-mode --blink-settings=preferredColorScheme=0 --window-size=900,700 \
		--screenshot="$repo/$SCREENSHOTS/profile-dark.png" "$base/profiles/xinjiang" >/dev/null || fail "dark screenshot"
fi

if grep -i "content security policy\|Refused to" "$work/chrome.log"; then
	fail "Chromium reports a Content Security Policy violation"
fi
echo "browser-test: all pages ok"
