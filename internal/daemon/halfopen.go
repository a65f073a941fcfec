package daemon

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

// HalfOpen gives half-open modules their check: a Spec whose options are
// safe for concurrent probes. halfopen.Spec's are not (each keeps one raw
// socket, reopened per target and re-filtered per probe).
//
// The shared raw socket per address family (*halfopen.Mux, opened at
// start, before every capability is dropped) is one; PerProbeHalfOpen is
// the stop-gap until it lands.
type HalfOpen interface {
	Spec() check.Spec
}

// PerProbeHalfOpen is a STOP-GAP until the shared raw socket lands: each
// probe opens a raw socket of its own, as the binary does, so the daemon
// keeps CAP_NET_RAW for its whole life instead of dropping it at start,
// and pays a socket, a filter and a route lookup per probe.
type PerProbeHalfOpen struct{}

// Spec is check_tcp_half_open with a fresh Prober per probe.
func (PerProbeHalfOpen) Spec() check.Spec {
	s := halfopen.Spec
	s.New = func() check.Options { return perProbe{&halfopen.Options{}} }
	return s
}

type perProbe struct{ *halfopen.Options }

// Probe opens a raw socket for this probe alone; capabilities stay.
func (perProbe) Probe(ctx context.Context, t probe.Target) probe.Result {
	p := &halfopen.Prober{}
	defer p.Close()
	return p.Probe(ctx, t)
}
