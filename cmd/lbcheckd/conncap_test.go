package main

import (
	"bytes"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

// TestConnCap: each front's cap is 2 x max_in_flight + 64, lowered with a
// warning when the open-file limit cannot hold both fronts and the probes
// (accept would fail with EMFILE, and net/http then stops accepting for
// up to a second).
func TestConnCap(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	tests := []struct {
		name        string
		nofile      uint64
		maxInFlight int
		want        int
		warns       bool
	}{
		{"room for all", 4096, 256, 576, false},
		{"the default max_in_flight", 8192, 1024, 2112, false},
		{"just enough", 2*576 + 2*256 + 64, 256, 576, false},
		{"too tight", 1200, 256, 312, true},
		{"far too tight", 1024, 1024, 16, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := syscall.Rlimit{Cur: tt.nofile, Max: old.Max}
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			got := connCap(tt.maxInFlight, slog.New(slog.NewTextHandler(&log, nil)))
			if got != tt.want || strings.Contains(log.String(), "LimitNOFILE") != tt.warns {
				t.Errorf("cap %d, log %q; want %d, a warning: %v", got, log.String(), tt.want, tt.warns)
			}
		})
	}
}
