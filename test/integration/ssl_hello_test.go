//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// check_ssl_hello against openssl s_server (TLS 1.2 and 1.3 demanding client
// certificates, a forced HelloRetryRequest, DHE only, ChaCha20 only, a key
// that is not the certificate's), gnutls-serv, nginx https, postfix, dovecot
// and exim (implicit TLS and STARTTLS), vsftpd, the plain HTTP port and a
// silent listener, all set up by netns.sh.

var (
	sslOnce sync.Once
	sslBin  string // the built check_ssl_hello, in the state dir netns.sh removes
	sslErr  error
)

var sslLineRE = regexp.MustCompile(`^SSL_HELLO (OK|WARNING|CRITICAL|UNKNOWN) - \S`)

func sslBinary(t *testing.T) string {
	t.Helper()
	sslOnce.Do(func() {
		if sslBin = os.Getenv("LBC_SSL_BIN"); sslBin != "" {
			sslBin, sslErr = filepath.Abs(sslBin)
			return
		}
		root, err := moduleRoot()
		if err != nil {
			sslErr = err
			return
		}
		dir := filepath.Join(stateDir, "bin")
		build := exec.Command("go", "build", "-o", dir+"/", "./cmd/check_ssl_hello")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			sslErr = fmt.Errorf("go build ./cmd/check_ssl_hello: %v\n%s", err, out)
			return
		}
		sslBin = filepath.Join(dir, "check_ssl_hello")
	})
	if sslErr != nil {
		t.Fatal(sslErr)
	}
	return sslBin
}

// sslCheck runs check_ssl_hello inside the client namespace.
func sslCheck(t *testing.T, args ...string) result {
	t.Helper()
	bin := sslBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nsClient, bin}, args...)...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{bin: filepath.Base(bin), args: args, stdout: so.String(), stderr: se.String(), wall: time.Since(start)}
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
	return r
}

func (r result) expectSSL(t *testing.T, code int, re string) {
	t.Helper()
	first := r.first()
	m := sslLineRE.FindStringSubmatch(first)
	switch {
	case r.code != code:
		t.Errorf("exit code %d, want %d", r.code, code)
	case m == nil:
		t.Errorf("first line %q is not `SSL_HELLO STATE - summary`", first)
	case m[1] != stateOfCode[code]:
		t.Errorf("state %s, want %s", m[1], stateOfCode[code])
	}
	if re != "" && !regexp.MustCompile(re).MatchString(first) {
		t.Errorf("first line does not match %q", re)
	}
	if t.Failed() {
		t.Logf("\n%s", r)
	}
}

func TestSSLHello(t *testing.T) {
	const cert = `certificate CN=www\.lab\.test expires \d{4}-\d\d-\d\d`
	for _, c := range []struct {
		name string
		args []string
		code int
		re   string
	}{
		{"s_server tls1.2 client cert v4", a(srv4, "4433"), exitOK, `^SSL_HELLO OK - TLSv1\.2 TLS_ECDHE_RSA_\S+ from 10\.99\.0\.2:4433 in [\d.]+ ms, client certificate requested, ` + cert + ` \| time=`},
		{"s_server tls1.2 client cert v6", a(srv6, "4433"), exitOK, `^SSL_HELLO OK - TLSv1\.2 .*client certificate requested`},
		// Under 1.3 the request is encrypted: only a real key schedule sees it.
		{"s_server tls1.3 client cert", a(srv4, "4434"), exitOK, `^SSL_HELLO OK - TLSv1\.3 TLS_\S+ from 10\.99\.0\.2:4434 in [\d.]+ ms, client certificate requested, ` + cert},
		{"s_server tls1.3 v6", a(srv6, "4434"), exitOK, `^SSL_HELLO OK - TLSv1\.3`},
		{"s_server hello retry", a(srv4, "4435"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .* after HelloRetryRequest, ` + cert},
		{"s_server tls1.2 plain", a(srv4, "4436"), exitOK, `^SSL_HELLO OK - TLSv1\.2 .*from 10\.99\.0\.2:4436 in [\d.]+ ms, ` + cert},
		// Issue 13 item 7: DHE-only servers, which Go's TLS cannot talk to.
		{"s_server dhe only", a(srv4, "4437"), exitOK, `^SSL_HELLO OK - TLSv1\.2 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 from 10\.99\.0\.2:4437 in [\d.]+ ms, ` + cert},
		{"gnutls-serv dhe only", a(srv4, "4450"), exitOK, `^SSL_HELLO OK - TLSv1\.2 TLS_DHE_RSA_\S+ from 10\.99\.0\.2:4450 in [\d.]+ ms, client certificate requested, ` + cert},
		// Item 3: a server signing with a key that is not its
		// certificate's (openssl s_client: "bad signature").
		{"s_server tls1.3 wrong key", a(srv4, "4438"), exitCritical,
			`^SSL_HELLO CRITICAL - certificate CN=www\.lab\.test does not match the server's private key: CertificateVerify \(rsa_pss_rsae_sha256\) does not verify with the certificate's key \(TLSv1\.3 TLS_\S+ from 10\.99\.0\.2:4438 in [\d.]+ ms\) \|`},
		{"s_server tls1.2 ecdhe wrong key", a(srv4, "4439"), exitCritical,
			`^SSL_HELLO CRITICAL - certificate CN=www\.lab\.test does not match the server's private key: ServerKeyExchange signature \(rsa_\S+\) does not verify with the certificate's key \(TLSv1\.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 from`},
		// What a hello cannot tell (README): RSA key exchange signs nothing.
		{"s_server tls1.2 rsa key exchange wrong key", a(srv4, "4440"), exitOK, `^SSL_HELLO OK - TLSv1\.2 TLS_RSA_WITH_AES_128_GCM_SHA256 from 10\.99\.0\.2:4440 `},
		{"s_server chacha20 only", a(srv4, "4441"), exitOK, `^SSL_HELLO OK - TLSv1\.3 TLS_CHACHA20_POLY1305_SHA256 from 10\.99\.0\.2:4441 in [\d.]+ ms, ` + cert},
		{"stunnel", a(srv4, "4470"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:4470 .*` + cert},
		{"gnutls-serv tls1.3", a(srv4, "4451"), exitOK, `^SSL_HELLO OK - TLSv1\.3 TLS_AES_\S+ from 10\.99\.0\.2:4451 in [\d.]+ ms, client certificate requested, ` + cert},
		{"cn san tls1.2", a("--cn", "alt.lab.test", srv4, "4433"), exitOK, `^SSL_HELLO OK - TLSv1\.2`},
		{"cn tls1.3", a("--cn", "www.lab.test", srv4, "4434"), exitOK, `^SSL_HELLO OK - TLSv1\.3`},
		{"cn mismatch tls1.2", a("--cn", "nope.lab.test", srv4, "4433"), exitCritical, `^SSL_HELLO CRITICAL - certificate CN=www\.lab\.test \(SAN www\.lab\.test, alt\.lab\.test\) does not match --cn nope\.lab\.test`},
		{"cn mismatch tls1.3", a("--cn", "nope.lab.test", srv4, "4435"), exitCritical, `does not match --cn nope\.lab\.test`},
		{"cert days ok", a("--cert-days", "10,5", srv4, "4434"), exitOK, `days_left=(29|30)(\.\d)?;10:;5:$`},
		{"cert days warning", a("--cert-days", "60,10", srv4, "4433"), exitWarning, `^SSL_HELLO WARNING - certificate expires in (29|30)\.\d days \(< 60\)`},
		{"cert days critical", a("--cert-days", "90,60", srv4, "4436"), exitCritical, `^SSL_HELLO CRITICAL - certificate expires in`},
		// nginx 1.22 (bookworm) offers TLS 1.0-1.2 unless told otherwise.
		{"nginx https", a(srv4), exitOK, `^SSL_HELLO OK - TLSv1\.[23] .*from 10\.99\.0\.2:443 .*` + cert},
		{"nginx https sni", a("--sni", "alt.lab.test", srv6, "443"), exitOK, `^SSL_HELLO OK - TLSv1\.[23]`},
		{"name is the sni", a("-4", "www.lab.test"), exitOK, `^SSL_HELLO OK - TLSv1\.[23] .*from 10\.99\.0\.2:443`},
		{"plain http is not tls", a(srv4, "80"), exitCritical, `^SSL_HELLO CRITICAL - not TLS from 10\.99\.0\.2:80: "HTTP/1\.1 400 Bad Request\\r\\n`},
		{"silent listener", a("-t", "1", srv4, "85"), exitCritical, `^SSL_HELLO CRITICAL - waiting for the ServerHello from 10\.99\.0\.2:85: timed out after`},
		{"dropped", a("-t", "0.5", srv4, "81"), exitCritical, `^SSL_HELLO CRITICAL - connect to 10\.99\.0\.2:81: timed out`},
		{"reset", a(srv4, "83"), exitCritical, `^SSL_HELLO CRITICAL - connect to 10\.99\.0\.2:83: connection refused`},
		{"postfix starttls v4", a("--starttls", "smtp", srv4, "25"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:25 .*` + cert},
		{"postfix starttls v6", a("--starttls", "smtp", "--cn", "www.lab.test", srv6, "25"), exitOK, `^SSL_HELLO OK - TLSv1\.3`},
		{"nginx tls1.3", a(srv4, "8444"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:8444 .*` + cert},
		{"dovecot imaps", a(srv4, "993"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:993 .*` + cert},
		{"dovecot pop3s v6", a(srv6, "995"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*` + cert},
		{"dovecot imap starttls", a("--starttls", "imap", srv4, "143"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:143 .*` + cert},
		{"dovecot pop3 starttls", a("--starttls", "pop3", srv4, "110"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:110 .*` + cert},
		{"exim smtps", a(srv4, "465"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*from 10\.99\.0\.2:465 .*` + cert},
		{"exim starttls", a("--starttls", "smtp", srv6, "587"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .*` + cert},
		{"vsftpd auth tls", a("--starttls", "ftp", srv4, "21"), exitOK, `^SSL_HELLO OK - TLSv1\.[23] .*from 10\.99\.0\.2:21 .*` + cert},
		{"postfix without starttls", a("-t", "1", srv4, "25"), exitCritical, `^SSL_HELLO CRITICAL - not TLS from 10\.99\.0\.2:25: "220 smtp\.lab\.test ESMTP lab\\r\\n`},
		{"starttls on https", a("--starttls", "smtp", "-t", "1", srv4, "443"), exitCritical, `^SSL_HELLO CRITICAL - smtp upgrade with .*waiting for the greeting: timed out`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sslCheck(t, c.args...).expectSSL(t, c.code, c.re)
		})
	}
}

// TestSSLHelloTrace: what -v shows of each kind of flight and ending.
func TestSSLHelloTrace(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		trace []string
	}{
		{"tls1.2 client cert", a(srv4, "4433"), []string{"< ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone (",
			"ServerKeyExchange signature (rsa_pss_rsae_sha256) verified with the certificate's key", "> alert close_notify (0), in the clear"}},
		{"tls1.3 client cert", a(srv4, "4434"), []string{
			"< ServerHello, EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished (",
			"CertificateVerify (rsa_pss_rsae_sha256) verified with the certificate's key", "server Finished verified",
			"> alert close_notify (0), encrypted"}},
		{"hello retry", a(srv4, "4435"), []string{"< HelloRetryRequest for P-384", "> ClientHello again, key share P-384", "< HelloRetryRequest, ServerHello, "}},
		{"rsa key exchange", a(srv4, "4440"), []string{"no signature in the flight proves the server holds the certificate's key"}},
		{"postfix", a("--starttls", "smtp", srv4, "25"), []string{"< 220 smtp.lab.test ESMTP lab", "> EHLO [10.99.0.1]", "> STARTTLS",
			"< 220 2.0.0 Ready to start TLS", "> Finished, then alert close_notify (0) under the application keys"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sslCheck(t, append([]string{"-v"}, c.args...)...)
			r.expectSSL(t, exitOK, "")
			for _, w := range c.trace {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("trace lacks %q\n%s", w, r)
				}
			}
		})
	}
}

// TestSSLHelloQuiet: what a probe leaves in each server's logs (issue 13
// item 21; the figures, each way of ending measured, are in the README).
// Before, every probe ended with a fatal alert: an "SSL_accept() failed
// ... alert bad certificate" in dovecot's log, "TLS error ... Certificate
// is bad" in exim's, a warning in postfix's, an error in s_server's. Now a
// close_notify, or under TLS 1.3 after STARTTLS the handshake completed.
func TestSSLHelloQuiet(t *testing.T) {
	const probes = 2
	logs := func(names ...string) []string {
		for i, n := range names {
			names[i] = filepath.Join(stateDir, "logs", n)
		}
		return names
	}
	type quiet struct {
		name   string
		args   []string
		most   int    // log lines per probe, at most
		forbid string // no new line may match
	}
	// Servers sharing a log are measured one after the other; the groups
	// in parallel.
	groups := []struct {
		name  string
		logs  []string
		cases []quiet
	}{
		{"nginx", logs("nginx-error.log", "access-default.log", "access-tls13.log"), []quiet{
			// error_log at info: one line per connection, whatever it does
			{"tls1.3", a(srv4, "8444"), 1, `SSL_do_handshake\(\) failed|\[(error|crit|alert|emerg)\]`},
			{"tls1.2", a(srv4, "443"), 1, `SSL_do_handshake\(\) failed|\[(error|crit|alert|emerg)\]`},
		}},
		{"postfix", logs("postfix.log"), []quiet{
			// connect, TLS established, lost connection after STARTTLS, disconnect
			{"starttls tls1.3", a("--starttls", "smtp", srv4, "25"), 4, `SSL_accept error|warning:|alert`},
		}},
		{"dovecot", logs("dovecot.log"), []quiet{
			// a "Disconnected" line per connection, whatever it does
			{"imaps", a(srv4, "993"), 1, `SSL_accept\(\) failed|alert|Error:`},
			{"pop3s", a(srv4, "995"), 1, `SSL_accept\(\) failed|alert|Error:`},
			{"imap starttls", a("--starttls", "imap", srv4, "143"), 1, `SSL_accept\(\) failed|alert|Error:|TLS handshaking`},
		}},
		{"exim", logs("exim-mainlog", "exim-paniclog", "exim-rejectlog"), []quiet{
			{"starttls", a("--starttls", "smtp", srv4, "587"), 0, `.`},
			// GnuTLS logs any handshake left unfinished: "Peer has
			// terminated the connection" (see the README on why a TLS
			// port is not finished)
			{"smtps", a(srv4, "465"), 1, `Certificate is bad|alert`},
		}},
		{"s_server tls1.3 client cert", logs("s_server-4434.log"), []quiet{{"close_notify", a(srv4, "4434"), 0, `.`}}},
		{"s_server tls1.3", logs("s_server-4441.log"), []quiet{{"close_notify", a(srv4, "4441"), 0, `.`}}},
		{"s_server tls1.2", logs("s_server-4436.log"), []quiet{{"close_notify", a(srv4, "4436"), 0, `.`}}},
		// A TLS port may be a terminator: a completed handshake would make
		// stunnel open its backend connection, reaching the service
		// behind it.
		{"stunnel backend", logs("stunnel-backend.log"), []quiet{{"close_notify", a(srv4, "4470"), 0, `.`}}},
		{"gnutls-serv", logs("gnutls-4451.out"), []quiet{
			// accepted, "Error in handshake: Peer has terminated the connection", a blank line
			{"tls1.3", a(srv4, "4451"), 3, `fatal alert|Received alert`},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					before := lineCounts(g.logs)
					for range probes {
						sslCheck(t, c.args...).expectSSL(t, exitOK, "")
					}
					settleLogs(g.logs)
					var got []string
					for _, f := range g.logs {
						got = append(got, newLines(f, before[f])...)
					}
					forbid := regexp.MustCompile(c.forbid)
					for _, l := range got {
						if forbid.MatchString(l) {
							t.Errorf("%d probes left a line matching %q:\n%s", probes, c.forbid, l)
						}
					}
					if len(got) > c.most*probes {
						t.Errorf("%d probes left %d log lines, want at most %d:\n%s", probes, len(got), c.most*probes, strings.Join(got, "\n"))
					}
				})
			}
		})
	}
}

func lineCounts(files []string) map[string]int {
	m := map[string]int{}
	for _, f := range files {
		m[f] = len(fileLines(f))
	}
	return m
}

func fileLines(f string) []string {
	b, err := os.ReadFile(f)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func newLines(f string, from int) []string {
	if l := fileLines(f); from < len(l) {
		return l[from:]
	}
	return nil
}

// settleLogs waits until the logs stop growing for 1.5 s: servers write
// when the connection ends, dovecot through its log process, exim up to
// half a second later. At most 6 s.
func settleLogs(files []string) {
	size := func() (n int64) {
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	last, since, end := size(), time.Now(), time.Now().Add(6*time.Second)
	for time.Now().Before(end) && time.Since(since) < 1500*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
		if n := size(); n != last {
			last, since = n, time.Now()
		}
	}
}

// TestSSLHelloServersSurvive: many probes, and every server still answers.
func TestSSLHelloServersSurvive(t *testing.T) {
	ports := []string{"4433", "4434", "4435", "4436", "4437", "4441", "4450", "4451", "443", "8444", "993", "465"}
	for i := range 20 {
		for _, p := range ports {
			if r := sslCheck(t, srv4, p); r.code != exitOK {
				t.Fatalf("probe %d of %s: %s", i, p, r)
			}
		}
	}
	sslCheck(t, "--starttls", "smtp", srv4, "25").expectSSL(t, exitOK, "")
}

// TestSSLHelloNginxLogsNothing: a hello check never reaches the HTTP layer,
// so no access log gets a line (a full handshake would be logged as a 400
// or a request).
func TestSSLHelloNginxLogsNothing(t *testing.T) {
	logs, err := filepath.Glob(filepath.Join(stateDir, "logs", "access-*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no nginx access logs (%v)", err)
	}
	size := func() map[string]int64 {
		m := map[string]int64{}
		for _, l := range logs {
			if fi, err := os.Stat(l); err == nil {
				m[l] = fi.Size()
			}
		}
		return m
	}
	before := size()
	for _, args := range [][]string{a(srv4), a(srv6), a("--sni", "www.lab.test", srv4), a("--cn", "alt.lab.test", srv6), a("www.lab.test")} {
		sslCheck(t, args...).expectSSL(t, exitOK, "")
	}
	time.Sleep(500 * time.Millisecond) // nginx writes its log after the connection ends
	after := size()
	for l, n := range before {
		if after[l] != n {
			lines, _ := os.ReadFile(l)
			t.Errorf("%s grew from %d to %d bytes:\n%s", filepath.Base(l), n, after[l], lines[n:])
		}
	}
}
