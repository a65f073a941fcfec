package probefront

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

func leafDER(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab.example"},
		DNSNames:  []string{"lab.example", "www.lab.example"},
		NotBefore: time.Unix(1e9, 0), NotAfter: time.Unix(2e9, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestFamilies holds collect to blackbox_exporter 0.23's probers: which
// families each check writes on the success and failure paths.
func TestFamilies(t *testing.T) {
	der := leafDER(t)
	addr := netip.MustParseAddrPort("127.0.0.1:443")
	result := func(command string, state exitcode.State, target bool, f probe.Facts, phases ...probe.Phase) daemon.Result {
		r := daemon.Result{Module: &daemon.Module{Cmd: &check.Command{Spec: &check.Spec{Command: command}}}, State: state}
		r.Facts, r.Phases = f, phases
		r.Lookup = 3 * time.Millisecond
		if target {
			r.Target = &probe.Target{Host: "127.0.0.1", Addr: addr}
		}
		return r
	}
	ph := func(name string, ms int) probe.Phase {
		return probe.Phase{Name: name, Duration: time.Duration(ms) * time.Millisecond}
	}
	tests := []struct {
		name    string
		res     daemon.Result
		want    []string // lines the answer must have (regexps)
		notWant []string // families it must not have
	}{
		{"http ok over TLS, chunked, Last-Modified",
			result("check_http_status", exitcode.OK, true, probe.Facts{HTTPStatus: 200, HTTPVersion: 11, HTTPContentLength: -1, HTTPBodyBytes: 612,
				HTTPLastModified: "Mon, 07 Dec 2026 10:00:00 GMT", TLSVersion: 0x0304, TLSCipher: 0x1301, CertExpiry: 2e9, CertDER: der},
				ph("connect", 1), ph("tls", 2), ph("first_byte", 4), ph("transfer", 1)),
			[]string{`^probe_success 1$`, `^probe_http_status_code 200$`, `^probe_http_content_length -1$`, `^probe_http_uncompressed_body_length 612$`,
				`^probe_http_version 1\.1$`, `^probe_http_redirects 0$`, `^probe_http_ssl 1$`, `^probe_failed_due_to_regex 0$`,
				`^probe_http_last_modified_timestamp_seconds 1\.7966376e\+09$`,
				`^probe_http_duration_seconds\{phase="resolve"\} 0\.003$`, `^probe_http_duration_seconds\{phase="tls"\} 0\.002$`,
				`^probe_http_duration_seconds\{phase="processing"\} 0\.004$`, `^probe_http_duration_seconds\{phase="transfer"\} 0\.001$`,
				`^probe_ip_protocol 4$`, `^probe_ip_addr_hash 3\.668918509e\+09$`, `^probe_dns_lookup_time_seconds 0\.003$`,
				`^probe_tls_version_info\{version="TLS 1\.3"\} 1$`, `^probe_ssl_earliest_cert_expiry 2e\+09$`,
				`^probe_ssl_last_chain_expiry_timestamp_seconds -6\.21355968e\+10$`,
				`^probe_ssl_last_chain_info\{fingerprint_sha256="[0-9a-f]{64}",issuer="CN=lab\.example",subject="CN=lab\.example",subjectalternative="lab\.example,www\.lab\.example"\} 1$`},
			nil},
		{"http refused: every family as 0, no TLS",
			result("check_http_status", exitcode.Critical, true, probe.Facts{}),
			[]string{`^probe_success 0$`, `^probe_http_status_code 0$`, `^probe_http_content_length 0$`, `^probe_http_uncompressed_body_length 0$`,
				`^probe_http_version 0$`, `^probe_http_ssl 0$`, `^probe_failed_due_to_regex 0$`,
				`^probe_http_duration_seconds\{phase="connect"\} 0$`, `^probe_http_duration_seconds\{phase="tls"\} 0$`,
				`^probe_http_duration_seconds\{phase="processing"\} 0$`, `^probe_http_duration_seconds\{phase="transfer"\} 0$`},
			[]string{"probe_tls_version_info", "probe_ssl_earliest_cert_expiry", "probe_http_last_modified_timestamp_seconds"}},
		{"http handshake but no answer: no TLS series, as blackbox",
			result("check_http_status", exitcode.Critical, true, probe.Facts{TLSVersion: 0x0303, CertExpiry: 2e9, CertDER: der}, ph("connect", 1), ph("tls", 2)),
			[]string{`^probe_http_ssl 0$`, `^probe_http_duration_seconds\{phase="tls"\} 0\.002$`},
			[]string{"probe_tls_version_info", "probe_ssl_last_chain_info"}},
		{"http body regex failed, verified chain",
			result("check_http_status", exitcode.Critical, true, probe.Facts{HTTPStatus: 200, HTTPVersion: 10, HTTPContentLength: 5, HTTPBodyBytes: 5, RegexFailed: true,
				TLSVersion: 0x0303, CertExpiry: 2e9, ChainExpiry: 1.9e9, CertDER: der}),
			[]string{`^probe_failed_due_to_regex 1$`, `^probe_http_version 1$`, `^probe_http_content_length 5$`,
				`^probe_ssl_last_chain_expiry_timestamp_seconds 1\.9e\+09$`, `^probe_tls_version_info\{version="TLS 1\.2"\} 1$`},
			[]string{"probe_http_last_modified_timestamp_seconds"}},
		{"name that did not resolve",
			result("check_http_status", exitcode.Critical, false, probe.Facts{}),
			[]string{`^probe_ip_protocol 0$`, `^probe_ip_addr_hash 0$`, `^probe_dns_lookup_time_seconds 0\.003$`, `^probe_http_duration_seconds\{phase="resolve"\} 0\.003$`},
			nil},
		{"tcp half-open",
			result("check_tcp_half_open", exitcode.OK, true, probe.Facts{}),
			[]string{`^probe_failed_due_to_regex 0$`, `^probe_ip_addr_hash 3\.668918509e\+09$`},
			[]string{"probe_http_", "probe_tls_version_info", "probe_dns_answer_rrs"}},
		{"tcp TLS hello",
			result("check_ssl_hello", exitcode.OK, true, probe.Facts{TLSVersion: 0x0304, TLSCipher: 0x1301, CertExpiry: 2e9, CertDER: der}),
			[]string{`^probe_failed_due_to_regex 0$`, `^probe_tls_version_info\{version="TLS 1\.3"\} 1$`, `^probe_ssl_earliest_cert_expiry 2e\+09$`,
				`^probe_ssl_last_chain_expiry_timestamp_seconds -6\.21355968e\+10$`, `^probe_ssl_last_chain_info\{`},
			[]string{"probe_http_"}},
		{"tcp TLS port closed",
			result("check_ssl_hello", exitcode.Critical, true, probe.Facts{}),
			[]string{`^probe_failed_due_to_regex 0$`},
			[]string{"probe_tls_version_info", "probe_ssl_"}},
		{"dns answer",
			result("check_dns_answer", exitcode.OK, true, probe.Facts{DNSReply: true, DNSAnswer: 2, DNSAuthority: 1, DNSAdditional: 3}, ph("connect", 0), ph("answer", 1)),
			[]string{`^probe_dns_answer_rrs 2$`, `^probe_dns_authority_rrs 1$`, `^probe_dns_additional_rrs 3$`, `^probe_dns_query_succeeded 1$`,
				`^probe_dns_duration_seconds\{phase="resolve"\} 0\.003$`, `^probe_dns_duration_seconds\{phase="request"\} 0\.001$`, `^probe_dns_duration_seconds\{phase="connect"\} 0$`},
			[]string{"probe_dns_serial", "probe_failed_due_to_regex"}},
		{"dns closed port: counts and phases as 0",
			result("check_dns_answer", exitcode.Critical, true, probe.Facts{}),
			[]string{`^probe_dns_answer_rrs 0$`, `^probe_dns_authority_rrs 0$`, `^probe_dns_additional_rrs 0$`, `^probe_dns_query_succeeded 0$`,
				`^probe_dns_duration_seconds\{phase="request"\} 0$`, `^probe_dns_duration_seconds\{phase="connect"\} 0$`},
			nil},
		{"dns SOA serial",
			result("check_dns_answer", exitcode.OK, true, probe.Facts{DNSReply: true, DNSAnswer: 1, DNSSOAReply: true, DNSSerial: 2026120701}),
			[]string{`^probe_dns_serial 2\.026120701e\+09$`},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x exposition
			collect(&x, tt.res)
			body := string(x.bytes())
			for _, re := range tt.want {
				if !regexp.MustCompile("(?m)" + re).MatchString(body) {
					t.Errorf("no line matches %s in\n%s", re, body)
				}
			}
			for _, name := range tt.notWant {
				if strings.Contains(body, "\n"+name) || strings.HasPrefix(body, name) {
					t.Errorf("has %s, which blackbox does not write here:\n%s", name, body)
				}
			}
		})
	}
}

// TestChainInfoCacheBytes: the certificate-label cache keeps a leaf's
// labels by fingerprint, but not those of a certificate whose labels run
// past maxInfoBytes (thousands of names): 4096 of those would pin tens of
// MiB. Both still get their labels.
func TestChainInfoCacheBytes(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]string, 1000)
	for i := range many {
		many[i] = "host-" + strings.Repeat("x", 10) + "-" + big.NewInt(int64(i)).String() + ".lab.example"
	}
	for _, tt := range []struct {
		name  string
		names []string
		kept  bool
	}{
		{"two names", []string{"a.lab.example", "b.lab.example"}, true},
		{"a thousand names", many, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "lab.example"},
				DNSNames: tt.names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				t.Fatal(err)
			}
			info := chainInfo(der)
			if got := info[len(info)-1]; got != strings.Join(tt.names, ",") {
				t.Errorf("subjectalternative %.40q..., want the certificate's names", got)
			}
			infoCache.Lock()
			_, kept := infoCache.m[sha256.Sum256(der)]
			infoCache.Unlock()
			if kept != tt.kept {
				t.Errorf("kept in the cache: %v, want %v", kept, tt.kept)
			}
		})
	}
}
