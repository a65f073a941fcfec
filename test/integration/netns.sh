#!/usr/bin/env bash
# Real-server environment for the integration tests (check_http_status,
# check_dns_answer, check_ftp_noop, check_ssl_hello, check_tcp_half_open).
#
#   netns.sh packages      install the servers and tools it needs (apt-get)
#   netns.sh up            create namespaces lbc-cli/lbc-srv, nginx, HAProxy, unbound,
#                          vsftpd, pyftpdlib, openssl s_server, gnutls-serv, postfix,
#                          dovecot, exim, stunnel, BIND and Knot (signed zones), nft rules
#   netns.sh down          stop everything and remove the namespaces and the state dir
#   netns.sh monitor-fail  make HAProxy's monitor-uri answer 503 (disable be_app/web1)
#   netns.sh monitor-ok    make it answer 200 again (enable be_app/web1)
#   netns.sh status        show what is running
#
# Runs as root. Traffic stays on loopback and on the veth pair between the two
# namespaces this script creates (10.99.0.0/24, fd00:99::/64); nothing is sent
# anywhere else. State (configs, certificate, logs, pid files) lives in
# ${LBC_STATE:-/tmp/lbcheck-integration}.
set -Eeuo pipefail

STATE=${LBC_STATE:-/tmp/lbcheck-integration}
NS_CLI=lbc-cli
NS_SRV=lbc-srv
VETH_CLI=lbc-veth-cli
VETH_SRV=lbc-veth-srv
CLI4=10.99.0.1
SRV4=10.99.0.2
CLI6=fd00:99::1
SRV6=fd00:99::2

log() { printf 'netns.sh: %s\n' "$*" >&2; }
die() { printf 'netns.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "netns.sh: FAILED (exit %d) at line %d: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, nft, servers on port 80/443)"
}

# ---------------------------------------------------------------- packages
ensure_packages() {
	# The list and the installer are scripts/deps.sh's, shared with make
	# test and .ci/run; it also leaves the packages' own daemons stopped.
	"$(dirname "${BASH_SOURCE[0]}")/../../scripts/deps.sh" install integration
	ensure_exim
	export PATH=$PATH:/usr/sbin:/sbin
}

# Exim cannot be installed beside postfix (both are the mail-transport-agent),
# so its Debian package is downloaded once and unpacked under EXIM_ROOT; it
# runs from there with our own config. Its binary looks up the Debian-exim
# user at start, which exim4-base's postinst would have made: make it too.
EXIM_CACHE=${LBC_EXIM_CACHE:-/var/cache/lbcheck/exim4}
EXIM_ROOT=$EXIM_CACHE/root
ensure_exim() {
	if ! getent passwd Debian-exim >/dev/null; then
		adduser --system --group --home /var/spool/exim4 --no-create-home --quiet --allow-bad-names Debian-exim
	fi
	[[ -x $EXIM_ROOT/usr/sbin/exim4 ]] && return 0
	log "downloading exim4-daemon-light (unpacked in $EXIM_ROOT, not installed)"
	mkdir -p "$EXIM_CACHE"
	chown _apt "$EXIM_CACHE" 2>/dev/null || true
	(cd "$EXIM_CACHE" && apt-get download exim4-daemon-light >&2) || die "apt-get download exim4-daemon-light failed"
	dpkg -x "$EXIM_CACHE"/exim4-daemon-light_*.deb "$EXIM_ROOT"
	[[ -x $EXIM_ROOT/usr/sbin/exim4 ]] || die "no exim4 in $EXIM_CACHE"
}

# ---------------------------------------------------------------- network
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

setup_netns() {
	local ns
	for ns in "$NS_CLI" "$NS_SRV"; do
		ns_exists "$ns" || ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	if ! ip -n "$NS_CLI" link show "$VETH_CLI" >/dev/null 2>&1; then
		# a half-made pair (peer left in lbc-srv) is removed before it is created again
		ip -n "$NS_SRV" link del "$VETH_SRV" >/dev/null 2>&1 || true
		ip -n "$NS_CLI" link add "$VETH_CLI" type veth peer name "$VETH_SRV" netns "$NS_SRV"
	fi
	ip netns exec "$NS_CLI" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	ip netns exec "$NS_SRV" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	ip -n "$NS_CLI" addr replace "$CLI4/24" dev "$VETH_CLI"
	ip -n "$NS_CLI" addr replace "$CLI6/64" dev "$VETH_CLI" nodad
	ip -n "$NS_SRV" addr replace "$SRV4/24" dev "$VETH_SRV"
	ip -n "$NS_SRV" addr replace "$SRV6/64" dev "$VETH_SRV" nodad
	ip -n "$NS_CLI" link set "$VETH_CLI" up
	ip -n "$NS_SRV" link set "$VETH_SRV" up
	# link-local must come up too before v6 neighbour discovery works reliably
	local i
	for i in $(seq 1 50); do
		if ip netns exec "$NS_CLI" ping -c1 -W1 -q "$SRV4" >/dev/null 2>&1 &&
			ip netns exec "$NS_CLI" ping -6 -c1 -W1 -q "$SRV6" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	die "veth pair is up but $SRV4 / $SRV6 do not answer ping from $NS_CLI"
}

setup_nft() {
	cat >"$STATE/nft.conf" <<NFT
table inet lbc
flush table inet lbc
table inet lbc {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 81 drop comment "silently dropped: a check times out"
		meta nfproto ipv4 tcp dport 82 reject with icmp type admin-prohibited
		meta nfproto ipv6 tcp dport 82 reject with icmpv6 type admin-prohibited
		tcp dport 83 reject with tcp reset
	}
}
NFT
	ip netns exec "$NS_SRV" nft -f "$STATE/nft.conf"
}

# Name resolution inside lbc-cli: `ip netns exec` bind-mounts /etc/netns/NAME/*
# over /etc/*. The lab names resolve from hosts; DNS points at the namespace's
# own loopback (nothing listens), so a stray lookup never leaves the namespace.
setup_etc_netns() {
	mkdir -p "/etc/netns/$NS_CLI"
	cat >"/etc/netns/$NS_CLI/hosts" <<HOSTS
127.0.0.1 localhost
::1 localhost
$SRV4 www.lab.test alt.lab.test srv.lab.test
$SRV6 www.lab.test alt.lab.test srv.lab.test
$SRV4 v4only.lab.test
HOSTS
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$NS_CLI/resolv.conf"
}

remove_etc_netns() {
	rm -f "/etc/netns/$NS_CLI/hosts" "/etc/netns/$NS_CLI/resolv.conf"
	rmdir "/etc/netns/$NS_CLI" 2>/dev/null || true
}

# ---------------------------------------------------------------- certificate
make_cert() {
	if [[ -s $STATE/cert.pem && -s $STATE/key.pem ]] &&
		openssl x509 -in "$STATE/cert.pem" -noout -checkend 3600 >/dev/null 2>&1; then
		return 0
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
		-keyout "$STATE/key.pem" -out "$STATE/cert.pem" \
		-subj "/CN=www.lab.test" \
		-addext "subjectAltName=DNS:www.lab.test,DNS:alt.lab.test" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
		-addext "extendedKeyUsage=serverAuth" 2>"$STATE/openssl.log" ||
		{ cat "$STATE/openssl.log" >&2; die "openssl could not make the certificate"; }
	# self-signed: the certificate is its own CA; ca.pem is what a client passes as --ca-file
	cp "$STATE/cert.pem" "$STATE/ca.pem"
	chmod 600 "$STATE/key.pem"
	make_bad_key
}

# mtls/: for the servers that demand a client certificate (issue 24). Two
# test CAs made here at every fresh state dir, never committed: clientca
# (which nginx :8446, vsftpd :2123 and named's DoT :8853 accept) and otherca
# (which they do not); client.pem/client.key from the first, other.pem/
# other.key from the second, and client-combined.pem (key and certificate
# in one file). EC P-256 keys in PKCS#8, as openssl writes them.
make_client_certs() {
	local d=$STATE/mtls n ca
	if [[ -s $d/client-combined.pem ]] && openssl x509 -in "$d/client.pem" -noout -checkend 3600 >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p "$d"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$d/client.ext"
	for ca in clientca otherca; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
			-keyout "$d/$ca.key" -out "$d/$ca.pem" -subj "/CN=lbcheck test $ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>>"$STATE/openssl.log" ||
			die "openssl could not make the test CA $ca"
	done
	for n in client:clientca other:otherca; do
		ca=${n#*:} n=${n%%:*}
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" -out "$d/$n.csr" \
			-subj "/CN=lbcheck test $n" 2>>"$STATE/openssl.log" &&
			openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
				-days 30 -sha256 -extfile "$d/client.ext" -out "$d/$n.pem" 2>>"$STATE/openssl.log" ||
			die "openssl could not make the test client certificate $n"
	done
	cat "$d/client.key" "$d/client.pem" >"$d/client-combined.pem"
	chmod 600 "$d"/*.key "$d/client-combined.pem"
}

# badkey.pem: the RSA key file of a server that signs with the wrong key and
# still starts. Its public half (n, e) is key.pem's, which is all that
# OpenSSL's key-certificate check at load compares; its private half is
# another key's. Its signatures do not verify with cert.pem's key.
make_bad_key() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$STATE/otherkey.pem" 2>>"$STATE/openssl.log" ||
		die "openssl could not make a second key"
	/usr/bin/python3 - "$STATE/key.pem" "$STATE/otherkey.pem" >"$STATE/badkey.pem" <<'PY'
import base64, sys
def der(path):
    return base64.b64decode("".join(l for l in open(path) if not l.startswith("-----")))
def tlv(b, i):
    tag, n, i = b[i], b[i + 1], i + 2
    if n & 0x80:
        k = n & 0x7f
        n, i = int.from_bytes(b[i:i + k], "big"), i + k
    return tag, b[i:i + n], i + n
def items(seq):
    out, i = [], 0
    while i < len(seq):
        tag, v, i = tlv(seq, i)
        out.append((tag, v))
    return out
def rsa_fields(b):  # RSAPrivateKey, bare or in PKCS#8
    f = items(tlv(b, 0)[1])
    if f[1][0] == 0x30:
        f = items(tlv(f[2][1], 0)[1])
    return [v for _, v in f]
def enc(tag, v):
    n = len(v)
    l = bytes([n]) if n < 0x80 else (lambda lb: bytes([0x80 | len(lb)]) + lb)(n.to_bytes((n.bit_length() + 7) // 8, "big"))
    return bytes([tag]) + l + v
a, b = rsa_fields(der(sys.argv[1])), rsa_fields(der(sys.argv[2]))
key = base64.encodebytes(enc(0x30, b"".join(enc(2, v) for v in a[:3] + b[3:9]))).decode().replace("\n", "")
print("-----BEGIN RSA PRIVATE KEY-----")
for i in range(0, len(key), 64):
    print(key[i:i + 64])
print("-----END RSA PRIVATE KEY-----")
PY
	chmod 600 "$STATE/badkey.pem"
}

# ---------------------------------------------------------------- nginx
pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # stop_pidfile NAME PIDFILE
	local name=$1 pf=$2 pid i
	[[ -s $pf ]] || return 0
	pid=$(cat "$pf")
	if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) did not stop on TERM, sending KILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pf"
}

write_nginx_conf() {
	mkdir -p "$STATE/www" "$STATE/nginx-tmp" "$STATE/logs"
	printf 'www\n' >"$STATE/www/index.txt"
	if [[ $(stat -c %s "$STATE/www/big" 2>/dev/null || echo 0) -ne 2097152 ]]; then
		head -c 2097152 /dev/urandom >"$STATE/www/big"
	fi
	# served through sub_filter, which drops Content-Length: nginx answers chunked
	for i in $(seq 1 200); do printf 'chunk line %03d foo\n' "$i"; done >"$STATE/www/chunked.txt"

	local listen80 listen443
	listen80="listen $SRV4:80; listen [$SRV6]:80;"
	listen443="listen $SRV4:443 ssl; listen [$SRV6]:443 ssl;"
	# sub_filter drops Content-Length, so nginx answers /chunked chunked
	cat >"$STATE/chunked.conf" <<NGINX
location = /chunked {
	alias $STATE/www/chunked.txt;
	sub_filter_types *;
	sub_filter foo bar;
	sub_filter_once off;
}
NGINX
	cat >"$STATE/nginx.conf" <<NGINX
# generated by test/integration/netns.sh
user root;
worker_processes 1;
daemon on;
master_process on;
pid $STATE/nginx.pid;
error_log $STATE/logs/nginx-error.log info;
events { worker_connections 256; }
http {
	default_type text/plain;
	types { text/plain txt; application/octet-stream bin; }
	sendfile on;
	keepalive_timeout 5;
	server_tokens off;
	gzip off;
	client_body_temp_path $STATE/nginx-tmp/body;
	proxy_temp_path $STATE/nginx-tmp/proxy;
	fastcgi_temp_path $STATE/nginx-tmp/fastcgi;
	uwsgi_temp_path $STATE/nginx-tmp/uwsgi;
	scgi_temp_path $STATE/nginx-tmp/scgi;
	log_format lbc '\$remote_addr host="\$host" http_host="\$http_host" ssl="\$ssl_server_name" "\$request" \$status \$body_bytes_sent "\$http_user_agent" x_lbc="\$http_x_lbc"';
	access_log $STATE/logs/access-nginx.log lbc;
	ssl_certificate $STATE/cert.pem;
	ssl_certificate_key $STATE/key.pem;
	root $STATE/www;

	# default server (no or unknown Host / SNI)
	server {
		listen $SRV4:80 default_server; listen [$SRV6]:80 default_server;
		listen $SRV4:443 ssl default_server; listen [$SRV6]:443 ssl default_server;
		server_name _;
		access_log $STATE/logs/access-default.log lbc;
		location / { return 200 "nginx default\n"; }
		location = /big { }
		include $STATE/chunked.conf;
	}

	server {
		$listen80
		$listen443
		server_name www.lab.test;
		access_log $STATE/logs/access-www.log lbc;
		location = / { return 200 "www\n"; }
		location = /moved { return 301 /; }
		location = /down { return 503; }
		location = /big { }
		include $STATE/chunked.conf;
		# everything else is looked up under root: /missing is a real 404
	}

	server {
		$listen80
		$listen443
		server_name alt.lab.test;
		access_log $STATE/logs/access-alt.log lbc;
		location = / { return 200 "alt\n"; }
		location = /big { }
	}

	# 8443 demands a client certificate: without one, nginx completes the
	# handshake and answers 400 (check_http_status names the request)
	server {
		listen $SRV4:8443 ssl; listen [$SRV6]:8443 ssl;
		ssl_verify_client on;
		ssl_client_certificate $STATE/ca.pem;
		location / { return 200 "client certificate seen\n"; }
	}

	# 8446 demands a certificate from the test client CA (mtls/clientca.pem),
	# TLS 1.2 and 1.3: one from another CA is answered 400 "The SSL
	# certificate error" after a complete handshake
	server {
		listen $SRV4:8446 ssl; listen [$SRV6]:8446 ssl;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_verify_client on;
		ssl_client_certificate $STATE/mtls/clientca.pem;
		access_log $STATE/logs/access-mtls.log lbc;
		location / { return 200 "client \$ssl_client_s_dn\n"; }
	}

	# TLS 1.3 as well (nginx 1.22 offers up to 1.2 unless told): what a
	# TLS 1.3 hello leaves in nginx's logs (check_ssl_hello)
	server {
		listen $SRV4:8444 ssl; listen [$SRV6]:8444 ssl;
		ssl_protocols TLSv1.2 TLSv1.3;
		server_name _;
		access_log $STATE/logs/access-tls13.log lbc;
		location / { return 200 "tls13\n"; }
	}

	# 8081 (HTTP) and 8445 (TLS) take only connections that begin with a
	# PROXY header, v1 or v2 (--proxy-protocol); the log shows the
	# endpoints the header carried
	log_format lbc_pp 'pp=\$proxy_protocol_addr:\$proxy_protocol_port>\$proxy_protocol_server_addr:\$proxy_protocol_server_port peer=\$remote_addr "\$request" \$status';
	server {
		listen $SRV4:8081 proxy_protocol; listen [$SRV6]:8081 proxy_protocol;
		listen $SRV4:8445 ssl proxy_protocol; listen [$SRV6]:8445 ssl proxy_protocol;
		access_log $STATE/logs/access-proxy.log lbc_pp;
		location / { return 200 "behind a proxy\n"; }
	}
}
NGINX
}

start_nginx() {
	write_nginx_conf
	stop_pidfile nginx "$STATE/nginx.pid"
	ip netns exec "$NS_SRV" nginx -t -q -e "$STATE/logs/nginx-error.log" -c "$STATE/nginx.conf" ||
		die "nginx config test failed (see $STATE/logs/nginx-error.log)"
	ip netns exec "$NS_SRV" nginx -e "$STATE/logs/nginx-error.log" -c "$STATE/nginx.conf"
	wait_pidfile nginx "$STATE/nginx.pid"
}

wait_pidfile() { # wait_pidfile NAME PIDFILE
	local i
	for i in $(seq 1 50); do
		pid_alive "$2" && return 0
		sleep 0.1
	done
	die "$1 did not start (no live pid in $2)"
}

# ---------------------------------------------------------------- haproxy
start_haproxy() {
	cat >"$STATE/haproxy.cfg" <<HAP
# generated by test/integration/netns.sh
global
	daemon
	pidfile $STATE/haproxy.pid
	stats socket $STATE/haproxy.sock mode 600 level admin
	maxconn 256

defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s

frontend fe_main
	bind $SRV4:8080
	bind [$SRV6]:8080
	monitor-uri /haproxy-health
	monitor fail if { nbsrv(be_app) lt 1 }
	default_backend be_app

backend be_app
	server web1 $SRV4:80 check inter 200ms fall 1 rise 1

# accept-proxy: a connection must begin with a PROXY header (v1 or v2);
# /src answers with the source address the header named
frontend fe_accept_proxy
	bind $SRV4:8082 accept-proxy
	bind [$SRV6]:8082 accept-proxy
	http-request return status 200 content-type text/plain lf-string "src=%[src]:%[src_port]\n" if { path /src }
	http-request return status 200 content-type text/plain string "ok\n"

# FTP behind accept-proxy: vsftpd's greeting only after a PROXY header
listen ftp_accept_proxy
	mode tcp
	bind $SRV4:2122 accept-proxy
	bind [$SRV6]:2122 accept-proxy
	server vsftpd $SRV4:21

# DNS over TLS behind accept-proxy: unbound's 853 after a PROXY header
listen dot_accept_proxy
	mode tcp
	bind $SRV4:5853 accept-proxy
	bind [$SRV6]:5853 accept-proxy
	server unbound $SRV4:853
HAP
	stop_pidfile haproxy "$STATE/haproxy.pid"
	rm -f "$STATE/haproxy.sock"
	ip netns exec "$NS_SRV" haproxy -c -q -f "$STATE/haproxy.cfg" || die "haproxy config check failed"
	ip netns exec "$NS_SRV" haproxy -f "$STATE/haproxy.cfg"
	wait_pidfile haproxy "$STATE/haproxy.pid"
	local i
	for i in $(seq 1 50); do
		[[ -S $STATE/haproxy.sock ]] && return 0
		sleep 0.1
	done
	die "haproxy stats socket $STATE/haproxy.sock did not appear"
}

haproxy_cmd() { # haproxy_cmd "CLI COMMAND"
	[[ -S $STATE/haproxy.sock ]] || die "no haproxy stats socket at $STATE/haproxy.sock (run '$0 up' first)"
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$STATE/haproxy.sock"
}

# monitor_status: HTTP status of HAProxy's monitor-uri as seen from lbc-cli
monitor_status() {
	ip netns exec "$NS_CLI" curl -s -o /dev/null -m 1 -w '%{http_code}' \
		"http://$SRV4:8080/haproxy-health" 2>/dev/null || true
}

monitor_flip() { # monitor_flip disable|enable WANTED_STATUS
	local out i st
	out=$(haproxy_cmd "$1 server be_app/web1")
	[[ -z ${out//[[:space:]]/} ]] || die "haproxy refused '$1 server be_app/web1': $out"
	for i in $(seq 1 50); do
		st=$(monitor_status)
		if [[ $st == "$2" ]]; then
			log "monitor-uri now answers $st"
			return 0
		fi
		sleep 0.1
	done
	die "monitor-uri still answers '$st' 5 s after '$1 server', wanted $2"
}

# ---------------------------------------------------------------- unbound
# A local zone lab.test on port 53 (UDP and TCP) and DNS over TLS on 853,
# on both addresses of lbc-srv. No recursion leaves the namespace: the
# iterator has no network to reach, and no trust anchor is configured.
start_unbound() {
	mkdir -p "$STATE/logs"
	cat >"$STATE/unbound.conf" <<UNBOUND
# generated by test/integration/netns.sh
server:
	interface: $SRV4
	interface: $SRV6
	interface: $SRV4@853
	interface: $SRV6@853
	interface: $SRV4@5399
	interface: $SRV6@5399
	port: 53
	tls-port: 853
	# 5399 takes only queries that begin with a PROXY v2 header, UDP and
	# TCP. (Not on a TLS port: unbound 1.17 reads the header inside TLS,
	# not before it as the specification and HAProxy's send-proxy do.)
	proxy-protocol-port: 5399
	tls-service-key: "$STATE/key.pem"
	tls-service-pem: "$STATE/cert.pem"
	do-ip6: yes
	do-udp: yes
	do-tcp: yes
	username: ""
	chroot: ""
	directory: "$STATE"
	pidfile: "$STATE/unbound.pid"
	logfile: "$STATE/logs/unbound.log"
	use-syslog: no
	verbosity: 1
	module-config: "iterator"
	access-control: 10.99.0.0/24 allow
	access-control: fd00:99::/64 allow
	local-zone: "lab.test." static
	local-data: "lab.test. 300 IN SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 300"
	local-data: "www.lab.test. 300 IN A $SRV4"
	local-data: "www.lab.test. 300 IN AAAA $SRV6"
	local-data: "alias.lab.test. 300 IN CNAME www.lab.test."
	local-data: 'txt.lab.test. 300 IN TXT "v=lbcheck1" "second string"'
	local-data: "mx.lab.test. 300 IN MX 10 www.lab.test."
	local-data: 'nodata.lab.test. 300 IN TXT "only text here"'
remote-control:
	control-enable: no
UNBOUND
	stop_pidfile unbound "$STATE/unbound.pid"
	unbound-checkconf "$STATE/unbound.conf" >/dev/null || die "unbound-checkconf failed on $STATE/unbound.conf"
	ip netns exec "$NS_SRV" unbound -c "$STATE/unbound.conf" || die "unbound did not start (see $STATE/logs/unbound.log)"
	wait_pidfile unbound "$STATE/unbound.pid"
}

# ---------------------------------------------------------------- ftp
# vsftpd has no pid file and pyftpdlib is a script: both run in the
# foreground, started here in the background with their pid recorded.
start_bg() { # start_bg NAME PIDFILE CMD...: run CMD in lbc-srv, in the background
	local name=$1 pf=$2
	shift 2
	stop_pidfile "$name" "$pf"
	nohup ip netns exec "$NS_SRV" "$@" >"$STATE/logs/$name.out" 2>&1 </dev/null &
	echo $! >"$pf"
}

start_vsftpd() {
	mkdir -p "$STATE/ftp-anon" "$STATE/vsftpd-empty" "$STATE/logs"
	chmod 755 "$STATE/ftp-anon" "$STATE/vsftpd-empty"
	cat >"$STATE/vsftpd.conf" <<VSFTPD
# generated by test/integration/netns.sh
# listen_ipv6 on :: takes IPv4 too (bindv6only is 0 in a new namespace)
listen=NO
listen_ipv6=YES
listen_port=21
background=NO
anonymous_enable=YES
anon_root=$STATE/ftp-anon
no_anon_password=YES
local_enable=NO
write_enable=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
require_ssl_reuse=NO
rsa_cert_file=$STATE/cert.pem
rsa_private_key_file=$STATE/key.pem
secure_chroot_dir=$STATE/vsftpd-empty
xferlog_enable=YES
vsftpd_log_file=$STATE/logs/vsftpd.log
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
VSFTPD
	start_bg vsftpd "$STATE/vsftpd.pid" /usr/sbin/vsftpd "$STATE/vsftpd.conf"
	wait_pidfile vsftpd "$STATE/vsftpd.pid"
}

# vsftpd on 2123 demands a client certificate from the test client CA on
# AUTH TLS (require_cert, validate_cert: one from another CA fails the
# handshake with OpenSSL's alert).
start_vsftpd_mtls() {
	sed -e 's/^listen_port=21$/listen_port=2123/' -e 's#^vsftpd_log_file=.*#vsftpd_log_file='"$STATE"'/logs/vsftpd-mtls.log#' \
		"$STATE/vsftpd.conf" >"$STATE/vsftpd-mtls.conf"
	cat >>"$STATE/vsftpd-mtls.conf" <<VSFTPD
require_cert=YES
validate_cert=YES
ca_certs_file=$STATE/mtls/clientca.pem
VSFTPD
	start_bg vsftpd-mtls "$STATE/vsftpd-mtls.pid" /usr/sbin/vsftpd "$STATE/vsftpd-mtls.conf"
	wait_pidfile vsftpd-mtls "$STATE/vsftpd-mtls.pid"
}

start_pyftpd() {
	mkdir -p "$STATE/ftp-anon" "$STATE/logs"
	cat >"$STATE/pyftpd.py" <<PY
# generated by test/integration/netns.sh: pyftpdlib on [::]:2121 (IPv4
# too), anonymous and lab/secret, explicit FTPS (AUTH TLS) offered.
import socket
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

auth = DummyAuthorizer()
auth.add_anonymous("$STATE/ftp-anon")
auth.add_user("lab", "secret", "$STATE/ftp-anon")
class Handler(TLS_FTPHandler):
    certfile = "$STATE/cert.pem"
    keyfile = "$STATE/key.pem"
    tls_control_required = False
    banner = "lbcheck pyftpdlib ready"
Handler.authorizer = auth
sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("::", 2121))
sock.listen(64)
FTPServer(sock, Handler).serve_forever()
PY
	start_bg pyftpd "$STATE/pyftpd.pid" /usr/bin/python3 "$STATE/pyftpd.py"
	wait_pidfile pyftpd "$STATE/pyftpd.pid"
}

# ftp_greets PORT ADDR: the server on ADDR:PORT sends a 220 greeting to lbc-cli
ftp_greets() {
	ip netns exec "$NS_CLI" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$1 && head -c 4 <&3" 2>/dev/null | grep -q '^220'
}

# ---------------------------------------------------------------- TLS servers (check_ssl_hello)
# openssl s_server: 4433 TLS 1.2 demanding a client certificate, 4434 TLS 1.3
# demanding one, 4435 TLS 1.3 whose only group is P-384 (the ClientHello
# carries key shares for X25519 and P-256 only: a HelloRetryRequest),
# 4436 plain TLS 1.2, 4437 TLS 1.2 with DHE suites only (none of which Go's
# TLS has), 4438 TLS 1.3, 4439 TLS 1.2 ECDHE and 4440 TLS 1.2 RSA key
# exchange signing with badkey.pem (a key that is not the certificate's; a
# later -key wins), 4441 TLS 1.3 with ChaCha20-Poly1305 only. -www keeps it
# from reading stdin; it loops on accept.
S_SERVERS=(4433 4434 4435 4436 4437 4438 4439 4440 4441)
s_server_opts() {
	case $1 in
	4433) echo "-tls1_2 -Verify 1" ;;
	4434) echo "-tls1_3 -Verify 1" ;;
	4435) echo "-tls1_3 -groups P-384" ;;
	4436) echo "-tls1_2" ;;
	4437) echo "-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:DHE-RSA-CAMELLIA128-SHA" ;;
	4438) echo "-tls1_3 -key $STATE/badkey.pem" ;;
	4439) echo "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -key $STATE/badkey.pem" ;;
	4440) echo "-tls1_2 -cipher AES128-GCM-SHA256 -key $STATE/badkey.pem" ;;
	4441) echo "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256" ;;
	esac
}

start_s_servers() {
	local port pf
	for port in "${S_SERVERS[@]}"; do
		pf=$STATE/s_server-$port.pid
		stop_pidfile "s_server $port" "$pf"
		# shellcheck disable=SC2046
		ip netns exec "$NS_SRV" openssl s_server -www -accept "$port" -cert "$STATE/cert.pem" -key "$STATE/key.pem" \
			$(s_server_opts "$port") </dev/null >"$STATE/logs/s_server-$port.log" 2>&1 &
		echo $! >"$pf"
	done
	for port in "${S_SERVERS[@]}"; do wait_port "$SRV4" "$port" "s_server $port"; done
}

stop_s_servers() {
	local port
	for port in "${S_SERVERS[@]}"; do stop_pidfile "s_server $port" "$STATE/s_server-$port.pid"; done
}

# gnutls-serv: 4450 TLS 1.2 with DHE key exchange only (issue 13's DHE-only
# server), 4451 its defaults (TLS 1.3, a client certificate requested).
GNUTLS_SERVERS=(4450 4451)
gnutls_priority() {
	case $1 in
	4450) echo "NORMAL:-KX-ALL:+DHE-RSA:-VERS-TLS1.3" ;;
	4451) echo "NORMAL" ;;
	esac
}

start_gnutls_servers() {
	local port
	for port in "${GNUTLS_SERVERS[@]}"; do
		# line-buffered: its log is read while it runs
		start_bg "gnutls-$port" "$STATE/gnutls-$port.pid" stdbuf -oL gnutls-serv -p "$port" \
			--x509certfile "$STATE/cert.pem" --x509keyfile "$STATE/key.pem" --priority "$(gnutls_priority "$port")"
	done
	for port in "${GNUTLS_SERVERS[@]}"; do wait_port "$SRV4" "$port" "gnutls-serv $port"; done
}

stop_gnutls_servers() {
	local port
	for port in "${GNUTLS_SERVERS[@]}"; do stop_pidfile "gnutls-serv $port" "$STATE/gnutls-$port.pid"; done
}

# Dovecot: IMAP (143 STARTTLS, 993 imaps) and POP3 (110 STLS, 995 pop3s), an
# instance of its own with config, state and log under $STATE.
start_dovecot() {
	local dir=$STATE/dovecot
	mkdir -p "$dir/home" "$STATE/logs"
	chown dovenull:dovenull "$dir/home"
	cat >"$dir/dovecot.conf" <<DOVECOT
# generated by test/integration/netns.sh
instance_name = lbc-dovecot
base_dir = $dir/run
state_dir = $dir/state
log_path = $STATE/logs/dovecot.log
listen = $SRV4, $SRV6
protocols = imap pop3
ssl = yes
ssl_cert = <$STATE/cert.pem
ssl_key = <$STATE/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
# the imaps_proxy listener (9993) trusts PROXY headers from the lab
haproxy_trusted_networks = 10.99.0.0/24 fd00:99::/64
haproxy_timeout = 2s
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=dovenull gid=dovenull home=$dir/home
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
  inet_listener imaps_proxy {
    port = 9993
    ssl = yes
    haproxy = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
DOVECOT
	stop_dovecot
	ip netns exec "$NS_SRV" dovecot -c "$dir/dovecot.conf" 2>"$STATE/logs/dovecot-start.log" ||
		{ cat "$STATE/logs/dovecot-start.log" >&2; die "dovecot did not start"; }
	local port
	for port in 143 993 110 995 9993; do wait_port "$SRV4" "$port" "dovecot $port"; done
}

stop_dovecot() {
	[[ -f $STATE/dovecot/dovecot.conf ]] || return 0
	ip netns exec "$NS_SRV" dovecot -c "$STATE/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
	local i
	for i in $(seq 1 50); do
		pid_alive "$STATE/dovecot/run/master.pid" || return 0
		sleep 0.1
	done
	stop_pidfile dovecot "$STATE/dovecot/run/master.pid"
}

# Exim (GnuTLS), from the unpacked package (ensure_exim): 465 TLS on connect,
# 587 STARTTLS, logs under $STATE/logs (exim-mainlog, exim-paniclog,
# exim-rejectlog). It takes no mail: every recipient is refused.
start_exim() {
	local dir=$STATE/exim
	mkdir -p "$dir/spool" "$STATE/logs"
	chown Debian-exim:Debian-exim "$dir/spool"
	# exim reads them as Debian-exim, for each connection
	install -m 600 -o Debian-exim -g Debian-exim "$STATE/cert.pem" "$STATE/key.pem" "$dir/"
	# the log files are written as Debian-exim
	touch "$STATE/logs/exim-mainlog" "$STATE/logs/exim-paniclog" "$STATE/logs/exim-rejectlog"
	chown Debian-exim:Debian-exim "$STATE/logs"/exim-*log
	cat >"$dir/exim.conf" <<EXIM
# generated by test/integration/netns.sh
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = $dir/spool
log_file_path = $STATE/logs/exim-%slog
pid_file_path = $dir/exim.pid
primary_hostname = exim.lab.test
local_interfaces = <; $SRV4 ; $SRV6
daemon_smtp_ports = 465 : 587
tls_on_connect_ports = 465
tls_advertise_hosts = *
tls_certificate = $dir/cert.pem
tls_privatekey = $dir/key.pem
keep_environment =
acl_smtp_rcpt = refuse
begin acl
refuse:
  deny
EXIM
	stop_pidfile exim "$dir/exim.pid"
	ip netns exec "$NS_SRV" "$EXIM_ROOT/usr/sbin/exim4" -C "$dir/exim.conf" -bd 2>"$STATE/logs/exim-start.log" ||
		{ cat "$STATE/logs/exim-start.log" >&2; die "exim did not start"; }
	wait_port "$SRV4" 465 "exim 465"
	wait_port "$SRV4" 587 "exim 587"
}

# stunnel on 4470, a TLS terminator in front of a backend on 127.0.0.1:4471
# (in lbc-srv) that logs a line per connection it gets: a hello that
# completed the handshake would reach it (check_ssl_hello must not).
start_stunnel() {
	cat >"$STATE/stunnel.conf" <<STUNNEL
; generated by test/integration/netns.sh
foreground = yes
pid =
output = $STATE/logs/stunnel.log
[lbc]
accept = $SRV4:4470
connect = 127.0.0.1:4471
cert = $STATE/cert.pem
key = $STATE/key.pem
STUNNEL
	: >"$STATE/logs/stunnel-backend.log"
	start_bg stunnel-backend "$STATE/stunnel-backend.pid" socat TCP-LISTEN:4471,bind=127.0.0.1,reuseaddr,fork \
		SYSTEM:"echo connection >>$STATE/logs/stunnel-backend.log; cat >/dev/null"
	start_bg stunnel "$STATE/stunnel.pid" stunnel4 "$STATE/stunnel.conf"
	wait_port "$SRV4" 4470 stunnel
	# wait_port's own connection never completed a handshake either
}

# A listener on 85 that accepts and never answers: socat reads to /dev/null.
start_silent() {
	stop_pidfile silent "$STATE/silent.pid"
	ip netns exec "$NS_SRV" socat -u "TCP-LISTEN:85,bind=$SRV4,reuseaddr,fork" OPEN:/dev/null </dev/null \
		>"$STATE/logs/silent.log" 2>&1 &
	echo $! >"$STATE/silent.pid"
	wait_port "$SRV4" 85 "silent listener"
}

wait_port() { # wait_port ADDR PORT NAME: until something accepts there (from lbc-cli)
	local i
	for i in $(seq 1 50); do
		ip netns exec "$NS_CLI" bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$3 does not accept on $1:$2"
}

# Postfix on port 25 with STARTTLS, an instance of its own: config, queue and
# log under $STATE, listening only in lbc-srv. The host's /etc/postfix is
# neither read nor written (ensure_packages installs it unconfigured).
start_postfix() {
	local dir=$STATE/postfix
	mkdir -p "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	cat >"$dir/main.cf" <<PF
# generated by test/integration/netns.sh
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.lab.test
mydomain = lab.test
mydestination =
relayhost =
inet_interfaces = $SRV4, $SRV6
inet_protocols = all
smtpd_banner = \$myhostname ESMTP lab
smtpd_tls_cert_file = $STATE/cert.pem
smtpd_tls_key_file = $STATE/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
# A ClientHello sent to this plaintext port parses as a run of bad commands;
# past smtpd_soft_error_limit (10) smtpd sleeps 1 s per error reply before
# it flushes even the 220 greeting. How many "lines" a ClientHello holds
# depends on its random bytes, so with the default the "not TLS" case timed
# out about one run in twelve. The tarpit is Postfix's, not what the tests
# are about: switch it off.
smtpd_error_sleep_time = 0
maillog_file = $STATE/logs/postfix.log
maillog_file_prefixes = $STATE/logs
alias_maps =
alias_database =
biff = no
PF
	# upstream's master.cf, without chroot (the queue is not set up as a jail)
	awk '!/^#/ && NF >= 8 && $5 == "y" { $5 = "n" } { print }' /usr/share/postfix/master.cf.dist >"$dir/master.cf"
	# 2525: smtpd behind HAProxy, the connection must begin with a PROXY header
	echo '2525 inet n - n - - smtpd -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_upstream_proxy_timeout=2s' >>"$dir/master.cf"
	ip netns exec "$NS_SRV" postfix -c "$dir" stop >/dev/null 2>&1 || true
	ip netns exec "$NS_SRV" postfix -c "$dir" check 2>"$STATE/logs/postfix-check.log" ||
		{ cat "$STATE/logs/postfix-check.log" >&2; die "postfix check failed"; }
	ip netns exec "$NS_SRV" postfix -c "$dir" start 2>"$STATE/logs/postfix-start.log" ||
		{ cat "$STATE/logs/postfix-start.log" >&2; die "postfix did not start"; }
	wait_port "$SRV4" 25 postfix
}

stop_postfix() {
	[[ -f $STATE/postfix/main.cf ]] || return 0
	ip netns exec "$NS_SRV" postfix -c "$STATE/postfix" stop >/dev/null 2>&1 ||
		stop_pidfile postfix "$STATE/postfix/spool/pid/master.pid"
}

# ---------------------------------------------------------------- signed zones (check_dns_answer --dnssec)
# Two authoritative servers signing their zones themselves, as operators run
# them: BIND 9.18 with dnssec-policy on port 5301, Knot DNS on 5302, both
# addresses of lbc-srv. Each has zone nsec.NAME.test (NSEC) and
# nsec3.NAME.test (NSEC3, no salt, 0 iterations); BIND also serves
# unsigned.bind.test. Every zone holds www (A), txt (TXT only: A is
# NODATA), a delegation with a DS (secure) and one without (insecure).
BIND_PORT=5301
KNOT_PORT=5302

write_test_zone() { # write_test_zone ZONE FILE
	cat >"$2" <<ZONE
\$TTL 300
@        SOA   ns.$1. hostmaster.$1. 1 3600 600 86400 300
@        NS    ns.$1.
ns       A     $SRV4
www      A     $SRV4
www      AAAA  $SRV6
txt      TXT   "only text here"
secure   NS    ns.secure.$1.
secure   DS    12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE8B9B2B4A0C7A2F1F0C3E2D1A
ns.secure A    $SRV4
insecure NS    ns.insecure.$1.
ns.insecure A  $SRV4
ZONE
}

start_named() {
	local dir=$STATE/named z
	mkdir -p "$dir/keys" "$STATE/logs"
	for z in nsec.bind.test nsec3.bind.test unsigned.bind.test; do write_test_zone "$z" "$dir/$z.zone"; done
	cat >"$dir/named.conf" <<NAMED
// generated by test/integration/netns.sh
options {
	directory "$dir";
	pid-file "$dir/named.pid";
	session-keyfile "$dir/session.key";
	managed-keys-directory "$dir";
	listen-on port $BIND_PORT { $SRV4; };
	listen-on-v6 port $BIND_PORT { $SRV6; };
	// DNS over TLS that demands a client certificate from the test client CA
	listen-on port 8853 tls lbc-mtls { $SRV4; };
	listen-on-v6 port 8853 tls lbc-mtls { $SRV6; };
	recursion no;
	dnssec-validation no;
	allow-query { any; };
};
controls { };
tls lbc-mtls {
	cert-file "$STATE/cert.pem";
	key-file "$STATE/key.pem";
	ca-file "$STATE/mtls/clientca.pem";
};
logging {
	channel f { file "$STATE/logs/named.log"; severity info; print-time yes; };
	category default { f; };
};
dnssec-policy "lbc-nsec" {
	keys { csk lifetime unlimited algorithm ecdsap256sha256; };
};
dnssec-policy "lbc-nsec3" {
	keys { csk lifetime unlimited algorithm ecdsap256sha256; };
	nsec3param iterations 0 optout no salt-length 0;
};
zone "nsec.bind.test" { type primary; file "nsec.bind.test.zone"; dnssec-policy "lbc-nsec"; inline-signing yes; key-directory "$dir/keys"; };
zone "nsec3.bind.test" { type primary; file "nsec3.bind.test.zone"; dnssec-policy "lbc-nsec3"; inline-signing yes; key-directory "$dir/keys"; };
zone "unsigned.bind.test" { type primary; file "unsigned.bind.test.zone"; };
NAMED
	stop_pidfile named "$dir/named.pid"
	named-checkconf "$dir/named.conf" || die "named-checkconf failed on $dir/named.conf"
	ip netns exec "$NS_SRV" named -c "$dir/named.conf" || die "named did not start (see $STATE/logs/named.log)"
	wait_pidfile named "$dir/named.pid"
}

start_knot() {
	local dir=$STATE/knot z
	mkdir -p "$dir/zones" "$dir/db" "$STATE/logs"
	for z in nsec.knot.test nsec3.knot.test; do write_test_zone "$z" "$dir/zones/$z.zone"; done
	cat >"$dir/knot.conf" <<KNOT
# generated by test/integration/netns.sh
server:
    rundir: "$dir"
    pidfile: "$dir/knot.pid"
    listen: [ "$SRV4@$KNOT_PORT", "$SRV6@$KNOT_PORT" ]
log:
  - target: "$STATE/logs/knot.log"
    any: info
database:
    storage: "$dir/db"
policy:
  - id: lbc-nsec
    algorithm: ecdsap256sha256
    nsec3: off
  - id: lbc-nsec3
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    dnssec-signing: on
    zonefile-sync: -1
zone:
  - domain: nsec.knot.test
    dnssec-policy: lbc-nsec
  - domain: nsec3.knot.test
    dnssec-policy: lbc-nsec3
KNOT
	stop_pidfile knot "$dir/knot.pid"
	knotc -c "$dir/knot.conf" conf-check >/dev/null || die "knotc conf-check failed on $dir/knot.conf"
	ip netns exec "$NS_SRV" knotd -c "$dir/knot.conf" -d || die "knotd did not start (see $STATE/logs/knot.log)"
	wait_pidfile knot "$dir/knot.pid"
}

# zone_signed PORT ZONE PROOF: the server on PORT hands out ZONE signed, its
# denial proven by PROOF (NSEC or NSEC3): signing runs after the server starts.
zone_signed() {
	ip netns exec "$NS_CLI" dig +dnssec +norec +time=1 +tries=1 -p "$1" @"$SRV4" "missing.$2" A 2>/dev/null |
		awk -v t="$3" '$4 == t { p = 1 } $4 == "RRSIG" && $5 == "SOA" { s = 1 } END { exit !(p && s) }'
}

wait_signed() {
	local spec port zone proof i
	for spec in "$BIND_PORT nsec.bind.test NSEC" "$BIND_PORT nsec3.bind.test NSEC3" \
		"$KNOT_PORT nsec.knot.test NSEC" "$KNOT_PORT nsec3.knot.test NSEC3"; do
		read -r port zone proof <<<"$spec"
		for i in $(seq 1 100); do
			zone_signed "$port" "$zone" "$proof" && break
			((i < 100)) || die "$zone on port $port is not signed with $proof after 10 s (see $STATE/logs)"
			sleep 0.1
		done
	done
}

# ---------------------------------------------------------------- checks
check_up() {
	local out
	out=$(ip netns exec "$NS_CLI" curl -sS -m 2 "http://$SRV4/") || die "nginx on $SRV4:80 does not answer"
	[[ $out == "nginx default" ]] || die "nginx default server answered '$out'"
	out=$(ip netns exec "$NS_CLI" curl -sS -m 2 -H 'Host: www.lab.test' "http://[$SRV6]/") ||
		die "nginx on [$SRV6]:80 does not answer"
	[[ $out == "www" ]] || die "nginx www vhost over v6 answered '$out'"
	out=$(ip netns exec "$NS_CLI" curl -sS -m 2 --cacert "$STATE/ca.pem" \
		--resolve "alt.lab.test:443:$SRV4" "https://alt.lab.test/") || die "nginx TLS on $SRV4:443 does not answer"
	[[ $out == "alt" ]] || die "nginx alt vhost over TLS answered '$out'"
	out=$(ip netns exec "$NS_CLI" dig +short +time=1 +tries=3 @"$SRV6" www.lab.test A) ||
		die "unbound on [$SRV6]:53 does not answer"
	[[ $out == "$SRV4" ]] || die "unbound answered www.lab.test A with '$out'"
	local i port addr
	for port in 21 2121 2123; do
		for addr in "$SRV4" "[$SRV6]"; do
			for i in $(seq 1 50); do
				ftp_greets "$port" "${addr//[][]/}" && break
				((i < 50)) || die "no FTP greeting from $addr:$port (see $STATE/logs)"
				sleep 0.1
			done
		done
	done
	local st=""
	for i in $(seq 1 50); do
		st=$(monitor_status)
		[[ $st == 200 ]] && return 0
		sleep 0.1
	done
	die "HAProxy monitor-uri answers '$st', wanted 200"
}

# ---------------------------------------------------------------- commands
cmd_up() {
	need_root
	ensure_packages
	mkdir -p "$STATE"
	chmod 755 "$STATE"
	setup_netns
	setup_nft
	setup_etc_netns
	make_cert
	make_client_certs
	start_nginx
	start_haproxy
	start_unbound
	start_vsftpd
	start_vsftpd_mtls
	start_pyftpd
	start_s_servers
	start_gnutls_servers
	start_silent
	start_postfix
	start_dovecot
	start_exim
	start_stunnel
	start_named
	start_knot
	check_up
	wait_signed
	echo "lbcheck integration env up: $NS_CLI($CLI4,$CLI6) <-> $NS_SRV($SRV4,$SRV6); nginx :80/:443/:8443/:8444/:8446 (default, www.lab.test, alt.lab.test; 8446 client certificate), PROXY :8081/:8445 pid $(cat "$STATE/nginx.pid"); haproxy :8080 /haproxy-health, accept-proxy :8082 (HTTP) :2122 (FTP) :5853 (DoT) pid $(cat "$STATE/haproxy.pid"); unbound :53/:853, PROXY v2 :5399 lab.test; vsftpd :21/:2123 (client certificate); pyftpdlib :2121; s_server :4433-4441; gnutls-serv :4450-4451; silent :85; postfix :25, PROXY :2525; dovecot :143/993/110/995, PROXY imaps :9993; exim :465/587; stunnel :4470; named :$BIND_PORT and DoT :8853 (client certificate), knotd :$KNOT_PORT (signed zones); nft: 81 drop, 82 icmp admin-prohibited, 83 tcp reset, 84 closed; state $STATE"
}

cmd_down() {
	need_root
	trap - ERR
	set +e
	stop_pidfile nginx "$STATE/nginx.pid"
	stop_pidfile haproxy "$STATE/haproxy.pid"
	stop_pidfile unbound "$STATE/unbound.pid"
	stop_pidfile vsftpd "$STATE/vsftpd.pid"
	stop_pidfile vsftpd-mtls "$STATE/vsftpd-mtls.pid"
	stop_pidfile pyftpd "$STATE/pyftpd.pid"
	stop_s_servers
	stop_gnutls_servers
	stop_pidfile silent "$STATE/silent.pid"
	stop_postfix
	stop_pidfile named "$STATE/named/named.pid"
	stop_pidfile knot "$STATE/knot/knot.pid"
	stop_dovecot
	stop_pidfile exim "$STATE/exim/exim.pid"
	stop_pidfile stunnel "$STATE/stunnel.pid"
	stop_pidfile stunnel-backend "$STATE/stunnel-backend.pid"
	# anything else still running inside our server namespace was started by us (up)
	local ns pid
	for ns in "$NS_SRV" "$NS_CLI"; do
		if ns_exists "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				log "killing leftover pid $pid in $ns"
				kill -KILL "$pid" 2>/dev/null
			done
			ip netns del "$ns" || { log "could not delete namespace $ns"; return 1; }
		fi
	done
	case $STATE in
	/ | "" | /tmp | /tmp/) die "refusing to remove state dir '$STATE'" ;;
	esac
	rm -rf -- "$STATE"
	remove_etc_netns
	if ns_exists "$NS_SRV" || ns_exists "$NS_CLI"; then
		die "namespaces still exist after down"
	fi
	echo "lbcheck integration env down"
}

cmd_status() {
	ip netns list
	pid_alive "$STATE/nginx.pid" && echo "nginx pid $(cat "$STATE/nginx.pid")" || echo "nginx not running"
	pid_alive "$STATE/haproxy.pid" && echo "haproxy pid $(cat "$STATE/haproxy.pid")" || echo "haproxy not running"
	local d
	for d in unbound vsftpd pyftpd; do
		pid_alive "$STATE/$d.pid" && echo "$d pid $(cat "$STATE/$d.pid")" || echo "$d not running"
	done
	pid_alive "$STATE/named/named.pid" && echo "named pid $(cat "$STATE/named/named.pid")" || echo "named not running"
	pid_alive "$STATE/knot/knot.pid" && echo "knotd pid $(cat "$STATE/knot/knot.pid")" || echo "knotd not running"
	echo "monitor-uri: $(monitor_status)"
}

case ${1:-} in
packages) need_root; ensure_packages ;;
up) cmd_up ;;
down) cmd_down ;;
monitor-fail) need_root; monitor_flip disable 503 ;;
monitor-ok) need_root; monitor_flip enable 200 ;;
status) cmd_status ;;
*)
	echo "usage: $0 packages|up|down|monitor-fail|monitor-ok|status" >&2
	exit 2
	;;
esac
