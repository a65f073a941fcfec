#!/usr/bin/env bash
# make bench: each check next to the peer it replaces, on the same target,
# in the integration namespaces (real nginx, unbound, vsftpd;
# test/integration/netns.sh).
# Writes docs/benchmarks.md: median wall time and user+sys CPU per call
# (hyperfine), page faults (GNU time) and threads created per call
# (strace), peak RSS (max over runs, GNU time), binary size, and the ratio
# of medians ours/peer next to its goal (issue 14). The peers are the C
# monitoring-plugins and, where PEERS holds them, the Go go-check-plugins
# binaries (../shared/peers: built, not fetched; left out and said so when
# absent). Root, because of the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-500}     # per command, over all rounds
# ONLY=NAME: only the pairs whose name starts with NAME (the table then has only those)
ROUNDS=${ROUNDS:-5}
OUT=${OUT:-docs/benchmarks.md}
# Throughput: PAR checks at once, for about THRU_SECS seconds of the
# machine's CPU per command (THRU_SECS=0 leaves the table out).
PAR=${PAR:-$((4 * $(nproc)))}
THRU_SECS=${THRU_SECS:-4}
netns=test/integration/netns.sh
plugins=/usr/lib/nagios/plugins
# The Go peers (mackerelio/go-check-plugins), as built binaries, beside the
# repository in ../shared/peers unless PEERS says where.
PEERS=${PEERS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/peers}
export PATH=$PATH:/usr/sbin:/sbin

need=()
# check_dig is in -standard and runs dig (bind9-dnsutils).
for p in hyperfine monitoring-plugins-basic monitoring-plugins-standard bind9-dnsutils nmap time jq bc strace; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# The rest runs in a sandbox of its own (no network inside, so after apt).
[[ -n ${LBC_SANDBOX:-} ]] || exec scripts/sandbox.sh "$0" "$@"

"$netns" down >/dev/null 2>&1 || true
"$netns" up >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; "$netns" down >/dev/null 2>&1 || true' EXIT

# name | our command | the peer's command (both must exit 0 on this target) | goal for the wall ratio
pairs=(
	"check_http_status|bin/check_http_status 10.99.0.2 80|$plugins/check_http -H 10.99.0.2 -p 80|0.9"
	"check_http_status|bin/check_http_status 10.99.0.2 80|$PEERS/check-http -u http://10.99.0.2:80/|0.95"
	"check_http_status --tls|bin/check_http_status --tls 10.99.0.2 443|$plugins/check_http -S -H 10.99.0.2 -p 443|"
	# The script it replaces is "nmap -sS -p P-(P+1) HOST | grep open" (grep's
	# share left out). HAProxy's 8080: P+1 is closed there, as it usually is;
	# next to nginx's 80, 81 is dropped and nmap would wait out its timeouts.
	"check_tcp_half_open|bin/check_tcp_half_open 10.99.0.2 8080|/usr/bin/nmap -n -sS -p 8080-8081 10.99.0.2|0.05"
	"check_tcp_half_open|bin/check_tcp_half_open 10.99.0.2 8080|$plugins/check_tcp -H 10.99.0.2 -p 8080|0.9"
	"check_tcp_half_open|bin/check_tcp_half_open 10.99.0.2 8080|$PEERS/check-tcp -H 10.99.0.2 -p 8080|0.95"
	"check_dns_answer|bin/check_dns_answer --name www.lab.test 10.99.0.2|$plugins/check_dig -H 10.99.0.2 -l www.lab.test|0.15"
	"check_dns_answer|bin/check_dns_answer --name www.lab.test 10.99.0.2|$PEERS/check-dns -H www.lab.test -s 10.99.0.2|0.95"
	"check_ftp_noop|bin/check_ftp_noop 10.99.0.2 21|$plugins/check_ftp -H 10.99.0.2 -p 21|0.9"
	"check_ftp_noop|bin/check_ftp_noop 10.99.0.2 21|$PEERS/check-tcp --service ftp -H 10.99.0.2 -p 21|0.95"
	"check_ssl_hello|bin/check_ssl_hello 10.99.0.2 443|$plugins/check_tcp -S -H 10.99.0.2 -p 443|0.6"
)
peers_note="Go peers: $PEERS (mackerelio/go-check-plugins)."
if [[ ! -x $PEERS/check-http ]]; then
	peers_note="Go peers: none at $PEERS (set PEERS=DIR); their rows are left out."
fi

in_ns() { ip netns exec lbc-cli "$@"; }

median_col() { sort -g -k"$1" "$2" | awk -v c="$1" '{v[NR]=$c} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

peak_rss() { # peak_rss CMD...: the largest max-RSS of 20 runs, in KiB
	local max=0 r i
	for i in $(seq 20); do
		r=$(in_ns /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
		((r > max)) && max=$r
	done
	echo "$max"
}

size_of() { stat -c %s "$1"; }

faults() { # faults CMD...: the median of 11 runs' page faults (minor + major)
	local i
	for i in $(seq 11); do
		in_ns /usr/bin/time -f '%R %F' "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'
	done | sort -n | sed -n 6p
}

threads() { # threads CMD...: threads one call creates (clone with CLONE_THREAD)
	local log=$tmp/strace
	in_ns strace -f -qq -e trace=clone,clone3 -o "$log" "$@" >/dev/null 2>&1 || true
	grep -c CLONE_THREAD "$log" || true
}

# throughput CPU_PER_CALL CMD...: CMD run N times, PAR at a time (xargs,
# so the spawner costs both sides the same); prints "checks/s cpu/check"
# from the wall time and the children's user+sys (GNU time's rusage covers
# the grandchildren xargs waited for). N is sized from the CPU one call
# took, for about THRU_SECS of the machine's CPU. Every call must pass.
throughput() {
	local cpu=$1 n t
	shift
	n=$(bc <<<"n = $THRU_SECS * $(nproc) / $cpu; if (n < 50) n = 50; n")
	t=$(seq "$n" | in_ns /usr/bin/time -f '%e %U %S' xargs -P "$PAR" -I{} "$@" 2>&1 >/dev/null | tail -1) ||
		{ echo "bench: '$*' failed under load" >&2; exit 1; }
	read -r e u s <<<"$t"
	echo "$(bc -l <<<"$n / $e") $(bc -l <<<"($u + $s) / $n")"
}

{
	echo "# Benchmarks"
	echo
	echo "Made by \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), $RUNS runs each in $ROUNDS rounds of alternating order)."
	echo "Targets: nginx, unbound and vsftpd in a network namespace over a veth pair (test/integration/netns.sh)."
	echo "Wall: median over rounds of hyperfine's median per call; CPU: likewise of user+sys means."
	echo "Faults: page faults of a call (median of 11); threads: threads a call creates (strace)."
	echo "RSS is the peak over 20 runs. Ratio: our wall over the peer's; goal: issue 14's."
	echo "$peers_note"
	echo "Earlier runs, kept by hand: [benchmarks-history.md](benchmarks-history.md)."
	echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| check | ours: wall | CPU | faults | threads | peak RSS | size | peer | peer: wall | CPU | faults | threads | peak RSS | wall ratio | goal |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$tmp/table"
{
	echo
	echo "## Throughput"
	echo
	echo "$PAR checks at once on $(nproc) cores (xargs -P), each command for about $THRU_SECS s of CPU;"
	echo "checks/s from the wall time, CPU per check from the children's user+sys."
	echo "Ratio: our checks/s over the peer's (higher is better)."
	echo
	echo "| check | ours: checks/s | CPU per check | peer | peer: checks/s | CPU per check | throughput ratio |"
	echo "|---|---|---|---|---|---|---|"
} >"$tmp/thru"

for pair in "${pairs[@]}"; do
	IFS='|' read -r name ours peer goal <<<"$pair"
	# ONLY=check_tcp_half_open measures just the pairs whose name starts so
	[[ -n ${ONLY:-} && $name != "$ONLY"* ]] && continue
	[[ $peer == "$PEERS"/* && ! -x ${peer%% *} ]] && continue
	for c in "$ours" "$peer"; do
		# shellcheck disable=SC2086
		in_ns $c >/dev/null || { echo "bench: '$c' does not pass on its target" >&2; exit 1; }
	done
	# This machine drifts over a minute by more than the difference being
	# measured, and hyperfine times one command fully before the next. So:
	# ROUNDS rounds, the order swapped each time, and the median of the
	# rounds' medians.
	: >"$tmp/ours" && : >"$tmp/peer"
	for r in $(seq "$ROUNDS"); do
		if ((r % 2)); then first=$ours second=$peer; else first=$peer second=$ours; fi
		in_ns hyperfine -N --style none --warmup 10 --runs $((RUNS / ROUNDS)) --export-json "$tmp/h.json" "$first" "$second" >&2
		for i in 0 1; do
			jq -r ".results[$i] | \"\(.command)\t\(.median)\t\(.user + .system)\"" "$tmp/h.json"
		done | while IFS=$'\t' read -r cmd med cpu; do
			if [[ $cmd == "$ours" ]]; then echo "$med $cpu" >>"$tmp/ours"; else echo "$med $cpu" >>"$tmp/peer"; fi
		done
	done
	ow=$(median_col 1 "$tmp/ours") pw=$(median_col 1 "$tmp/peer")
	oc=$(median_col 2 "$tmp/ours") pc=$(median_col 2 "$tmp/peer")
	# shellcheck disable=SC2086
	orss=$(peak_rss $ours) prss=$(peak_rss $peer)
	# shellcheck disable=SC2086
	of=$(faults $ours) pf=$(faults $peer) othr=$(threads $ours) pthr=$(threads $peer)
	osize=$(size_of "${ours%% *}")
	ratio=$(bc -l <<<"$ow/$pw")
	verdict=${goal:+"≤ $goal"}
	if [[ -n $goal ]]; then
		if (($(bc -l <<<"$ratio <= $goal"))); then verdict+=" ✓"; else verdict+=" ✗"; fi
	fi
	peername=${peer#"$plugins"/}
	peername=${peername#"$PEERS"/}
	printf '| `%s` | %.2f ms | %.2f ms | %d | %d | %.1f MiB | %.1f MiB | `%s` | %.2f ms | %.2f ms | %d | %d | %.1f MiB | %.3f | %s |\n' \
		"$name" "$(bc -l <<<"$ow*1000")" "$(bc -l <<<"$oc*1000")" "$of" "$othr" "$(bc -l <<<"$orss/1024")" "$(bc -l <<<"$osize/1048576")" \
		"$peername" "$(bc -l <<<"$pw*1000")" "$(bc -l <<<"$pc*1000")" "$pf" "$pthr" "$(bc -l <<<"$prss/1024")" "$ratio" "$verdict" \
		>>"$tmp/table"
	((THRU_SECS > 0)) || continue
	# shellcheck disable=SC2086
	read -r ot ocpu <<<"$(throughput "$oc" $ours)"
	# shellcheck disable=SC2086
	read -r pt pcpu <<<"$(throughput "$pc" $peer)"
	printf '| `%s` | %.0f | %.2f ms | `%s` | %.0f | %.2f ms | %.2f |\n' \
		"$name" "$ot" "$(bc -l <<<"$ocpu*1000")" "$peername" "$pt" "$(bc -l <<<"$pcpu*1000")" "$(bc -l <<<"$ot/$pt")" \
		>>"$tmp/thru"
done
printf '\nLoad average after: %s.\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/table"
if ((THRU_SECS > 0)); then cat "$tmp/thru" >>"$tmp/table"; fi
mkdir -p "$(dirname "$OUT")"
cp "$tmp/table" "$OUT"
cat "$OUT"
