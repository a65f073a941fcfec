package main

import (
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// TestCAFileNotRegular: see proctest.CAFileNotRegular.
func TestCAFileNotRegular(t *testing.T) {
	proctest.CAFileNotRegular(t, run, "FTP_NOOP", append([]string{"--auth-tls"}, hp(theFTP.OK)...)...)
}
