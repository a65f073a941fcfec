package main

import (
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test; buildBinary builds it once into binDir.
var built = proctest.Binary{Name: "check_http_status"}

func buildBinary(t *testing.T) string {
	return built.Path(t, binDir)
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check).
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "HTTP_STATUS",
		Up: hp(theLab.HTTP), Down: hp(theLab.Closed),
		Silent:   hp(theLab.Silent),
		Deadline: []string{"--attempts", "3"},
	}.Test(t)
}
