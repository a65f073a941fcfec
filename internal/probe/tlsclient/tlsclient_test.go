package tlsclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
)

// TestValidateWithoutTLS: a binary built without a TLS implementation
// takes every TLS option, refuses them without TLS on, and reports the one
// that turns it on as missing (the binary then runs lbcheck) rather than
// as bad usage.
func TestValidateWithoutTLS(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		on      bool
		missing bool
		bad     string
	}{
		{"off", nil, false, false, ""},
		{"on", nil, true, true, ""},
		{"on, verified", []string{"--verify", "--ca-file", "/nonexistent", "--sni", "a.test"}, true, true, ""},
		{"verify without tls", []string{"--verify"}, false, false, "--verify, --ca-file and --sni need --tls"},
		{"sni without tls", []string{"--sni", "a.test"}, false, false, "need --tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Options
			fs := flags.NewFlagSet("x")
			o.Flags(fs, "--tls", true)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate(tt.on)
			var m *check.Missing
			switch {
			case tt.missing && (!errors.As(err, &m) || m.Option != "--tls"):
				t.Errorf("err = %v, want check.Missing for --tls", err)
			case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
				t.Errorf("err = %v, want %q", err, tt.bad)
			case !tt.missing && tt.bad == "" && err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}
