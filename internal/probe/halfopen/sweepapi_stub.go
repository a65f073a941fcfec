// Stub of the sweep API until h9-sweep lands; the coordinator deletes this file at merge.

package halfopen

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// PortRange is the contiguous range of source ports the Mux reserves.
type PortRange struct{ First, Last uint16 }

// DefaultPorts is the range the Mux reserves when none is configured.
var DefaultPorts = PortRange{61000, 61255}

// ParsePortRange reads "FIRST-LAST".
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return PortRange{}, fmt.Errorf("%q: want FIRST-LAST, e.g. 61000-61255", s)
	}
	first, err1 := strconv.ParseUint(a, 10, 16)
	last, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || first == 0 || last < first {
		return PortRange{}, fmt.Errorf("%q: want FIRST-LAST, 1 to 65535, FIRST no more than LAST", s)
	}
	return PortRange{uint16(first), uint16(last)}, nil
}

// Len is how many ports the range holds.
func (r PortRange) Len() int { return int(r.Last) - int(r.First) + 1 }

func (r PortRange) String() string {
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// OpenMuxPorts opens the Mux with a range (zero: the default).
func OpenMuxPorts(r PortRange) (*Mux, error) { return OpenMux() }

// Ports is the range the Mux reserved.
func (m *Mux) Ports() PortRange { return DefaultPorts }

// SweepTarget is one watched target kept by the Mux between sweeps.
type SweepTarget struct {
	Addr    netip.AddrPort
	Socket  sockopt.Options
	Timeout time.Duration
	Done    func(t *SweepTarget, r probe.Result, sent time.Time)
	Owner   any
}

// ErrSendFailed is a probe whose SYN could not be sent.
var ErrSendFailed = errors.New("SYN not sent")

// Register keeps t for sweeps.
func (m *Mux) Register(t *SweepTarget) error { return errors.New("sweeps not built yet") }

// Unregister forgets t.
func (m *Mux) Unregister(t *SweepTarget) {}

// Sweep sends one probe to each target.
func (m *Mux) Sweep(ts []*SweepTarget) {}

// BatchHistogram is packets per sendmmsg(2) or recvmmsg(2) call.
type BatchHistogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    uint64
}
