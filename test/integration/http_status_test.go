//go:build integration

// Package integration drives the built check_http_status binary against real
// servers (nginx, HAProxy, nft rules) in two network namespaces made by
// netns.sh. Run as root:
//
//	go test -tags integration -count=1 -v ./test/integration/
//
// LBC_BIN=/path/to/check_http_status tests that binary instead of building
// ./cmd/check_http_status. LBC_KEEP=1 leaves the namespaces and servers up
// afterwards (tear them down with `test/integration/netns.sh down`);
// LBC_STATE moves the state dir (default /tmp/lbcheck-integration).
package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	nsClient = "lbc-cli"
	cli4     = "10.99.0.1"
	srv4     = "10.99.0.2"
	cli6     = "fd00:99::1"
	srv6     = "fd00:99::2"

	// Exit codes of the Nagios contract.
	exitOK       = 0
	exitWarning  = 1
	exitCritical = 2
	exitUnknown  = 3

	// A run that takes longer than this is hung: the binary promises to exit
	// by --timeout + 100 ms, and no case here uses a timeout over 5 s.
	hangLimit = 15 * time.Second
)

var (
	binPath  string // the built check_http_status
	script   string // netns.sh
	stateDir string // where netns.sh keeps certificates, configs and logs
)

// Perfdata every verdict with an HTTP answer carries, and the part every
// measured verdict carries.
var (
	perfTime = regexp.MustCompile(`\| (.* )?time=[0-9]+(\.[0-9]+)?s;`)
	perfSize = regexp.MustCompile(`\| .*\bsize=[0-9]+B(;|\s|$)`)
	// first line: NAME STATE - summary [| perfdata]
	firstLineRE = regexp.MustCompile(`^HTTP_STATUS (OK|WARNING|CRITICAL|UNKNOWN) - \S`)
)

var stateOfCode = map[int]string{exitOK: "OK", exitWarning: "WARNING", exitCritical: "CRITICAL", exitUnknown: "UNKNOWN"}

func TestMain(m *testing.M) { os.Exit(setupAndRun(m)) }

func setupAndRun(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration: these tests must run as root: they create network namespaces, "+
			"nft rules and servers on ports 80/443 (netns.sh). Run: sudo go test -tags integration ./test/integration/")
		return 1
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	script = filepath.Join(root, "test", "integration", "netns.sh")
	stateDir = os.Getenv("LBC_STATE")
	if stateDir == "" {
		stateDir = "/tmp/lbcheck-integration"
	}
	os.Setenv("LBC_STATE", stateDir)

	if binPath = os.Getenv("LBC_BIN"); binPath != "" {
		// an already built (e.g. packaged) binary
		if binPath, err = filepath.Abs(binPath); err != nil {
			fmt.Fprintln(os.Stderr, "integration:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "integration: testing LBC_BIN", binPath)
	} else {
		tmp, err := os.MkdirTemp("", "lbcheck-integration-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		build := exec.Command("go", "build", "-o", tmp+"/", "./cmd/check_http_status", "./cmd/lbcheck")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: go build ./cmd/check_http_status failed: %v\n%s", err, out)
			return 1
		}
		binPath = filepath.Join(tmp, "check_http_status")
	}

	if err := netns("down"); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	if err := netns("up"); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		netns("down")
		return 1
	}
	code := m.Run()
	if os.Getenv("LBC_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "integration: LBC_KEEP=1: environment left up; tear down with %s down\n", script)
	} else if err := netns("down"); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// moduleRoot is the directory of the go.mod this package belongs to.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// netns runs netns.sh with one subcommand, passing its output through.
func netns(sub string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, sub)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v", script, sub, err)
	}
	return nil
}

// result is one run of the binary.
type result struct {
	bin    string // the binary's name, for the failure message
	args   []string
	stdout string
	stderr string
	code   int
	wall   time.Duration
}

func (r result) first() string {
	line, _, _ := strings.Cut(r.stdout, "\n")
	return line
}

func (r result) String() string {
	return fmt.Sprintf("command: ip netns exec %s %s %s\nexit: %d  wall: %v\nstdout:\n%s\nstderr:\n%s",
		nsClient, r.bin, shellJoin(r.args), r.code, r.wall.Round(time.Millisecond), r.stdout, r.stderr)
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"\\$|&;<>()*?[]{}^") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// check runs the binary inside the client namespace.
func check(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nsClient, binPath}, args...)...)
	// A MARK in our environment would make the binary set SO_MARK.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MARK=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{bin: filepath.Base(binPath), args: args, stdout: so.String(), stderr: se.String(), wall: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("binary hung: killed after %v\n%s", hangLimit, r)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("could not run the binary: %v\n%s", err, r)
	}
	if r.code > exitUnknown {
		t.Fatalf("exit code %d is outside the plugin contract (did `ip netns exec` fail?)\n%s", r.code, r)
	}
	return r
}

// expect asserts the exit code, the shape of the first line, that its state
// agrees with the exit code, and that the first line matches re.
func (r result) expect(t *testing.T, code int, re string) {
	t.Helper()
	r.expectStyle(t, code, stateOfCode[code], re)
}

func (r result) expectStyle(t *testing.T, code int, state, re string) {
	t.Helper()
	first := r.first()
	if r.code != code {
		t.Errorf("exit code %d, want %d", r.code, code)
	}
	m := firstLineRE.FindStringSubmatch(first)
	switch {
	case m == nil:
		t.Errorf("first line %q is not `HTTP_STATUS STATE - summary`", first)
	case m[1] != state:
		t.Errorf("state %s, want %s", m[1], state)
	}
	if re != "" && !regexp.MustCompile(re).MatchString(first) {
		t.Errorf("first line does not match %q", re)
	}
	if t.Failed() {
		t.Logf("\n%s", r)
	}
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func caFile() string { return filepath.Join(stateDir, "ca.pem") }

// perf says which perfdata a case must carry.
type perf int

const (
	perfAny  perf = iota // not checked
	perfHTTP             // time and size: an HTTP answer was read
	perfT                // time only required
)

type tcase struct {
	name string
	args []string
	code int
	re   string // regexp the first line must match
	perf perf
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, c.args...)
			r.expect(t, c.code, c.re)
			switch c.perf {
			case perfHTTP:
				if !perfTime.MatchString(r.first()) || !perfSize.MatchString(r.first()) {
					t.Errorf("perfdata lacks time=…s and size=…B: %q", r.first())
				}
			case perfT:
				if !perfTime.MatchString(r.first()) {
					t.Errorf("perfdata lacks time=…s: %q", r.first())
				}
			}
		})
	}
}

func a(args ...string) []string { return args }

// TestHTTPAnswers: status codes, vhosts, body checks and digests against nginx
// over plain HTTP, IPv4 and IPv6.
func TestHTTPAnswers(t *testing.T) {
	wwwDigest := md5hex([]byte("www\n"))
	runCases(t, []tcase{
		{"v4 default vhost 200", a(srv4), exitOK, `^HTTP_STATUS OK - .*\b200 OK\b`, perfHTTP},
		{"v4 default vhost with port", a(srv4, "80"), exitOK, `\b200 OK\b`, perfHTTP},
		{"v4 -H -p form", a("-H", srv4, "-p", "80"), exitOK, `\b200 OK\b`, perfHTTP},
		{"v4 default vhost body", a("--body-regex", `^nginx default\n$`, srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"v6 default vhost 200", a(srv6), exitOK, `\b200 OK\b`, perfHTTP},
		{"v6 bracketed with port", a("["+srv6+"]", "80"), exitOK, `\b200 OK\b`, perfHTTP},
		{"v6 default vhost is not www", a("--body-regex", "^www", srv6), exitCritical, `\b200 OK\b`, perfHTTP},

		{"www body-regex match v4", a("--vhost", "www.lab.test", "--body-regex", "^www", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"www body-regex match v6", a("--vhost", "www.lab.test", "--body-regex", "^www", srv6), exitOK, `\b200 OK\b`, perfHTTP},
		{"www body-regex no match", a("--vhost", "www.lab.test", "--body-regex", "nope", srv4), exitCritical, `(?i)nope|regex|body`, perfHTTP},
		{"alt vhost body", a("--vhost", "alt.lab.test", "--body-regex", `^alt\n?$`, srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"alt vhost is not www", a("--vhost", "alt.lab.test", "--body-regex", "^www", srv4), exitCritical, `(?i)regex|body`, perfHTTP},

		{"moved 301 critical by default", a("--vhost", "www.lab.test", "-u", "/moved", srv4), exitCritical,
			`\b301 Moved Permanently\b.*expected (200-299|2xx)\b.*Location: http://www\.lab\.test/`, perfT},
		{"moved 301 -e 301", a("--vhost", "www.lab.test", "-u", "/moved", "-e", "301", srv4), exitOK,
			`\b301 Moved Permanently\b`, perfHTTP},
		{"moved 301 -e 3xx", a("--vhost", "www.lab.test", "--path", "/moved", "--expect", "3xx", srv6), exitOK, `\b301\b`, perfHTTP},
		{"moved 301 -e list", a("--vhost", "www.lab.test", "-u", "/moved", "-e", "200,301-302", srv4), exitOK, `\b301\b`, perfHTTP},
		{"moved 301 -e 200 names expectation", a("--vhost", "www.lab.test", "-u", "/moved", "-e", "200", srv4), exitCritical,
			`\b301\b.*expected 200\b`, perfT},

		{"missing 404 critical", a("--vhost", "www.lab.test", "-u", "/missing", srv4), exitCritical, `\b404 Not Found\b.*expected (200-299|2xx)\b`, perfT},
		{"missing 404 -e 404", a("--vhost", "www.lab.test", "-u", "/missing", "-e", "404", srv4), exitOK, `\b404 Not Found\b`, perfHTTP},
		{"missing 404 -e 4xx v6", a("--vhost", "www.lab.test", "-u", "/missing", "-e", "4xx", srv6), exitOK, `\b404\b`, perfHTTP},
		{"down 503 critical", a("--vhost", "www.lab.test", "-u", "/down", srv4), exitCritical, `\b503 Service (Temporarily )?Unavailable\b.*expected (200-299|2xx)\b`, perfT},

		{"digest match", a("--vhost", "www.lab.test", "--digest", wwwDigest, srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"digest match upper case", a("--vhost", "www.lab.test", "--digest", strings.ToUpper(wwwDigest), srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"digest mismatch", a("--vhost", "www.lab.test", "--digest", "0123456789abcdef0123456789abcdef", srv4), exitCritical, `(?i)digest|md5`, perfHTTP},
		{"digest and regex both match", a("--vhost", "www.lab.test", "--digest", wwwDigest, "--body-regex", "^www", srv6), exitOK, `\b200 OK\b`, perfHTTP},

		{"HEAD method", a("--vhost", "www.lab.test", "--method", "HEAD", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"chunked body regex", a("--vhost", "www.lab.test", "-u", "/chunked", "--body-regex", "chunk line 010 bar", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"chunked body digest", a("--vhost", "www.lab.test", "-u", "/chunked", "--digest", md5hex(chunkedBody()), srv4), exitOK, `\b200 OK\b`, perfHTTP},

		{"name -4", a("-4", "www.lab.test"), exitOK, `\b200 OK\b`, perfHTTP},
		{"name -6", a("-6", "--body-regex", "^www", "www.lab.test"), exitOK, `\b200 OK\b`, perfHTTP},
		{"name -6 without AAAA", a("-6", "v4only.lab.test"), exitCritical, `(?i)v4only\.lab\.test.*(no suitable address|no such host|not found)`, perfAny},
	})
}

// chunkedBody is what netns.sh serves at /chunked after sub_filter.
func chunkedBody() []byte {
	var b bytes.Buffer
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&b, "chunk line %03d bar\n", i)
	}
	return b.Bytes()
}

// TestNameResolution checks that -4/-6 pick the family for a name: the JSON
// verdict names the address actually checked.
func TestNameResolution(t *testing.T) {
	for _, c := range []struct {
		flag, want string
	}{{"-4", srv4}, {"-6", srv6}} {
		t.Run(c.flag, func(t *testing.T) {
			r := check(t, c.flag, "--format", "json", "--vhost", "www.lab.test", "--body-regex", "^www", "srv.lab.test")
			j := decodeJSON(t, r)
			if r.code != exitOK || j.State != "OK" {
				t.Errorf("exit %d state %q, want 0 OK\n%s", r.code, j.State, r)
			}
			if j.Address != c.want && !strings.HasPrefix(j.Address, c.want+":") && !strings.HasPrefix(j.Address, "["+c.want+"]") {
				t.Errorf("address %q, want %s\n%s", j.Address, c.want, r)
			}
		})
	}
}

// TestBig: a 2 MiB answer is fine, the body is read only as far as the
// checks need and never past --max-body (default 1 MiB), and the run ends
// promptly.
func TestBig(t *testing.T) {
	big, err := os.ReadFile(filepath.Join(stateDir, "www", "big"))
	if err != nil {
		t.Fatal(err)
	}
	if len(big) != 2<<20 {
		t.Fatalf("state dir /big is %d bytes, want 2 MiB", len(big))
	}
	fullMD5 := md5hex(big)
	for _, c := range []struct {
		name string
		args []string
		code int
		re   string
	}{
		{"status only", a("--vhost", "www.lab.test", "-u", "/big", srv4), exitOK, `\b200 OK\b.* \| .*size=2097152B`},
		{"default vhost v6", a("-u", "/big", srv6), exitOK, `\b200 OK\b.* \| .*size=2097152B`},
		{"body regex reads a bounded prefix", a("--vhost", "www.lab.test", "-u", "/big", "--body-regex", ".", "-t", "2", srv4), exitOK, `\b200 OK\b`},
		{"digest needs more than max-body", a("-u", "/big", "--digest", fullMD5, srv4), exitCritical, `(?i)max-body`},
		{"digest of whole body with larger max-body", a("-u", "/big", "--digest", fullMD5, "--max-body", "3000000", srv4), exitOK, `\b200 OK\b.* \| .*size=2097152B`},
		{"digest of first MiB is not the body's", a("-u", "/big", "--digest", md5hex(big[:1<<20]), "--max-body", "3000000", srv6), exitCritical, `(?i)md5|digest`},
		// Issue 13 item 17: the first line says where the regex looked.
		{"regex beyond max-body does not match", a("--vhost", "www.lab.test", "-u", "/chunked", "--max-body", "100", "--body-regex", "chunk line 200", srv4), exitCritical,
			`body does not match "chunk line 200" in its first 100 B \(--max-body\) \|.* size=100B`},
		// Item 8: the largest --max-body reads the whole body (it once read none).
		{"digest with the largest max-body", a("-u", "/big", "--digest", fullMD5, "--max-body", "9223372036854775807", srv4), exitOK, `\b200 OK\b.*, 2097152 B in .* \| .*size=2097152B`},
		{"chunked size with the largest max-body", a("--vhost", "www.lab.test", "-u", "/chunked", "--max-body", "9223372036854775807", srv6), exitOK,
			fmt.Sprintf(`\b200 OK\b.*, %[1]d B in .* \| .*size=%[1]dB`, len(chunkedBody()))},
		{"regex with an unbounded max-body is a bad argument", a("-u", "/big", "--body-regex", ".", "--max-body", "9223372036854775807", srv4), exitUnknown,
			`--max-body 9223372036854775807 with --body-regex: at most 16777216 \(16 MiB\)`},
		{"regex at end of chunked body", a("--vhost", "www.lab.test", "-u", "/chunked", "--body-regex", "chunk line 200 bar\n$", srv4), exitOK, `\b200 OK\b`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, c.args...)
			r.expect(t, c.code, c.re)
			if r.wall > 2*time.Second {
				t.Errorf("took %v for a 2 MiB body", r.wall)
			}
		})
	}
}

// TestTLS: HTTPS on 443 (the default port with --tls) with and without
// certificate verification.
func TestTLS(t *testing.T) {
	ca := caFile()
	runCases(t, []tcase{
		{"tls default port v4", a("--tls", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls explicit port v6", a("--tls", srv6, "443"), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls sni www", a("--tls", "--vhost", "www.lab.test", "--body-regex", "^www", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls sni alt", a("--tls", "--vhost", "alt.lab.test", "--body-regex", "^alt", srv6), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls verify with ca www", a("--tls", "--verify", "--ca-file", ca, "--vhost", "www.lab.test", srv4), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls verify with ca alt san v6", a("--tls", "--verify", "--ca-file", ca, "--vhost", "alt.lab.test", "--body-regex", "^alt", srv6), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls verify with ca name as host", a("--tls", "--verify", "--ca-file", ca, "-4", "--body-regex", "^www", "www.lab.test"), exitOK, `\b200 OK\b`, perfHTTP},
		{"tls verify without ca", a("--tls", "--verify", "--vhost", "www.lab.test", srv4), exitCritical, `(?i)certificate|x509|unknown authority|verif`, perfAny},
		{"tls verify name mismatch", a("--tls", "--verify", "--ca-file", ca, "--vhost", "other.lab.test", srv4), exitCritical, `(?i)certificate|x509|name|verif`, perfAny},
		// Issue 13 item 20: the certificate names hosts, not addresses.
		{"tls verify ip not in cert", a("--tls", "--verify", "--ca-file", ca, srv4), exitCritical,
			`TLS handshake with 10\.99\.0\.2:443: cannot validate certificate for 10\.99\.0\.2 because it doesn't contain any IP SANs; name the server with --vhost NAME \|`, perfT},
		{"tls verify ip not in cert v6", a("--tls", "--ca-file", ca, srv6), exitCritical, `fd00:99::2 because .*; name the server with --vhost NAME \|`, perfT},
		{"tls 404", a("--tls", "--vhost", "www.lab.test", "-u", "/missing", srv4), exitCritical, `\b404 Not Found\b.*expected (200-299|2xx)\b`, perfT},
		{"tls to plain port", a("--tls", "-t", "2", srv4, "80"), exitCritical, `(?i)tls|handshake`, perfAny},
	})
}

// TestClientCertificateDemanded: a server that demands a client
// certificate is named as such (issue 13, item 16): openssl s_server
// -Verify 1 ends a TLS 1.2 handshake with a bare handshake_failure and
// fails a TLS 1.3 one at the first read; nginx with ssl_verify_client on
// completes the handshake and answers 400.
func TestClientCertificateDemanded(t *testing.T) {
	const asked = `server asked for a client certificate, we sent none`
	runCases(t, []tcase{
		{"s_server tls 1.2", a("--tls", srv4, "4433"), exitCritical, `^HTTP_STATUS CRITICAL - TLS handshake with 10\.99\.0\.2:4433: ` + asked + `: tls: handshake failure \|`, perfT},
		{"s_server tls 1.3", a("--tls", srv4, "4434"), exitCritical, `^HTTP_STATUS CRITICAL - reading the answer from 10\.99\.0\.2:4434: ` + asked + `: tls: certificate required \|`, perfT},
		{"nginx ssl_verify_client on", a("--tls", srv4, "8443"), exitCritical, `^HTTP_STATUS CRITICAL - 400 Bad Request from 10\.99\.0\.2:8443, expected (200-299|2xx) \(` + asked + `\) \|`, perfT},
		{"nginx ssl_verify_client on v6", a("--tls", srv6, "8443"), exitCritical, `400 Bad Request .*\(` + asked + `\)`, perfT},
		{"nginx 400 expected", a("--tls", "-e", "400", srv4, "8443"), exitOK, `^HTTP_STATUS OK - 400 Bad Request from 10\.99\.0\.2:8443, \d+ B in`, perfHTTP},
	})
}

// TestHAProxyMonitor flips HAProxy's monitor-uri with `netns.sh monitor-fail`
// and `monitor-ok` and expects the check to follow.
func TestHAProxyMonitor(t *testing.T) {
	args := a("-u", "/haproxy-health", srv4, "8080")
	t.Cleanup(func() {
		if err := netns("monitor-ok"); err != nil {
			t.Error(err)
		}
	})
	check(t, args...).expect(t, exitOK, `\b200 OK\b`)
	check(t, append(a("-6"), "-u", "/haproxy-health", srv6, "8080")...).expect(t, exitOK, `\b200 OK\b`)
	if err := netns("monitor-fail"); err != nil {
		t.Fatal(err)
	}
	check(t, args...).expect(t, exitCritical, `\b503 Service Unavailable\b`)
	check(t, append(a("--exit-style", "binary"), args...)...).expectStyle(t, 1, "CRITICAL", `\b503\b`)
	check(t, append(a("-e", "503"), args...)...).expect(t, exitOK, `\b503\b`)
	if err := netns("monitor-ok"); err != nil {
		t.Fatal(err)
	}
	check(t, args...).expect(t, exitOK, `\b200 OK\b`)
}

// TestConnectFailures: a silently dropping port times out within the
// deadline, ICMP admin-prohibited and TCP resets fail fast.
func TestConnectFailures(t *testing.T) {
	type fcase struct {
		name    string
		args    []string
		code    int
		state   string // first-line state; differs from the code's with --exit-style binary
		re      string
		minWall time.Duration
		maxWall time.Duration
	}
	timedOut := `(?i)timed out|time ?out|no answer`
	refused := `(?i)refused`
	// The ICMP error names the outcome. On a veth pair the ICMP error can come
	// back while connect() still holds the socket lock; Linux then keeps it as
	// a soft error and the connection fails on the SYN retransmission 1 s
	// later. So "fast" here is "well under the 3 s deadline", not "at once".
	// The binary reports EHOSTUNREACH (ICMP admin-prohibited on IPv4) as
	// "host unreachable (ICMP)" and EACCES (ICMPv6 admin-prohibited) as
	// "permission denied".
	icmp := `(?i)unreachable|prohibited|permission denied`
	const (
		s1 = time.Second
		ms = time.Millisecond
	)
	for _, c := range []fcase{
		{"drop v4 -t 1", a("-t", "1", srv4, "81"), exitCritical, "CRITICAL", timedOut, 900 * ms, 1100 * ms},
		{"drop v6 -t 1", a("-t", "1", srv6, "81"), exitCritical, "CRITICAL", timedOut, 900 * ms, 1100 * ms},
		{"drop -t 0.5", a("-t", "0.5", srv4, "81"), exitCritical, "CRITICAL", timedOut, 400 * ms, 600 * ms},
		{"drop timeout-state unknown", a("-t", "1", "--timeout-state", "unknown", srv4, "81"), exitUnknown, "UNKNOWN", timedOut, 900 * ms, 1100 * ms},
		{"drop timeout-state warning", a("-t", "1", "--timeout-state", "warning", srv6, "81"), exitWarning, "WARNING", timedOut, 900 * ms, 1100 * ms},
		{"drop binary exit style", a("-t", "1", "--exit-style", "binary", "--timeout-state", "unknown", srv4, "81"), 1, "UNKNOWN", timedOut, 900 * ms, 1100 * ms},
		{"icmp admin-prohibited v4", a("-t", "3", srv4, "82"), exitCritical, "CRITICAL", icmp, 0, 2 * s1},
		{"icmp admin-prohibited v6", a("-t", "3", srv6, "82"), exitCritical, "CRITICAL", icmp, 0, 2 * s1},
		{"tcp reset v4", a(srv4, "83"), exitCritical, "CRITICAL", refused, 0, s1},
		{"tcp reset v6", a(srv6, "83"), exitCritical, "CRITICAL", refused, 0, s1},
		{"closed v4", a(srv4, "84"), exitCritical, "CRITICAL", refused, 0, s1},
		{"closed v6", a(srv6, "84"), exitCritical, "CRITICAL", refused, 0, s1},
		{"closed binary exit style", a("--exit-style", "binary", srv4, "84"), 1, "CRITICAL", refused, 0, s1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, c.args...)
			r.expectStyle(t, c.code, c.state, c.re)
			// A verdict cut short by the deadline carries no perfdata (the
			// binary measures nothing then); every other one has time=.
			if c.re != timedOut && !perfTime.MatchString(r.first()) {
				t.Errorf("perfdata lacks time=…s: %q", r.first())
			}
			if r.wall < c.minWall || r.wall > c.maxWall {
				t.Errorf("wall time %v, want %v..%v\n%s", r.wall.Round(time.Millisecond), c.minWall, c.maxWall, r)
			}
		})
	}
}

// TestExitStyleAndBind: --exit-style binary, source address binding, JSON.
func TestExitStyleAndBind(t *testing.T) {
	t.Run("binary style OK is 0", func(t *testing.T) {
		check(t, "--exit-style", "binary", srv4).expect(t, exitOK, `\b200 OK\b`)
	})
	t.Run("binary style 503 is 1", func(t *testing.T) {
		check(t, "--exit-style", "binary", "--vhost", "www.lab.test", "-u", "/down", srv4).expectStyle(t, 1, "CRITICAL", `\b503\b`)
	})
	t.Run("binary style bad usage is 1", func(t *testing.T) {
		check(t, "--exit-style", "binary", "--no-such-option", srv4).expectStyle(t, 1, "UNKNOWN", `(?i)no-such-option|unknown`)
	})
	t.Run("bad usage is unknown", func(t *testing.T) {
		check(t, "-e", "banana", srv4).expect(t, exitUnknown, ``)
	})
	t.Run("bind client v4", func(t *testing.T) {
		check(t, "-b", cli4, srv4).expect(t, exitOK, `\b200 OK\b`)
	})
	t.Run("bind client v6", func(t *testing.T) {
		check(t, "--bind", cli6, srv6).expect(t, exitOK, `\b200 OK\b`)
	})
	t.Run("bind address not on host", func(t *testing.T) {
		r := check(t, "-b", "10.99.0.99", srv4)
		r.expect(t, exitUnknown, `(?i)10\.99\.0\.99|bind|assign`)
	})
	t.Run("bind family mismatch", func(t *testing.T) {
		check(t, "-b", cli6, srv4).expect(t, exitUnknown, ``)
	})
	t.Run("json ok", func(t *testing.T) {
		r := check(t, "--format", "json", "--vhost", "www.lab.test", srv4)
		j := decodeJSON(t, r)
		if r.code != exitOK || j.State != "OK" || !strings.Contains(j.Summary, "200 OK") {
			t.Errorf("exit %d state %q summary %q, want 0 OK 200 OK\n%s", r.code, j.State, j.Summary, r)
		}
	})
	t.Run("json critical", func(t *testing.T) {
		r := check(t, "--format", "json", srv4, "84")
		j := decodeJSON(t, r)
		if r.code != exitCritical || j.State != "CRITICAL" || !regexp.MustCompile(`(?i)refused`).MatchString(j.Summary) {
			t.Errorf("exit %d state %q summary %q, want 2 CRITICAL refused\n%s", r.code, j.State, j.Summary, r)
		}
	})
	t.Run("verbose trace", func(t *testing.T) {
		r := check(t, "-v", "--vhost", "www.lab.test", srv4)
		r.expect(t, exitOK, `\b200 OK\b`)
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) < 2 || !strings.Contains(r.stdout, "www.lab.test") {
			t.Errorf("-v printed no trace naming the vhost after the first line\n%s", r)
		}
	})
}

type jsonVerdict struct {
	State   string `json:"state"`
	Summary string `json:"summary"`
	Address string `json:"address"`
}

func decodeJSON(t *testing.T, r result) jsonVerdict {
	t.Helper()
	var j jsonVerdict
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r)
	}
	if dec.More() {
		t.Errorf("more than one JSON value on stdout\n%s", r)
	}
	if j.State == "" || j.Summary == "" {
		t.Errorf("JSON lacks state or summary\n%s", r)
	}
	return j
}

// TestAccessLog proves the requests reach nginx with the right Host header,
// SNI, path, method and extra headers: nginx's own access log for the vhost
// shows them.
func TestAccessLog(t *testing.T) {
	token := fmt.Sprintf("lbc-%d", time.Now().UnixNano())
	cases := []struct {
		name, log, want string
		args            []string
	}{
		{"http www v4", "access-www.log",
			`^` + regexp.QuoteMeta(cli4) + ` host="www\.lab\.test" http_host="www\.lab\.test(:80)?" ssl="-" "GET /` + token + `/plain HTTP/1\.1" 404 .* x_lbc="` + token + `"$`,
			a("--vhost", "www.lab.test", "-u", "/"+token+"/plain", "-e", "404", "--header", "X-Lbc: "+token, srv4)},
		{"https alt v6 sni", "access-alt.log",
			`^` + regexp.QuoteMeta(cli6) + ` host="alt\.lab\.test" http_host="alt\.lab\.test(:443)?" ssl="alt\.lab\.test" "GET /` + token + `/tls HTTP/1\.1" 404 .* x_lbc="` + token + `"$`,
			a("--tls", "--vhost", "alt.lab.test", "-u", "/"+token+"/tls", "-e", "404", "--header", "X-Lbc: "+token, srv6)},
		{"head method", "access-www.log",
			`^` + regexp.QuoteMeta(cli4) + ` host="www\.lab\.test" .*"HEAD /` + token + `/head HTTP/1\.1" 404 `,
			a("--method", "HEAD", "--vhost", "www.lab.test", "-u", "/"+token+"/head", "-e", "404", srv4)},
		{"default server without vhost", "access-default.log",
			`^` + regexp.QuoteMeta(cli4) + ` host="10\.99\.0\.2" .*"GET /` + token + `/default HTTP/1\.1" 200 `,
			a("-u", "/"+token+"/default", srv4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, c.args...)
			if r.code != exitOK {
				t.Fatalf("check failed\n%s", r)
			}
			re := regexp.MustCompile(c.want)
			path := filepath.Join(stateDir, "logs", c.log)
			// nginx writes the log line after the response; allow it a moment.
			deadline := time.Now().Add(2 * time.Second)
			for {
				lines, err := grepFile(path, token)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range lines {
					if re.MatchString(l) {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no line in %s matches %q; lines with the token:\n%s", c.log, c.want, strings.Join(lines, "\n"))
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func grepFile(path, substr string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out, sc.Err()
}
