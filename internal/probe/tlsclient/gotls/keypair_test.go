package gotls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
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

// testCA is a CA made for one test run; nothing here is a real key.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{c, key}
}

// issue signs a certificate for pub: a client's, or with ips a server's.
func (ca *testCA) issue(t testing.TB, cn string, pub crypto.PublicKey, ips ...net.IP) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

// keyFiles writes the certificate and key files of every case into dir.
func keyFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	ca := newCA(t, "client ca")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert := pemOf("CERTIFICATE", ca.issue(t, "rsa", rsaKey.Public()))
	ecCert := pemOf("CERTIFICATE", ca.issue(t, "ec", ecKey.Public()))
	edCert := pemOf("CERTIFICATE", ca.issue(t, "ed", edKey.Public()))
	ecSEC1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// What an encrypted key looks like to us: the header or the block
	// type, over bytes that need no meaning.
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("test only, not a key")})
	enc8 := pemOf("ENCRYPTED PRIVATE KEY", []byte("test only, not a key"))
	chain := append(append([]byte{}, ecCert...), pemOf("CERTIFICATE", ca.cert.Raw)...)
	files := map[string][]byte{
		"rsa.crt":          rsaCert,
		"rsa-pkcs1.key":    pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
		"rsa-pkcs8.key":    pkcs8(t, rsaKey),
		"ec.crt":           ecCert,
		"ec-chain.crt":     chain,
		"ec-sec1.key":      pemOf("EC PRIVATE KEY", ecSEC1),
		"ec-pkcs8.key":     pkcs8(t, ecKey),
		"ed.crt":           edCert,
		"ed-pkcs8.key":     pkcs8(t, edKey),
		"other.key":        pkcs8(t, otherKey),
		"combined.pem":     append(pkcs8(t, ecKey), chain...), // key first: order is free
		"combined-bad.pem": append(append([]byte{}, ecCert...), pkcs8(t, otherKey)...),
		"cert-only.pem":    ecCert,
		"legacy.key":       legacy,
		"legacy.pem":       append(append([]byte{}, ecCert...), legacy...),
		"enc8.key":         enc8,
		"not-pem":          []byte("-----BEGIN NOTHING\n"),
		"dsa.key":          pemOf("DSA PRIVATE KEY", []byte{0x30, 0}),
	}
	paths := map[string]string{}
	for name, b := range files {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Padded past the bound: sparse, so it costs no disk.
	paths["big.pem"] = filepath.Join(dir, "big.pem")
	if err := os.WriteFile(paths["big.pem"], files["combined.pem"], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(paths["big.pem"], tlsclient.MaxKeyFile+1); err != nil {
		t.Fatal(err)
	}
	paths["fifo"] = filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(paths["fifo"], 0o600); err != nil {
		t.Fatal(err)
	}
	paths["dir"] = dir
	paths["missing"] = filepath.Join(dir, "missing")
	return paths
}

// TestClientKeyPair: --client-cert and --client-key take each PEM key
// format and a combined file, and refuse everything else at once, as a
// bad argument naming the option and the file: an encrypted key, a key
// that is not the certificate's, what is not a regular file (a FIFO once
// hung --ca-file for good) or is too large.
func TestClientKeyPair(t *testing.T) {
	dir := t.TempDir()
	f := keyFiles(t, dir)
	tests := []struct {
		name       string
		cert, key  string // names in f; key "" for none
		wantOption string // the option the error names; "" for no error
		want       string // in the error
		wantErr    error
	}{
		{"rsa pkcs1", "rsa.crt", "rsa-pkcs1.key", "", "", nil},
		{"rsa pkcs8", "rsa.crt", "rsa-pkcs8.key", "", "", nil},
		{"ec sec1", "ec.crt", "ec-sec1.key", "", "", nil},
		{"ec pkcs8", "ec.crt", "ec-pkcs8.key", "", "", nil},
		{"ed25519 pkcs8", "ed.crt", "ed-pkcs8.key", "", "", nil},
		{"chain", "ec-chain.crt", "ec-sec1.key", "", "", nil},
		{"combined file", "combined.pem", "", "", "", nil},
		{"combined without a key", "cert-only.pem", "", "--client-cert", "or name the key's file with --client-key", ErrNoKey},
		{"key file without a key", "ec.crt", "ec.crt", "--client-key", "no PEM private key", ErrNoKey},
		{"mismatched pair", "ec.crt", "other.key", "--client-key", "the key does not match the certificate in --client-cert " + f["ec.crt"], ErrMismatch},
		{"mismatched rsa and ec", "rsa.crt", "ec-sec1.key", "--client-key", "does not match", ErrMismatch},
		{"mismatched combined", "combined-bad.pem", "", "--client-cert", "the key does not match the certificate", ErrMismatch},
		{"legacy encrypted", "ec.crt", "legacy.key", "--client-key", "encrypted (Proc-Type: 4,ENCRYPTED)", ErrEncryptedLegacy},
		{"legacy encrypted combined", "legacy.pem", "", "--client-cert", "encrypted (Proc-Type: 4,ENCRYPTED)", ErrEncryptedLegacy},
		{"pkcs8 encrypted", "ec.crt", "enc8.key", "--client-key", "encrypted (ENCRYPTED PRIVATE KEY)", ErrEncryptedPKCS8},
		{"unsupported key type", "ec.crt", "dsa.key", "--client-key", "a DSA PRIVATE KEY, which TLS cannot sign with", nil},
		{"not pem", "not-pem", "ec-sec1.key", "--client-cert", "no PEM certificate", ErrNoCert},
		{"key as certificate", "ec-sec1.key", "ec-sec1.key", "--client-cert", "no PEM certificate", ErrNoCert},
		{"missing cert", "missing", "", "--client-cert", "no such file or directory", nil},
		{"missing key", "ec.crt", "missing", "--client-key", "no such file or directory", nil},
		{"fifo cert", "fifo", "", "--client-cert", "not a regular file but a named pipe", nil},
		{"fifo key", "ec.crt", "fifo", "--client-key", "not a regular file but a named pipe", nil},
		{"directory", "dir", "", "--client-cert", "not a regular file but a directory", nil},
		{"device key", "ec.crt", "/dev/zero", "--client-key", "not a regular file but a character device", nil},
		{"too large", "big.pem", "", "--client-cert", "more than a certificate and its key (at most 256 KiB)", nil},
		{"too large key", "ec.crt", "big.pem", "--client-key", "more than a private key (at most 256 KiB)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := func(n string) string {
				if p, ok := f[n]; ok {
					return p
				}
				return n
			}
			o := &tlsclient.Options{TLS: TLS{}}
			o.Flags(flags.NewFlagSet("x"), "--tls", false)
			o.ClientCert = path(tt.cert)
			if tt.key != "" {
				o.ClientKey = path(tt.key)
			}
			done := make(chan error, 1)
			go func() { done <- o.Validate(true) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Validate hung reading the files")
			}
			if tt.wantOption == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				c, err := TLS{}.Prepare(o)
				if err != nil {
					t.Fatal(err)
				}
				if cl := c.(*client); cl.cert == nil || cl.cert.Leaf == nil || len(cl.cert.Certificate) == 0 {
					t.Fatal("no client certificate prepared")
				}
				return
			}
			file := path(tt.key)
			if tt.wantOption == "--client-cert" {
				file = path(tt.cert)
			}
			prefix := tt.wantOption + " " + probe.Clean(file, 120) + ": "
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v; want one line starting %q, containing %q", err, prefix, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
		})
	}
}

// TestClientCertNeedsTLS: the options are refused without TLS, and a key
// without its certificate, before any file is read.
func TestClientCertNeedsTLS(t *testing.T) {
	tests := []struct {
		name string
		args []string
		on   bool
		want string
	}{
		{"cert without tls", []string{"--client-cert", "/nonexistent"}, false, "--client-cert and --client-key need --tls"},
		{"key without tls", []string{"--client-key", "/nonexistent"}, false, "--client-cert and --client-key need --tls"},
		{"key without cert", []string{"--client-key", "/nonexistent"}, true, "--client-key needs --client-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &tlsclient.Options{TLS: TLS{}}
			fs := flags.NewFlagSet("x")
			o.Flags(fs, "--tls", false)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(tt.on); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestClientCertHandshake runs handshakes against a server that demands a
// certificate from one CA, under TLS 1.2 and 1.3: ours is sent and
// accepted; one from another CA is rejected and the error says so with
// the server's alert (under 1.3 on the first read, as the server judges
// after our handshake has ended); without one, the error says we sent
// none.
func TestClientCertHandshake(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server ca"), newCA(t, "client ca"), newCA(t, "other ca")
	serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serverCert := tls.Certificate{Certificate: [][]byte{serverCA.issue(t, "server", serverKey.Public(), net.IPv4(127, 0, 0, 1))}, PrivateKey: serverKey}
	write := func(ca *testCA, name string) string {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(pemOf("CERTIFICATE", ca.issue(t, name, key.Public())), pkcs8(t, key)...), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := write(clientCA, "good.pem"), write(otherCA, "bad.pem")
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cfg := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: version, MaxVersion: version}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					tc := tls.Server(c, cfg)
					if tc.Handshake() == nil {
						tc.Write([]byte("hello"))
					}
				}()
			}
		}()
		tests := []struct {
			name          string
			cert          string
			sent          bool
			want          string // in the error from the handshake or the first read; "" for none
			wantHandshake bool   // the error comes from the handshake
		}{
			{"right certificate", good, true, "", false},
			{"other ca", bad, true, tlsclient.CertRejected + ": tls: ", version == tls.VersionTLS12},
			{"none", "", false, tlsclient.CertNone + ": tls: ", version == tls.VersionTLS12},
		}
		for _, tt := range tests {
			t.Run(tls.VersionName(version)+" "+tt.name, func(t *testing.T) {
				o := &tlsclient.Options{TLS: TLS{}, ClientCert: tt.cert}
				o.Flags(flags.NewFlagSet("x"), "--tls", true)
				o.ClientCert = tt.cert
				if err := o.Validate(true); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				target := probe.Target{Host: "127.0.0.1", Addr: netip.MustParseAddrPort(ln.Addr().String())}
				tc, info, err := o.Handshake(ctx, conn, target, "")
				if !info.CertRequested || info.CertSent != tt.sent {
					t.Errorf("info %+v, want CertRequested and CertSent %v", info, tt.sent)
				}
				if trace := info.ClientCertTrace(); tt.sent != strings.HasSuffix(trace, "sent CN="+filepath.Base(tt.cert)) {
					t.Errorf("trace %q", trace)
				}
				if err == nil {
					_, err = tc.Read(make([]byte, 5))
				} else if !tt.wantHandshake {
					t.Fatalf("handshake: %v", err)
				}
				var summary string
				if err != nil {
					summary = probe.Fail("x", err).Summary
				}
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("error %v", err)
				case tt.want != "" && !strings.HasPrefix(summary, "x: "+tt.want):
					t.Errorf("summary %q, want it to start %q", summary, "x: "+tt.want)
				}
			})
		}
	}
}

// FuzzClientKeyPair: any bytes as the certificate file and the key file
// are refused or accepted without a crash, and what is accepted is a
// certificate whose public key is the key's.
func FuzzClientKeyPair(f *testing.F) {
	paths := keyFiles(f, f.TempDir())
	for _, pair := range [][2]string{{"ec.crt", "ec-sec1.key"}, {"rsa.crt", "rsa-pkcs1.key"}, {"combined.pem", "combined.pem"}, {"ed.crt", "ed-pkcs8.key"}, {"legacy.pem", "enc8.key"}} {
		c, _ := os.ReadFile(paths[pair[0]])
		k, _ := os.ReadFile(paths[pair[1]])
		f.Add(c, k)
	}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		_, leaf, err := parseChain(certPEM)
		if err != nil {
			return
		}
		key, err := parseKey(keyPEM)
		if err != nil {
			return
		}
		if matches(leaf.PublicKey, key) {
			if !matches(key.Public(), key) {
				t.Fatal("a key does not match its own public key")
			}
		}
	})
}

// TestClientCertClosed: a server that takes our certificate and closes
// the connection without an alert (BIND's DNS over TLS does) is named as
// the likely refusal, after the error; a server that answers is not.
func TestClientCertClosed(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "ca")
	serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serverCert := tls.Certificate{Certificate: [][]byte{ca.issue(t, "server", serverKey.Public())}, PrivateKey: serverKey}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	file := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(file, append(pemOf("CERTIFICATE", ca.issue(t, "client", key.Public())), pkcs8(t, key)...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		reply []byte
		want  string // the summary; "" for no error
	}{
		{"closes", nil, "x: connection closed by peer after our client certificate (rejected?)"},
		{"answers", []byte("hello"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cfg := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAnyClientCert}
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil && tt.reply != nil {
					tc.Write(tt.reply)
				}
				tc.Close()
			}()
			o := &tlsclient.Options{TLS: TLS{}}
			o.Flags(flags.NewFlagSet("x"), "--tls", true)
			o.ClientCert = file
			if err := o.Validate(true); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			tc, _, err := o.Handshake(context.Background(), conn, probe.Target{Addr: netip.MustParseAddrPort(ln.Addr().String())}, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadFull(tc, make([]byte, 5))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || probe.Fail("x", err).Summary != tt.want):
				t.Errorf("error %v, want the summary %q", err, tt.want)
			}
		})
	}
}
