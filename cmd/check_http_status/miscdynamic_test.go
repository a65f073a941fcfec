package main

import (
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// keepalived's MISC_CHECK with misc_dynamic reads exit 1 as down but
// 2..255 as up: with --exit-style binary every verdict but OK exits 1.
func TestExitStyleBinaryForMiscDynamic(t *testing.T) {
	proctest.ExitStyleBinary(t, buildBinary(t), "HTTP_STATUS", hp(theLab.Silent)...)
}
