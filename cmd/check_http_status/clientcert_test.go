package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clientPEM writes a self-signed test client certificate and its key
// (PKCS#8) into one file in dir; nothing here is a real key.
func clientPEM(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "client.pem")
	b := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})...)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientCert: with --client-cert, servers that demand a certificate
// (TLS 1.2 and 1.3) are checked; a file that cannot be one is a bad
// argument at once, on one line.
func TestClientCert(t *testing.T) {
	dir := t.TempDir()
	cert := clientPEM(t, dir)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	l := theLab
	tests := []struct {
		name string
		args []string
		code int
		line string
	}{
		{"tls 1.2 demanded", append([]string{"--tls", "--client-cert", cert}, hp(l.HTTPSAuth12)...), 0, `^HTTP_STATUS OK - 200 OK from 127\.0\.0\.1:`},
		{"tls 1.3 demanded", append([]string{"--tls", "--client-cert", cert}, hp(l.HTTPSAuth13)...), 0, `^HTTP_STATUS OK - 200 OK from 127\.0\.0\.1:`},
		{"not asked", append([]string{"--tls", "--client-cert", cert}, hp(l.HTTPS)...), 0, `^HTTP_STATUS OK - 200 OK`},
		{"fifo", append([]string{"-t", "1", "--tls", "--client-cert", fifo}, hp(l.HTTPSAuth13)...), 3,
			`^HTTP_STATUS UNKNOWN - bad argument: --client-cert ` + regexp.QuoteMeta(fifo) + `: not a regular file but a named pipe`},
		{"zero device key", append([]string{"-t", "1", "--tls", "--client-cert", cert, "--client-key", "/dev/zero"}, hp(l.HTTPSAuth13)...), 3,
			`^HTTP_STATUS UNKNOWN - bad argument: --client-key /dev/zero: not a regular file but a character device`},
		{"directory", append([]string{"--tls", "--client-cert", dir}, hp(l.HTTPSAuth13)...), 3, `not a regular file but a directory`},
		{"without tls", append([]string{"--client-cert", cert}, hp(l.HTTP)...), 3, `^HTTP_STATUS UNKNOWN - bad argument: --client-cert and --client-key need --tls`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, out := check(t, tt.args...)
			if code != tt.code || !regexp.MustCompile(tt.line).MatchString(out) || (code == 3 && strings.Count(out, "\n") != 1) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out, tt.code, tt.line)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// TestClientCertHandedOver: the binary leaves TLS to lbcheck, which reads
// the files: a FIFO is refused at once there too, and a good certificate
// passes a server that demands one.
func TestClientCertHandedOver(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cert := clientPEM(t, dir)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		line string
	}{
		{"demanded", append([]string{"--tls", "--client-cert", cert}, hp(theLab.HTTPSAuth13)...), 0, `^HTTP_STATUS OK - 200 OK`},
		{"fifo", append([]string{"-t", "1", "--tls", "--client-cert", fifo}, hp(theLab.HTTPSAuth13)...), 3, `^HTTP_STATUS UNKNOWN - bad argument: --client-cert .*: not a regular file but a named pipe`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.WaitDelay = time.Second
			timer := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			out, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !regexp.MustCompile(tt.line).Match(out) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out, tt.code, tt.line)
			}
		})
	}
}
