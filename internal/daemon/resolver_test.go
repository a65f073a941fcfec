package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// funcResolver answers lookups with a function.
type funcResolver func(ctx context.Context, host string) ([]netip.Addr, error)

func (f funcResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	return f(ctx, host)
}

// TestResolverFailure: a resolver that gives no answer about a name is
// could-not-check (refused: 500 or 504 on HTTP, no line on the agent),
// never a verdict of down; NXDOMAIN is an answer, and stays CRITICAL.
// The errors are those Go's resolver returns.
func TestResolverFailure(t *testing.T) {
	g := newGate()
	close(g.release)
	useResolverFunc(t, func(ctx context.Context, host string) ([]netip.Addr, error) {
		name, _, _ := strings.Cut(host, ".")
		switch name {
		case "ok":
			return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil
		case "nxdomain":
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		case "servfail":
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, Server: "127.0.0.53:53", IsTemporary: true}
		case "refused":
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, Server: "127.0.0.53:53"}
		case "unreachable": // no resolver configured: Go asks 127.0.0.1:53
			return nil, &net.DNSError{Err: "read udp 127.0.0.1:40000->127.0.0.1:53: read: connection refused", Name: host, Server: "127.0.0.1:53"}
		case "timeout":
			return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
		case "silent": // no answer until the probe's deadline
			<-ctx.Done()
			return nil, &net.DNSError{Err: ctx.Err().Error(), Name: host, IsTimeout: true}
		}
		return nil, errors.New("unexpected name " + host)
	})
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), NewMetrics(func() float64 { return 0 }))
	tests := []struct {
		name   string
		target string
		module string
		reason Reason // "" for a verdict
		state  exitcode.State
		status int // HTTP's answer to the refusal
	}{
		{"resolves", "ok.example:80", "m", "", exitcode.OK, 0},
		{"NXDOMAIN stays down", "nxdomain.example:80", "m", "", exitcode.Critical, 0},
		{"SERVFAIL", "servfail.example:80", "m", ResolverFailed, 0, 500},
		{"REFUSED", "refused.example:80", "m", ResolverFailed, 0, 500},
		{"no resolver reachable", "unreachable.example:80", "m", ResolverFailed, 0, 500},
		{"resolver timed out", "timeout.example:80", "m", ResolverTimeout, 0, 504},
		{"no answer within the deadline", "silent.example:80", "short", ResolverTimeout, 0, 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Check(context.Background(), Request{Module: tt.module, Target: tt.target})
			var r *Refused
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.reason == "":
				if res.State != tt.state {
					t.Errorf("verdict %v %q, want %v", res.State, res.Summary, tt.state)
				}
			case !errors.As(err, &r) || r.Reason != tt.reason:
				t.Fatalf("got %v %q %v, want refused: %s", res.State, res.Summary, err, tt.reason)
			default:
				if got := HTTPStatus(err, 504); got != tt.status {
					t.Errorf("HTTP status %d, want %d", got, tt.status)
				}
				if !strings.Contains(err.Error(), tt.target[:strings.Index(tt.target, ":")]) {
					t.Errorf("refusal %q does not name the name", err)
				}
			}
		})
	}
}

func useResolverFunc(t *testing.T, f funcResolver) {
	old := defaultResolver
	defaultResolver = f
	t.Cleanup(func() { defaultResolver = old })
}
