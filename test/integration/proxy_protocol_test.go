//go:build integration

package integration

// --proxy-protocol against the servers that demand a PROXY header, set up by
// netns.sh: nginx "listen ... proxy_protocol" (HTTP 8081, TLS 8445), HAProxy
// accept-proxy (HTTP 8082, FTP to vsftpd 2122), postfix
// smtpd_upstream_proxy_protocol (2525, STARTTLS), dovecot "haproxy = yes"
// (IMAPS 9993), unbound proxy-protocol-port (5399, UDP and TCP) and DNS
// over TLS behind HAProxy accept-proxy (5853). Each server is also asked
// without the option: it must fail, or the case with it proves nothing.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// headerRE is the -v trace's line for the header a check sent.
var headerRE = regexp.MustCompile(`PROXY protocol header v[12] PROXY TCP \[?([0-9a-f.:]+)\]?:(\d+) -> \[?([0-9a-f.:]+)\]?:(\d+)\n`)

func TestProxyProtocol(t *testing.T) {
	http, ssl := binPath, sslBinary(t)
	dns, ftp := binaryFor(t, "check_dns_answer"), binaryFor(t, "check_ftp_noop")
	cases := []struct {
		name, label, bin string
		args             []string
		code             int
		re               string
		// nginxLog: the access log of the PROXY server must show the
		// endpoints our -v trace says the header carried.
		nginxLog bool
	}{
		// nginx, HTTP and TLS, v1 and v2, both families
		{"nginx http v1", "HTTP_STATUS", http, a("-v", "--proxy-protocol", "v1", srv4, "8081"), exitOK, `200 OK from 10\.99\.0\.2:8081`, true},
		{"nginx http v2 v6", "HTTP_STATUS", http, a("-v", "--proxy-protocol", "v2", srv6, "8081"), exitOK, `200 OK from \[fd00:99::2\]:8081`, true},
		{"nginx http v2-local", "HTTP_STATUS", http, a("--proxy-protocol", "v2-local", srv4, "8081"), exitOK, `200 OK`, false},
		{"nginx http without", "HTTP_STATUS", http, a("-t", "1", srv4, "8081"), exitCritical, `reading the answer from 10\.99\.0\.2:8081: connection closed by peer`, false},
		{"nginx tls v1 v6", "HTTP_STATUS", http, a("-v", "--tls", "--proxy-protocol", "v1", srv6, "8445"), exitOK, `200 OK from \[fd00:99::2\]:8445`, true},
		{"nginx tls v2", "HTTP_STATUS", http, a("-v", "--tls", "--proxy-protocol", "v2", srv4, "8445"), exitOK, `200 OK from 10\.99\.0\.2:8445`, true},
		{"nginx tls without", "HTTP_STATUS", http, a("-t", "1", "--tls", srv4, "8445"), exitCritical, `TLS handshake with 10\.99\.0\.2:8445`, false},
		{"nginx ssl hello v2", "SSL_HELLO", ssl, a("--proxy-protocol", "v2", srv4, "8445"), exitOK, `from 10\.99\.0\.2:8445`, false},
		// HAProxy accept-proxy: /src answers the address the header named
		{"haproxy v1 src", "HTTP_STATUS", http, a("--proxy-protocol", "v1", "-u", "/src", "--body-regex", `^src=10\.99\.0\.1:[0-9]+\n`, srv4, "8082"), exitOK, `200 OK`, false},
		{"haproxy v2 v6 src", "HTTP_STATUS", http, a("--proxy-protocol", "v2", "-u", "/src", "--body-regex", `^src=fd00:99::1:[0-9]+\n`, srv6, "8082"), exitOK, `200 OK`, false},
		{"haproxy v2-local", "HTTP_STATUS", http, a("--proxy-protocol", "v2-local", srv4, "8082"), exitOK, `200 OK`, false},
		{"haproxy without", "HTTP_STATUS", http, a("-t", "1", srv4, "8082"), exitCritical, `connection (reset|closed) by peer|timed out`, false},
		{"haproxy ftp v1", "FTP_NOOP", ftp, a("--proxy-protocol", "v1", srv4, "2122"), exitOK, `vsFTPd`, false},
		{"haproxy ftp v2 v6", "FTP_NOOP", ftp, a("--proxy-protocol", "v2", srv6, "2122"), exitOK, `vsFTPd`, false},
		{"haproxy ftp auth-tls v2", "FTP_NOOP", ftp, a("--auth-tls", "--proxy-protocol", "v2", srv4, "2122"), exitOK, `NOOP 530 .*TLS 1\.[23]`, false},
		{"haproxy ssl hello starttls ftp v1", "SSL_HELLO", ssl, a("--starttls", "ftp", "--proxy-protocol", "v1", srv4, "2122"), exitOK, `from 10\.99\.0\.2:2122`, false},
		{"haproxy ftp without", "FTP_NOOP", ftp, a("-t", "1", srv4, "2122"), exitCritical, `waiting for the greeting .*timed out`, false},
		// postfix: the header, then the SMTP greeting and STARTTLS
		{"postfix starttls v1", "SSL_HELLO", ssl, a("--starttls", "smtp", "--proxy-protocol", "v1", srv4, "2525"), exitOK, `TLSv1\.[23] .* from 10\.99\.0\.2:2525`, false},
		{"postfix starttls v2 v6", "SSL_HELLO", ssl, a("--starttls", "smtp", "--proxy-protocol", "v2", srv6, "2525"), exitOK, `from \[fd00:99::2\]:2525`, false},
		{"postfix without", "SSL_HELLO", ssl, a("-t", "3", "--starttls", "smtp", srv4, "2525"), exitCritical, `421 .*local error`, false},
		// dovecot haproxy = yes: IMAPS
		{"dovecot imaps v2", "SSL_HELLO", ssl, a("--proxy-protocol", "v2", srv4, "9993"), exitOK, `from 10\.99\.0\.2:9993`, false},
		{"dovecot imaps v1 v6", "SSL_HELLO", ssl, a("--proxy-protocol", "v1", srv6, "9993"), exitOK, `from \[fd00:99::2\]:9993`, false},
		{"dovecot without", "SSL_HELLO", ssl, a("-t", "3", srv4, "9993"), exitCritical, `9993`, false},
		// unbound proxy-protocol-port: v2 on every UDP datagram, and on TCP
		{"unbound udp v2", "DNS", dns, a("--proxy-protocol", "v2", "--name", "www.lab.test", srv4, "5399"), exitOK, `1 answer \(A 10\.99\.0\.2\) from 10\.99\.0\.2:5399/udp`, false},
		{"unbound udp v2 v6", "DNS", dns, a("--proxy-protocol", "v2", "--name", "www.lab.test", srv6, "5399"), exitOK, `from \[fd00:99::2\]:5399/udp`, false},
		{"unbound tcp v2", "DNS", dns, a("--tcp", "--proxy-protocol", "v2", "--name", "www.lab.test", srv4, "5399"), exitOK, `from 10\.99\.0\.2:5399/tcp`, false},
		// DNS over TLS behind HAProxy accept-proxy (unbound 1.17 reads the
		// header inside TLS, against the specification)
		{"haproxy dot v2", "DNS", dns, a("--tls", "--proxy-protocol", "v2", "--name", "www.lab.test", srv4, "5853"), exitOK, `from 10\.99\.0\.2:5853/tls`, false},
		{"haproxy dot v1 v6", "DNS", dns, a("--tls", "--proxy-protocol", "v1", "--name", "www.lab.test", srv6, "5853"), exitOK, `from \[fd00:99::2\]:5853/tls`, false},
		{"haproxy dot without", "DNS", dns, a("-t", "1", "--tls", "--name", "www.lab.test", srv4, "5853"), exitCritical, `5853/tls`, false},
		{"unbound udp without", "DNS", dns, a("-t", "1", "--name", "www.lab.test", srv4, "5399"), exitCritical, `5399/udp: timed out`, false},
		{"unbound tcp without", "DNS", dns, a("-t", "1", "--tcp", "--name", "www.lab.test", srv4, "5399"), exitCritical, `5399/tcp`, false},
		// bad arguments: one UNKNOWN line, nothing sent
		{"udp v1 refused", "DNS", dns, a("--proxy-protocol", "v1", srv4, "5399"), exitUnknown, `bad argument: --proxy-protocol v1 has no form for UDP`, false},
		{"bad version", "HTTP_STATUS", http, a("--proxy-protocol", "v3", srv4, "8081"), exitUnknown, `bad argument: .*want v1, v2 or v2-local`, false},
	}
	access := filepath.Join(stateDir, "logs", "access-proxy.log")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.bin, c.args...)
			first := r.first()
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			if !regexp.MustCompile(`^` + c.label + ` ` + stateOfCode[c.code] + ` - \S`).MatchString(first) {
				t.Errorf("first line %q is not `%s %s - summary`", first, c.label, stateOfCode[c.code])
			}
			if !regexp.MustCompile(c.re).MatchString(first) {
				t.Errorf("first line does not match %q", c.re)
			}
			if c.nginxLog {
				m := headerRE.FindStringSubmatch(r.stdout)
				if m == nil {
					t.Fatalf("no header in the -v trace\n%s", r)
				}
				want := "pp=" + m[1] + ":" + m[2] + ">" + m[3] + ":" + m[4] + " "
				if !waitFor(access, want) {
					t.Errorf("nginx's access log has no line with %q:\n%s", want, readFile(access))
				}
			}
			if t.Failed() {
				t.Logf("\n%s", r)
			}
		})
	}
}

// waitFor says whether file comes to hold s within a second (nginx writes
// its access log line after it answers).
func waitFor(file, s string) bool {
	for range 20 {
		if strings.Contains(readFile(file), s) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func readFile(file string) string {
	b, _ := os.ReadFile(file)
	return string(b)
}
