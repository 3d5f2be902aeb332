#!/usr/bin/env bash
# bench/run.sh [N]: times frm against xrootd's frm_admin and GNU find on one
# namespace of N files with FRM xattrs (default 100000; 1000000 for the
# large run). `make bench` runs the default.
#
# For each of find -recursive unmigrated, find -recursive pinned and
# audit -recursive names on /store: one untimed run to warm the cache (its
# output is kept to check the counts), then the best wall time of RUNS
# (default 3) runs with all output sent to /dev/null; the same with
# frm_admin (options before the type word) and GNU
# `find <root> -printf '%T@ %p\n'`. Peak RSS of frm comes from
# /usr/bin/time (GNU time) or, without it, from VmHWM in /proc.
#
# Environment: BENCH_DIR (namespace directory, default
# $TMPDIR/frm-bench-N; reused when it exists, so generation is paid once),
# RUNS, FRM (frm binary, default bin/frm), FRM_ADMIN (default
# /usr/bin/frm_admin; the xrootd columns are left out when it is missing).
set -euo pipefail

N=${1:-100000}
case $N in '' | *[!0-9]*) echo "usage: $0 [number-of-files]" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRM=${FRM:-$ROOT/bin/frm}
XRD=${FRM_ADMIN:-/usr/bin/frm_admin}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/frm-bench-$N}

if [ ! -x "$FRM" ]; then
	(cd "$ROOT" && make build >/dev/null)
fi
have_xrd=1
[ -x "$XRD" ] || { have_xrd=0; echo "note: $XRD not found; xrootd columns left out (apt-get install xrootd-server)" >&2; }

# ---- namespace (generation time is not measured) ----
if [ ! -f "$DIR/bench-counts" ]; then
	rm -rf "$DIR"
	echo "generating $N files in $DIR ..." >&2
	counts=$(cd "$ROOT" && go run ./bench/gen -n "$N" "$DIR")
	echo "$counts" >"$DIR/bench-counts"
fi
# shellcheck disable=SC1091
. "$DIR/bench-counts" # files= unmigrated= nocopy= pinned=
if [ "$files" != "$N" ]; then
	echo "$DIR holds $files files, not $N; remove it or set BENCH_DIR" >&2
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TIMEBIN=
if /usr/bin/time -f %M true >/dev/null 2>&1; then
	TIMEBIN=/usr/bin/time
fi

# run_rss OUT CMD...: runs CMD with stdout and stderr to OUT, prints its
# peak RSS in KiB and its CPU time (user + system seconds; "" without GNU
# time).
run_rss() {
	local out=$1
	shift
	if [ -n "$TIMEBIN" ]; then
		"$TIMEBIN" -f '%M %U %S' -o "$TMP/rss" "$@" >"$out" 2>&1 || true
		tail -n 1 "$TMP/rss" | awk '{ printf "%d %.2f\n", $1, $2 + $3 }'
		return
	fi
	"$@" >"$out" 2>&1 &
	local pid=$! hwm=0 v
	while kill -0 "$pid" 2>/dev/null; do
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		[ -n "$v" ] && hwm=$v
		sleep 0.005
	done
	wait "$pid" || true
	echo "$hwm"
}

# bench NAME CMD...: warm-up run kept in $TMP/NAME.out, then the best of
# RUNS timed runs; sets BEST (wall seconds), CPU (the least user + system
# seconds of a run) and RSS (peak KiB over all runs).
bench() {
	local name=$1
	shift
	local rss cpu t0 t1 ns best=
	read -r RSS CPU < <(run_rss "$TMP/$name.out" "$@")
	for _ in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		read -r rss cpu < <(run_rss /dev/null "$@")
		t1=$(date +%s%N)
		ns=$((t1 - t0))
		if [ -z "$best" ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
		if [ "$rss" -gt "$RSS" ]; then RSS=$rss; fi
		if [ -n "$cpu" ] && awk -v a="$cpu" -v b="$CPU" 'BEGIN { exit !(a < b) }'; then CPU=$cpu; fi
	done
	BEST=$(awk -v ns="$best" 'BEGIN { printf "%.3f", ns / 1e9 }')
	CPU=${CPU:--}
}

# check NAME WANT: the count line of the warm-up output.
check() {
	local got
	got=$(grep -Eo '^(frm_admin: )?[0-9]+ (unmigrated|pinned) files? found\.|^[0-9]+ problems? found' "$TMP/$1.out" | grep -Eo '[0-9]+' | head -n 1 || true)
	if [ "$got" != "$2" ]; then
		echo "WARNING: $1 reported ${got:-nothing}, expected $2" >&2
		tail -n 3 "$TMP/$1.out" >&2
	fi
}

CFG=$DIR/frm.toml
XCF=$DIR/xrootd.cf
STORE=$DIR/ns/store
declare -A T R C
ops=("unmigrated:find -recursive unmigrated /store" "pinned:find -recursive pinned /store" "audit:audit -recursive names /store")
want_unmigrated=$unmigrated want_pinned=$pinned want_audit=$nocopy

for op in "${ops[@]}"; do
	key=${op%%:*}
	read -r -a args <<<"${op#*:}"
	bench "frm-$key" "$FRM" admin -c "$CFG" "${args[@]}"
	T[frm-$key]=$BEST R[$key]=$RSS C[frm-$key]=$CPU
	want=want_$key
	check "frm-$key" "${!want}"
	if [ "$have_xrd" = 1 ]; then
		bench "xrd-$key" "$XRD" -c "$XCF" "${args[@]}" # options already precede the type word
		T[xrd-$key]=$BEST C[xrd-$key]=$CPU
		check "xrd-$key" "${!want}"
	fi
done
bench gnufind find "$STORE" -printf '%T@ %p\n'
T[find]=$BEST C[find]=$CPU
lines=$(wc -l <"$TMP/gnufind.out")
[ "$lines" -ge "$N" ] || echo "WARNING: GNU find printed $lines lines for $N files" >&2

fs=$(df -PT "$DIR" | awk 'NR == 2 {print $2}')
echo
echo "frm benchmark: $N files ($unmigrated unmigrated, $pinned pinned) in $DIR ($fs), $(nproc) CPUs"
echo "best of $RUNS after one warm-up run; output to /dev/null; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-32s %9s %10s %9s %13s %9s %12s   %s\n' "command (wall seconds)" "frm" "frm_admin" "GNU find" "frm_admin/frm" "frm/find" "frm peak RSS" "CPU s: frm frm_admin find"
for op in "${ops[@]}"; do
	key=${op%%:*}
	f=${T[frm-$key]}
	x=${T[xrd-$key]:-}
	awk -v name="${op#*:}" -v f="$f" -v x="$x" -v g="${T[find]}" -v rss="${R[$key]}" \
		-v cf="${C[frm-$key]}" -v cx="${C[xrd-$key]:--}" -v cg="${C[find]}" 'BEGIN {
		xs = (x == "") ? "-" : sprintf("%.3fs", x)
		sp = (x == "") ? "-" : sprintf("%.2fx", x / f)
		printf "%-32s %8.3fs %10s %8.3fs %13s %8.2fx %9.1f MB   %s %s %s\n", name, f, xs, g, sp, f / g, rss / 1024, cf, cx, cg
	}'
done
printf '%-32s %9s %10s %8.3fs\n' "find -printf '%T@ %p\\n' (GNU)" "" "" "${T[find]}"
echo
awk -v n="$N" -v g="${T[find]}" -v have="$have_xrd" \
	-v f1="${T[frm-unmigrated]}" -v f2="${T[frm-pinned]}" -v f3="${T[frm-audit]}" \
	-v x1="${T[xrd-unmigrated]:-0}" -v x2="${T[xrd-pinned]:-0}" -v x3="${T[xrd-audit]:-0}" \
	-v r1="${R[unmigrated]}" -v r2="${R[pinned]}" -v r3="${R[audit]}" 'BEGIN {
	ok = 1
	if (have == 1) {
		s = x1 / f1; if (x2 / f2 < s) s = x2 / f2; if (x3 / f3 < s) s = x3 / f3
		r = (s >= 1.5) ? "met" : "MISSED"; if (s < 1.5) ok = 0
		printf "target frm >= 1.5x faster than frm_admin: worst %.2fx  %s\n", s, r
	}
	w = f1 / g; if (f2 / g > w) w = f2 / g
	r = (w <= 1.2) ? "met" : "MISSED"; if (w > 1.2) ok = 0
	printf "target find within 1.2x of GNU find:       worst %.2fx  %s (audit names: %.2fx)\n", w, r, f3 / g
	m = r1; if (r2 > m) m = r2; if (r3 > m) m = r3
	if (n >= 1000000) {
		r = (m < 40 * 1024) ? "met" : "MISSED"; if (m >= 40 * 1024) ok = 0
		printf "target peak RSS < 40 MB at 1M files:        %.1f MB  %s\n", m / 1024, r
	} else {
		printf "peak RSS of frm: %.1f MB (the 40 MB target applies at 1M files: bench/run.sh 1000000)\n", m / 1024
	}
}'
