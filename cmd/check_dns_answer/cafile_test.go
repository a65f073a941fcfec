package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCAFileNotRegular: --ca-file is read before the deadline starts, so
// anything but a regular file is a bad argument at once: a FIFO used to
// block the check for good, /dev/zero to grow it until Go died (issue 13,
// item 9; the shared code is tested on /dev/zero in check_http_status,
// under a memory limit).
func TestCAFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, file, kind string }{
		{"fifo", fifo, "a named pipe"},
		{"device", "/dev/null", "a character device"},
		{"directory", "/", "a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type verdict struct {
				code int
				out  string
			}
			done := make(chan verdict, 1)
			go func() {
				var out strings.Builder
				code := run(context.Background(), append([]string{"-t", "1", "--tls", "--ca-file", tt.file}, hp(theDNS.TLS)...), &out, io.Discard)
				done <- verdict{code, out.String()}
			}()
			var v verdict
			select {
			case v = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("no verdict after 10 s with -t 1")
			}
			want := "DNS UNKNOWN - bad argument: --ca-file " + tt.file + ": not a regular file but " + tt.kind
			if v.code != 3 || !strings.HasPrefix(v.out, want) || strings.Count(v.out, "\n") != 1 {
				t.Errorf("exit %d, output %q; want 3 and one line starting %q", v.code, v.out, want)
			}
		})
	}
}
