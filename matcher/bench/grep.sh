#!/usr/bin/env bash
# grep.sh [DIR]: writes the matcher benchmark's generated text and keyword
# files into DIR (default $TMPDIR/feedwatch-matcher-bench) and times
#   LC_ALL=C grep -F -i -w -c -f keywords-N.txt text.txt
# on them, for comparison with `go test ./matcher -run '^$' -bench .`.
# Wall time and CPU time (user+sys) are both shown: on a shared machine the
# CPU time is the steadier figure. grep needs many minutes for 100,000
# keywords, so that set runs over the first $PREFIX_MB MB of the text
# (default 2) and the rate is computed from that.
set -euo pipefail
dir=${1:-${TMPDIR:-/tmp}/feedwatch-matcher-bench}
prefix_mb=${PREFIX_MB:-2}
cd "$(dirname "$0")/../.."
go test ./matcher -run '^TestGenerateBenchFiles$' -count=1 -args -gen "$dir" >/dev/null
echo "text: $dir/text.txt, $(wc -c <"$dir/text.txt") bytes, $(wc -l <"$dir/text.txt") lines"
head -c $((prefix_mb << 20)) "$dir/text.txt" | sed '$d' >"$dir/text-prefix.txt"
TIMEFORMAT='%R %U %S'
for n in 10 1000 100000; do
	text="$dir/text.txt"
	if [ "$n" -gt 1000 ]; then
		text="$dir/text-prefix.txt"
	fi
	bytes=$(wc -c <"$text")
	t=$( { time LC_ALL=C grep -F -i -w -c -f "$dir/keywords-$n.txt" "$text" >"$dir/grep-$n.out" || true; } 2>&1 )
	read -r real user sys <<<"$t"
	awk -v b="$bytes" -v r="$real" -v u="$user" -v s="$sys" -v n="$n" -v c="$(cat "$dir/grep-$n.out")" -v f="$(basename "$text")" 'BEGIN {
		printf "grep -F -i -w -c, %6d keywords, %s (%d bytes): %7.2f s wall %8.3f MB/s, %7.2f s cpu %8.3f MB/cpu-s, %s lines match\n",
			n, f, b, r, b/r/1e6, u+s, b/(u+s)/1e6, c }'
done
