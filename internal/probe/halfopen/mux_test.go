package halfopen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// TestNoMux: without its raw sockets (no CAP_NET_RAW at lbcheckd's start)
// a half-open probe is UNKNOWN and says what is missing.
func TestNoMux(t *testing.T) {
	var m *Mux
	r := m.Probe(context.Background(), probe.Target{Addr: netip.MustParseAddrPort("192.0.2.1:80")})
	if r.State != exitcode.Unknown || !errors.Is(r.Err, ErrNoPrivilege) || !strings.Contains(r.Summary, "CAP_NET_RAW") {
		t.Errorf("%v %q (%v); want UNKNOWN naming CAP_NET_RAW", r.State, r.Summary, r.Err)
	}
}
