package tlshello

import (
	"errors"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
)

// TestClientCertRefused: check_ssl_hello takes --client-cert and
// --client-key only to refuse them as bad usage, saying why (it leaves
// before a client certificate is sent) and which checks take them; they
// stay out of its help.
func TestClientCertRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"cert", []string{"--client-cert", "/nonexistent", "127.0.0.1"}, "bad argument: --client-cert: check_ssl_hello never sends a client certificate"},
		{"key", []string{"--client-key", "/nonexistent", "127.0.0.1"}, "bad argument: --client-key: check_ssl_hello never sends a client certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check.Parse(&Spec, tt.args)
			if err == nil || !errors.Is(err, check.ErrUsage) || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "check_http_status --tls") {
				t.Errorf("error %v; want bad usage containing %q and naming the checks that take it", err, tt.says)
			}
		})
	}
	c, err := check.Parse(&Spec, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if fl := c.Flags.Lookup("client-cert"); fl == nil || !fl.Hidden {
		t.Errorf("--client-cert is not a hidden option: %+v", fl)
	}
}
