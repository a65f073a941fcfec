package main

import (
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test; buildBinary builds it once into binDir.
var built = proctest.Binary{Name: "check_dns_answer"}

func buildBinary(t *testing.T) string {
	return built.Path(t, binDir)
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check).
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "DNS",
		Up: hp(theDNS.Addr), Down: append([]string{"--name", "refused.lab.test"}, hp(theDNS.Addr)...),
		Silent:   append([]string{"--name", "silent.lab.test"}, hp(theDNS.Addr)...),
		Deadline: []string{"--attempts", "3", "--tcp"},
	}.Test(t)
}
