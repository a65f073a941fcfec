package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/target"
)

// TestModuleClientCert: a module's --client-cert and --client-key are read
// when the configuration is parsed (at start and on every reload), never
// per probe: the probe presents what was read even after the files are
// gone, and a reload presents the new certificate. A file that cannot be
// one refuses the configuration, in one line, without hanging.
func TestModuleClientCert(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
	}

	var lastCN atomic.Value // the CN of the last certificate the server took
	// A TLS server that demands a certificate from the CA and says whose.
	srvCert, srvKey := issue("server")
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				buf := make([]byte, 4096)
				c.Read(buf)
				lastCN.Store(tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	addr := netip.MustParseAddrPort(ln.Addr().String())

	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	write := func(cn string) {
		c, k := issue(cn)
		if err := os.WriteFile(certFile, c, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := func(cert string) []byte {
		return []byte("allow: [127.0.0.0/8]\nmodules:\n  mtls: [check_http_status, --tls, --client-cert, " + cert + ", --client-key, " + keyFile + "]\n")
	}
	path := filepath.Join(dir, "lbcheckd.yml")
	probeAs := func(cfg *Config, wantCN string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v := cfg.Modules["mtls"].Cmd.Run(ctx, target.Spec{Host: addr.Addr().String(), IP: addr.Addr(), Port: addr.Port()}, nil)
		if v.State != 0 {
			t.Fatalf("probe: %s", v.Summary)
		}
		if cn, _ := lastCN.Load().(string); cn != wantCN {
			t.Errorf("the server took %q's certificate, want %q's", cn, wantCN)
		}
	}

	write("first")
	if err := os.WriteFile(path, config(certFile), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, registry())
	if err != nil {
		t.Fatal(err)
	}
	// Read at load: the files may go.
	os.Remove(certFile)
	os.Remove(keyFile)
	probeAs(cfg, "first")
	// A reload reads them again: gone, the new configuration is refused.
	if _, err := Load(path, registry()); err == nil || !strings.Contains(err.Error(), "module mtls: check_http_status: bad argument: --client-cert "+certFile+": no such file or directory") {
		t.Errorf("reload without the files: %v", err)
	}

	// New files, reloaded: the new certificate goes.
	write("second")
	if cfg, err = Load(path, registry()); err != nil {
		t.Fatal(err)
	}
	probeAs(cfg, "second")

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, cert, says string }{
		{"fifo", fifo, "--client-cert " + fifo + ": not a regular file but a named pipe"},
		{"directory", dir, "--client-cert " + dir + ": not a regular file but a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := Parse(config(tt.cert), registry()); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.says) || strings.ContainsAny(err.Error(), "\r\n") {
					t.Errorf("error %v; want one line containing %q", err, tt.says)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Parse hung on the file")
			}
		})
	}
}
