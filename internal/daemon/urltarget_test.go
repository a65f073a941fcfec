package daemon

import (
	"errors"
	"slices"
	"testing"
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
