#!/usr/bin/env bash
# package-test.sh: what an operator gets from the packages, checked on this
# machine (root; CI runs it through `make package-test` after `make package`).
#
#   1. lintian on each deb: no errors.
#   2. The rpm: files in /usr/lib64/nagios/plugins, the %post that sets the
#      capability, the libcap dependency.
#   3. The amd64 deb installed with dpkg: only check_tcp_half_open carries a
#      capability (cap_net_raw=ep); every binary's --version is the package
#      version; `man check_x` shows every option check_x --help lists.
#      The postinst, when setcap fails, warns and still succeeds.
#   4. Each installed binary run as nobody against the real servers of
#      test/integration/netns.sh, in a sandbox of their own (scripts/sandbox.sh):
#      OK from a live server, CRITICAL from a closed port. The half-open check
#      works through its file capability alone, which gives nobody no
#      firewall mark (--mark and MARK refused, nothing sent); root's applies.
#      Icinga 2 validates a configuration that uses all five CheckCommands
#      from the installed file, loaded by the stock include <plugins-contrib>.
#      Nagios Core 4 accepts its stock configuration plus a service per
#      lbcheck_* command from the installed /etc/nagios-plugins/config file.
#      lbcheckd: /usr/sbin/lbcheckd (no file capability: its unit gives it
#      CAP_NET_RAW), --version, man lbcheckd, the unit, the configuration
#      it accepts; started from the installed unit's command line and user
#      restrictions (setpriv, nobody, CAP_NET_RAW ambient), it answers
#      /check and /probe against the real servers.
#   5. dpkg --remove leaves only the conffiles; dpkg --purge leaves nothing.
#   6. make install DESTDIR=... and make uninstall.
# Any failure ends the script with a message and a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin
plugins=/usr/lib/nagios/plugins
checks=(check_tcp_half_open check_ssl_hello check_dns_answer check_ftp_noop check_http_status)

fail() { printf 'package-test: FAIL: %s\n' "$*" >&2; exit 1; }
say() { printf 'package-test: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || fail "must run as root (dpkg, setcap, namespaces)"
for tool in lintian rpm dpkg-deb getcap setpriv man icinga2 nagios4; do
	command -v "$tool" >/dev/null || fail "$tool is missing (Debian: lintian rpm dpkg libcap2-bin util-linux man-db icinga2-bin nagios4-core)"
done

if [[ -z ${LBC_SANDBOX:-} ]]; then
	# ----------------------------------------------------- outside the sandbox
	shopt -s nullglob
	debs=(dist/lbcheck_*_amd64.deb) rpms=(dist/lbcheck-*.x86_64.rpm)
	((${#debs[@]} == 1 && ${#rpms[@]} == 1)) || fail "want one amd64 deb and one x86_64 rpm in dist/ (make package), found: ${debs[*]} ${rpms[*]}"
	deb=${debs[0]} rpm=${rpms[0]}
	version=$(dpkg-deb -f "$deb" Version)

	say "lintian (errors fail; the output is quoted in full)"
	for f in dist/*.deb; do
		# --fail-on error: warnings and info are shown, not fatal
		lintian --fail-on error --info "$f" 2>&1 | grep -v 'running with root privileges' || true
		lintian --fail-on error "$f" >/dev/null 2>&1 || fail "lintian reports errors for $f"
	done

	say "rpm: $rpm"
	files=$(rpm -qlp "$rpm" 2>/dev/null)
	for c in "${checks[@]}"; do
		grep -qx "/usr/lib64/nagios/plugins/$c" <<<"$files" || fail "rpm lacks /usr/lib64/nagios/plugins/$c"
		grep -qx "/usr/share/man/man1/$c.1.gz" <<<"$files" || fail "rpm lacks the man page of $c"
	done
	grep -qx /usr/lib64/nagios/plugins/lbcheck <<<"$files" || fail "rpm lacks lbcheck, which the checks exec"
	# captured first: with pipefail, grep -q leaving early could fail the pipe
	scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
	requires=$(rpm -qp --requires "$rpm" 2>/dev/null)
	grep -q 'setcap cap_net_raw+ep "$bin"' <<<"$scripts" || fail "rpm %post does not set the capability"
	grep -qx 'bin=/usr/lib64/nagios/plugins/check_tcp_half_open' <<<"$scripts" || fail "rpm %post names the wrong binary"
	grep -qx libcap <<<"$requires" || fail "rpm does not require libcap"
	for f in /usr/sbin/lbcheckd /usr/share/man/man8/lbcheckd.8.gz /usr/lib/systemd/system/lbcheckd.service /etc/lbcheck/lbcheckd.yml /usr/share/doc/lbcheck/examples/lbcheckd/alerts.yml; do
		grep -qx "$f" <<<"$files" || fail "rpm lacks $f"
	done
	grep -qx /etc/lbcheck/lbcheckd.yml <<<"$(rpm -qcp "$rpm" 2>/dev/null)" || fail "rpm: /etc/lbcheck/lbcheckd.yml is not a config file"
	[[ $(rpm -qp --qf '%{VERSION}' "$rpm" 2>/dev/null) == "$version" ]] || fail "rpm version differs from the deb's $version"

	say "installing $deb"
	trap 'dpkg --purge lbcheck >/dev/null 2>&1 || true' EXIT
	dpkg --purge lbcheck >/dev/null 2>&1 || true
	dpkg -i "$deb" >&2 || fail "dpkg -i $deb"

	for c in "${checks[@]}"; do
		bin=$plugins/$c
		[[ -x $bin ]] || fail "$bin is not installed"
		caps=$(getcap "$bin")
		if [[ $c == check_tcp_half_open ]]; then
			[[ $caps == "$bin cap_net_raw=ep" ]] || fail "$bin: capability '$caps', want cap_net_raw=ep"
		else
			[[ -z $caps ]] || fail "$bin carries a capability it must not have: $caps"
		fi
		got=$("$bin" --version)
		[[ $got == "$c $version" ]] || fail "$bin --version says '$got', want '$c $version'"
		page=$(MANWIDTH=200 man -P cat "$c" 2>/dev/null) || fail "man $c: no page"
		opts=$("$bin" --help | grep -oE -- '--[a-z0-9-]+' | sort -u)
		for o in $opts; do
			grep -qF -- "$o" <<<"$page" || fail "man $c does not show $o"
		done
		say "$c: $(wc -w <<<"$opts") options in man, version $version, capabilities '${caps#"$bin"}'"
	done

	say "lbcheckd: binary, page, unit, configuration"
	[[ -x /usr/sbin/lbcheckd ]] || fail "/usr/sbin/lbcheckd is not installed"
	[[ -z $(getcap /usr/sbin/lbcheckd) ]] || fail "/usr/sbin/lbcheckd carries a file capability; the unit gives it CAP_NET_RAW"
	got=$(/usr/sbin/lbcheckd --version)
	[[ $got == "lbcheckd $version" ]] || fail "lbcheckd --version says '$got', want 'lbcheckd $version'"
	MANWIDTH=200 man -P cat 8 lbcheckd 2>/dev/null | grep -q -- '--check-config' || fail "man 8 lbcheckd: no page, or no --check-config in it"
	[[ -f /lib/systemd/system/lbcheckd.service ]] || fail "no /lib/systemd/system/lbcheckd.service"
	grep -qx /etc/lbcheck/lbcheckd.yml /var/lib/dpkg/info/lbcheck.conffiles || fail "/etc/lbcheck/lbcheckd.yml is not a conffile"
	/usr/sbin/lbcheckd --check-config --config /etc/lbcheck/lbcheckd.yml >&2 || fail "lbcheckd refuses its installed configuration"
	if command -v systemd-analyze >/dev/null; then
		systemd-analyze verify --man=no /lib/systemd/system/lbcheckd.service 2>&1 | grep lbcheckd.service && fail "systemd-analyze verify complains about the unit"
	fi

	say "postinst: a failing setcap warns and the install finishes"
	half=$plugins/check_tcp_half_open
	setcap -r "$half"
	# root without CAP_SETFCAP: setcap fails as it does on a file system
	# without extended attributes, and the script must still succeed
	rc=0
	err=$(setpriv --bounding-set=-setfcap --inh-caps=-setfcap /var/lib/dpkg/info/lbcheck.postinst configure 2>&1 >/dev/null) || rc=$?
	[[ $rc -eq 0 ]] || fail "postinst exits $rc when setcap fails: $err"
	grep -q "WARNING: could not give $half the cap_net_raw capability" <<<"$err" || fail "postinst gave no warning when setcap failed: '$err'"
	grep -q "run: setcap cap_net_raw+ep $half" <<<"$err" || fail "postinst warning lacks the command to fix it: '$err'"
	[[ -z $(getcap "$half") ]] || fail "setcap was meant to fail under setpriv, the test proves nothing"
	/var/lib/dpkg/info/lbcheck.postinst configure
	[[ $(getcap "$half") == "$half cap_net_raw=ep" ]] || fail "postinst configure did not set the capability again"
	say "  $(head -1 <<<"$err")"

	say "Icinga 2 loads the installed CheckCommands through include <plugins-contrib>"
	icinga=$(mktemp -d)
	chmod 755 "$icinga" # icinga2 reads it as its own user (nagios)
	{
		echo 'const PluginDir = "/usr/lib/nagios/plugins"'
		echo 'const PluginContribDir = "/usr/lib/nagios/plugins"'
		echo 'const NodeName = "lbcheck-package-test"'
		echo 'const ZoneName = "lbcheck-package-test"'
		echo 'include <itl>'
		echo 'include <plugins>'
		echo 'include <plugins-contrib>'
		echo 'object CheckCommand "none" { command = [ "/bin/true" ] }'
		echo 'object Host "backend" { address = "10.99.0.2"; address6 = "fd00:99::2"; check_command = "none" }'
		for c in "${checks[@]}"; do
			echo "object Service \"$c\" { host_name = \"backend\"; check_command = \"lbcheck_${c#check_}\"; vars.lbcheck_${c#check_}_port = 80 }"
		done
	} >"$icinga/icinga2.conf"
	out=$(icinga2 daemon -C -c "$icinga/icinga2.conf" 2>&1) || fail "icinga2 rejects the installed definitions: $out"
	grep -q "Instantiated ${#checks[@]} Services" <<<"$out" || fail "icinga2 did not instantiate the services: $out"
	rm -rf "$icinga"

	say "Nagios Core 4 reads the installed commands with its stock configuration"
	nagios=$(mktemp -d)
	chmod 755 "$nagios"
	sed "s|^cfg_dir=/etc/nagios4/conf.d|cfg_file=$nagios/services.cfg|" /etc/nagios4/nagios.cfg >"$nagios/nagios.cfg"
	grep -qx 'cfg_dir=/etc/nagios-plugins/config' "$nagios/nagios.cfg" || fail "the stock nagios.cfg does not read /etc/nagios-plugins/config"
	for c in "${checks[@]}"; do
		printf 'define service {\n use generic-service\n host_name localhost\n service_description %s\n check_command lbcheck_%s!80\n}\n' "$c" "${c#check_}"
	done >"$nagios/services.cfg"
	out=$(nagios4 -v "$nagios/nagios.cfg" 2>&1) || fail "nagios4 rejects the configuration with the installed commands: $out"
	grep -q 'Total Errors:   0' <<<"$out" || fail "nagios4 reports errors: $out"
	rm -rf "$nagios"

	say "running the installed binaries as nobody against real servers"
	LBC_PACKAGE_VERSION=$version scripts/sandbox.sh "$0"

	say "dpkg --remove, then --purge"
	listed=$(dpkg -L lbcheck | grep -v '^/\.$')
	# files (and our own doc directory) of the list that still exist; a
	# link to a directory is the system's (usrmerge's /lib, which dpkg lists
	# because the unit is shipped under it), not ours
	remaining() {
		local f
		while read -r f; do
			if [[ -f $f || (-L $f && ! -d $f) ]]; then
				echo "$f"
			elif [[ $f == /usr/share/doc/lbcheck* && -e $f ]]; then
				echo "$f"
			fi
		done <<<"$listed"
	}
	dpkg --remove lbcheck >&2
	left=$(remaining | sort | tr '\n' ' ')
	[[ $left == "/etc/lbcheck/lbcheckd.yml /etc/nagios-plugins/config/lbcheck.cfg " ]] || fail "after remove, want only the conffiles left, found: ${left:-nothing}"
	dpkg --purge lbcheck >&2
	trap - EXIT
	left=$(remaining)
	[[ -z $left ]] || fail "left behind after purge: $left"

	say "make install / uninstall into a staging directory"
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	make --no-print-directory install DESTDIR="$stage" PREFIX=/usr >/dev/null
	for c in "${checks[@]}"; do
		[[ -x $stage/usr/lib/nagios/plugins/$c ]] || fail "make install: no $c"
		[[ -f $stage/usr/share/man/man1/$c.1 ]] || fail "make install: no man page for $c"
	done
	[[ -x $stage/usr/lib/nagios/plugins/lbcheck ]] || fail "make install: no lbcheck"
	[[ -f $stage/usr/share/doc/lbcheck/examples/icinga2/lbcheck.conf ]] || fail "make install: no examples"
	for f in usr/sbin/lbcheckd usr/share/man/man8/lbcheckd.8 usr/lib/systemd/system/lbcheckd.service etc/lbcheck/lbcheckd.yml usr/share/doc/lbcheck/examples/lbcheckd/alerts.yml; do
		[[ -e $stage/$f ]] || fail "make install: no $f"
	done
	make --no-print-directory install DESTDIR="$stage" PREFIX=/opt/lbc plugindir=/opt/lbc/plugins >/dev/null
	[[ -x $stage/opt/lbc/plugins/check_dns_answer ]] || fail "make install: plugindir is not honoured"
	make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr >/dev/null
	left=$(find "$stage/usr" -type f)
	[[ -z $left ]] || fail "make uninstall left: $left"
	say "PASS: packages $version"
	exit 0
fi

# --------------------------------------------------------- inside the sandbox
netns=test/integration/netns.sh
"$netns" up >/dev/null
trap '"$netns" down >/dev/null 2>&1 || true' EXIT

# run EXPECTED_EXIT CHECK ARGS...: as nobody, in the client namespace, with a
# clean environment and an empty PATH, as HAProxy would.
run() {
	local want=$1 c=$2 out rc
	shift 2
	rc=0
	out=$(ip netns exec lbc-cli setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -i PATH= "$plugins/$c" "$@") || rc=$?
	[[ $rc -eq $want ]] || fail "as nobody: $c $* exited $rc, want $want: $out"
	say "as nobody: $c $* -> $out"
}
run 0 check_tcp_half_open 10.99.0.2 80
run 2 check_tcp_half_open 10.99.0.2 84
run 0 check_tcp_half_open -v fd00:99::2 443
run 0 check_ssl_hello 10.99.0.2 443
run 0 check_dns_answer --name www.lab.test 10.99.0.2
run 0 check_ftp_noop 10.99.0.2 21
run 0 check_http_status 10.99.0.2 80
run 2 check_http_status 10.99.0.2 84
# handed over to lbcheck, installed beside the checks
run 0 check_http_status --tls 10.99.0.2 443
run 0 check_ftp_noop --auth-tls 10.99.0.2 21
# The capability is gone once the socket is open: a nobody process holds none.
out=$(ip netns exec lbc-cli setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$plugins/check_tcp_half_open" -vv 10.99.0.2 80)
grep -q 'capabilities dropped on' <<<"$out" || fail "no capability drop reported: $out"
held=$(grep -oE 'Cap(Eff|Prm)=[0-9a-f]+' <<<"$out" | grep -v '=0000000000000000$' || true)
[[ -z $held ]] || fail "a thread still holds capabilities ($held): $out"

# The capability is for the raw socket, not for firewall marks (README,
# Privilege): nobody's --mark and MARK are refused with nothing sent; root's
# mark still applies. An nft counter in the client namespace counts them.
ip netns exec lbc-cli nft -f - <<'NFT'
table inet lbcmark {
	counter marked {}
	chain output { type filter hook output priority 0; meta mark 0x2a tcp flags == syn counter name marked; }
}
NFT
marked() { ip netns exec lbc-cli nft list counter inet lbcmark marked | grep -oE 'packets [0-9]+' | grep -oE '[0-9]+'; }
# refused [VAR=VALUE] [OPTION...]: the mark from the environment or the command line
refused() {
	local out rc=0 var=()
	[[ ${1-} == *=* ]] && { var=("$1"); shift; }
	out=$(ip netns exec lbc-cli setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -i PATH= "${var[@]}" "$plugins/check_tcp_half_open" "$@" 10.99.0.2 80) || rc=$?
	[[ $rc -eq 3 && $out == *" refused: check_tcp_half_open runs with privilege"* ]] || fail "as nobody: ${var[*]} check_tcp_half_open $* exited $rc, want 3 and a refusal: $out"
	[[ $(marked) -eq 0 ]] || fail "as nobody: ${var[*]} check_tcp_half_open $* sent marked packets"
	say "as nobody: ${var[*]:+${var[*]} }check_tcp_half_open $* -> $out"
}
refused --mark 0x2a
refused MARK=42
out=$(ip netns exec lbc-cli "$plugins/check_tcp_half_open" --mark 0x2a 10.99.0.2 80) || fail "as root: --mark 0x2a: $out"
[[ $(marked) -ge 1 ]] || fail "as root: --mark 0x2a: no SYN with mark 0x2a counted"
say "as root: check_tcp_half_open --mark 0x2a -> $out"
ip netns exec lbc-cli nft delete table inet lbcmark

# lbcheckd as its unit runs it: an unprivileged user, CAP_NET_RAW ambient
# and nothing else, no new privileges.
conf=$(mktemp)
chmod 644 "$conf"
cat >"$conf" <<CONF
listen: 127.0.0.1:9707
agent_listen: 127.0.0.1:9708
allow: [10.99.0.0/24]
modules:
  http: [check_http_status, -t, "2"]
  half_open: [check_tcp_half_open, -t, "2"]
CONF
ip netns exec lbc-cli setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_raw --ambient-caps=+net_raw \
	--bounding-set=-all,+net_raw --no-new-privs /usr/sbin/lbcheckd --config "$conf" 2>/tmp/lbcheckd-package-test.log &
daemon=$!
for _ in $(seq 50); do ip netns exec lbc-cli bash -c 'exec 3<>/dev/tcp/127.0.0.1/9707' 2>/dev/null && break; sleep 0.1; done
check() { # check WANT_STATUS MODULE TARGET
	local code
	code=$(ip netns exec lbc-cli curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:9707/check?module=$2&target=$3")
	[[ $code == "$1" ]] || fail "lbcheckd /check?module=$2&target=$3: $code, want $1 ($(cat /tmp/lbcheckd-package-test.log))"
	say "lbcheckd as nobody: /check $2 $3 -> $code"
}
check 200 http 10.99.0.2:80
check 503 http 10.99.0.2:84
check 200 half_open 10.99.0.2:80
check 503 half_open 10.99.0.2:84
check 403 http 192.0.2.1:80
ip netns exec lbc-cli curl -s "http://127.0.0.1:9707/probe?module=http&target=10.99.0.2:80" | grep -qx 'probe_success 1' || fail "lbcheckd /probe: no probe_success 1"
kill -TERM "$daemon"
wait "$daemon" || fail "lbcheckd exited $? on SIGTERM"
rm -f "$conf"
exit 0
