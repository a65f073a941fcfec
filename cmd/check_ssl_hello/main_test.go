package main

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

var (
	theLab *lab.Lab    // plain HTTP, closed and reset ports
	tlsLab *lab.TLSLab // TLS servers and fakes
)

func TestMain(m *testing.M) {
	proctest.Main(m, func() (err error) {
		if theLab, err = proctest.Start("lab", lab.Start); err != nil {
			return err
		}
		tlsLab, err = proctest.Start("tls lab", lab.StartTLS)
		return err
	})
}

func check(t *testing.T, args ...string) (int, string) { return proctest.Run(t, run, args...) }

func hp(a netip.AddrPort) []string { return proctest.HostPort(a) }

func TestCheckSSLHello(t *testing.T) {
	l := tlsLab
	args := func(a netip.AddrPort, extra ...string) []string { return append(extra, hp(a)...) }
	const cert = `certificate CN=tls\.lab\.test expires \d{4}-\d\d-\d\d`
	proctest.Verdicts(t, run, []proctest.Verdict{
		{"tls12", hp(l.TLS12), 0, `^SSL_HELLO OK - TLSv1\.2 TLS_ECDHE_ECDSA_WITH_\S+ from 127\.0\.0\.1:\d+ in [\d.]+ ms, ` + cert + ` \| time=[\d.]+s;;;0;5$`},
		{"tls12 client cert", hp(l.TLS12Auth), 0, `^SSL_HELLO OK - TLSv1\.2 .*, client certificate requested, ` + cert + ` \|`},
		{"tls13", hp(l.TLS13), 0, `^SSL_HELLO OK - TLSv1\.3 TLS_(AES|CHACHA20)_\S+ from 127\.0\.0\.1:\d+ in [\d.]+ ms, ` + cert + ` \|`},
		// Under 1.3 the request is encrypted: only a real key schedule sees it.
		{"tls13 client cert", hp(l.TLS13Auth), 0, `^SSL_HELLO OK - TLSv1\.3 .*, client certificate requested, ` + cert},
		{"hello retry", hp(l.TLSRetry), 0, `^SSL_HELLO OK - TLSv1\.3 .* after HelloRetryRequest, ` + cert},
		{"host:port", []string{l.TLS13.String()}, 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"haproxy argv", append([]string{"NOT_USED", "NOT_USED"}, hp(l.TLS12)...), 0, `^SSL_HELLO OK`},
		{"name as sni", []string{"localhost", hp(l.TLS13)[1], "-4"}, 0, `OK - TLSv1\.3 .* from 127\.0\.0\.1:`},

		{"cn san", args(l.TLS12, "--cn", lab.TLSCertName), 0, `^SSL_HELLO OK - TLSv1\.2`},
		{"cn san tls13", args(l.TLS13, "--cn", lab.TLSCertName), 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"cn wildcard", args(l.TLS13, "--cn", "a.wild.lab.test"), 0, `^SSL_HELLO OK`},
		{"cn wildcard one label only", args(l.TLS13, "--cn", "a.b.wild.lab.test"), 2, `does not match --cn a\.b\.wild\.lab\.test`},
		{"cn legacy common name", args(l.TLSLegacyCN, "--cn", lab.LegacyCNName), 0, `^SSL_HELLO OK - .*certificate CN=legacy\.lab\.test`},
		{"cn case insensitive", args(l.TLS12, "--cn", "TLS.Lab.Test"), 0, `^SSL_HELLO OK`},
		{"cn mismatch names both", args(l.TLS12, "--cn", "other.example"), 2,
			`^SSL_HELLO CRITICAL - certificate CN=tls\.lab\.test \(SAN tls\.lab\.test, \*\.wild\.lab\.test, localhost, 127\.0\.0\.1, ::1\) does not match --cn other\.example \(TLSv1\.2 .*\) \| time=`},
		{"cn mismatch tls13", args(l.TLS13, "--cn", "other.example"), 2, `CRITICAL - certificate CN=tls\.lab\.test .*does not match --cn other\.example`},
		{"sni apart from cn", args(l.TLS13, "--sni", "x.example", "--cn", lab.TLSCertName), 0, `OK`},

		{"cert days ok", args(l.TLS12, "--cert-days", "10,5"), 0, `^SSL_HELLO OK - .* \| time=[\d.]+s;;;0;5 days_left=(19|20)(\.\d)?;10:;5:$`},
		{"cert days warning", args(l.TLS13, "--cert-days", "30,10"), 1, `^SSL_HELLO WARNING - certificate expires in (19|20)\.\d days \(< 30\): TLSv1\.3 .*days_left=`},
		{"cert days critical", args(l.TLS12, "--cert-days", "40,30"), 2, `^SSL_HELLO CRITICAL - certificate expires in (19|20)\.\d days \(< 30\): `},
		{"cert days warn only", args(l.TLS12, "--cert-days", "30"), 1, `^SSL_HELLO WARNING .* days_left=(19|20)(\.\d)?;30:;0:$`},
		{"expired without cert-days", hp(l.TLSExpired), 0, `^SSL_HELLO OK - .*certificate CN=expired\.lab\.test expired \d{4}-\d\d-\d\d, 1\.[01] days ago \|`},
		{"not yet valid without cert-days", hp(l.TLSNotYet), 0, `^SSL_HELLO OK - .*certificate CN=notyet\.lab\.test valid from \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (9\.9|10\.0) days\), expires \d{4}-\d\d-\d\d \|`},
		{"not yet valid with cert-days", args(l.TLSNotYet, "--cert-days", "30,7"), 2,
			`^SSL_HELLO CRITICAL - certificate not yet valid: TLSv1\.3 .*certificate CN=notyet\.lab\.test valid from \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (9\.9|10\.0) days\), expires .* days_left=(99|100)(\.\d)?;30:;7:$`},
		{"expired with cert-days", args(l.TLSExpired, "--cert-days", "0"), 2, `^SSL_HELLO CRITICAL - certificate expired: .* days_left=-[\d.]+;0:;0:$`},
		{"both fail: worst wins", args(l.TLS12, "--cn", "other.example", "--cert-days", "30"), 2, `^SSL_HELLO CRITICAL - certificate expires in .*does not match`},

		{"tls13 key does not match the certificate", hp(l.TLS13BadKey), 2,
			`^SSL_HELLO CRITICAL - certificate CN=tls\.lab\.test does not match the server's private key: CertificateVerify \(ecdsa_secp256r1_sha256\) does not verify with the certificate's key \(TLSv1\.3 TLS_AES_128_GCM_SHA256 from 127\.0\.0\.1:\d+ in [\d.]+ ms\) \| time=`},
		{"tls12 key does not match the certificate", hp(l.TLS12BadKey), 2,
			`^SSL_HELLO CRITICAL - certificate CN=tls\.lab\.test does not match the server's private key: ServerKeyExchange signature \(ecdsa_secp256r1_sha256\) does not verify with the certificate's key \(TLSv1\.2 TLS_ECDHE_ECDSA_\S+ from`},
		{"dhe only", hp(l.DHEOnly), 0, `^SSL_HELLO OK - TLSv1\.2 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 from 127\.0\.0\.1:\d+ in [\d.]+ ms, certificate CN=dhe\.lab\.test expires`},

		{"alert first", hp(l.Alert), 2, `^SSL_HELLO CRITICAL - TLS alert handshake_failure \(40\) from 127\.0\.0\.1:\d+ after our ClientHello \| time=`},
		{"not tls quoted", hp(l.NotTLS), 2, `^SSL_HELLO CRITICAL - not TLS from 127\.0\.0\.1:\d+: "HTTP/1\.1 400 Bad Request\\r\\nX: a\\x7cb"\.\.\. \|`},
		{"plain http server", hp(theLab.HTTP), 2, `^SSL_HELLO CRITICAL - not TLS from 127\.0\.0\.1:\d+: "HTTP/1\.1 400 Bad Request`},
		{"garbage", hp(theLab.Garbage), 2, `^SSL_HELLO CRITICAL - not TLS from .*: "\\x00\\x01SSH-2\.0`},
		{"truncated record", hp(l.Truncated), 2, `^SSL_HELLO CRITICAL - TLS hello with 127\.0\.0\.1:\d+ in the middle of a record: connection closed by peer`},
		{"overlong record", hp(l.Overlong), 2, `^SSL_HELLO CRITICAL - TLS record of 20000 bytes, more than the 18432 TLS allows from 127\.0\.0\.1:\d+`},
		{"refused", hp(theLab.Closed), 2, `^SSL_HELLO CRITICAL - connect to 127\.0\.0\.1:\d+: connection refused`},
		{"reset", hp(theLab.Reset), 2, `^SSL_HELLO CRITICAL - .*(reset|closed)`},
		{"silent times out", args(l.Silent, "-t", "0.3"), 2, `^SSL_HELLO CRITICAL - waiting for the ServerHello from 127\.0\.0\.1:\d+: timed out after (29\d|3\d\d)(\.\d+)? ms$`},
		{"stall mid-record", args(l.HelloStall, "-t", "0.3"), 2, `^SSL_HELLO CRITICAL - waiting for the ServerHello from .*: timed out`},
		{"timeout state", args(l.Silent, "-t", "0.2", "--timeout-state", "unknown"), 3, `^SSL_HELLO UNKNOWN - .*timed out`},

		{"smtp", args(l.SMTP, "--starttls", "smtp"), 0, `^SSL_HELLO OK - TLSv1\.3 .*` + cert},
		{"smtp refuses", args(l.SMTPNoTLS, "--starttls", "smtp"), 2, `^SSL_HELLO CRITICAL - smtp server 127\.0\.0\.1:\d+ answered STARTTLS with "454 4\.7\.0 TLS not available" \|`},
		{"smtp talks to tls", args(l.TLS12, "--starttls", "smtp", "-t", "0.3"), 2, `^SSL_HELLO CRITICAL - smtp upgrade with .*, waiting for the greeting: timed out`},
		{"smtp to http", args(theLab.Garbage, "--starttls", "smtp"), 2, `^SSL_HELLO CRITICAL - smtp server .* answered the greeting with "\\x00\\x01SSH`},
		{"imap", args(l.IMAP, "--starttls", "imap"), 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"pop3", args(l.POP3, "--starttls", "pop3"), 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"ftp", args(l.FTP, "--starttls", "ftp"), 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"postgres", args(l.Postgres, "--starttls", "postgres"), 0, `^SSL_HELLO OK - TLSv1\.3`},
		{"postgres refuses", args(l.PostgresNo, "--starttls", "postgres"), 2, `^SSL_HELLO CRITICAL - postgres server .* refuses TLS`},
		{"http answer to smtp", args(theLab.Endless, "--starttls", "smtp"), 2, `CRITICAL - smtp server .* answered the greeting with "HTTP/1\.1 200 OK"`},

		{"exit style binary", args(l.Alert, "--exit-style", "binary"), 1, `^SSL_HELLO CRITICAL`},
		{"warning threshold", args(l.TLS12, "-w", "@0:10"), 1, `^SSL_HELLO WARNING - .*time outside warning range`},
		{"attempts all fail", args(theLab.Closed, "--attempts", "2", "--retry-delay", "0.01"), 2, `refused \(attempt 2 of 2\)`},
	})
}

func TestUsageErrors(t *testing.T) {
	ok := hp(tlsLab.TLS12)
	proctest.UsageErrors{Run: run, Label: "SSL_HELLO", Cases: []proctest.Usage{
		{"no host", nil, "no HOST given"},
		{"bad starttls", append([]string{"--starttls", "ldap"}, ok...), "--starttls"},
		{"bad cert-days", append([]string{"--cert-days", "soon"}, ok...), "--cert-days"},
		{"cert-days order", append([]string{"--cert-days", "7,30"}, ok...), "CRIT must not be more than WARN"},
		{"cert-days negative", append([]string{"--cert-days", "-1"}, ok...), "--cert-days"},
		{"cert-days three", append([]string{"--cert-days", "30,7,1"}, ok...), "--cert-days"},
		{"bad cn", append([]string{"--cn", "a b"}, ok...), "--cn"},
		{"bad sni", append([]string{"--sni", "x/y"}, ok...), "--sni"},
		{"bad port", []string{"127.0.0.1", "0"}, `port "0"`},
	}}.Test(t)
}

func TestDefaultPort(t *testing.T) {
	// Nothing of ours listens on 443: the point is which port was tried.
	_, out := check(t, "-t", "0.5", "--format", "json", "127.0.0.1")
	var v struct{ Address string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Address != "127.0.0.1:443" {
		t.Errorf("address %q (%v), want 127.0.0.1:443", v.Address, err)
	}
}

func TestVerboseTrace(t *testing.T) {
	_, quiet := check(t, hp(tlsLab.TLS12Auth)...)
	if strings.Count(quiet, "\n") != 1 {
		t.Errorf("without -v, output is more than the verdict: %q", quiet)
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{hp(tlsLab.TLS12Auth), []string{"> ClientHello, TLS 1.0 to 1.3, ", " cipher suites, key shares X25519 P-256, no SNI",
			"< ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone (",
			"ServerKeyExchange signature (ecdsa_secp256r1_sha256) verified with the certificate's key",
			"> alert close_notify (0), in the clear", "certificate CN=tls.lab.test"}},
		{append([]string{"--cn", lab.TLSCertName}, hp(tlsLab.TLSRetry)...), []string{"SNI tls.lab.test", "< HelloRetryRequest for P-384",
			"> ClientHello again, key share P-384", "< HelloRetryRequest, ServerHello, EncryptedExtensions, Certificate, CertificateVerify, Finished (",
			"CertificateVerify (ecdsa_secp256r1_sha256) verified with the certificate's key", "server Finished verified", "> alert close_notify (0), encrypted"}},
		{append([]string{"--starttls", "smtp"}, hp(tlsLab.SMTP)...), []string{"< 220 smtp.lab.test ESMTP lab", "> EHLO [127.0.0.1]", "> STARTTLS", "< 220 2.0.0 Ready"}},
	} {
		_, out := check(t, append([]string{"-v"}, tt.args...)...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("-v trace lacks %q:\n%s", w, out)
			}
		}
	}
}

func TestJSON(t *testing.T) {
	code, v := proctest.JSON(t, run, append([]string{"--cert-days", "10"}, hp(tlsLab.TLS13)...)...)
	if code != 0 || v.State != "OK" || len(v.Perfdata) != 2 || v.Perfdata[1].Label != "days_left" || v.Perfdata[1].Value < 19 ||
		v.Perfdata[1].Warning != "10:" || v.Perfdata[1].Critical != "0:" {
		t.Errorf("unexpected verdict %+v", v)
	}
	v.Phases(t, "connect", "tls")
}

// TestDaysOneNumber: the days left in the summary are the perfdata's
// days_left, one figure (issue 16).
func TestDaysOneNumber(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"warning", append([]string{"--cert-days", "30,10"}, hp(tlsLab.TLS13)...)},
		{"critical", append([]string{"--cert-days", "40,30"}, hp(tlsLab.TLS12)...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, out := check(t, tt.args...)
			m := regexp.MustCompile(`certificate expires in ([\d.]+) days .* days_left=([-\d.]+);`).FindStringSubmatch(out)
			if m == nil || m[1] != m[2] {
				t.Errorf("summary and perfdata disagree on the days left: %s", out)
			}
		})
	}
}

// TestDeadlineWhateverThePeerDoes: the verdict comes within --timeout and
// 100 ms, for every misbehaving peer.
func TestDeadlineWhateverThePeerDoes(t *testing.T) {
	proctest.DeadlineInProcess(t, run, map[string][]string{
		"silent":         hp(tlsLab.Silent),
		"stall":          hp(tlsLab.HelloStall),
		"starttls quiet": append([]string{"--starttls", "imap"}, hp(tlsLab.Silent)...),
		"attempts":       append([]string{"--attempts", "5", "--retry-delay", "10"}, hp(tlsLab.Silent)...),
	})
}

func TestHelpAndVersion(t *testing.T) {
	proctest.HelpAndVersion(t, run, "check_ssl_hello", "check_ssl_hello [options] HOST [PORT]", "--cn", "--sni", "--starttls", "--cert-days", "PORT defaults to 443")
}

// TestOneTime: the summary's "in X ms" is perfdata's time (issue 16, item 4).
func TestOneTime(t *testing.T) {
	_, out := check(t, hp(tlsLab.TLS12)...)
	proctest.SameTime(t, out)
}
