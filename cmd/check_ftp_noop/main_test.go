package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/lab"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

var (
	theLab *lab.Lab // for the closed and reset ports
	theFTP *lab.FTP
)

func TestMain(m *testing.M) {
	spec = checks.FTPNoop() // in process, every part: the binary hands over
	proctest.Main(m, func() (err error) {
		if theLab, err = proctest.Start("lab", lab.Start); err != nil {
			return err
		}
		theFTP, err = proctest.Start("lab FTP", lab.StartFTP)
		return err
	})
}

func check(t *testing.T, args ...string) (int, string) { return proctest.Run(t, run, args...) }

func hp(a netip.AddrPort) []string { return proctest.HostPort(a) }

func TestCheckFTPNoop(t *testing.T) {
	f := theFTP
	ok := hp(f.OK)
	args := func(base []string, extra ...string) []string { return append(extra, base...) }
	greeting := `"220-lbcheck lab FTP" \(\+2 lines\)`
	proctest.Verdicts(t, run, []proctest.Verdict{
		{"ok", ok, 0, `^FTP_NOOP OK - NOOP 200 from 127\.0\.0\.1:\d+ in [\d.]+ ms; ` + greeting + ` \| time=[\d.]+s;;;0;5$`},
		{"-H -p", []string{"-H", "127.0.0.1", "-p", ok[1]}, 0, `^FTP_NOOP OK - NOOP 200`},
		{"haproxy argv", []string{"NOT_USED", "NOT_USED", ok[0], ok[1]}, 0, `^FTP_NOOP OK`},
		{"login", args(ok, "--user", lab.FTPUser, "--password", lab.FTPPassword), 0, `OK - NOOP 200 from .* in [\d.]+ ms, as lab; `},
		{"login anonymous", args(ok, "--user", "anonymous"), 0, `OK - NOOP 200 .*, as anonymous; `},
		{"login refused", args(ok, "--user", lab.FTPUser, "--password", "wrong"), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ refused the login as lab: "530 Login incorrect\." \|`},
		{"auth tls", args(ok, "--auth-tls"), 0, `OK - NOOP 200 from .*, TLS 1\.3; `},
		{"auth tls verified", args(ok, "--auth-tls", "--ca-file", f.CAFile), 0, `OK - NOOP 200 .*TLS 1\.3`},
		{"auth tls verified by name", args(ok, "--auth-tls", "--ca-file", f.CAFile, "--sni", lab.CertName), 0, `OK`},
		{"auth tls wrong name", args(ok, "--auth-tls", "--ca-file", f.CAFile, "--sni", "other.example"), 2, `CRITICAL - TLS handshake with .*other\.example`},
		{"auth tls then login", args(ok, "--auth-tls", "--user", lab.FTPUser, "--password", lab.FTPPassword), 0, `OK - NOOP 200 .*, TLS 1\.3, as lab; `},
		{"530 before login is ok", hp(f.LoginFirst), 0, `^FTP_NOOP OK - NOOP 530 \(login needed; the command loop answers\) from 127\.0\.0\.1:\d+ in `},
		{"530 after login is not", args(hp(f.LoginFirst), "--user", lab.FTPUser, "--password", "wrong"), 2, `refused the login`},
		{"login then noop 200", args(hp(f.LoginFirst), "--user", "anonymous", "--password", "x@"), 0, `OK - NOOP 200`},
		{"not ready", hp(f.NotReady), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ is not ready yet: "120 Service ready in 5 minutes\." \|`},
		{"busy", hp(f.Busy), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ refused the session: "421 Too many connections \(8\) from this IP" \|`},
		{"noop 500", hp(f.NoopRefused), 2, `^FTP_NOOP CRITICAL - NOOP at 127\.0\.0\.1:\d+ answered "500 Unknown command\." \|`},
		{"garbage quoted", hp(f.Garbage), 2, `^FTP_NOOP CRITICAL - waiting for the greeting from 127\.0\.0\.1:\d+: first line does not start with a code: "\\x00\\x01SSH-2\.0-OpenSSH_9\.2 \\x7c not ftp" \|`},
		{"endless reply bounded", args(hp(f.Endless), "-t", "3"), 2, `CRITICAL - waiting for the greeting from .*: reply longer than 16 KiB: "220-welcome, and more" \(\+\d+ lines\)`},
		{"endless line bounded", args(hp(f.EndlessLine), "-t", "3"), 2, `CRITICAL - waiting for the greeting from .*: line longer than 2048 bytes: "aaaa`},
		{"slow", args(hp(f.Slow), "-t", "0.5"), 2, `^FTP_NOOP CRITICAL - waiting for the greeting from 127\.0\.0\.1:\d+: timed out after`},
		{"silent", args(hp(f.Silent), "-t", "0.3"), 2, `^FTP_NOOP CRITICAL - waiting for the greeting from .*: timed out after (2[6-9]\d|3\d\d)(\.\d+)? ms$`},
		{"timeout state", args(hp(f.Silent), "-t", "0.2", "--timeout-state", "unknown"), 3, `^FTP_NOOP UNKNOWN - .*timed out`},
		{"refused", hp(theLab.Closed), 2, `^FTP_NOOP CRITICAL - connect to 127\.0\.0\.1:\d+: connection refused`},
		{"reset", hp(theLab.Reset), 2, `CRITICAL - .*(reset|closed)`},
		{"auth tls refused", args(hp(f.NoopRefused), "--auth-tls"), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ refused AUTH TLS: "500 Unknown command\." \|`},
		{"bind", args(ok, "-b", "127.0.0.1"), 0, `OK`},
		{"bind not local", args(ok, "-b", "192.0.2.1"), 3, `^FTP_NOOP UNKNOWN - connect to .*: socket setup: bind 192\.0\.2\.1`},
		{"attempts all fail", args(hp(f.Busy), "--attempts", "2", "--retry-delay", "0"), 2, `421 .*\(attempt 2 of 2\)`},
		{"warning threshold", args(ok, "-w", "@0:10"), 1, `^FTP_NOOP WARNING - NOOP 200.*time outside warning range`},
		{"exit style binary", args(hp(f.Busy), "--exit-style", "binary"), 1, `^FTP_NOOP CRITICAL`},
		// A reply counts only if it came after its command (issue 13, item 1).
		{"200 with the greeting", hp(f.Unasked), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ sent more than its greeting before any command: "200 x\\r\\n" \|`},
		{"proxy greets twice", hp(f.TwoGreetings), 2, `^FTP_NOOP CRITICAL - .*"220 backend ready(\\r\\n)?"`},
		{"login replies unasked", args(hp(f.LoginUnasked), "--user", "anonymous"), 2, `^FTP_NOOP CRITICAL - 127\.0\.0\.1:\d+ sent more than its greeting before any command: "230 Login successful\.\\r\\n200 NOOP ok\.\\r\\n" \|`},
	})
}

func TestIPv6(t *testing.T) {
	if !theFTP.OK6.IsValid() {
		t.Fatal("no IPv6 loopback: the lab could not listen on [::1]")
	}
	port := fmt.Sprint(theFTP.OK6.Port())
	for _, args := range [][]string{{"::1", port}, {"[::1]:" + port}, {"-b", "::1", "::1", port}, {"--auth-tls", "::1", port}} {
		code, out := check(t, args...)
		if code != 0 || !strings.Contains(out, "from [::1]:"+port) {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	// A silent server: a check that ran would wait there until its deadline.
	proctest.UsageErrors{Run: run, Label: "FTP_NOOP", After: hp(theFTP.Silent), Cases: []proctest.Usage{
		{"crlf in user", []string{"--user", "a\r\nDELE x"}, "--user: no CR, LF or NUL"},
		{"lf in password", []string{"--user", "a", "--password", "x\nQUIT"}, "--password: no CR, LF or NUL"},
		{"password without user", []string{"--password", "x"}, "--password needs --user"},
		{"verify without tls", []string{"--verify"}, "need --auth-tls"},
		{"missing ca file", []string{"--auth-tls", "--ca-file", "/nonexistent"}, "--ca-file"},
	}}.Test(t)
}

func TestJSON(t *testing.T) {
	code, v := proctest.JSON(t, run, append([]string{"--auth-tls", "--user", "anonymous"}, hp(theFTP.OK)...)...)
	if code != 0 || v.Check != "FTP_NOOP" || v.State != "OK" || v.Address != theFTP.OK.String() {
		t.Errorf("unexpected verdict %+v", v)
	}
	v.Phases(t, "connect", "greeting", "tls", "login", "noop")
}

func TestVerboseTraceHidesPassword(t *testing.T) {
	_, quiet := check(t, hp(theFTP.OK)...)
	if strings.Count(quiet, "\n") != 1 {
		t.Errorf("without -v, output is more than the verdict: %q", quiet)
	}
	_, v := check(t, append([]string{"-v", "--user", lab.FTPUser, "--password", lab.FTPPassword}, hp(theFTP.OK)...)...)
	for _, want := range []string{"< 220-lbcheck lab FTP", "< 220 ready", "> USER lab", "> PASS ****", "< 230 Login successful.", "> NOOP", "< 200 NOOP ok.", "> QUIT", "< 221 Goodbye."} {
		if !strings.Contains(v, want) {
			t.Errorf("-v trace lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, lab.FTPPassword) {
		t.Errorf("-v trace shows the password:\n%s", v)
	}
}

func TestHelpAndVersion(t *testing.T) {
	proctest.HelpAndVersion(t, run, "check_ftp_noop", "check_ftp_noop [options] HOST [PORT]", "--user", "--password", "--auth-tls", "--ca-file", "Examples:")
}

// TestDeadlineWhateverThePeerDoes: the verdict comes within --timeout and
// 100 ms, for every misbehaving peer.
func TestDeadlineWhateverThePeerDoes(t *testing.T) {
	f := theFTP
	proctest.DeadlineInProcess(t, run, map[string][]string{
		"silent":       hp(f.Silent),
		"slow":         hp(f.Slow),
		"endless":      hp(f.Endless),
		"endless line": hp(f.EndlessLine),
		"attempts":     append([]string{"--attempts", "5", "--retry-delay", "10"}, hp(f.Silent)...),
	})
}

// TestOneTime: the summary's "in X ms" is perfdata's time (issue 16, item 4).
func TestOneTime(t *testing.T) {
	_, out := check(t, hp(theFTP.OK)...)
	proctest.SameTime(t, out)
}
