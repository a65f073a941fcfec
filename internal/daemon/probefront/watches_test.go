package probefront

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
)

// discard is a ResponseWriter that keeps nothing: what a scrape costs
// the daemon, without the test's copy of the body.
type discard struct{ httptest.ResponseRecorder }

func (discard) Write(p []byte) (int, error) { return io.Discard.Write(p) }

// BenchmarkWatchesScrape is one /watches scrape of 10,000 watches, in
// Prometheus' text format: see its B/op (the body is streamed).
func BenchmarkWatchesScrape(b *testing.B) {
	d := fakeDaemon(&testing.T{})
	defer d.Close()
	for h := 1; h <= 250; h++ {
		for p := 5; p < 45; p++ {
			if _, err := d.Check(context.Background(), daemon.Request{Module: "watched", Target: fmt.Sprintf("192.0.2.%d:%d", h, p)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	wh := WatchesHandler(d)
	req := httptest.NewRequest("GET", "/watches", nil)
	b.ReportAllocs()
	for b.Loop() {
		wh.ServeHTTP(&discard{*httptest.NewRecorder()}, req)
	}
}

// deadlines is a ResponseWriter that records the write deadlines set on
// it through http.ResponseController.
type deadlines struct {
	discard
	set []time.Time
}

func (d *deadlines) SetWriteDeadline(t time.Time) error { d.set = append(d.set, t); return nil }

// A /watches scrape may take longer to write the more watches there are:
// a fixed bound cut a busy daemon's 65,536-watch answers short.
func TestWatchesWriteDeadline(t *testing.T) {
	d := fakeDaemon(t)
	defer d.Close()
	for p := 1; p <= 300; p++ {
		if _, err := d.Check(context.Background(), daemon.Request{Module: "watched", Target: fmt.Sprintf("192.0.2.1:%d", p)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.WatchCount(); n < 300 {
		t.Fatalf("%d watches, want 300 or more", n)
	}
	for _, accept := range []string{"", "application/json"} {
		w := &deadlines{discard: discard{*httptest.NewRecorder()}}
		req := httptest.NewRequest("GET", "/watches", nil)
		req.Header.Set("Accept", accept)
		before := time.Now()
		WatchesHandler(d).ServeHTTP(w, req)
		if len(w.set) != 1 {
			t.Fatalf("Accept %q: %d write deadlines set, want 1", accept, len(w.set))
		}
		if want := before.Add(watchesWriteWait(d.WatchCount())); w.set[0].Before(want) {
			t.Errorf("Accept %q: write deadline %s after the scrape began, want %s or more", accept, w.set[0].Sub(before), want.Sub(before))
		}
	}
	for _, c := range []struct {
		watches int
		want    time.Duration
	}{{0, 2 * time.Second}, {10_000, 3 * time.Second}, {65_536, 8553600 * time.Microsecond}, {100_000, 12 * time.Second}} {
		if got := watchesWriteWait(c.watches); got != c.want {
			t.Errorf("watchesWriteWait(%d) = %s, want %s", c.watches, got, c.want)
		}
	}
}
