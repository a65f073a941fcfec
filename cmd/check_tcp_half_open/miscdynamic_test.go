package main

import (
	"strconv"
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// keepalived's MISC_CHECK with misc_dynamic reads exit 1 as down but
// 2..255 as up: with --exit-style binary every verdict but OK exits 1.
func TestExitStyleBinaryForMiscDynamic(t *testing.T) {
	proctest.ExitStyleBinary(t, buildBinary(t), "TCP_HALF_OPEN", []string{"127.0.0.1", strconv.Itoa(dropped)}...)
}
