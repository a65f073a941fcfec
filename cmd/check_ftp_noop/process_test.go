package main

import (
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test; buildBinary builds it once into
// proctest.Dir.
var built = proctest.Binary{Name: "check_ftp_noop", Beside: []string{"../lbcheck"}}

func buildBinary(t *testing.T) string {
	return built.Build(t)
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check).
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "FTP_NOOP",
		Up: hp(theFTP.OK), Down: hp(theFTP.Busy),
		Silent:   hp(theFTP.Silent),
		Deadline: []string{"--attempts", "3"},
	}.Test(t)
}
