// Package checktest makes checks out of functions, for the tests of what
// runs them: the harness, the process around it and the daemon's fronts.
package checktest

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Fake is a check whose parts are functions. Its Spec's New reads the
// fields when a command line is parsed, so a test may change them first.
type Fake struct {
	check.Spec
	Probe    func(ctx context.Context, t probe.Target) probe.Result
	Port     uint16 // the default port; 0 makes PORT required
	Flags    func(*flags.FlagSet)
	Validate func() error
}

// New is a check labelled FAKE (check_fake) around probe; PORT defaults to 7.
func New(p func(ctx context.Context, t probe.Target) probe.Result) *Fake {
	f := &Fake{Probe: p, Port: 7}
	f.Spec = check.Spec{Name: "FAKE", Command: "check_fake", Purpose: "tests the harness",
		New: func() check.Options { return options{f} }}
	return f
}

type options struct{ f *Fake }

func (o options) Flags(fs *flags.FlagSet) {
	if o.f.Flags != nil {
		o.f.Flags(fs)
	}
}

func (o options) Validate() error {
	if o.f.Validate != nil {
		return o.f.Validate()
	}
	return nil
}

func (o options) DefaultPort() uint16 { return o.f.Port }

func (o options) Probe(ctx context.Context, t probe.Target) probe.Result { return o.f.Probe(ctx, t) }
