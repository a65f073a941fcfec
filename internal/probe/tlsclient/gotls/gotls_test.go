package gotls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

func testCert(t *testing.T, ips ...net.IP) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.test"},
		DNSNames: []string{"ca.test"}, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCAFile: --ca-file takes a regular PEM file of sane size and refuses
// anything else at once, as a bad argument. A FIFO used to hang the
// process for good (open waits for a writer; -t had not started) and
// /dev/zero to grow it until Go died.
func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testCert(t).Raw})
	if err := os.WriteFile(path("ca.pem"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path("empty.pem"), []byte("not pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A bundle padded past the bound: sparse, so it costs no disk.
	big, err := os.Create(path("big.pem"))
	if err != nil {
		t.Fatal(err)
	}
	big.Write(pemBytes)
	big.Truncate(tlsclient.MaxCAFile + 1)
	big.Close()
	if err := os.WriteFile(path("a\tb\x1b[31m|c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path("sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	tests := []struct {
		name, file string
		want       string // in the error; "" for none
	}{
		{"pem", path("ca.pem"), ""},
		{"missing", path("nothing"), "--ca-file " + path("nothing") + ": no such file or directory"},
		{"not pem", path("empty.pem"), "no PEM certificate in it"},
		{"too big", path("big.pem"), "more than a CA bundle (at most 1024 KiB)"},
		{"fifo", path("fifo"), "not a regular file but a named pipe"},
		// /dev/zero would show the growth, but a regression would then
		// take this test process's memory: cmd/check_http_status tests
		// it on the binary, under a memory limit.
		{"character device", "/dev/null", "not a regular file but a character device"},
		{"directory", dir, "not a regular file but a directory"},
		{"socket", path("sock"), "not a regular file but a socket"},
		// argv reaches the first line printable only
		{"control characters", path("a\tb\x1b[31m|c"), "--ca-file " + path("a?b?[31m?c") + ": no PEM certificate in it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &tlsclient.Options{TLS: TLS{}}
			o.Flags(flags.NewFlagSet("x"), "--tls", false)
			o.CAFile = tt.file
			done := make(chan error, 1)
			go func() { done <- o.Validate(true) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Validate hung reading the CA file")
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want == "" && (!o.Verify || !hasRoots(t, o)):
				t.Errorf("no roots, or not verifying, after a good --ca-file")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), "--ca-file "+probe.Clean(tt.file, 120)):
				t.Errorf("error %v does not name --ca-file %s", err, tt.file)
			}
		})
	}
}

// hasRoots reports whether the options' CA file became a pool of roots.
func hasRoots(t *testing.T, o *tlsclient.Options) bool {
	c, err := TLS{}.Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*client).roots != nil
}

// TestExplain: a certificate that does not carry the address HOST was
// checked by gets the hint to name the server; other errors stay as they
// are.
func TestExplain(t *testing.T) {
	c := testCert(t, net.ParseIP("10.97.0.4"))
	wrap := func(err error) error { return &tls.CertificateVerificationError{Err: err} }
	other := errors.New("remote error: tls: handshake failure")
	tests := []struct {
		name string
		sni  bool
		err  error
		want string
	}{
		{"address, http", false, wrap(x509.HostnameError{Certificate: c, Host: "10.97.0.2"}),
			"certificate is valid for 10.97.0.4, not 10.97.0.2; name the server with --vhost NAME"},
		{"address, others", true, wrap(x509.HostnameError{Certificate: c, Host: "10.97.0.2"}),
			"certificate is valid for 10.97.0.4, not 10.97.0.2; name the server with --sni NAME"},
		{"v6 address", true, wrap(x509.HostnameError{Certificate: c, Host: "fd00::2"}), "; name the server with --sni NAME"},
		{"name given", true, wrap(x509.HostnameError{Certificate: c, Host: "other.test"}),
			"tls: failed to verify certificate: x509: certificate is valid for ca.test, not other.test"},
		{"other error", true, other, other.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &tlsclient.Options{}
			o.Flags(flags.NewFlagSet("x"), "--tls", tt.sni)
			got := Explain(tt.err, o.NameOption())
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("%q, want it to contain %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap %v", got, tt.err)
			}
		})
	}
}
