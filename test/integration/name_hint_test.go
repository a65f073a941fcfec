//go:build integration

package integration

import (
	"fmt"
	"testing"
)

// TestNameHint: check_dns_answer and check_ftp_noop verify against
// --ca-file like check_http_status, and when HOST is an address the
// certificate does not carry (the lab's names www.lab.test and
// alt.lab.test only) they say to name the server with --sni (issue 13,
// item 20), against unbound's DNS over TLS and vsftpd's AUTH TLS.
func TestNameHint(t *testing.T) {
	const hint = `cannot validate certificate for %s because it doesn't contain any IP SANs; name the server with --sni NAME \|`
	dns, ftp := binaryFor(t, "check_dns_answer"), binaryFor(t, "check_ftp_noop")
	runPlugin(t, dns, "DNS", []pcase{
		{"dot v4", a("--tls", "--ca-file", caFile(), "--name", "www.lab.test", srv4), exitCritical,
			`^DNS CRITICAL - TLS handshake with 10\.99\.0\.2:853\S*: ` + fmt.Sprintf(hint, `10\.99\.0\.2`), 0},
		{"dot v6", a("--tls", "--ca-file", caFile(), "--name", "www.lab.test", srv6), exitCritical, fmt.Sprintf(hint, `fd00:99::2`), 0},
		{"dot named by sni", a("--tls", "--ca-file", caFile(), "--sni", "www.lab.test", "--name", "www.lab.test", srv4), exitOK, `^DNS OK - NOERROR`, 0},
	})
	runPlugin(t, ftp, "FTP_NOOP", []pcase{
		{"auth tls v4", a("--auth-tls", "--ca-file", caFile(), srv4), exitCritical,
			`^FTP_NOOP CRITICAL - TLS handshake with 10\.99\.0\.2:21: ` + fmt.Sprintf(hint, `10\.99\.0\.2`), 0},
		{"auth tls named by sni", a("--auth-tls", "--ca-file", caFile(), "--sni", "www.lab.test", srv4), exitOK, `^FTP_NOOP OK - NOOP`, 0},
	})
}
