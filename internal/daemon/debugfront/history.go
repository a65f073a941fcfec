package debugfront

import (
	"sync"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
)

// Bounds of what the history holds: its memory is at most about
// HistorySize × MaxTraceBytes, whatever the probes' peers send.
const (
	HistorySize   = 100
	MaxTraceBytes = 16 << 10
)

// Entry is one probe remembered.
type Entry struct {
	ID     uint64
	Time   time.Time // when it ended
	Target string    // as the request named it
	Port   string
	Traced bool // the probe ran with a trace (which may have no lines)
	Result daemon.Result
}

// History is a ring of the last probes the daemon ran.
type History struct {
	mu   sync.Mutex
	ring []Entry
	next uint64 // the ID the next entry gets; entries are next-len .. next-1
	size int
}

// NewHistory keeps the last size probes.
func NewHistory(size int) *History { return &History{ring: make([]Entry, size), size: size} }

// Add remembers a probe: the daemon's OnProbe.
func (h *History) Add(req daemon.Request, res daemon.Result) {
	res.Trace = clipTrace(res.Trace, MaxTraceBytes)
	if res.Target != nil && res.Target.Log != nil {
		// The target holds the probe's whole log, which clipTrace has
		// just bounded: keep the bound, not the log.
		t := *res.Target
		t.Log = nil
		res.Target = &t
	}
	h.mu.Lock()
	id := h.next
	h.ring[id%uint64(h.size)] = Entry{ID: id, Time: time.Now(), Target: req.Target, Port: req.Port, Traced: req.Trace > 0, Result: res}
	h.next++
	h.mu.Unlock()
}

// List is the entries held, newest first.
func (h *History) List() []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := min(h.next, uint64(h.size))
	out := make([]Entry, 0, n)
	for i := uint64(1); i <= n; i++ {
		out = append(out, h.ring[(h.next-i)%uint64(h.size)])
	}
	return out
}

// Get is the entry with that ID, if it is still held.
func (h *History) Get(id uint64) (Entry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id >= h.next || h.next-id > uint64(h.size) {
		return Entry{}, false
	}
	return h.ring[id%uint64(h.size)], true
}

// clipTrace keeps the first lines of a trace up to max bytes, and says
// what it left out.
func clipTrace(lines []string, max int) []string {
	total := 0
	for i, l := range lines {
		total += len(l) + 1
		if total > max {
			out := append([]string(nil), lines[:i]...)
			return append(out, "... (the trace's other lines are not kept)")
		}
	}
	return lines
}
