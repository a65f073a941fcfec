#!/usr/bin/env bash
# deps.sh: the one list of Debian packages lbcheck's targets need beside Go,
# and the one place that installs them. make test, test/integration/netns.sh
# (make integration) and .ci/run all read it.
#
#   deps.sh install GROUP...  as root, apt-get install what is missing; as a
#                             user, or without apt-get, say in one line what
#                             to install and fail
#   deps.sh check GROUP...    only say what is missing (one line) and fail
#   deps.sh list GROUP...     the packages, one a line
#
# GROUP: build (make demo, make build: git, which go build runs in a clone,
# and the CA certificates the Go module proxy needs), test (make test, with
# build too), integration (make integration), package (make package-test),
# bench (make bench, with integration too).
# When everything is present it only looks at the file system: no apt-get,
# no network, tens of milliseconds.
set -euo pipefail

# group        package            present when (a command on PATH, in
#                                 /usr/sbin or /sbin; a file; python3:MODULE)
read -r -d '' table <<'EOF' || true
build          make               make
build          git                git
build          ca-certificates    /etc/ssl/certs/ca-certificates.crt
# -race needs cgo; apt-get without recommends gives gcc no C library headers
test           gcc                gcc
test           libc6-dev          /usr/include/stdio.h
test           nftables           nft
test           util-linux         setpriv
test           libcap2-bin        setcap
test           iproute2           ip
test           groff-base         groff
# check_tcp_half_open privilege tests: pidfd_getfd(2) as the caller would
test           perl-base          perl
integration    nginx              nginx
integration    haproxy            haproxy
integration    keepalived         keepalived
integration    nftables           nft
integration    iproute2           ip
integration    openssl            openssl
integration    curl               curl
integration    socat              socat
integration    iputils-ping       ping
integration    unbound            unbound
integration    bind9-dnsutils     dig
integration    vsftpd             vsftpd
integration    postfix            postfix
integration    python3-pyftpdlib  python3:pyftpdlib
integration    python3-openssl    python3:OpenSSL
integration    nagios4-core       nagios4
integration    icinga2-bin        icinga2
# Prometheus scrapes lbcheckd
integration    prometheus         prometheus
# lbcheckd's answers compared with blackbox_exporter's, family by family
integration    prometheus-blackbox-exporter prometheus-blackbox-exporter
# check_ssl_hello: TLS servers of another library, mail servers whose logs
# show what a probe costs them (exim is unpacked by netns.sh: it conflicts
# with postfix), a TLS proxy
integration    gnutls-bin         gnutls-serv
integration    stunnel4           stunnel4
integration    dovecot-core       dovecot
integration    dovecot-imapd      /usr/lib/dovecot/imap
integration    dovecot-pop3d      /usr/lib/dovecot/pop3
integration    libidn12           dpkg:libidn12
# signed zones for check_dns_answer --dnssec
integration    bind9              named
integration    knot               knotd
integration    gcc                gcc
integration    libcap2-bin        setcap
integration    util-linux         setpriv
# make bench: lbcheckd next to blackbox_exporter, its arithmetic
bench          prometheus-blackbox-exporter prometheus-blackbox-exporter
bench          bc                 bc
bench          curl               curl
bench          procps             pgrep
package        lintian            lintian
package        rpm                rpm
package        man-db             man
package        groff-base         groff
package        icinga2-bin        icinga2
package        nagios4-core       nagios4
package        libcap2-bin        getcap
package        util-linux         setpriv
EOF

# The Debian packages that start a daemon of their own on the host; the
# tests run their own instances in namespaces.
daemons=(nginx haproxy keepalived unbound vsftpd postfix bind9 knot dovecot-core stunnel4 prometheus prometheus-node-exporter prometheus-blackbox-exporter)

die() { printf 'deps.sh: %s\n' "$*" >&2; exit 2; }

present() {
	case $1 in
	/*) [[ -e $1 ]] ;;
	# the system's python3, not a pyenv shim: the servers run under it
	python3:*) /usr/bin/python3 -c "import ${1#python3:}" >/dev/null 2>&1 ;;
	# a library, which has no command to look for
	dpkg:*) dpkg -s "${1#dpkg:}" >/dev/null 2>&1 ;;
	*) command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]] ;;
	esac
}

(($# >= 2)) || die "usage: deps.sh install|check|list GROUP..."
action=$1
shift
groups=" $* "
for g in "$@"; do
	[[ $g == build || $g == test || $g == integration || $g == package || $g == bench ]] || die "unknown group $g (want build, test, integration, package or bench)"
done

all=() missing=() provides=()
while read -r group pkg what; do
	[[ $group != \#* && $groups == *" $group "* ]] || continue
	[[ " ${all[*]} " == *" $pkg "* ]] && continue
	all+=("$pkg")
	if ! present "$what"; then
		missing+=("$pkg")
		what=${what#python3:}
		provides+=("${what#dpkg:}")
	fi
done <<<"$table"

case $action in
list) printf '%s\n' "${all[@]}"; exit 0 ;;
install | check) ;;
*) die "unknown action $action (want install, check or list)" ;;
esac
((${#missing[@]})) || exit 0

names=()
for g in "$@"; do
	case $g in
	build) [[ $groups == *" test "* ]] || names+=("make demo") ;;
	test) names+=("make test") ;;
	integration) names+=("make integration") ;;
	package) names+=("make package-test") ;;
	bench) names+=("make bench") ;;
	esac
done
targets=$(IFS=/; echo "${names[*]}") needs=needs
((${#names[@]} == 1)) || needs=need
if [[ $action == check || $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	how="as root; or run $targets as root, which does it"
	command -v apt-get >/dev/null 2>&1 || how="no apt-get here: install whatever provides them"
	# One line: what is missing, and the command that installs it.
	printf '%s %s %s: apt-get install %s (%s)\n' "$targets" "$needs" "${provides[*]}" "${missing[*]}" "$how" >&2
	exit 1
fi

printf 'deps.sh: installing for %s: %s\n' "$targets" "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix unconfigured: no /etc/postfix/main.cf, nothing started on the
# host; the integration tests run their own instance in a namespace.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
# apt's progress is dropped, its errors (stderr) kept: callers keep stdout
# for their own output.
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for d in "${daemons[@]}"; do
	if [[ " ${missing[*]} " == *" $d "* ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$d" >/dev/null 2>&1 || true
	fi
done
