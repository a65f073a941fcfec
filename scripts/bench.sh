#!/usr/bin/env bash
# make bench: each check next to the peer it replaces, on the same target,
# in the integration namespaces (real nginx; test/integration/netns.sh).
# Writes docs/benchmarks.md: median wall time and user+sys CPU per call
# (hyperfine), peak RSS (max over runs, GNU time), binary size, and the
# ratio of medians ours/peer. Root, because of the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-300}
OUT=${OUT:-docs/benchmarks.md}
netns=test/integration/netns.sh
plugins=/usr/lib/nagios/plugins
export PATH=$PATH:/usr/sbin:/sbin

need=()
for p in hyperfine monitoring-plugins-basic time jq bc; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

"$netns" down >/dev/null 2>&1 || true
"$netns" up >&2
trap '"$netns" down >/dev/null 2>&1 || true' EXIT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; "$netns" down >/dev/null 2>&1 || true' EXIT

# name | our command | the peer's command (both must exit 0 on this target)
pairs=(
	"check_http_status|bin/check_http_status 10.99.0.2 80|$plugins/check_http -H 10.99.0.2 -p 80"
	"check_http_status --tls|bin/check_http_status --tls 10.99.0.2 443|$plugins/check_http -S -H 10.99.0.2 -p 443"
)

in_ns() { ip netns exec lbc-cli "$@"; }

median() { jq -r ".results[$2].median" "$1"; }
cpu() { jq -r "(.results[$2].user + .results[$2].system)" "$1"; }

peak_rss() { # peak_rss CMD...: the largest max-RSS of 20 runs, in KiB
	local max=0 r i
	for i in $(seq 20); do
		r=$(in_ns /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
		((r > max)) && max=$r
	done
	echo "$max"
}

size_of() { stat -c %s "$1"; }

{
	echo "# Benchmarks"
	echo
	echo "Made by \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), $RUNS runs each)."
	echo "Target: nginx in a network namespace over a veth pair (test/integration/netns.sh)."
	echo "Wall and CPU are hyperfine medians/means per call; RSS is the peak over 20 runs."
	echo
	echo "| check | ours: wall | CPU | peak RSS | size | peer | peer: wall | CPU | peak RSS | wall ratio |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$tmp/table"

for pair in "${pairs[@]}"; do
	IFS='|' read -r name ours peer <<<"$pair"
	for c in "$ours" "$peer"; do
		# shellcheck disable=SC2086
		in_ns $c >/dev/null || { echo "bench: '$c' does not pass on its target" >&2; exit 1; }
	done
	in_ns hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$tmp/h.json" "$ours" "$peer" >&2
	ow=$(median "$tmp/h.json" 0) pw=$(median "$tmp/h.json" 1)
	oc=$(cpu "$tmp/h.json" 0) pc=$(cpu "$tmp/h.json" 1)
	# shellcheck disable=SC2086
	orss=$(peak_rss $ours) prss=$(peak_rss $peer)
	osize=$(size_of "${ours%% *}")
	printf '| `%s` | %.2f ms | %.2f ms | %.1f MiB | %.1f MiB | `%s` | %.2f ms | %.2f ms | %.1f MiB | %.2f |\n' \
		"$name" "$(bc -l <<<"$ow*1000")" "$(bc -l <<<"$oc*1000")" "$(bc -l <<<"$orss/1024")" "$(bc -l <<<"$osize/1048576")" \
		"${peer#"$plugins"/}" "$(bc -l <<<"$pw*1000")" "$(bc -l <<<"$pc*1000")" "$(bc -l <<<"$prss/1024")" "$(bc -l <<<"$ow/$pw")" \
		>>"$tmp/table"
done
mkdir -p "$(dirname "$OUT")"
cp "$tmp/table" "$OUT"
cat "$OUT"
