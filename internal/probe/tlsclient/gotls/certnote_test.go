package gotls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// TestCertNoteOnlyWhenItIsTheCause: the note about a client certificate
// the server asked for is not put on errors it cannot explain: our own
// verification of the server's certificate failing (under TLS 1.3 the
// server's CertificateRequest comes before its certificate), nor a read
// after a TLS 1.2 handshake, whose end proves the server took what we
// sent (or did not send).
func TestCertNoteOnlyWhenItIsTheCause(t *testing.T) {
	serverCA := newCA(t, "server ca")
	serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serverCert := tls.Certificate{Certificate: [][]byte{serverCA.issue(t, "server", serverKey.Public(), net.IPv4(127, 0, 0, 1))}, PrivateKey: serverKey}

	tests := []struct {
		name    string
		version uint16
		verify  bool
		want    string // the summary starts "x: " and this
	}{
		{"TLS 1.3, our verification fails", tls.VersionTLS13, true, "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"TLS 1.2, our verification fails", tls.VersionTLS12, true, "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"TLS 1.2, server closes after the handshake", tls.VersionTLS12, false, "connection closed by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			// Asks for a certificate, takes none, and closes after the
			// handshake without a word.
			cfg := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequestClientCert, MinVersion: tt.version, MaxVersion: tt.version}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.SetDeadline(time.Now().Add(5 * time.Second))
						tls.Server(c, cfg).Handshake()
					}()
				}
			}()
			o := &tlsclient.Options{TLS: TLS{}}
			o.Flags(flags.NewFlagSet("x"), "--tls", true)
			o.Verify = tt.verify
			if err := o.Validate(true); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			target := probe.Target{Host: "127.0.0.1", Addr: netip.MustParseAddrPort(ln.Addr().String())}
			tc, _, err := o.Handshake(ctx, conn, target, "")
			if err == nil {
				_, err = tc.Read(make([]byte, 5))
			}
			if err == nil {
				t.Fatal("no error")
			}
			summary := probe.Fail("x", err).Summary
			if !strings.HasPrefix(summary, "x: "+tt.want) || strings.Contains(summary, tlsclient.CertNone) {
				t.Errorf("summary %q, want it to start %q", summary, "x: "+tt.want)
			}
		})
	}
}

// TestCertNoteKeepsOurOwnErrors: whatever the server asked, an error of
// our own making (our verification of its certificate, a cancelled run, a
// socket we could not set up) is returned as it is, for errors.As and
// errors.Is to see (a noted error does not unwrap); the server's refusal
// is noted.
func TestCertNoteKeepsOurOwnErrors(t *testing.T) {
	verify := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	name := Explain(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "192.0.2.1"}}, "--vhost")
	refused := &net.OpError{Op: "remote error", Err: alertForTest(42)}
	tests := []struct {
		name      string
		info      tlsclient.Info
		err       error
		unchanged bool
	}{
		{"verification, none sent", tlsclient.Info{CertRequested: true}, verify, true},
		{"verification, ours sent", tlsclient.Info{CertRequested: true, CertSent: true}, verify, true},
		{"a name error with its hint", tlsclient.Info{CertRequested: true}, name, true},
		{"bare x509 error", tlsclient.Info{CertRequested: true}, x509.UnknownAuthorityError{}, true},
		{"cancelled", tlsclient.Info{CertRequested: true}, fmt.Errorf("read: %w", context.Canceled), true},
		{"cancelled, ours sent", tlsclient.Info{CertRequested: true, CertSent: true}, context.Canceled, true},
		{"socket setup", tlsclient.Info{CertRequested: true}, fmt.Errorf("%w: setsockopt: operation not permitted", sockopt.ErrSetup), true},
		{"the server's alert, none sent", tlsclient.Info{CertRequested: true}, refused, false},
		{"the server's alert, ours sent", tlsclient.Info{CertRequested: true, CertSent: true}, refused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := certNote(tt.info, tt.err)
			if unchanged := got == tt.err; unchanged != tt.unchanged {
				t.Errorf("certNote(%v) = %v; unchanged %v, want %v", tt.err, got, unchanged, tt.unchanged)
			}
			for _, target := range []error{context.Canceled, sockopt.ErrSetup} {
				if errors.Is(tt.err, target) && !errors.Is(got, target) {
					t.Errorf("certNote(%v) = %v: errors.Is(_, %v) no longer holds", tt.err, got, target)
				}
			}
		})
	}
}

// alertForTest is an alert as crypto/tls returns one received: a uint8
// in a *net.OpError "remote error".
type alertForTest uint8

func (a alertForTest) Error() string { return "tls: alert" }
