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
// certificates, a forced HelloRetryRequest), nginx https, postfix STARTTLS,
// the plain HTTP port and a silent listener, all set up by netns.sh.

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
		{"s_server tls1.3 client cert", a(srv4, "4434"), exitOK, `^SSL_HELLO OK - TLSv1\.3 TLS_\S+ from 10\.99\.0\.2:4434 in [\d.]+ ms, ` + cert},
		{"s_server tls1.3 v6", a(srv6, "4434"), exitOK, `^SSL_HELLO OK - TLSv1\.3`},
		{"s_server hello retry", a(srv4, "4435"), exitOK, `^SSL_HELLO OK - TLSv1\.3 .* after HelloRetryRequest, ` + cert},
		{"s_server tls1.2 plain", a(srv4, "4436"), exitOK, `^SSL_HELLO OK - TLSv1\.2 .*from 10\.99\.0\.2:4436 in [\d.]+ ms, ` + cert},
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
		{"postfix without starttls", a("-t", "1", srv4, "25"), exitCritical, `^SSL_HELLO CRITICAL - not TLS from 10\.99\.0\.2:25: "220 smtp\.lab\.test ESMTP lab\\r\\n`},
		{"starttls on https", a("--starttls", "smtp", "-t", "1", srv4, "443"), exitCritical, `^SSL_HELLO CRITICAL - smtp upgrade with .*waiting for the greeting: timed out`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sslCheck(t, c.args...).expectSSL(t, c.code, c.re)
		})
	}
}

// TestSSLHelloTrace: the alert each server received, from both sides.
func TestSSLHelloTrace(t *testing.T) {
	for _, c := range []struct {
		port, trace, logged string
	}{
		{"4433", "> alert handshake_failure (40), in the clear", "SSL alert number 40"},
		{"4434", "> alert bad_certificate (42), encrypted by crypto/tls", "SSL alert number 42"},
		{"4435", "< HelloRetryRequest, ServerHello (", "SSL alert number 42"},
	} {
		t.Run(c.port, func(t *testing.T) {
			log := filepath.Join(stateDir, "logs", "s_server-"+c.port+".log")
			before, _ := grepFile(log, c.logged)
			r := sslCheck(t, "-v", srv4, c.port)
			r.expectSSL(t, exitOK, "")
			if !strings.Contains(r.stdout, c.trace) {
				t.Errorf("trace lacks %q\n%s", c.trace, r)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				after, err := grepFile(log, c.logged)
				if err != nil {
					t.Fatal(err)
				}
				if len(after) > len(before) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("s_server on %s did not log %q for our probe", c.port, c.logged)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	t.Run("postfix", func(t *testing.T) {
		r := sslCheck(t, "-v", "--starttls", "smtp", srv4, "25")
		r.expectSSL(t, exitOK, "")
		for _, w := range []string{"< 220 smtp.lab.test ESMTP lab", "> EHLO [10.99.0.1]", "> STARTTLS", "< 220 2.0.0 Ready to start TLS"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("trace lacks %q\n%s", w, r)
			}
		}
	})
}

// TestSSLHelloServersSurvive: many probes, and every server still answers.
func TestSSLHelloServersSurvive(t *testing.T) {
	ports := []string{"4433", "4434", "4435", "4436", "443"}
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
