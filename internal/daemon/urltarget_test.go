package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe/httpstatus"
)

func TestURLTarget(t *testing.T) {
	tests := []struct {
		name, target string
		want         string   // req.Target after
		opts         []string // req.Options after
		err          bool
	}{
		{"not a URL: left alone", "192.0.2.5:8080", "192.0.2.5:8080", nil, false},
		{"https with port, path and query", "https://www.example.org:8443/health?x=1&y=%20", "www.example.org:8443",
			[]string{"--tls=true", "--path", "/health?x=1&y=%20", "--vhost", "www.example.org:8443"}, false},
		{"http, default port, no path", "http://192.0.2.5", "192.0.2.5:80", []string{"--tls=false", "--path", "/", "--vhost", "192.0.2.5"}, false},
		{"https default port", "HTTPS://example.org/", "example.org:443", []string{"--tls=true", "--path", "/", "--vhost", "example.org"}, false},
		{"IPv6 literal", "http://[2001:db8::1]:8080/a%2Fb", "[2001:db8::1]:8080", []string{"--tls=false", "--path", "/a%2Fb", "--vhost", "[2001:db8::1]:8080"}, false},
		{"fragment dropped", "http://example.org/x#frag", "example.org:80", []string{"--tls=false", "--path", "/x", "--vhost", "example.org"}, false},
		{"bad scheme", "ftp://example.org/", "", nil, true},
		{"no host", "http:///health", "", nil, true},
		{"credentials", "http://user:pw@example.org/", "", nil, true},
		{"unclosed bracket", "http://[::1/", "", nil, true},
		{"bad port", "http://example.org:http/", "", nil, true},
		{"control byte", "http://example.org/\x7f", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Module: "m", Target: tt.target}
			err := URLTarget(&req)
			if tt.err {
				var r *Refused
				if !errors.As(err, &r) || r.Reason != BadTarget {
					t.Fatalf("URLTarget(%q) = %v, want a bad_target refusal", tt.target, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Target != tt.want || !slices.Equal(req.Options, tt.opts) {
				t.Errorf("URLTarget(%q): target %q, options %q; want %q, %q", tt.target, req.Target, req.Options, tt.want, tt.opts)
			}
		})
	}
}

func FuzzURLTarget(f *testing.F) {
	for _, s := range []string{"https://h:8443/p?q", "http://[::1]:80/", "http://", "x://y", "http://a@b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req := Request{Target: s}
		if err := URLTarget(&req); err != nil {
			return
		}
		if len(req.Options) > 0 && (len(req.Options) != 5 || req.Options[2] == "" || req.Options[2][0] != '/') {
			t.Errorf("URLTarget(%q): options %q", s, req.Options)
		}
	})
}

// TestURLTargetParsesOncePerScheme: a module's command is parsed (its
// --ca-file read, its CA pool built) at most once however many URLs ask
// for it; each URL's path and host go on a copy of the options,
// checked as --path and --vhost are, and the shared options stay the
// module's.
func TestURLTargetParsesOncePerScheme(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, testCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, registry(), "allow: [127.0.0.0/8]\nmodules:\n  m: [check_http_status, --tls, --ca-file, "+caFile+", -u, /own]\n")
	parse := cfg.parse
	var parsed int
	cfg.parse = func(argv []string) (*check.Command, error) { parsed++; return parse(argv) }
	mod := cfg.Modules["m"]
	for i := range 1000 {
		path := "/?" + strconv.Itoa(i)
		m, _, err := cfg.with(mod, []string{"--tls=true", "--path", path, "--vhost", "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		if o := m.Cmd.Options.(*httpstatus.Options); o.Path != path || o.VHost != "localhost" {
			t.Fatalf("URL %d: path %q, vhost %q", i, o.Path, o.VHost)
		}
	}
	if parsed != 1 {
		t.Errorf("1000 https URLs parsed the module %d times, want once", parsed)
	}
	if s := mod.derived.https; s == nil {
		t.Error("no https command kept")
	} else if o := s.Cmd.Options.(*httpstatus.Options); o.Path != "/own" || o.VHost != "" {
		t.Errorf("the shared https command's options changed: path %q, vhost %q", o.Path, o.VHost)
	}
	allocs := testing.AllocsPerRun(100, func() {
		cfg.with(mod, []string{"--tls=true", "--path", "/x", "--vhost", "localhost"})
	})
	if allocs > 20 {
		t.Errorf("a URL target costs %.0f allocations, want a copy of the options (at most 20)", allocs)
	}

	for _, tt := range []struct{ name, path, vhost string }{
		{"space in the path", "/a b", "localhost"},
		{"CR LF in the path", "/a\r\nX: y", "localhost"},
		{"NUL in the host", "/", "local\x00host"},
		{"LF in the host", "/", "localhost\nX: y"},
		{"relative path", "a", "localhost"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cfg.with(mod, []string{"--tls=true", "--path", tt.path, "--vhost", tt.vhost})
			var r *Refused
			if !errors.As(err, &r) || r.Reason != BadTarget || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("with(%q, %q) = %v, want a one-line bad_target refusal", tt.path, tt.vhost, err)
			}
		})
	}
}

// testCA is a self-signed CA certificate, PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestURLTargetHTTPOnTLSModule: an http URL for a module with TLS options
// (--verify, --ca-file) probes without TLS, the options unused, as
// blackbox ignores tls_config for an http target; an https URL still
// gets them.
func TestURLTargetHTTPOnTLSModule(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, testCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, registry(), "allow: [127.0.0.0/8]\nmodules:\n"+
		"  cafile: [check_http_status, --tls, --ca-file, "+caFile+"]\n"+
		"  verify: [check_http_status, --tls, --verify]\n"+
		"  plain: [check_http_status]\n")
	for _, tt := range []struct {
		module string
		tls    bool
	}{
		{"cafile", false}, {"verify", false}, {"plain", false},
		{"cafile", true}, {"verify", true}, {"plain", true},
	} {
		t.Run(tt.module+" "+strconv.FormatBool(tt.tls), func(t *testing.T) {
			m, _, err := cfg.with(cfg.Modules[tt.module], []string{"--tls=" + strconv.FormatBool(tt.tls), "--path", "/", "--vhost", "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			o := m.Cmd.Options.(*httpstatus.Options)
			if want := map[bool]uint16{false: 80, true: 443}[tt.tls]; o.TLS != tt.tls || o.DefaultPort() != want {
				t.Errorf("TLS %t, default port %d; want %t, %d", o.TLS, o.DefaultPort(), tt.tls, want)
			}
		})
	}
}

// FuzzURLTargetOptions: any path and host a URL may carry are refused in
// one line or set on the copy as given, and what is set can go on a
// request line and into a Host header.
func FuzzURLTargetOptions(f *testing.F) {
	for _, s := range [][2]string{{"/", "localhost"}, {"/a?b=c", "[::1]:80"}, {"/a b", "h"}, {"/", "h\r\nX: y"}, {"x", ""}} {
		f.Add(s[0], s[1])
	}
	cfg, err := Parse([]byte("allow: [127.0.0.0/8]\nmodules:\n  m: [check_http_status]\n"), registry())
	if err != nil {
		f.Fatal(err)
	}
	mod := cfg.Modules["m"]
	f.Fuzz(func(t *testing.T, path, host string) {
		m, _, err := cfg.with(mod, []string{"--tls=false", "--path", path, "--vhost", host})
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("refusal of more than one line: %q", err)
			}
			return
		}
		o := m.Cmd.Options.(*httpstatus.Options)
		if o.Path != path || o.VHost != host || strings.ContainsAny(path+host, " \r\n\x00") {
			t.Errorf("with(%q, %q): path %q, vhost %q", path, host, o.Path, o.VHost)
		}
	})
}
