package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/lab"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

var theLab *lab.Lab

func TestMain(m *testing.M) {
	spec = checks.HTTPStatus() // in process, every part: the binary hands over
	proctest.Main(m, func() (err error) {
		theLab, err = proctest.Start("lab", lab.Start)
		return err
	})
}

func check(t *testing.T, args ...string) (int, string) { return proctest.Run(t, run, args...) }

func hp(a netip.AddrPort) []string { return proctest.HostPort(a) }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCheckHTTPStatus(t *testing.T) {
	l := theLab
	http, https := hp(l.HTTP), hp(l.HTTPS)
	args := func(base []string, extra ...string) []string { return append(extra, base...) }
	proctest.Verdicts(t, run, []proctest.Verdict{
		{"ok", http, 0, `^HTTP_STATUS OK - 200 OK from 127\.0\.0\.1:\d+, 12 B in [\d.]+ ms \| time=[\d.]+s;;;0;5 size=12B;;;0$`},
		{"-H -p", []string{"-H", "127.0.0.1", "-p", http[1]}, 0, `^HTTP_STATUS OK - 200 OK`},
		{"host:port", []string{l.HTTP.String()}, 0, `^HTTP_STATUS OK - 200 OK`},
		{"haproxy argv", []string{"NOT_USED", "NOT_USED", http[0], http[1]}, 0, `^HTTP_STATUS OK - 200 OK`},
		{"name resolved", []string{"localhost", http[1], "-4"}, 0, `OK - 200 OK from 127\.0\.0\.1:`},
		{"path 404", args(http, "-u", "/status/404"), 2, `^HTTP_STATUS CRITICAL - 404 Not Found from .*, expected 2xx \| time=[\d.]+s;;;0;5 size=11B;;;0$`},
		{"expect 404", args(http, "-u", "/status/404", "-e", "404"), 0, `^HTTP_STATUS OK - 404 Not Found`},
		{"expect list", args(http, "-u", "/status/302", "--expect", "200,301-302"), 0, `OK - 302 Found`},
		{"expect class", args(http, "-u", "/status/503", "-e", "5xx"), 0, `OK - 503 Service Unavailable`},
		{"redirect not followed", args(http, "-u", "/redirect"), 2, `CRITICAL - 301 Moved Permanently from .*, expected 2xx \(Location: /\)`},
		{"redirect expected", args(http, "-u", "/redirect", "-e", "3xx"), 0, `OK - 301 Moved Permanently from .* \(Location: /\) \|`},
		{"monitor-uri up", args(http, "-u", "/monitor"), 0, `OK - 200 OK`},
		{"vhost host header", args(http, "-u", "/echo/host", "--vhost", "www.example.org", "--body-regex", `^www\.example\.org$`), 0, `OK - 200 OK`},
		{"default host header has port", args(http, "-u", "/echo/host", "--body-regex", `^127\.0\.0\.1:\d+$`), 0, `OK`},
		{"vhost down", args(http, "--vhost", "down.lab.test"), 2, `CRITICAL - 503 Service Unavailable`},
		{"method", args(http, "-u", "/echo/method", "--method", "POST", "--body-regex", "^POST$"), 0, `OK`},
		{"head", args(http, "--method", "HEAD"), 0, `OK - 200 OK.* 12 B`},
		{"header", args(http, "-u", "/echo/header/X-Probe", "--header", "X-Probe: hello", "--body-regex", "^hello$"), 0, `OK`},
		{"header repeat", args(http, "-u", "/echo/header/X-Probe", "--header", "X-Probe: a", "--header", "X-Probe: b", "--body-regex", "^a\nb$"), 0, `OK`},
		{"user agent", args(http, "-u", "/echo/header/User-Agent", "--body-regex", "^lbcheck-check_http_status/"), 0, `OK`},
		{"body regex no match", args(http, "--body-regex", "nope"), 2, `CRITICAL - 200 OK from .*, body does not match "nope"`},
		{"digest ok", args(http, "--digest", md5hex("lbcheck lab\n")), 0, `OK - 200 OK`},
		{"digest upper case", args(http, "--digest", strings.ToUpper(md5hex("lbcheck lab\n"))), 0, `OK`},
		{"digest wrong", args(http, "--digest", md5hex("other")), 2, `CRITICAL - 200 OK from .*, body MD5 ` + md5hex("lbcheck lab\n") + `, expected ` + md5hex("other")},
		{"chunked size", args(http, "-u", "/chunked"), 0, `OK - 200 OK from .*, 24 B in .* size=24B`},
		{"chunked regex", args(http, "-u", "/chunked", "--body-regex", "chunk 2"), 0, `OK`},
		{"close delimited", args(http, "-u", "/close-delimited", "--body-regex", "ended by close"), 0, `OK - 200 OK.*, 26 B`},
		{"early hints skipped", args(http, "-u", "/early-hints", "--body-regex", "after hints"), 0, `OK - 200 OK`},
		{"big body not read without need", args(http, "-u", "/big"), 0, `OK - 200 OK.*, 2097152 B`},
		{"big body regex bounded", args(http, "-u", "/big", "--max-body", "1000", "--body-regex", "^x+$"), 0, `OK .* size=1000B`},
		{"big body digest over limit", args(http, "-u", "/big", "--max-body", "1000", "--digest", md5hex("x")), 2, `CRITICAL - .*longer than --max-body 1000 B`},
		// Issue 13 item 17: a cut body was searched in part only; say so.
		{"big body regex over limit names it", args(http, "-u", "/big", "--max-body", "1000", "--body-regex", "y"), 2,
			`CRITICAL - 200 OK from .*, body does not match "y" in its first 1000 B \(--max-body\) \| .*size=1000B`},
		// Item 8: the largest --max-body reads the body, not nothing.
		{"max-body int64 max", args(http, "-u", "/chunked", "--max-body", "9223372036854775807", "--digest", md5hex("chunk 0\nchunk 1\nchunk 2\n")), 0, `OK - 200 OK from .*, 24 B in`},
		{"tls", args(https, "--tls"), 0, `^HTTP_STATUS OK - 200 OK from 127\.0\.0\.1:`},
		{"tls verify by ip san", args(https, "--tls", "--ca-file", l.CAFile), 0, `OK - 200 OK`},
		{"tls verify vhost", args(https, "--tls", "--ca-file", l.CAFile, "--vhost", lab.CertName), 0, `OK - 200 OK`},
		{"tls verify wrong name", args(https, "--tls", "--ca-file", l.CAFile, "--vhost", "other.example"), 2, `CRITICAL - TLS handshake with .*other\.example`},
		{"tls verify system roots", args(https, "--tls", "--verify"), 2, `CRITICAL - TLS handshake with .*certificate`},
		{"tls on plain port", args(http, "--tls"), 2, `CRITICAL - TLS handshake with`},
		// Item 20: an address the certificate does not carry; name the server.
		{"tls verify address not in certificate", args(hp(l.HTTPSOther), "--tls", "--ca-file", l.CAFile), 2,
			`^HTTP_STATUS CRITICAL - TLS handshake with 127\.0\.0\.2:\d+: certificate is valid for 127\.0\.0\.1, ::1, not 127\.0\.0\.2; name the server with --vhost NAME \|`},
		{"tls verify address named by vhost", args(hp(l.HTTPSOther), "--tls", "--ca-file", l.CAFile, "--vhost", lab.CertName), 0, `OK - 200 OK`},
		// Item 16: a server that demands a client certificate says so.
		{"tls 1.2 client certificate demanded", args(hp(l.HTTPSAuth12), "--tls"), 2,
			`^HTTP_STATUS CRITICAL - TLS handshake with 127\.0\.0\.1:\d+: server asked for a client certificate, we sent none: tls: \w+`},
		{"tls 1.3 client certificate demanded", args(hp(l.HTTPSAuth13), "--tls"), 2,
			`^HTTP_STATUS CRITICAL - reading the answer from 127\.0\.0\.1:\d+: server asked for a client certificate, we sent none: tls: certificate required`},
		// Go's TLS server answers plain HTTP with a real 400, as nginx does.
		{"plain on tls port", https, 2, `CRITICAL - 400 Bad Request from`},
		{"refused", hp(l.Closed), 2, `^HTTP_STATUS CRITICAL - connect to 127\.0\.0\.1:\d+: connection refused`},
		{"reset", hp(l.Reset), 2, `CRITICAL - .*(reset|closed)`},
		{"garbage quoted", hp(l.Garbage), 2, `^HTTP_STATUS CRITICAL - not HTTP from 127\.0\.0\.1:\d+: "\\x00\\x01SSH-2\.0-OpenSSH_9\.2 \\x7c not http"\.\.\. \|`},
		{"endless header bounded", args(hp(l.Endless), "-t", "3"), 2, `CRITICAL - .*more than 64 KiB of headers`},
		{"silent times out", args(hp(l.Silent), "-t", "0.3"), 2, `^HTTP_STATUS CRITICAL - waiting for the answer from .*: timed out after (29\d|3\d\d)(\.\d+)? ms$`},
		{"timeout state", args(hp(l.Silent), "-t", "0.2", "--timeout-state", "unknown"), 3, `^HTTP_STATUS UNKNOWN - .*timed out`},
		{"timeout state ok", args(hp(l.Silent), "-t", "0.2", "--timeout-state", "ok"), 0, `^HTTP_STATUS OK - .*timed out`},
		{"slow server", args(hp(l.Slow), "-t", "0.5"), 2, `CRITICAL - .*timed out`},
		{"slow body", args(http, "-u", "/slow-body", "--body-regex", "x", "-t", "0.3"), 2, `CRITICAL - 200 OK from .*reading body after 0 B: timed out`},
		{"exit style binary", args(hp(l.Closed), "--exit-style", "binary"), 1, `^HTTP_STATUS CRITICAL`},
		{"exit style binary ok", args(http, "--exit-style=binary"), 0, `^HTTP_STATUS OK`},
		{"warning threshold", args(http, "-w", "@0:10"), 1, `^HTTP_STATUS WARNING - 200 OK.*time outside warning range \| time=[\d.]+s;@10;;0;5`},
		{"critical threshold", args(http, "-w", "@0:10", "-c", "~:0"), 2, `^HTTP_STATUS CRITICAL - 200 OK.* \| time=[\d.]+s;@10;~:0;0;5`},
		{"threshold quiet", args(http, "-w", "10", "-c", "20"), 0, `^HTTP_STATUS OK - .*time=[\d.]+s;10;20;0;5`},
		{"bind", args(http, "-b", "127.0.0.2", "-u", "/echo/host"), 0, `OK`},
		{"bind not local", args(http, "-b", "192.0.2.1"), 3, `^HTTP_STATUS UNKNOWN - connect to .*: socket setup: bind 192\.0\.2\.1`},
		{"attempts first success", args(http, "--attempts", "3"), 0, `^HTTP_STATUS OK - 200 OK.* in [\d.]+ ms \|`},
		{"attempts all fail", args(hp(l.Closed), "--attempts", "3", "--retry-delay", "0.01"), 2, `CRITICAL - connect to .*refused \(attempt 3 of 3\)`},
		{"attempts share the deadline", args(hp(l.Silent), "--attempts", "2", "--retry-delay", "0", "-t", "0.4"), 2, `timed out after (1\d\d|2[0-2]\d)(\.\d+)? ms \(attempt 2 of 2\)`},
	})
}

func TestIPv6(t *testing.T) {
	if !theLab.HTTP6.IsValid() {
		t.Fatal("no IPv6 loopback: the lab could not listen on [::1]")
	}
	port := fmt.Sprint(theLab.HTTP6.Port())
	for _, args := range [][]string{
		{"::1", port},
		{"[::1]", port},
		{"[::1]:" + port},
		{"NOT_USED", "NOT_USED", "::1", port},
		{"-6", "::1", port},
		{"-b", "::1", "::1", port},
	} {
		code, out := check(t, append(args, "-u", "/echo/host", "--body-regex", `^\[::1\]:\d+$`)...)
		if code != 0 || !strings.Contains(out, "from [::1]:"+port) {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	http := hp(theLab.HTTP)
	proctest.UsageErrors{Run: run, Label: "HTTP_STATUS", Cases: []proctest.Usage{
		{"no host", nil, "no HOST given"},
		{"bad port", []string{"127.0.0.1", "0"}, `port "0"`},
		{"unknown option", append([]string{"--frobnicate"}, http...), "unknown flag: --frobnicate"},
		{"bad timeout", append([]string{"-t", "soon"}, http...), "want a number of seconds"},
		{"zero timeout", append([]string{"-t", "0"}, http...), "--timeout must be more than 0"},
		{"nan timeout", append([]string{"-t", "NaN"}, http...), "want a number of seconds"},
		{"inf timeout", append([]string{"-t", "inf"}, http...), "want a number of seconds"},
		{"hex timeout", append([]string{"--timeout=0x5"}, http...), "want a number of seconds"},
		{"huge timeout", append([]string{"-t", "1e6"}, http...), "want a number of seconds"},
		{"bad range", append([]string{"-w", "5:1"}, http...), "start is greater than end"},
		{"bad expect", append([]string{"-e", "20x"}, http...), "--expect"},
		{"bad regex", append([]string{"--body-regex", "("}, http...), "--body-regex"},
		{"bad digest", append([]string{"--digest", "abc"}, http...), "--digest"},
		{"bad header", append([]string{"--header", "no colon"}, http...), "--header"},
		{"host header", append([]string{"--header", "Host: x"}, http...), "use --vhost"},
		{"bad path", append([]string{"-u", "health"}, http...), "--path"},
		{"bad method", append([]string{"--method", "GE T"}, http...), "--method"},
		{"verify without tls", append([]string{"--verify"}, http...), "need --tls"},
		{"missing ca file", append([]string{"--tls", "--ca-file", "/nonexistent"}, http...), "--ca-file"},
		{"ca file not a file", append([]string{"--tls", "--ca-file", "/dev/null"}, http...), "--ca-file /dev/null: not a regular file but a character device"},
		{"max-body unbounded with regex", append([]string{"--max-body", "9223372036854775807", "--body-regex", "x"}, http...),
			"--max-body 9223372036854775807 with --body-regex: at most 16777216 (16 MiB)"},
		{"max-body not a number", append([]string{"--max-body", "2e18"}, http...), `invalid argument "2e18" for "--max-body"`},
		{"both families", append([]string{"-4", "-6"}, http...), "exclude each other"},
		{"bind family", []string{"-6", "-b", "127.0.0.1", "localhost", http[1]}, "not an IPv6"},
		{"bad bind", append([]string{"-b", "nowhere"}, http...), "not an IP address"},
		{"bad mark", append([]string{"--mark", "red"}, http...), "--mark"},
		{"bad attempts", append([]string{"--attempts", "0"}, http...), "--attempts"},
		{"bad timeout state", append([]string{"--timeout-state", "down"}, http...), "unknown state"},
		{"bad format", append([]string{"--format", "xml"}, http...), "--format"},
		{"bad exit style", append([]string{"--exit-style", "keepalived"}, http...), "exit style"},
		{"three args", []string{"a", "b", "c"}, "3 arguments"},
		{"literal HOST left by a caller", []string{"HOST", "PORT"}, `port "PORT"`},
		{"family of literal", []string{"-6", "127.0.0.1", "80"}, "not an IPv6 address"},
	}}.Test(t)
}

func TestUsageErrorHonoursExitStyleAndFormat(t *testing.T) {
	code, out := check(t, "--exit-style", "binary", "--format=json", "127.0.0.1", "0")
	if code != 1 {
		t.Errorf("binary style usage error exited %d, want 1 (misc_dynamic reads 3 as up)", code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["state"] != "UNKNOWN" {
		t.Errorf("json usage error = %q (%v)", out, err)
	}
}

func TestMarkFromEnvironment(t *testing.T) {
	// Farmguardian prefixes MARK=<n>; a bad one must stop the check.
	t.Setenv("MARK", "not-a-number")
	code, out := check(t, hp(theLab.HTTP)...)
	if code != 3 || !strings.Contains(out, "environment variable MARK") {
		t.Errorf("exit %d: %s", code, out)
	}
	// --mark wins over the environment.
	code, out = check(t, append([]string{"--mark", "0"}, hp(theLab.HTTP)...)...)
	if code != 0 {
		t.Errorf("--mark 0 with a bad MARK: exit %d: %s", code, out)
	}
	t.Setenv("MARK", "0x10")
	code, out = check(t, hp(theLab.HTTP)...)
	if os.Geteuid() == 0 && code != 0 {
		t.Errorf("MARK=0x10 as root: exit %d: %s", code, out)
	}
	if os.Geteuid() != 0 && (code != 3 || !strings.Contains(out, "CAP_NET_ADMIN")) {
		t.Errorf("MARK=0x10 unprivileged: exit %d: %s", code, out)
	}
}

func TestJSON(t *testing.T) {
	code, v := proctest.JSON(t, run, append([]string{"--tls", "-w", "10"}, hp(theLab.HTTPS)...)...)
	if code != 0 || v.Check != "HTTP_STATUS" || v.State != "OK" || v.ExitCode != 0 || v.Address != theLab.HTTPS.String() || v.Attempts != 1 {
		t.Errorf("unexpected verdict %+v", v)
	}
	v.Phases(t, "connect", "tls", "first_byte", "transfer")
	if len(v.Perfdata) != 2 || v.Perfdata[0].Label != "time" || v.Perfdata[0].Warning != "10" || v.Perfdata[1].Label != "size" || v.Perfdata[1].Value != 12 || v.Time <= 0 {
		t.Errorf("perfdata %+v", v.Perfdata)
	}
}

func TestVerboseTrace(t *testing.T) {
	_, quiet := check(t, hp(theLab.HTTP)...)
	if strings.Count(quiet, "\n") != 1 {
		t.Errorf("without -v, output is more than the verdict: %q", quiet)
	}
	_, v1 := check(t, append([]string{"-v", "--header", "X-Secret-Level: 2"}, hp(theLab.HTTP)...)...)
	for _, want := range []string{"connected to 127.0.0.1:", "> GET / HTTP/1.1", "< HTTP/1.1 200 OK"} {
		if !strings.Contains(v1, want) {
			t.Errorf("-v trace lacks %q:\n%s", want, v1)
		}
	}
	if strings.Contains(v1, "X-Secret-Level") {
		t.Errorf("-v shows headers, which are -vv:\n%s", v1)
	}
	_, v2 := check(t, append([]string{"-vv", "--header", "X-Secret-Level: 2"}, hp(theLab.HTTP)...)...)
	if !strings.Contains(v2, "> X-Secret-Level: 2") || !strings.Contains(v2, "< Content-Length: 12") {
		t.Errorf("-vv trace lacks headers:\n%s", v2)
	}
}

func TestHelpAndVersion(t *testing.T) {
	proctest.HelpAndVersion(t, run, "check_http_status", "Usage:", "check_http_status [options] HOST [PORT]", "PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT",
		"--vhost", "--expect", "--timeout", "--exit-style", "Examples:", "Exit codes:")
}

func TestMonitorURIFollowsState(t *testing.T) {
	args := append([]string{"-u", "/monitor"}, hp(theLab.HTTP)...)
	theLab.SetHealthy(false)
	defer theLab.SetHealthy(true)
	if code, out := check(t, args...); code != 2 || !strings.Contains(out, "503 Service Unavailable") {
		t.Errorf("monitor fail: exit %d %s", code, out)
	}
	theLab.SetHealthy(true)
	if code, out := check(t, args...); code != 0 {
		t.Errorf("monitor ok: exit %d %s", code, out)
	}
}

// TestDeadlineWhateverThePeerDoes: the verdict comes within --timeout and
// 100 ms, for every misbehaving peer.
func TestDeadlineWhateverThePeerDoes(t *testing.T) {
	l := theLab
	proctest.DeadlineInProcess(t, run, map[string][]string{
		"silent":    hp(l.Silent),
		"slow":      hp(l.Slow),
		"endless":   hp(l.Endless),
		"slow body": append([]string{"-u", "/slow-body", "--digest", md5hex("")}, hp(l.HTTP)...),
		"attempts":  append([]string{"--attempts", "5", "--retry-delay", "10"}, hp(l.Silent)...),
	})
}

// TestSignalGivesVerdict: keepalived and HAProxy send SIGTERM on their own
// timeouts; the run context's cancellation stands for it here.
func TestCancelGivesVerdict(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(fmt.Errorf("interrupted by terminated")) })
	var out bytes.Buffer
	start := time.Now()
	code := run(ctx, hp(theLab.Silent), &out, &bytes.Buffer{})
	if time.Since(start) > time.Second || code != 2 || !strings.Contains(out.String(), "interrupted by terminated") {
		t.Errorf("after %v: exit %d %q", time.Since(start), code, out.String())
	}
}

// TestOneTime: the summary's "in X ms" is perfdata's time (issue 16, item 4).
func TestOneTime(t *testing.T) {
	_, out := check(t, hp(theLab.HTTP)...)
	proctest.SameTime(t, out)
}
