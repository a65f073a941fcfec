package httpstatus

import (
	"crypto/md5"
	"errors"
	"regexp"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient/gotls"
)

// testParts are every part, as lbcheck and the daemon have them
// (internal/checks, which imports this package and so cannot be used here).
var testParts = Parts{
	TLS: gotls.TLS{},
	Regexp: func(expr string) (Matcher, error) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, err
		}
		return re, nil
	},
	MD5: md5.New,
}

// validate validates options made in a test, with every part.
func validate(o *Options) error {
	o.parts = testParts
	o.Client.TLS = testParts.TLS
	return o.Validate()
}

// TestMissingParts: without the parts a plain binary leaves out, the
// options that need them are reported missing (the binary then hands the
// command line to lbcheck), and only those.
func TestMissingParts(t *testing.T) {
	for _, tt := range []struct {
		name    string
		o       Options
		missing string
	}{
		{"plain", Options{}, ""},
		{"tls", Options{TLS: true}, "--tls"},
		{"body regex", Options{BodyRegex: "up"}, "--body-regex"},
		{"digest", Options{Digest: "0123456789abcdef0123456789abcdef"}, "--digest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions(Parts{}, "test")
			fs := flags.NewFlagSet("x")
			o.Flags(fs)
			o.TLS, o.BodyRegex, o.Digest = tt.o.TLS, tt.o.BodyRegex, tt.o.Digest
			err := o.Validate()
			var m *check.Missing
			switch {
			case tt.missing == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.missing != "" && (!errors.As(err, &m) || m.Option != tt.missing):
				t.Errorf("err = %v, want %s missing", err, tt.missing)
			}
		})
	}
}
