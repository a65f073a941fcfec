//go:build integration

package integration

// Client certificates (issue 24) against real servers that demand one from
// a test CA netns.sh makes at setup (mtls/clientca.pem): nginx with
// ssl_verify_client on (8446), vsftpd with require_cert and validate_cert
// (2123) and BIND's DNS over TLS with a tls ca-file (8853). Each case
// without --client-cert is the proof that the server does demand one.

import (
	"path/filepath"
	"testing"
)

// mtls names a file of netns.sh's mtls/ directory: client.pem and
// client.key (from the CA the servers accept), client-combined.pem (both
// in one file), other.pem and other.key (from another CA).
func mtls(name string) string { return filepath.Join(stateDir, "mtls", name) }

func TestClientCertificateHTTP(t *testing.T) {
	right := a("--client-cert", mtls("client.pem"), "--client-key", mtls("client.key"))
	other := a("--client-cert", mtls("other.pem"), "--client-key", mtls("other.key"))
	runCases(t, []tcase{
		{"none", a("--tls", srv4, "8446"), exitCritical,
			`^HTTP_STATUS CRITICAL - 400 Bad Request from 10\.99\.0\.2:8446, expected (200-299|2xx) \(server asked for a client certificate, we sent none\) \|`, perfHTTP},
		// nginx says whose certificate it saw in the body (netns.sh)
		{"right certificate", append(a("--tls", "--body-regex", "^client CN=lbcheck test client\n$", srv4, "8446"), right...), exitOK,
			`^HTTP_STATUS OK - 200 OK from 10\.99\.0\.2:8446, \d+ B in `, perfHTTP},
		{"combined file v6", a("--tls", "--client-cert", mtls("client-combined.pem"), srv6, "8446"), exitOK, `^HTTP_STATUS OK - 200 OK from \[fd00:99::2\]:8446`, perfHTTP},
		{"verified both ways", append(a("--tls", "--ca-file", caFile(), "--vhost", "www.lab.test", srv4, "8446"), right...), exitOK, `^HTTP_STATUS OK - 200 OK`, perfHTTP},
		{"other ca", append(a("--tls", srv4, "8446"), other...), exitCritical,
			`^HTTP_STATUS CRITICAL - 400 Bad Request from 10\.99\.0\.2:8446, expected (200-299|2xx) \(server rejected our client certificate: The SSL certificate error\) \|`, perfHTTP},
		{"other ca v6", append(a("--tls", srv6, "8446"), other...), exitCritical, `\(server rejected our client certificate: The SSL certificate error\)`, perfHTTP},
		// A server that asks for none is not disturbed by one.
		{"not asked", append(a("--tls", srv4), right...), exitOK, `^HTTP_STATUS OK - 200 OK`, perfHTTP},
		{"mismatched key", a("--tls", "--client-cert", mtls("client.pem"), "--client-key", mtls("other.key"), srv4, "8446"), exitUnknown,
			`^HTTP_STATUS UNKNOWN - bad argument: --client-key \S+/mtls/other\.key: the key does not match the certificate in --client-cert \S+/mtls/client\.pem`, perfAny},
		{"without tls", a("--client-cert", mtls("client.pem"), srv4), exitUnknown, `^HTTP_STATUS UNKNOWN - bad argument: --client-cert and --client-key need --tls`, perfAny},
	})
}

func TestClientCertificateFTP(t *testing.T) {
	bin := binaryFor(t, "check_ftp_noop")
	runPlugin(t, bin, "FTP_NOOP", []pcase{
		{"none", a("--auth-tls", srv4, "2123"), exitCritical,
			`^FTP_NOOP CRITICAL - .*10\.99\.0\.2:2123: server asked for a client certificate, we sent none: tls: (certificate required|handshake failure) \|`, 0},
		{"right certificate", a("--auth-tls", "--client-cert", mtls("client.pem"), "--client-key", mtls("client.key"), srv4, "2123"), exitOK,
			`^FTP_NOOP OK - NOOP 530 .* from 10\.99\.0\.2:2123 in [\d.]+ ms, TLS 1\.[23]; `, 0},
		{"combined file, login v6", a("--auth-tls", "--client-cert", mtls("client-combined.pem"), "--user", "anonymous", srv6, "2123"), exitOK,
			`^FTP_NOOP OK - NOOP 200 from \[fd00:99::2\]:2123 .*, TLS 1\.[23], as anonymous; `, 0},
		{"other ca", a("--auth-tls", "--client-cert", mtls("other.pem"), "--client-key", mtls("other.key"), srv4, "2123"), exitCritical,
			`^FTP_NOOP CRITICAL - .*10\.99\.0\.2:2123: server rejected our client certificate: tls: unknown certificate authority \|`, 0},
	})
}

// TestClientCertificateDoT: BIND closes a DNS over TLS connection whose
// certificate it does not accept, without an alert. unbound, the other DoT
// server here, cannot demand a client certificate.
func TestClientCertificateDoT(t *testing.T) {
	bin := binaryFor(t, "check_dns_answer")
	q := a("--tls", "--name", "unsigned.bind.test", "--type", "SOA")
	runPlugin(t, bin, "DNS", []pcase{
		{"none", append(a(srv4, "8853"), q...), exitCritical,
			`^DNS CRITICAL - .*10\.99\.0\.2:8853/tls: server asked for a client certificate, we sent none: connection closed by peer \|`, 0},
		{"right certificate", append(a("--client-cert", mtls("client.pem"), "--client-key", mtls("client.key"), srv4, "8853"), q...), exitOK,
			`^DNS OK - NOERROR, 1 answer \(SOA .*\) from 10\.99\.0\.2:8853/tls in `, 0},
		{"combined file v6", append(a("--client-cert", mtls("client-combined.pem"), srv6, "8853"), q...), exitOK, `^DNS OK - NOERROR, 1 answer`, 0},
		{"other ca", append(a("--client-cert", mtls("other.pem"), "--client-key", mtls("other.key"), srv4, "8853"), q...), exitCritical,
			`^DNS CRITICAL - .*10\.99\.0\.2:8853/tls: connection closed by peer after our client certificate \(rejected\?\) \|`, 0},
	})
}
