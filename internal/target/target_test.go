package target

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
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
		// lo exists in every network namespace, as index 1.
		{"zone", "", "", []string{"fe80::1%lo", "80"}, "fe80::1%lo", 80, true},
		{"zone as index", "", "", []string{"fe80::1%1", "80"}, "fe80::1%1", 80, true},
		{"bracketed zone with port", "", "", []string{"[fe80::1%lo]:80"}, "fe80::1%lo", 80, true},
		{"mapped v4 is v4", "", "", []string{"::ffff:10.1.2.3"}, "10.1.2.3", 0, true},
		{"nagios -H -p", "10.0.0.5", "25", nil, "10.0.0.5", 25, true},
		{"nagios -H only", "mail.example.org", "", nil, "mail.example.org", 0, false},
		{"host arg with -p", "", "8443", []string{"10.0.0.5"}, "10.0.0.5", 8443, true},
		{"haproxy backend", "", "", []string{"NOT_USED", "NOT_USED", "10.0.0.7", "8080"}, "10.0.0.7", 8080, true},
		{"haproxy ipv6", "", "", []string{"::", "80", "2001:db8::7", "8080"}, "2001:db8::7", 8080, true},
		{"haproxy no server port", "", "", []string{"NOT_USED", "NOT_USED", "10.0.0.7", ""}, "10.0.0.7", 0, true},
		{"haproxy unix listener", "", "", []string{"/run/haproxy.sock", "NOT_USED", "10.0.0.7", "80"}, "10.0.0.7", 80, true},
		// A name's last label is never all digits (RFC 3696 2), but any other may be.
		{"digits in labels", "", "", []string{"1.2.3.4.example.org"}, "1.2.3.4.example.org", 0, false},
		{"name starting with a digit", "", "", []string{"1e100.net"}, "1e100.net", 0, false},
		{"hex-looking label in a name", "", "", []string{"0x7f.example"}, "0x7f.example", 0, false},
		{"last label alphanumeric", "", "", []string{"host.a1"}, "host.a1", 0, false},
		{"single label", "", "", []string{"db1"}, "db1", 0, false},
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
		// HAProxy's placeholder is never a host (as PROXY_ADDR it is fine).
		{"NOT_USED", "", "", []string{"NOT_USED"}},
		{"NOT_USED with port", "", "", []string{"NOT_USED", "80"}},
		{"NOT_USED as -H", "NOT_USED", "80", nil},
		{"NOT_USED as server", "", "", []string{"NOT_USED", "NOT_USED", "NOT_USED", "80"}},
		{"NOT_USED any case, dot", "", "", []string{"not_used.", "80"}},
		// All-numeric dotted HOSTs that are not addresses: never names.
		{"octet too big", "", "", []string{"10.0.0.256"}},
		{"five octets", "", "", []string{"1.2.3.4.5"}},
		{"three octets", "", "", []string{"1.2.3"}},
		{"two octets", "", "", []string{"127.1"}},
		{"one number", "", "", []string{"2130706433", "80"}},
		{"leading zero", "", "", []string{"010.1.1.1"}},
		{"hex octet", "", "", []string{"0x7f.1"}},
		{"hex number", "", "", []string{"0x7f000001"}},
		{"octet too big with port", "", "", []string{"10.0.0.256:80"}},
		{"trailing dot three octets", "", "", []string{"1.2.3."}},
		{"name with numeric last label", "", "", []string{"host.123"}},
		// IPv6 zones: an interface that exists, by name or index.
		{"unknown zone", "", "", []string{"fe80::1%nosuch0", "80"}},
		{"zone index zero", "", "", []string{"fe80::1%0", "80"}},
		{"zone index absent", "", "", []string{"fe80::1%2147483647", "80"}},
		{"zone with tab and bar", "", "", []string{"fe80::1%a\tb|c", "80"}},
		{"zone with escape", "", "", []string{"fe80::1%\x1b[31m", "80"}},
		{"global address unknown zone", "", "", []string{"[2001:db8::1%nosuch0]:80"}},
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
			if !oneLine(err.Error()) {
				t.Errorf("error %q is not safe for a Nagios line", err)
			}
		})
	}
}

// oneLine: printable ASCII without '|', as the first line needs.
func oneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == '|' {
			return false
		}
	}
	return true
}

// TestArgvQuoted: whatever of argv an error repeats is escaped and bounded.
func TestArgvQuoted(t *testing.T) {
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name       string
		host, port string
		args       []string
		want       string
	}{
		{"zone", "", "", []string{"fe80::1%a\tb|c"}, `"a\tb\x7cc"`},
		{"zone escape", "", "", []string{"fe80::1%\x1b[31m"}, `"\x1b[31m"`},
		{"host", "", "", []string{"a\x1bb\xff"}, `"a\x1bb\xff"`},
		{"host utf-8", "", "", []string{"hé.example"}, `"h\u00e9.example"`},
		{"port", "", "", []string{"h", "8\t0"}, `"8\t0"`},
		{"host twice", "h", "", []string{"\x1b"}, `"\x1b"`},
		{"port twice", "", "1", []string{"h", "2|"}, `"2\x7c"`},
		{"long host", "", "", []string{long}, `"` + long[:64] + `"...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromArgs(tt.host, tt.port, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !oneLine(err.Error()) || len(err.Error()) > 200 {
				t.Errorf("error %q, want it to quote %s", err, tt.want)
			}
		})
	}
}

// fakeInterfaces knows interfaces by name and index, as the kernel would.
type fakeInterfaces map[string]int

func (f fakeInterfaces) zone(z string) (string, int, bool) {
	if i, ok := f[z]; ok {
		return z, i, true
	}
	for name, i := range f {
		if z == strconv.Itoa(i) {
			return name, i, true
		}
	}
	return "", 0, false
}

// TestZone: a zone names an interface that exists; a name that could not
// be printed or dialled as written (Linux allows almost any byte in one)
// is replaced by the interface's index.
func TestZone(t *testing.T) {
	ifs := fakeInterfaces{"eth0": 2, "br-lan.100": 3, "we\x1bird|[x]": 7}
	tests := []struct {
		name, host, want string
	}{
		{"name", "fe80::1%eth0", "fe80::1%eth0"},
		{"index", "fe80::1%2", "fe80::1%2"},
		{"vlan name", "fe80::1%br-lan.100", "fe80::1%br-lan.100"},
		{"unprintable name becomes its index", "fe80::1%we\x1bird|[x]", "fe80::1%7"},
		{"unknown", "fe80::1%eth1", ""},
		{"unknown index", "fe80::1%9", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHost(tt.host, ifs.zone)
			if tt.want == "" {
				if !errors.Is(err, ErrUsage) {
					t.Errorf("got %+v, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil || got.Host != tt.want || got.IP.String() != tt.want {
				t.Errorf("got %+v, %v; want %s", got, err, tt.want)
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
	for _, s := range []string{"10.0.0.1", "[::1]:80", "a.b:1", "::1", "fe80::1%lo", "x..y", "[", "]:", "h:65536",
		"NOT_USED", "10.0.0.256", "1.2.3.4.5", "010.1.1.1", "0x7f.1", "fe80::1%1", "fe80::1%a\tb|c", "[fe80::1%\x1b[31m]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := FromArgs("", "", []string{s})
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("FromArgs(%q) error %v does not wrap ErrUsage", s, err)
			}
			if !oneLine(err.Error()) || len(err.Error()) > 200 {
				t.Fatalf("FromArgs(%q) error %q is not one short clean line", s, err)
			}
			return
		}
		// What reaches the probes (and their lines) is clean, and a name
		// is never HAProxy's placeholder nor all-numeric at its end.
		if !oneLine(spec.Host) {
			t.Fatalf("FromArgs(%q) accepted host %q", s, spec.Host)
		}
		if spec.IsName() {
			labels := strings.Split(spec.Host, ".")
			if strings.Trim(labels[len(labels)-1], "0123456789") == "" || strings.EqualFold(spec.Host, "NOT_USED") {
				t.Fatalf("FromArgs(%q) accepted %q as a name", s, spec.Host)
			}
		}
		// Whatever was accepted must read back the same way on its own.
		again, err := ParseHost(spec.Host)
		if err != nil || again.Host != spec.Host || again.IP != spec.IP {
			t.Fatalf("FromArgs(%q) = %+v, but ParseHost(%q) = %+v, %v", s, spec, spec.Host, again, err)
		}
	})
}
