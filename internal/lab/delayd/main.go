// Command delayd is the lab's slow backend: an HTTP server whose every
// answer (200 "ok") comes after a delay set while it runs. This kernel has
// no netem, so a backend that turns slow between a module's -w and -c is
// made this way: the integration tests run it in lbc-srv and move its
// delay over HTTP from lbc-cli.
//
//	delayd -listen 10.99.0.2:9181 -delay 0
//	curl 'http://10.99.0.2:9181/_lab/delay?set=400ms'   # from now on, answers after 400 ms
//	curl 'http://10.99.0.2:9181/_lab/delay'             # the delay now
//
// It prints "ready ADDR" once listening, and serves until SIGTERM, SIGINT
// or its standard input closes (-stdin).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// maxDelay bounds what may be set: a delay longer than any check's
// deadline shows nothing more, and a typo must not park handlers for days.
const maxDelay = time.Minute

// errDelay is a delay that cannot be set.
var errDelay = errors.New("delay must be a Go duration from 0 to 1m")

// parseDelay reads a delay as the control path takes it.
func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxDelay {
		return 0, fmt.Errorf("%q: %w", s, errDelay)
	}
	return d, nil
}

// server answers after delay; its control path answers at once.
type server struct {
	delay  atomic.Int64 // time.Duration
	served atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_lab/delay" {
		if v := r.URL.Query().Get("set"); v != "" {
			d, err := parseDelay(v)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.delay.Store(int64(d))
		}
		fmt.Fprintf(w, "%s %d\n", time.Duration(s.delay.Load()), s.served.Load())
		return
	}
	// The delay as it is when the request arrives: a change applies to
	// the requests after it.
	t := time.NewTimer(time.Duration(s.delay.Load()))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	s.served.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "`ADDR:PORT` to serve on")
	delay := flag.String("delay", "0s", "the delay to start with (a Go duration)")
	stdin := flag.Bool("stdin", false, "also stop when standard input closes")
	flag.Parse()
	d, err := parseDelay(*delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayd: -delay", err)
		os.Exit(2)
	}
	s := &server{}
	s.delay.Store(int64(d))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayd:", err)
		os.Exit(1)
	}
	fmt.Printf("ready %s\n", ln.Addr())
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	done := make(chan struct{})
	if *stdin {
		go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-done:
	case <-sig:
	}
	srv.Close()
}
