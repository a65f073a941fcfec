package probefront

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

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
