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
