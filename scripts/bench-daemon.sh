#!/usr/bin/env bash
# make bench, after scripts/bench.sh: lbcheckd (issue 15) next to Debian's
# prometheus-blackbox-exporter and the process-per-check binaries, on the
# same targets at the same concurrency, in the integration namespaces
# (test/integration/netns.sh). Writes its own section of docs/benchmarks.md,
# between the lbcheckd markers. Root.
#
# Per module: checks/s and the daemon's own CPU (utime+stime from /proc)
# per check, CONC keep-alive clients (internal/lab/lbload) asking /probe
# for DAEMON_SECS; the binaries the same way through xargs -P CONC. Each
# client asks about its own target (10.99.16.N, DNATed to the lab server),
# so no two share a probe (lbcheckd coalesces identical probes in flight).
# Then RSS with INFLIGHT probes in flight (a dropped port), and a soak of
# SOAK_SECS: RSS and goroutines at its start and end.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-docs/benchmarks.md}
SECS=${DAEMON_SECS:-5}
CONC=${DAEMON_CONC:-64}
INFLIGHT=${INFLIGHT:-1000}
SOAK_SECS=${SOAK_SECS:-600}
netns=test/integration/netns.sh
export PATH=$PATH:/usr/sbin:/sbin

# blackbox_exporter, bc, curl: scripts/deps.sh's bench group (the one list)
scripts/deps.sh install integration bench
[[ -n ${LBC_SANDBOX:-} ]] || exec scripts/sandbox.sh "$0" "$@"

[[ -x bin/lbcheckd ]] || { echo "bench-daemon: bin/lbcheckd missing (make build)" >&2; exit 1; }
"$netns" down >/dev/null 2>&1 || true
"$netns" up >&2
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
	"$netns" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$tmp/lbload" ./internal/lab/lbload
in_ns() { ip netns exec lbc-cli "$@"; }

# 10.99.16.0/20 leads to the lab's server: a route in lbc-cli, DNAT in lbc-srv.
in_ns ip route replace 10.99.16.0/20 via 10.99.0.2
ip netns exec lbc-srv nft -f - <<'NFT'
table ip lbc_bench {
	chain pre {
		type nat hook prerouting priority -100;
		ip daddr 10.99.16.0/20 dnat to 10.99.0.2
	}
}
NFT

cat >"$tmp/lbcheckd.yml" <<CONF
listen: 127.0.0.1:9707
allow: [10.99.0.0/16]
max_in_flight: $((INFLIGHT + 100))
modules:
  http_status: [check_http_status, -t, "5"]
  half_open: [check_tcp_half_open, -t, "5"]
  ssl_hello: [check_ssl_hello, -t, "5"]
  dns_answer: [check_dns_answer, -t, "5", --name, www.lab.test]
  ftp_noop: [check_ftp_noop, -t, "5"]
CONF
cat >"$tmp/blackbox.yml" <<'CONF'
modules:
  http_2xx: {prober: http, timeout: 5s, http: {preferred_ip_protocol: ip4}}
  tcp_connect: {prober: tcp, timeout: 5s, tcp: {preferred_ip_protocol: ip4}}
  tls_connect: {prober: tcp, timeout: 5s, tcp: {preferred_ip_protocol: ip4, tls: true, tls_config: {insecure_skip_verify: true}}}
  dns: {prober: dns, timeout: 5s, dns: {preferred_ip_protocol: ip4, query_name: www.lab.test, query_type: A}}
  ftp_banner: {prober: tcp, timeout: 5s, tcp: {preferred_ip_protocol: ip4, query_response: [{expect: "^220"}]}}
CONF
in_ns bin/lbcheckd --config "$tmp/lbcheckd.yml" 2>"$tmp/lbcheckd.log" &
pids+=($!)
in_ns prometheus-blackbox-exporter --config.file="$tmp/blackbox.yml" --web.listen-address=127.0.0.1:9115 2>"$tmp/blackbox.log" &
pids+=($!)
for _ in $(seq 50); do
	in_ns curl -sf -o /dev/null http://127.0.0.1:9707/metrics && in_ns curl -sf -o /dev/null http://127.0.0.1:9115/metrics && break
	sleep 0.1
done
# ip netns exec execs the daemon: the pids above are the daemons' own.
lbd=$(pgrep -f "^bin/lbcheckd --config $tmp/lbcheckd.yml")
bbx=$(pgrep -f "^prometheus-blackbox-exporter --config.file=$tmp/blackbox.yml")
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
rss_of() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# load PID URL: "checks/s ms-CPU-per-check" for CONC clients over SECS
load() {
	local pid=$1 url=$2 c0 c1 n good secs
	c0=$(cpu_of "$pid")
	read -r n good secs < <(in_ns "$tmp/lbload" -c "$CONC" -d "${SECS}s" -spread "$CONC" "$url")
	c1=$(cpu_of "$pid")
	((good == n)) || { echo "bench-daemon: $url: $((n - good)) of $n answers were not 200" >&2; exit 1; }
	echo "$(bc -l <<<"$n / $secs") $(bc -l <<<"($c1 - $c0) * 1000 / $n")"
}

# procs ARGV...: the binary as a process per check, CONC at a time, each
# with its own target: "checks/s ms-CPU-per-check" from the children's rusage.
procs() {
	local n=$((CONC * 10)) t e u s
	t=$(seq "$n" | awk -v c="$CONC" '{print ($1 % c) + 1}' | in_ns /usr/bin/time -f '%e %U %S' \
		xargs -P "$CONC" -I{} "$@" 10.99.16.{} 2>&1 >/dev/null | tail -1)
	read -r e u s <<<"$t"
	echo "$(bc -l <<<"$n / $e") $(bc -l <<<"($u + $s) * 1000 / $n")"
}

# rows: name | lbcheckd module | port | blackbox module | binary argv (target appended)
rows=(
	"http_status|http_status|80|http_2xx|bin/check_http_status -p 80"
	"half-open|half_open|8080|tcp_connect|bin/check_tcp_half_open -p 8080"
	"ssl_hello|ssl_hello|443|tls_connect|bin/check_ssl_hello -p 443"
	"dns_answer|dns_answer|53|dns|bin/check_dns_answer --name www.lab.test -p 53"
	"ftp_noop|ftp_noop|21|ftp_banner|bin/check_ftp_noop -p 21"
)
{
	echo "<!-- lbcheckd: written by scripts/bench-daemon.sh -->"
	echo "## lbcheckd"
	echo
	echo "\`scripts/bench-daemon.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores). $CONC keep-alive clients for ${SECS} s per row, each"
	echo "asking about a target of its own (no shared probes), over \`/probe\` (lbcheckd, blackbox_exporter $(prometheus-blackbox-exporter --version 2>&1 | awk 'NR==1{print $3}'))"
	echo "or as a process per check (\`xargs -P $CONC\`). CPU per check: the daemon's own utime+stime from /proc"
	echo "(the clients' not counted); for the binaries, the children's. Ratio: lbcheckd's checks per CPU-second over blackbox_exporter's."
	echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| check | lbcheckd: checks/s | CPU/check | blackbox_exporter module | checks/s | CPU/check | process per check: checks/s | CPU/check | probes per CPU-s, ours/blackbox |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$tmp/section"
for row in "${rows[@]}"; do
	IFS='|' read -r name mod port bmod argv <<<"$row"
	# shellcheck disable=SC2086
	read -r ot oc <<<"$(load "$lbd" "http://127.0.0.1:9707/probe?module=$mod&target=10.99.16.{n}:$port")"
	read -r bt bc_ <<<"$(load "$bbx" "http://127.0.0.1:9115/probe?module=$bmod&target=10.99.16.{n}:$port")"
	# shellcheck disable=SC2086
	read -r pt pc <<<"$(procs $argv)"
	printf '| %s | %.0f | %.3f ms | `%s` | %.0f | %.3f ms | %.0f | %.2f ms | %.1f |\n' \
		"$name" "$ot" "$oc" "$bmod" "$bt" "$bc_" "$pt" "$pc" "$(bc -l <<<"$bc_ / $oc")" >>"$tmp/section"
done
# /check, the load balancers' front, on the HTTP row's target
read -r ct cc <<<"$(load "$lbd" "http://127.0.0.1:9707/check?module=http_status&target=10.99.16.{n}:80")"
printf '| http_status, `/check` | %.0f | %.3f ms | | | | | | |\n' "$ct" "$cc" >>"$tmp/section"

# RSS with INFLIGHT probes in flight: a port nft drops (81), -t 5.
in_ns "$tmp/lbload" -c "$INFLIGHT" -n "$INFLIGHT" -d 30s -spread "$INFLIGHT" \
	"http://127.0.0.1:9707/probe?module=http_status&target={ip}:81" >/dev/null &
loadpid=$!
peak=0 seen=0
for _ in $(seq 40); do
	sleep 0.1
	n=$(in_ns curl -s http://127.0.0.1:9707/metrics | awk '$1 == "lbcheckd_probes_in_flight" {print $2}')
	r=$(rss_of "$lbd")
	((r > peak)) && peak=$r
	((${n%.*} > seen)) && seen=${n%.*}
done
wait "$loadpid" || true
{
	echo
	echo "RSS with $seen probes in flight (target: $INFLIGHT, on a dropped port): peak $(bc <<<"scale=1; $peak / 1024") MiB."
} >>"$tmp/section"

# Soak: HTTP probes at CONC for SOAK_SECS; RSS and goroutines after a warm-up and at the end.
if ((SOAK_SECS > 0)); then
	in_ns "$tmp/lbload" -c "$CONC" -d 10s -spread "$CONC" "http://127.0.0.1:9707/probe?module=http_status&target=10.99.16.{n}:80" >/dev/null
	g() { in_ns curl -s http://127.0.0.1:9707/metrics | awk '$1 == "go_goroutines" {print $2}'; }
	r0=$(rss_of "$lbd") g0=$(g)
	read -r sn _ _ < <(in_ns "$tmp/lbload" -c "$CONC" -d "${SOAK_SECS}s" -spread "$CONC" "http://127.0.0.1:9707/probe?module=http_status&target=10.99.16.{n}:80")
	r1=$(rss_of "$lbd") g1=$(g)
	echo "Soak: $sn HTTP probes over $SOAK_SECS s at $CONC clients; RSS $(bc <<<"scale=1; $r0 / 1024") MiB after a 10 s warm-up, $(bc <<<"scale=1; $r1 / 1024") MiB at the end; goroutines $g0, then $g1." >>"$tmp/section"
fi
{
	echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "<!-- /lbcheckd -->"
} >>"$tmp/section"

# Replace the section between the markers, or append it.
touch "$OUT"
awk -v f="$tmp/section" '
	/^<!-- lbcheckd: / { while ((getline l < f) > 0) print l; skip = 1; done = 1; next }
	/^<!-- \/lbcheckd -->/ { skip = 0; next }
	!skip { print }
	END { if (!done) { print ""; while ((getline l < f) > 0) print l } }
' "$OUT" >"$tmp/out"
cp "$tmp/out" "$OUT"
cat "$tmp/section"
