package target

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestFromArgs(t *testing.T) {
	tests := []struct {
		name       string
		host, port string
		args       []string
		wantHost   string
		wantPort   uint16
		literal    bool
	}{
		{"host only", "", "", []string{"10.0.0.5"}, "10.0.0.5", 0, true},
		{"host port", "", "", []string{"10.0.0.5", "443"}, "10.0.0.5", 443, true},
		{"name port", "", "", []string{"www.example.org", "80"}, "www.example.org", 80, false},
		{"trailing dot", "", "", []string{"www.example.org."}, "www.example.org", 0, false},
		{"bare ipv6", "", "", []string{"2001:db8::5", "443"}, "2001:db8::5", 443, true},
		{"bracketed ipv6", "", "", []string{"[2001:db8::5]", "443"}, "2001:db8::5", 443, true},
		{"bracketed ipv6 with port", "", "", []string{"[::1]:8080"}, "::1", 8080, true},
		{"ipv4 with port", "", "", []string{"127.0.0.1:8080"}, "127.0.0.1", 8080, true},
		{"name with port", "", "", []string{"localhost:21"}, "localhost", 21, false},
		{"zone", "", "", []string{"fe80::1%eth0", "80"}, "fe80::1%eth0", 80, true},
		{"mapped v4 is v4", "", "", []string{"::ffff:10.1.2.3"}, "10.1.2.3", 0, true},
		{"nagios -H -p", "10.0.0.5", "25", nil, "10.0.0.5", 25, true},
		{"nagios -H only", "mail.example.org", "", nil, "mail.example.org", 0, false},
		{"host arg with -p", "", "8443", []string{"10.0.0.5"}, "10.0.0.5", 8443, true},
		{"haproxy backend", "", "", []string{"NOT_USED", "NOT_USED", "10.0.0.7", "8080"}, "10.0.0.7", 8080, true},
		{"haproxy ipv6", "", "", []string{"::", "80", "2001:db8::7", "8080"}, "2001:db8::7", 8080, true},
		{"haproxy no server port", "", "", []string{"NOT_USED", "NOT_USED", "10.0.0.7", ""}, "10.0.0.7", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromArgs(tt.host, tt.port, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != tt.wantHost || got.Port != tt.wantPort || got.IsName() == tt.literal {
				t.Errorf("got %+v, want host %q port %d literal %v", got, tt.wantHost, tt.wantPort, tt.literal)
			}
		})
	}
}

func TestFromArgsRejects(t *testing.T) {
	tests := []struct {
		name       string
		host, port string
		args       []string
	}{
		{"nothing", "", "", nil},
		{"three args", "", "", []string{"a", "b", "c"}},
		{"five args", "", "", []string{"a", "b", "c", "d", "e"}},
		{"host twice", "h1", "", []string{"h2"}},
		{"port twice", "", "80", []string{"h", "81"}},
		{"port twice inline", "", "80", []string{"h:81"}},
		{"port zero", "", "", []string{"h", "0"}},
		{"port too big", "", "", []string{"h", "65536"}},
		{"port negative", "", "", []string{"h", "-1"}},
		{"port plus", "", "", []string{"h", "+80"}},
		{"port word", "", "", []string{"h", "http"}},
		{"port after colon bad", "", "", []string{"h:x"}},
		{"space in name", "", "", []string{"a b"}},
		{"slash", "", "", []string{"http://host/"}},
		{"empty label", "", "", []string{"a..b"}},
		{"leading hyphen", "", "", []string{"-a.b"}},
		{"farmguardian literal", "", "", []string{"HOST:PORT"}},
		{"unclosed bracket", "", "", []string{"[::1"}},
		{"link-local without zone", "", "", []string{"fe80::1", "80"}},
		{"link-local bracketed without zone", "", "", []string{"[fe80::1]:80"}},
		{"long label", "", "", []string{"a234567890123456789012345678901234567890123456789012345678901234.b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromArgs(tt.host, tt.port, tt.args)
			if err == nil {
				t.Fatalf("accepted as %+v", got)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("%v does not wrap ErrUsage", err)
			}
		})
	}
}

type fakeResolver struct {
	addrs   []netip.Addr
	network string
	calls   int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, network, _ string) ([]netip.Addr, error) {
	f.calls++
	f.network = network
	return f.addrs, nil
}

func TestResolve(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	both := []netip.Addr{v6, v4}
	tests := []struct {
		name    string
		fam     Family
		want    netip.Addr
		network string
	}{
		{"any takes resolver order", Any, v6, "ip"},
		{"-4", IPv4, v4, "ip4"},
		{"-6", IPv6, v6, "ip6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeResolver{addrs: both}
			got, err := Spec{Host: "www.example.org"}.Resolve(context.Background(), r, tt.fam)
			if err != nil || got != tt.want || r.network != tt.network || r.calls != 1 {
				t.Errorf("got %v, %v via %q (%d calls); want %v via %q once", got, err, r.network, r.calls, tt.want, tt.network)
			}
		})
	}
}

func TestResolveLiteralMakesNoLookup(t *testing.T) {
	r := &fakeResolver{}
	s, _ := ParseHost("10.0.0.5")
	got, err := s.Resolve(context.Background(), r, Any)
	if err != nil || got.String() != "10.0.0.5" || r.calls != 0 {
		t.Errorf("got %v, %v after %d lookups", got, err, r.calls)
	}
	if _, err := s.Resolve(context.Background(), r, IPv6); !errors.Is(err, ErrUsage) {
		t.Errorf("-6 with an IPv4 literal: err = %v, want ErrUsage", err)
	}
}

func TestResolveLocalhost(t *testing.T) {
	// The real resolver, reading /etc/hosts only: no packet leaves.
	got, err := Spec{Host: "localhost"}.Resolve(context.Background(), nil, IPv4)
	if err != nil || !got.IsLoopback() {
		t.Errorf("localhost -4 = %v, %v", got, err)
	}
}

func FuzzFromArgs(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "[::1]:80", "a.b:1", "::1", "fe80::1%lo", "x..y", "[", "]:", "h:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := FromArgs("", "", []string{s})
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("FromArgs(%q) error %v does not wrap ErrUsage", s, err)
			}
			return
		}
		// Whatever was accepted must read back the same way on its own.
		again, err := ParseHost(spec.Host)
		if err != nil || again.Host != spec.Host || again.IP != spec.IP {
			t.Fatalf("FromArgs(%q) = %+v, but ParseHost(%q) = %+v, %v", s, spec, spec.Host, again, err)
		}
	})
}
