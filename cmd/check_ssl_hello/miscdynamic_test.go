package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// keepalived's MISC_CHECK with misc_dynamic reads exit 1 as down but
// 2..255 as up (weight code-2), so with --exit-style binary every verdict
// but OK must exit 1, from the real process: keepalived's SIGTERM on
// misc_timeout, the deadline, and bad usage included.
func TestExitStyleBinaryForMiscDynamic(t *testing.T) {
	bin := buildBinary(t)
	binary := []string{"--exit-style", "binary"}
	silent := hp(tlsLab.Silent)

	t.Run("SIGTERM", func(t *testing.T) {
		code, out, took := proctest.Terminate(t, bin, append(append(binary, "-t", "10"), silent...)...)
		if code != 1 || !strings.HasPrefix(out, "SSL_HELLO CRITICAL - ") || !strings.Contains(out, "interrupted by terminated") || took > time.Second {
			t.Errorf("exit %d after %v: %q; want 1 and a CRITICAL verdict at once", code, took, out)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		proctest.Deadline(t, 1, bin, append(append(binary, "-t", "0.5"), silent...)...)
	})
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"unknown option", []string{"--no-such-option", "127.0.0.1", "1"}},
		{"bad port", []string{"127.0.0.1", "65536"}},
		{"no host", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin, append(binary, tt.args...)...).Output()
			if code := proctest.ExitCode(t, err); code != 1 || !strings.HasPrefix(string(out), "SSL_HELLO UNKNOWN - ") {
				t.Errorf("exit %d: %q; want 1 and an UNKNOWN verdict", code, out)
			}
		})
	}
}
