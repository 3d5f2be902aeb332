#!/bin/sh
# Usage: examples/demo.sh [BIN [DIR]]   (what `make demo` runs)
#
# Opens frm's console on the sandbox site in DIR (default /tmp/frm-demo,
# created by `frm demo` on the first run) with the site's daemon running in
# the background: stages, migrations and purges happen while you watch. The
# daemon logs to DIR/daemon.log (tailed in the Daemons view) and stops when
# the console exits. Safe to run again: the site is reused, and a daemon
# left over from an earlier run that did not end cleanly is stopped first.
set -u
bin=${1:-bin/frm}
dir=${2:-/tmp/frm-demo}
cfg=$dir/frm.toml
log=$dir/daemon.log
pidfile=$dir/daemon.pid

if [ ! -f "$cfg" ]; then
	"$bin" demo "$dir" >/dev/null || exit 1
	echo "demo site created in $dir"
fi

# A daemon of an earlier run still holds the site's instance lock: stop it
# (only if the pid is still an frm daemon; the pid may have been reused).
if [ -f "$pidfile" ]; then
	old=$(cat "$pidfile")
	if [ -n "$old" ] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q " daemon -c $cfg "; then
		echo "stopping the daemon of an earlier run (pid $old)"
		kill "$old" 2>/dev/null
		n=0
		while kill -0 "$old" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	fi
	rm -f "$pidfile"
fi

# A short drain: a demo transfer left running restarts with the next run.
# Start errors and warnings go to stderr as well as the log (frm daemon
# does that itself until it runs): kept apart so the log has them once.
"$bin" daemon -c "$cfg" -l "$log" -drain 5s 2>"$dir/daemon.start" &
pid=$!
echo "$pid" >"$pidfile"
stop() {
	kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -f "$pidfile"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP

# Wait (up to 5 s) until the daemon answers on its control socket.
n=0
until "$bin" admin -c "$cfg" status >/dev/null 2>&1; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "frm daemon did not start:" >&2
		tail -5 "$dir/daemon.start" >&2
		break
	fi
	n=$((n + 1))
	[ $n -ge 50 ] && { echo "frm daemon does not answer yet; opening the console anyway" >&2; break; }
	sleep 0.1
done

"$bin" tui -c "$cfg" --daemon-log "$log"
status=$?
echo "The daemon is stopped. The shell on the same site is one command away:"
echo "  $bin admin -c $cfg"
exit $status
