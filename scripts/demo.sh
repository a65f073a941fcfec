#!/usr/bin/env bash
# make demo: start the in-process lab (internal/lab) and run every check
# binary that exists against it, printing each verdict line and exit code.
# Everything listens on 127.0.0.1 / [::1]; nothing leaves this machine.
set -euo pipefail
bin=${1:-bin}

coproc LAB { exec "$bin/labd"; }
trap 'exec {LAB[1]}>&-; wait "$LAB_PID" 2>/dev/null || true' EXIT
declare -A addr
while read -r name value <&"${LAB[0]}"; do
	[[ $name == ready ]] && break
	addr[$name]=$value
done
[[ -n ${addr[http]:-} ]] || { echo "demo: the lab did not start" >&2; exit 1; }

hp() { local a=${addr[$1]}; echo "${a%:*} ${a##*:}"; }

run() {
	local shown
	shown=$(printf '%q ' "$@")
	printf '\n$ %s\n' "${shown//$bin\//}"
	set +e
	"$@"
	printf '  -> exit %d\n' $?
	set -e
}

if [[ -x $bin/check_http_status ]]; then
	echo "== check_http_status"
	run "$bin/check_http_status" $(hp http)
	run "$bin/check_http_status" -u /monitor $(hp http)
	run "$bin/check_http_status" -u /status/503 $(hp http)
	run "$bin/check_http_status" -u /redirect -e 3xx $(hp http)
	run "$bin/check_http_status" --tls --ca-file "${addr[ca-file]}" --vhost lab.test $(hp https)
	run "$bin/check_http_status" --body-regex 'chunk 2' -u /chunked $(hp http)
	run "$bin/check_http_status" --format json -w 0.5 -c 1 $(hp http)
	[[ -n ${addr[http6]:-} ]] && run "$bin/check_http_status" $(hp http6)
	run "$bin/check_http_status" $(hp closed)
	run "$bin/check_http_status" $(hp garbage)
	run "$bin/check_http_status" -t 1 $(hp silent)
	run "$bin/check_http_status" -t 1 $(hp endless)
	run "$bin/check_http_status" -t 0.5 --exit-style binary $(hp slow)
	run "$bin/check_http_status" -v -u /nowhere $(hp http)
	run "$bin/check_http_status" $(hp http | cut -d' ' -f1) 99999
fi

if [[ -x $bin/check_tcp_half_open ]]; then
	echo
	echo "== check_tcp_half_open (raw sockets: root or cap_net_raw, else UNKNOWN with the setcap hint)"
	run "$bin/check_tcp_half_open" $(hp http)
	[[ -n ${addr[http6]:-} ]] && run "$bin/check_tcp_half_open" $(hp http6)
	run "$bin/check_tcp_half_open" -v $(hp silent)
	run "$bin/check_tcp_half_open" $(hp closed)
	run "$bin/check_tcp_half_open" --format json $(hp closed)
	run "$bin/check_tcp_half_open" $(hp http | cut -d' ' -f1)
fi

if [[ -x $bin/check_dns_answer ]]; then
	echo "== check_dns_answer"
	run "$bin/check_dns_answer" $(hp dns)
	run "$bin/check_dns_answer" --name www.lab.test --expect 192.0.2.10 $(hp dns)
	run "$bin/check_dns_answer" --tcp --name alias.lab.test --expect www.lab.test $(hp dns)
	run "$bin/check_dns_answer" --name txt.lab.test --type TXT --expect 'second string' $(hp dns)
	run "$bin/check_dns_answer" --name big.lab.test --expect 198.51.100.40 $(hp dns)
	run "$bin/check_dns_answer" --tls --ca-file "${addr[dns-ca-file]}" --sni lab.test --name www.lab.test $(hp dot)
	[[ -n ${addr[dns6]:-} ]] && run "$bin/check_dns_answer" --name www.lab.test --type AAAA $(hp dns6)
	run "$bin/check_dns_answer" --name missing.lab.test $(hp dns)
	run "$bin/check_dns_answer" --name missing.lab.test --rcode NXDOMAIN $(hp dns)
	run "$bin/check_dns_answer" --name servfail.lab.test $(hp dns)
	run "$bin/check_dns_answer" --name www.lab.test --expect 192.0.2.99 $(hp dns)
	run "$bin/check_dns_answer" -t 1 -v --name spoofonly.lab.test $(hp dns)
	run "$bin/check_dns_answer" --type BOGUS $(hp dns)
fi

if [[ -x $bin/check_ftp_noop ]]; then
	echo "== check_ftp_noop"
	run "$bin/check_ftp_noop" $(hp ftp)
	run "$bin/check_ftp_noop" $(hp ftp-login-first)
	run "$bin/check_ftp_noop" --user anonymous --password demo@ $(hp ftp)
	run "$bin/check_ftp_noop" --auth-tls --ca-file "${addr[ftp-ca-file]}" --sni lab.test $(hp ftp)
	[[ -n ${addr[ftp6]:-} ]] && run "$bin/check_ftp_noop" $(hp ftp6)
	run "$bin/check_ftp_noop" $(hp ftp-not-ready)
	run "$bin/check_ftp_noop" $(hp ftp-busy)
	run "$bin/check_ftp_noop" $(hp ftp-noop-refused)
	run "$bin/check_ftp_noop" $(hp ftp-garbage)
	run "$bin/check_ftp_noop" -t 1 $(hp ftp-endless)
	run "$bin/check_ftp_noop" -t 0.5 $(hp ftp-slow)
	run "$bin/check_ftp_noop" -v --user lab --password secret $(hp ftp)
fi

if [[ -x $bin/check_ssl_hello ]]; then
	echo "== check_ssl_hello"
	run "$bin/check_ssl_hello" $(hp tls13)
	run "$bin/check_ssl_hello" $(hp tls12-auth)
	run "$bin/check_ssl_hello" -v $(hp tls-retry)
	run "$bin/check_ssl_hello" --cn tls.lab.test --cert-days 30,7 $(hp tls12)
	run "$bin/check_ssl_hello" --cn www.example.org $(hp tls13)
	run "$bin/check_ssl_hello" --starttls smtp $(hp smtp)
	run "$bin/check_ssl_hello" --starttls smtp $(hp smtp-notls)
	run "$bin/check_ssl_hello" $(hp tls-alert)
	run "$bin/check_ssl_hello" $(hp tls-not-tls)
	run "$bin/check_ssl_hello" $(hp tls-overlong)
	run "$bin/check_ssl_hello" -t 1 $(hp tls-silent)
	run "$bin/check_ssl_hello" $(hp closed)
fi

if [[ -x $bin/lbcheckd ]]; then
	echo
	echo "== lbcheckd: the same checks from one resident process, keeping watch"
	dir=$(mktemp -d)
	# Ports the kernel picks (listen ...:0): the daemon logs them.
	cat >"$dir/lbcheckd.yml" <<CONF
listen: 127.0.0.1:0
agent_listen: 127.0.0.1:0
allow: [127.0.0.0/8]
modules:
  web:                                   # watched: probed every 2 s once asked about
    check: [check_http_status, -t, "1", -w, "0.2", -c, "1"]
    every: 2s
    agent_weight: true                   # the agent answers up with a weight from the response time
    fall: 2
    rise: 2
CONF
	printf '\n$ cat lbcheckd.yml\n'
	cat "$dir/lbcheckd.yml"
	printf '\n$ lbcheckd --config lbcheckd.yml &\n'
	"$bin/lbcheckd" --config "$dir/lbcheckd.yml" 2>"$dir/log" &
	lbd=$!
	for _ in $(seq 50); do grep -q 'lbcheckd started' "$dir/log" && break; sleep 0.1; done
	http=$(sed -n 's/.*lbcheckd started.* listen=\([0-9.:]*\).*/\1/p' "$dir/log" | head -1)
	agent=$(sed -n 's/.*lbcheckd started.* agent_listen=\([0-9.:]*\).*/\1/p' "$dir/log" | head -1)
	if [[ -z $http || -z $agent ]]; then
		echo "demo: lbcheckd did not start:" >&2
		cat "$dir/log" >&2
		kill "$lbd" 2>/dev/null || true
		rm -rf "$dir"
		exit 1
	fi
	grep -m1 "lbcheckd started" "$dir/log"
	target=${addr[http]}
	# ask ADDR REQUEST: one exchange over bash's /dev/tcp (no curl, no nc needed)
	ask() {
		local host=${1%:*} port=${1##*:}
		exec 3<>"/dev/tcp/$host/$port"
		printf '%b' "$2" >&3
		cat <&3
		exec 3<&-
	}
	get() { ask "$http" "GET $1 HTTP/1.1\r\nHost: $http\r\nConnection: close\r\n\r\n" | tr -d '\r' | sed -n '1p; /^$/,$p' | sed '/^$/d'; }
	printf '\n$ echo "web %s" | nc %s   # HAProxy agent-check: the first ask starts the watch and waits for its probe\n' "${target/:/ }" "${agent/:/ }"
	ask "$agent" "web ${target/:/ }\n"
	printf '\n$ curl "%s/check?module=web&target=%s"   # load balancers: answered from memory\n' "$http" "$target"
	get "/check?module=web&target=$target"
	printf '\n$ curl "%s/probe?module=web&target=%s" | grep -v "^#"   # Prometheus, with the verdict'"'"'s age\n' "$http" "$target"
	get "/probe?module=web&target=$target" | grep -v '^#'
	sleep 2.5
	printf '\n$ curl %s/watches   # one scrape for every watched target\n' "$http"
	get /watches | grep -v '^#'
	printf '\n$ kill -TERM %%1   # SIGTERM ends the watches at once\n'
	kill -TERM "$lbd"
	wait "$lbd" 2>/dev/null || true
	tail -1 "$dir/log"
	rm -rf "$dir"
fi
