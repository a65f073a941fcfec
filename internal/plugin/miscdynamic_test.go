package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// keepalived's MISC_CHECK with misc_dynamic reads an exit code as: 0 up,
// 1 down, 2..255 up with the real server's weight set to code-2. These
// tests run every kind of verdict through the harness in both exit styles
// and read the code as keepalived would: with --exit-style binary every
// verdict but OK must read down; in Nagios style CRITICAL and UNKNOWN read
// up, which is why the recipes (packaging/keepalived/misc_check.conf) pass
// --exit-style binary.

// miscDynamic is keepalived's reading of a MISC_CHECK exit code with
// misc_dynamic: up or down, and the weight it sets (-1: left as it is).
func miscDynamic(code int) (up bool, weight int) {
	switch {
	case code == 0:
		return true, -1
	case code == 1:
		return false, -1
	default:
		return true, code - 2
	}
}

func TestMiscDynamicReading(t *testing.T) {
	for _, tt := range []struct {
		code   int
		up     bool
		weight int
	}{{0, true, -1}, {1, false, -1}, {2, true, 0}, {3, true, 1}, {255, true, 253}} {
		if up, w := miscDynamic(tt.code); up != tt.up || w != tt.weight {
			t.Errorf("exit %d read as up=%v weight %d, want up=%v weight %d", tt.code, up, w, tt.up, tt.weight)
		}
	}
}

func TestExitStyleUnderMiscDynamic(t *testing.T) {
	result := func(r probe.Result) func(context.Context, probe.Target) probe.Result {
		return func(context.Context, probe.Target) probe.Result { return r }
	}
	// blocks until the run's context ends: the deadline or a signal
	hang := func(ctx context.Context, _ probe.Target) probe.Result {
		<-ctx.Done()
		return probe.Fail("waiting for the peer", ctx.Err())
	}
	slow := func(context.Context, probe.Target) probe.Result {
		time.Sleep(20 * time.Millisecond)
		return probe.OK("answered")
	}
	for _, tt := range []struct {
		name    string
		probe   func(context.Context, probe.Target) probe.Result
		args    []string
		sigterm bool // cancel the run as SignalContext does on SIGTERM
		state   string
		nagios  int // the Nagios exit code
		binary  int // the --exit-style binary exit code
	}{
		{"OK", result(probe.OK("fine")), nil, false, "OK", 0, 0},
		{"CRITICAL from the probe", result(probe.Critical("wrong answer")), nil, false, "CRITICAL", 2, 1},
		{"WARNING from the probe", result(probe.Result{State: exitcode.Warning, Summary: "slow"}), nil, false, "WARNING", 1, 1},
		{"UNKNOWN from the probe", result(probe.Result{State: exitcode.Unknown, Summary: "no privilege"}), nil, false, "UNKNOWN", 3, 1},
		{"WARNING from -w", slow, []string{"-w", "0.001"}, false, "WARNING", 1, 1},
		{"CRITICAL from -c", slow, []string{"-c", "0.001"}, false, "CRITICAL", 2, 1},
		{"unknown option", nil, []string{"--no-such-option"}, false, "UNKNOWN", 3, 1},
		{"bad timeout", nil, []string{"-t", "soon"}, false, "UNKNOWN", 3, 1},
		{"bad range", nil, []string{"-w", "5:1"}, false, "UNKNOWN", 3, 1},
		{"deadline", hang, []string{"-t", "0.05"}, false, "CRITICAL", 2, 1},
		{"deadline as unknown", hang, []string{"-t", "0.05", "--timeout-state", "unknown"}, false, "UNKNOWN", 3, 1},
		{"SIGTERM (misc_timeout)", hang, []string{"-t", "5"}, true, "CRITICAL", 2, 1},
		{"panic", func(context.Context, probe.Target) probe.Result { panic("bug") }, nil, false, "UNKNOWN", 3, 1},
		// an operator who asks for timeouts to count as OK gets exit 0:
		// the one way a failed run reads up, and it is explicit
		{"deadline as ok", hang, []string{"-t", "0.05", "--timeout-state", "ok"}, false, "OK", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, style := range []string{"nagios", "binary"} {
				ctx, cancel := context.WithCancelCause(context.Background())
				if tt.sigterm {
					time.AfterFunc(50*time.Millisecond, func() { cancel(errors.New("interrupted by terminated")) })
				}
				args := append(append([]string{"--exit-style", style}, tt.args...), "127.0.0.1")
				var out, errOut strings.Builder
				code := Run(ctx, fake(tt.probe).Spec, args, &out, &errOut)
				cancel(nil)
				want := map[string]int{"nagios": tt.nagios, "binary": tt.binary}[style]
				if code != want || !strings.HasPrefix(out.String(), "FAKE "+tt.state+" - ") {
					t.Errorf("%s style: exit %d, first line %q; want exit %d and %s", style, code, out.String(), want, tt.state)
				}
				if tt.sigterm && !strings.Contains(out.String(), "interrupted by terminated") {
					t.Errorf("%s style: the verdict does not name the signal: %q", style, out.String())
				}
				up, _ := miscDynamic(code)
				if style == "binary" && up != (tt.state == "OK") {
					t.Errorf("binary style: exit %d reads up=%v under misc_dynamic for a %s verdict", code, up, tt.state)
				}
				if style == "nagios" && code >= 2 && !up {
					t.Errorf("nagios style: exit %d should read up under misc_dynamic (the trap --exit-style binary avoids)", code)
				}
			}
		})
	}
}
