package halfopen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// A multicast target is refused by the single probe and by the Mux alike,
// before any socket: connect(2) would refuse it too.
func TestMulticastTarget(t *testing.T) {
	m := testMux(t)
	for _, tc := range []struct{ name, addr string }{
		{"IPv4 group", "239.1.2.3"},
		{"IPv4 all hosts", "224.0.0.1"},
		{"IPv6 all nodes, site", "ff05::1"},
		{"IPv4 group, mapped", "::ffff:239.1.2.3"},
	} {
		addr := netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 80)
		tg := probe.Target{Host: tc.addr, Addr: addr, Log: probe.NewLog(0)}
		for _, p := range []struct {
			name  string
			probe func(context.Context, probe.Target) probe.Result
		}{{"Prober", (&Prober{}).Probe}, {"Mux", m.Probe}} {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				r := p.probe(ctx, tg)
				if r.State != exitcode.Unknown || !errors.Is(r.Err, sockopt.ErrSetup) || !strings.Contains(r.Summary, "is a multicast address") {
					t.Errorf("%s: %s (%v)", exitcode.State(r.State), r.Summary, r.Err)
				}
			})
		}
	}
	for _, a := range []string{"127.0.0.1", "::1", "0.0.0.0", "192.0.2.255"} {
		if err := unicast(netip.MustParseAddr(a)); err != nil {
			t.Errorf("unicast(%s): %v", a, err)
		}
	}
}

// A --bind address no SYN can come from is could-not-check (UNKNOWN),
// before any packet, in the single probe and the Mux alike: a raw socket
// binds to it, the kernel sends nothing, and the verdict was a "filtered"
// CRITICAL.
func TestSourceNoSYNComesFrom(t *testing.T) {
	m := testMux(t)
	for _, tc := range []struct{ name, bind, target string }{
		{"IPv4 multicast", "224.0.0.1", "127.0.0.1"},
		{"IPv4 limited broadcast", "255.255.255.255", "127.0.0.1"},
		{"IPv4 unspecified", "0.0.0.0", "127.0.0.1"},
		{"IPv6 multicast", "ff05::1", "::1"},
		{"IPv6 unspecified", "::", "::1"},
	} {
		addr := netip.AddrPortFrom(netip.MustParseAddr(tc.target), 80)
		tg := probe.Target{Host: tc.target, Addr: addr, Log: probe.NewLog(0)}
		tg.Socket.Bind = netip.MustParseAddr(tc.bind)
		for _, p := range []struct {
			name  string
			probe func(context.Context, probe.Target) probe.Result
		}{{"Prober", (&Prober{}).Probe}, {"Mux", m.Probe}} {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				r := p.probe(ctx, tg)
				if r.State != exitcode.Unknown || !errors.Is(r.Err, sockopt.ErrSetup) || !strings.Contains(r.Summary, "not an address a SYN can come from") {
					t.Errorf("%s: %s (%v)", exitcode.State(r.State), r.Summary, r.Err)
				}
			})
		}
	}
	for _, a := range []string{"127.0.0.1", "::1", "192.0.2.255"} {
		if err := source(netip.MustParseAddr(a)); err != nil {
			t.Errorf("source(%s): %v", a, err)
		}
	}
}
