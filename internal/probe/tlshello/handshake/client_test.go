package handshake

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keysOnce sync.Once
	keys     map[string]crypto.Signer
)

// testKey returns a key of the named kind, made once per test binary.
func testKey(t testing.TB, kind string) crypto.Signer {
	keysOnce.Do(func() {
		keys = map[string]crypto.Signer{}
		p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		r, _ := rsa.GenerateKey(rand.Reader, 2048)
		rb, _ := rsa.GenerateKey(rand.Reader, 2048)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		keys["p256"], keys["p256-other"], keys["p384"], keys["rsa"], keys["rsa-other"], keys["ed25519"] = p256, p256b, p384, r, rb, ed
	})
	return keys[kind]
}

// testCert makes a self-signed certificate for key, and a tls.Certificate
// that signs with signer (another key: a server whose key does not match).
func testCert(t testing.TB, key, signer crypto.Signer) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hello.test"},
		DNSNames:     []string{"hello.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: signer}
}

// serve runs one Go TLS server handshake on a loopback listener and
// returns its address and the server's handshake error.
func serve(t testing.TB, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		s := tls.Server(c, cfg)
		err = s.Handshake()
		if err == nil {
			// A completed handshake: read on, to see how we leave.
			_, err = s.Read(make([]byte, 1))
		}
		done <- err
	}()
	return ln.Addr().String(), done
}

// hello runs our client against addr and ends with e.
func hello(t testing.TB, addr string, cfg Config, e Ending) (*Client, string, error) {
	t.Helper()
	conn, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := New(cfg)
	err = c.Hello(conn)
	what := ""
	if err == nil {
		what, err = c.End(conn, e)
		if err != nil {
			t.Fatalf("End: %v", err)
		}
	}
	return c, what, err
}

func TestAgainstGoServer(t *testing.T) {
	p256, p384, r, ed := testKey(t, "p256"), testKey(t, "p384"), testKey(t, "rsa"), testKey(t, "ed25519")
	t12, t13 := uint16(tls.VersionTLS12), uint16(tls.VersionTLS13)
	srv := func(key, signer crypto.Signer, minV, maxV uint16) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{testCert(t, key, signer)}, MinVersion: minV, MaxVersion: maxV}
	}
	with := func(c *tls.Config, f func(*tls.Config)) *tls.Config { f(c); return c }
	tests := []struct {
		name    string
		srv     *tls.Config
		cfg     Config
		version uint16
		suite   uint16
		proof   uint16
		retry   bool
		certReq bool
		group   uint16
		err     error // kind of fault
	}{
		{"tls13 ecdsa", srv(p256, p256, t13, t13), Config{}, 0x0304, 0x1301, sigECDSAP256, false, false, groupX25519, nil},
		{"tls13 aes256", srv(p256, p256, t13, t13), Config{Suites: []uint16{0x1302}}, 0x0304, 0x1302, sigECDSAP256, false, false, groupX25519, nil},
		{"tls13 chacha20", srv(p256, p256, t13, t13), Config{Suites: []uint16{0x1303}}, 0x0304, 0x1303, sigECDSAP256, false, false, groupX25519, nil},
		{"tls13 rsa pss", srv(r, r, t13, t13), Config{}, 0x0304, 0x1301, sigPSSRSAESHA256, false, false, groupX25519, nil},
		{"tls13 ed25519", srv(ed, ed, t13, t13), Config{}, 0x0304, 0x1301, sigEd25519, false, false, groupX25519, nil},
		{"tls13 p384", srv(p384, p384, t13, t13), Config{}, 0x0304, 0x1301, sigECDSAP384, false, false, groupX25519, nil},
		{"tls13 p256 only", with(srv(p256, p256, t13, t13), func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} }),
			Config{}, 0x0304, 0x1301, sigECDSAP256, false, false, groupP256, nil},
		{"tls13 p256 only, x25519 share: hello retry", with(srv(p256, p256, t13, t13), func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} }),
			Config{Shares: []uint16{groupX25519}}, 0x0304, 0x1301, sigECDSAP256, true, false, groupP256, nil},
		{"tls13 hello retry", with(srv(p256, p256, t13, t13), func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }),
			Config{}, 0x0304, 0x1301, sigECDSAP256, true, false, groupP384, nil},
		{"tls13 hello retry p521 chacha", with(srv(p256, p256, t13, t13), func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP521} }),
			Config{Suites: []uint16{0x1303}}, 0x0304, 0x1303, sigECDSAP256, true, false, groupP521, nil},
		{"tls13 client cert", with(srv(p256, p256, t13, t13), func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert }),
			Config{}, 0x0304, 0x1301, sigECDSAP256, false, true, groupX25519, nil},
		{"tls13 key mismatch ecdsa", srv(p256, testKey(t, "p256-other"), t13, t13), Config{}, 0x0304, 0x1301, 0, false, false, groupX25519, ErrKeyMismatch},
		{"tls13 key mismatch rsa", srv(r, testKey(t, "rsa-other"), t13, t13), Config{}, 0x0304, 0x1301, 0, false, false, groupX25519, ErrKeyMismatch},
		{"tls13 key of another kind", srv(p256, r, t13, t13), Config{}, 0x0304, 0x1301, 0, false, false, groupX25519, ErrKeyMismatch},

		{"tls12 ecdhe ecdsa", srv(p256, p256, t12, t12), Config{}, 0x0303, 0xc02b, sigECDSAP256, false, false, groupX25519, nil},
		{"tls12 ecdhe rsa", srv(r, r, t12, t12), Config{}, 0x0303, 0xc02f, sigPSSRSAESHA256, false, false, groupX25519, nil},
		{"tls12 ecdhe rsa aes256", srv(r, r, t12, t12), Config{Suites: []uint16{0xc030}}, 0x0303, 0xc030, sigPSSRSAESHA256, false, false, groupX25519, nil},
		{"tls12 ed25519", srv(ed, ed, t12, t12), Config{}, 0x0303, 0xc02b, sigEd25519, false, false, groupX25519, nil},
		{"tls12 rsa key exchange", with(srv(r, r, t12, t12), func(c *tls.Config) { c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256} }),
			Config{}, 0x0303, 0x009c, 0, false, false, 0, nil},
		{"tls12 rsa key exchange hides a mismatch", with(srv(r, testKey(t, "rsa-other"), t12, t12), func(c *tls.Config) { c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256} }),
			Config{}, 0x0303, 0x009c, 0, false, false, 0, nil},
		{"tls12 client cert", with(srv(p256, p256, t12, t12), func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert }),
			Config{}, 0x0303, 0xc02b, sigECDSAP256, false, true, groupX25519, nil},
		{"tls12 key mismatch", srv(p256, testKey(t, "p256-other"), t12, t12), Config{}, 0x0303, 0xc02b, 0, false, false, groupX25519, ErrKeyMismatch},
		{"tls12 key mismatch rsa", srv(r, testKey(t, "rsa-other"), t12, t12), Config{}, 0x0303, 0xc02f, 0, false, false, groupX25519, ErrKeyMismatch},
		{"tls11 rsa md5sha1", srv(r, r, tls.VersionTLS11, tls.VersionTLS11), Config{}, 0x0302, 0xc013, sigLegacyMD5SHA1, false, false, groupX25519, nil},
		{"tls10 ecdsa sha1", srv(p256, p256, tls.VersionTLS10, tls.VersionTLS10), Config{}, 0x0301, 0xc009, sigLegacyECDSASHA, false, false, groupX25519, nil},
		{"tls11 key mismatch", srv(r, testKey(t, "rsa-other"), tls.VersionTLS11, tls.VersionTLS11), Config{}, 0x0302, 0xc013, 0, false, false, groupX25519, ErrKeyMismatch},
		{"max version 1.2 to a 1.3 server", srv(p256, p256, t12, t13), Config{MaxVersion: 0x0303}, 0x0303, 0xc02b, sigECDSAP256, false, false, groupX25519, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, done := serve(t, tt.srv)
			c, _, err := hello(t, addr, tt.cfg, CloseNotify)
			r := c.Result()
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v (%s)", err, tt.err, r.FlightText())
				}
				<-done
				return
			}
			if err != nil {
				t.Fatalf("Hello: %v (%s)", err, r.FlightText())
			}
			if r.Version != tt.version || r.Suite != tt.suite || r.Proof != tt.proof || r.Retry != tt.retry || r.CertRequested != tt.certReq || r.Group != tt.group || !r.Done {
				t.Errorf("got %s %s proof %s retry %v certreq %v group %s done %v", VersionName(r.Version), SuiteName(r.Suite),
					SchemeName(r.Proof), r.Retry, r.CertRequested, GroupName(r.Group), r.Done)
			}
			if r.Cert == nil || r.Cert.Subject.CommonName != "hello.test" || r.Chain != 1 {
				t.Errorf("certificate %v, chain %d", r.Cert, r.Chain)
			}
			// The server read our close_notify: no bad record MAC, no
			// decryption failure on its side.
			if serr := <-done; serr == nil || strings.Contains(serr.Error(), "bad record MAC") || strings.Contains(serr.Error(), "decrypt") {
				t.Errorf("server: %v", serr)
			}
		})
	}
}

// TestEndings: what the Go server's handshake sees for each ending: the
// alert we meant, intact (so our record protection is right), or a
// completed handshake.
func TestEndings(t *testing.T) {
	p256 := testKey(t, "p256")
	tests := []struct {
		name   string
		auth   tls.ClientAuthType
		max    uint16
		suites []uint16
		e      Ending
		server string // in the server's error; "" for none (a completed handshake then EOF)
	}{
		{"tls13 fatal alert", tls.NoClientCert, 0, nil, FatalAlert, "remote error: tls: bad certificate"},
		{"tls13 close notify", tls.NoClientCert, 0, nil, CloseNotify, "EOF"},
		{"tls13 close notify chacha", tls.NoClientCert, 0, []uint16{0x1303}, CloseNotify, "EOF"},
		{"tls13 user canceled", tls.NoClientCert, 0, nil, UserCanceled, "EOF"},
		{"tls13 finish", tls.NoClientCert, 0, nil, Finish, "EOF"},
		{"tls13 finish chacha", tls.NoClientCert, 0, []uint16{0x1303}, Finish, "EOF"},
		{"tls13 finish client cert", tls.RequestClientCert, 0, nil, Finish, "EOF"},
		{"tls13 finish client cert required", tls.RequireAnyClientCert, 0, nil, Finish, "client didn't provide a certificate"},
		// A plaintext alert where a protected record is due: the server
		// logs "bad record MAC" (why the probe never did this).
		{"tls13 plain close notify", tls.NoClientCert, 0, nil, PlainCloseNotify, "bad record MAC"},
		{"tls13 tcp close", tls.NoClientCert, 0, nil, TCPClose, "EOF"},
		{"tls13 tcp reset", tls.NoClientCert, 0, nil, TCPReset, "reset"},
		{"tls12 fatal alert", tls.NoClientCert, 0x0303, nil, FatalAlert, "remote error: tls: handshake failure"},
		{"tls12 close notify", tls.NoClientCert, 0x0303, nil, CloseNotify, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, done := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t, p256, p256)}, ClientAuth: tt.auth})
			_, _, err := hello(t, addr, Config{MaxVersion: tt.max, Suites: tt.suites}, tt.e)
			if err != nil {
				t.Fatal(err)
			}
			serr := <-done
			if serr == nil || !strings.Contains(serr.Error(), tt.server) {
				t.Errorf("server: %v, want %q in it", serr, tt.server)
			}
		})
	}
}
