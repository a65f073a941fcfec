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
