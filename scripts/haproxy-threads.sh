#!/usr/bin/env bash
# haproxy-threads.sh: does Debian's HAProxy 2.6 abandon http-checks in
# flight while external checks fork in the same process (issue 21)? Root;
# runs in a sandbox of its own (scripts/sandbox.sh), on its loopback only.
#
# One healthy backend (internal/lab/delayd on 0.0.0.0:8081, every
# 127.x.y.z answers), lbcheckd asked by N http-check servers at inter 1s
# fall 2 (/check, as packaging/lbcheckd/haproxy-httpchk.cfg), N agent-check
# servers (haproxy-agent.cfg) and, where the row says so, N external-check
# servers forking check_http_status at inter 1s. Every check should pass:
# each failure HAProxy counts (chkfail) and each DOWN (chkdown) is
# HAProxy's doing, not the backend's. Rows: the poller (epoll or poll,
# `noepoll`) and nbthread. Prints a markdown table.
#
#   scripts/haproxy-threads.sh            N=60 servers a backend, SECS=60 a row
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-60}
SECS=${SECS:-60}
export PATH=$PATH:/usr/sbin:/sbin
[[ -n ${LBC_SANDBOX:-} ]] || exec scripts/sandbox.sh "$0" "$@"

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[[ -f $tmp/haproxy.pid ]] && kill "$(cat "$tmp/haproxy.pid")" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$tmp/" ./cmd/lbcheckd ./cmd/check_http_status ./internal/lab/delayd
chmod 755 "$tmp"

"$tmp/delayd" -listen 0.0.0.0:8081 >"$tmp/delayd.log" 2>&1 &
pids+=($!)
cat >"$tmp/lbcheckd.yml" <<CONF
listen: 127.0.0.1:9707
agent_listen: 127.0.0.1:9708
allow: [127.0.0.0/8]
modules:
  http: [check_http_status, -t, "1"]
CONF
"$tmp/lbcheckd" --config "$tmp/lbcheckd.yml" 2>"$tmp/lbcheckd.log" &
pids+=($!)
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:9707/metrics && break; sleep 0.1; done
# HAProxy's log (option log-health-checks: every check result that changes, with its reason)
socat -u UDP4-RECV:5514,bind=127.0.0.1 OPEN:"$tmp/hc.log",creat,append &
pids+=($!)

# run POLLER THREADS EXTERNAL: "chkfail chkdown" per kind (httpchk agent external)
run() {
	local poller=$1 threads=$2 ext=$3 i
	{
		echo "global"
		echo "	daemon"
		echo "	pidfile $tmp/haproxy.pid"
		echo "	stats socket $tmp/haproxy.sock mode 600 level admin"
		echo "	nbthread $threads"
		[[ $poller == poll ]] && echo "	noepoll"
		echo "	external-check"
		echo "	insecure-fork-wanted"
		echo "	log 127.0.0.1:5514 local0"
		echo "defaults"
		echo "	log global"
		echo "	option log-health-checks"
		echo "	mode http"
		echo "	timeout connect 2s"
		echo "	timeout client 10s"
		echo "	timeout server 10s"
		echo "	timeout check 2s"
		echo "backend httpchk"
		echo "	option httpchk"
		echo "	http-check send meth GET uri-lf /check?module=http&target=%[srv_name]"
		echo "	http-check expect status 200"
		echo "	default-server check inter 1s fall 2 rise 1 addr 127.0.0.1 port 9707"
		for ((i = 1; i <= N; i++)); do echo "	server 127.0.1.$i:8081 127.0.1.$i:8081"; done
		echo "backend agent"
		echo "	default-server check inter 1s fall 2 rise 1 agent-check agent-addr 127.0.0.1 agent-port 9708 agent-inter 1s"
		for ((i = 1; i <= N; i++)); do echo "	server a$i 127.0.2.$i:8081 agent-send \"http 127.0.2.$i 8081\\n\""; done
		if ((ext)); then
			echo "backend external"
			echo "	option external-check"
			echo "	external-check command $tmp/check_http_status"
			echo "	default-server check inter 1s fall 2 rise 1"
			for ((i = 1; i <= N; i++)); do echo "	server e$i 127.0.3.$i:8081"; done
		fi
	} >"$tmp/haproxy.cfg"
	rm -f "$tmp/haproxy.pid"
	: >"$tmp/hc.log"
	haproxy -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 || { cat "$tmp/haproxy.log" >&2; exit 1; }
	for _ in $(seq 50); do [[ -s $tmp/haproxy.pid ]] && break; sleep 0.1; done
	# a few seconds to come UP, then the counters from zero
	sleep 5
	echo "clear counters all" | socat -t 2 - "UNIX-CONNECT:$tmp/haproxy.sock" >/dev/null
	: >"$tmp/hc.log"
	sleep "$SECS"
	# why the http-checks failed, from HAProxy's own log lines
	grep -o 'server httpchk/[^ ]* failed, reason: [^,]*' "$tmp/hc.log" | sed 's/.*reason: //' | sort | uniq -c |
		awk '{ n = $1; $1 = ""; printf "%s%s x%d", (NR > 1 ? "; " : ""), substr($0, 2), n }' >"$tmp/reasons"
	# show stat, retried: under load the socket may answer late
	for _ in 1 2 3 4 5; do
		echo "show stat" | socat -t 5 - "UNIX-CONNECT:$tmp/haproxy.sock" >"$tmp/stat" && [[ -s $tmp/stat ]] && break
		sleep 1
	done
	awk -F, '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$2 != "BACKEND" && $2 != "FRONTEND" {
			f[$1] += $c["chkfail"]; d[$1] += $c["chkdown"]
			if ($c["status"] !~ /^UP/) down[$1]++
		}
		END { for (b in f) printf "%s %d %d %d\n", b, f[b], d[b], down[b] }' "$tmp/stat" >"$tmp/row"
	echo "reasons $(cat "$tmp/reasons")" >>"$tmp/row"
	kill "$(cat "$tmp/haproxy.pid")"
	for _ in $(seq 50); do kill -0 "$(cat "$tmp/haproxy.pid")" 2>/dev/null || break; sleep 0.1; done
	cat "$tmp/row"
}

echo "Debian's $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) before;"
echo "$N servers a backend at inter 1s fall 2, ${SECS} s a row, every backend healthy: every failure is HAProxy's."
echo
echo "| poller | nbthread | external checks | http-check failures (DOWN events) | agent-check failures (DOWN events) | external-check failures (DOWN events) | why the http-checks failed (HAProxy's log) |"
echo "|---|---|---|---|---|---|---|"
rows=("epoll 4 1" "epoll 4 0" "poll 4 1" "epoll 1 1")
[[ -z ${ROWS:-} ]] || IFS=, read -ra rows <<<"$ROWS" # e.g. ROWS="epoll 4 1,poll 4 1"
for row in "${rows[@]}"; do
	read -r poller threads ext <<<"$row"
	out=$(run "$poller" "$threads" "$ext")
	get() { awk -v b="$1" -v k="$2" '$1 == b { print $k }' <<<"$out"; }
	e="—"
	((ext)) && e="$(get external 2) ($(get external 3))"
	printf '| %s | %s | %s | %s (%s) of %d | %s (%s) | %s | %s |\n' "$poller" "$threads" "$( ((ext)) && echo "$N forking" || echo none)" \
		"$(get httpchk 2)" "$(get httpchk 3)" "$((N * SECS))" "$(get agent 2)" "$(get agent 3)" "$e" "$(sed -n 's/^reasons //p' <<<"$out")"
done
echo
echo "Load after: $(cut -d' ' -f1-3 /proc/loadavg)."
