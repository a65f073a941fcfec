package plugin

import (
	"bytes"
	"context"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/probe"
)

func fake(p func(ctx context.Context, t probe.Target) probe.Result) *checktest.Fake {
	return checktest.New(p)
}

func runFake(t *testing.T, spec *checktest.Fake, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), spec.Spec, args, &out, &errOut)
	return code, out.String(), errOut.String()
}
