package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
)

// TestBodyNeverSent: connections the cap cannot shed, because they are
// being answered, must not hold the front. A client announcing a body it
// never sends gets its refusal and the connection is closed at once;
// before, net/http went on reading the body to keep the connection alive,
// the connection stayed busy, and past the cap every normal ask was
// refused.
func TestBodyNeverSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:0\nallow: [127.0.0.0/8]\nmax_in_flight: 1\nmodules:\n  m: [check_http_status]\n"), 0o644)
	r := startDaemon(t, "--config", path)
	defer r.stop(t)
	const flood = 2*1 + 64 + 16 // past the cap of max_in_flight 1
	for range flood {
		c, err := net.Dial("tcp", r.http)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /check?module=m&target=127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	}
	time.Sleep(200 * time.Millisecond) // every POST read and answered
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + r.http + "/metrics")
	if err != nil {
		t.Fatalf("a normal ask after %d POSTs that never send their body: %v after %v", flood, err, time.Since(start))
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a normal ask: %d", resp.StatusCode)
	}
}

// TestAnswerNeverRead: a client that asks and never reads holds its
// connection, busy, only writeWait past the answer's first byte.
func TestAnswerNeverRead(t *testing.T) {
	cfg, err := daemon.Parse([]byte("allow: [127.0.0.0/8]\nmodules:\n  m: [check_ftp_noop]\n"), checks.Registry{"check_ftp_noop": checks.FTPNoop()})
	if err != nil {
		t.Fatal(err)
	}
	d := daemon.New(context.Background(), cfg, nil)
	wrote := make(chan error, 1)
	big := bytes.Repeat([]byte("x"), 1<<20)
	srv := &http.Server{Handler: bounded(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 256 { // 256 MiB: far past any socket buffer
			if _, err := w.Write(big); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}), d)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-wrote:
		var ne net.Error
		if err == nil || !(errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "timeout")) {
			t.Errorf("the answer's write ended with %v, want a timeout", err)
		}
	case <-time.After(writeWait + 3*time.Second):
		t.Fatalf("the answer's write still blocked %v after it started", writeWait+3*time.Second)
	}
}
