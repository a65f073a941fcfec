package plugin

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

func TestPanicIsUnknown(t *testing.T) {
	spec := fake(func(context.Context, probe.Target) probe.Result { panic("boom") })
	code, out, errOut := runFake(t, spec, "127.0.0.1")
	if code != 3 || out != "FAKE UNKNOWN - internal error: boom\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "panic: boom") || !strings.Contains(errOut, "goroutine") {
		t.Errorf("the stack trace belongs on stderr, got %q", errOut)
	}
	code, _, _ = runFake(t, spec, "--exit-style", "binary", "127.0.0.1")
	if code != 1 {
		t.Errorf("binary style panic exit %d, want 1", code)
	}
}

func TestPanicInFlagsIsUnknown(t *testing.T) {
	spec := fake(nil)
	spec.Validate = func() error { panic("validate") }
	if code, out, _ := runFake(t, spec, "127.0.0.1"); code != 3 || !strings.HasPrefix(out, "FAKE UNKNOWN - internal error: validate") {
		t.Errorf("exit %d %q", code, out)
	}
}

func TestAttempts(t *testing.T) {
	tests := []struct {
		name     string
		results  []exitcode.State
		attempts string
		wantCode int
		wantRuns int32
		wantLine string
	}{
		{"first success wins", []exitcode.State{exitcode.OK}, "3", 0, 1, `^FAKE OK - try 1 \|`},
		{"success on second", []exitcode.State{exitcode.Critical, exitcode.OK}, "3", 0, 2, `^FAKE OK - try 2 \(attempt 2 of 3\) \|`},
		{"all fail", []exitcode.State{exitcode.Critical, exitcode.Critical, exitcode.Critical}, "3", 2, 3, `^FAKE CRITICAL - try 3 \(attempt 3 of 3\) \|`},
		{"unknown is not retried", []exitcode.State{exitcode.Unknown}, "3", 3, 1, `^FAKE UNKNOWN - try 1$`},
		{"warning is not retried", []exitcode.State{exitcode.Warning}, "3", 1, 1, `^FAKE WARNING - try 1 \|`},
		{"one attempt by default", []exitcode.State{exitcode.Critical}, "1", 2, 1, `^FAKE CRITICAL - try 1 \|`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			spec := fake(func(context.Context, probe.Target) probe.Result {
				n := runs.Add(1)
				return probe.Result{State: tt.results[n-1], Summary: "try " + string(rune('0'+n))}
			})
			code, out, _ := runFake(t, spec, "--attempts", tt.attempts, "--retry-delay", "0.001", "127.0.0.1")
			first, _, _ := strings.Cut(out, "\n")
			if code != tt.wantCode || runs.Load() != tt.wantRuns || !regexp.MustCompile(tt.wantLine).MatchString(first) {
				t.Errorf("exit %d after %d runs: %q; want exit %d after %d runs matching %s", code, runs.Load(), first, tt.wantCode, tt.wantRuns, tt.wantLine)
			}
		})
	}
}

// TestAttemptsSplitTheDeadline: each attempt gets a share of what is left,
// so a peer that never answers leaves time for the next try.
func TestAttemptsSplitTheDeadline(t *testing.T) {
	var budgets []time.Duration
	spec := fake(func(ctx context.Context, _ probe.Target) probe.Result {
		d, _ := ctx.Deadline()
		budgets = append(budgets, time.Until(d))
		<-ctx.Done()
		return probe.Fail("waiting", ctx.Err())
	})
	code, out, _ := runFake(t, spec, "-t", "0.6", "--attempts", "3", "--retry-delay", "0.05", "127.0.0.1")
	if code != 2 || len(budgets) != 3 {
		t.Fatalf("exit %d after %d attempts: %s", code, len(budgets), out)
	}
	// 0.6 s less two pauses of 0.05 s, over three attempts: about 0.17 s each.
	for i, b := range budgets {
		if b < 120*time.Millisecond || b > 200*time.Millisecond {
			t.Errorf("attempt %d had %v, want about 170 ms", i+1, b)
		}
	}
	if !strings.Contains(out, "timed out after") || !strings.Contains(out, "(attempt 3 of 3)") {
		t.Errorf("summary %q", out)
	}
}

func TestUnresolvableIsCritical(t *testing.T) {
	spec := fake(func(context.Context, probe.Target) probe.Result {
		t.Fatal("probe ran without an address")
		return probe.Result{}
	})
	// .invalid never resolves (RFC 6761); Go's resolver answers it locally.
	code, out, _ := runFake(t, spec, "-t", "2", "nothing.invalid", "80")
	if code != 2 || !strings.HasPrefix(out, "FAKE CRITICAL - resolve nothing.invalid: ") {
		t.Errorf("exit %d %q", code, out)
	}
}

func TestPortRequiredWithoutDefault(t *testing.T) {
	spec := fake(nil)
	spec.Port = 0
	code, out, _ := runFake(t, spec, "127.0.0.1")
	if code != 3 || !strings.Contains(out, "no PORT given") {
		t.Errorf("exit %d %q", code, out)
	}
	if _, help, _ := runFake(t, spec, "--help"); !strings.Contains(help, "check_fake [options] HOST PORT\n") {
		t.Errorf("help does not show PORT as required:\n%s", help)
	}
}

func TestPerfdataAndSummarySanitised(t *testing.T) {
	one := 1.0
	spec := fake(func(context.Context, probe.Target) probe.Result {
		r := probe.OK("a|b\nc")
		r.Metrics = []probe.Metric{{Label: "odd label", Value: 0.5, Max: &one}, {Label: "n", Value: 3}}
		return r
	})
	_, out, _ := runFake(t, spec, "-t", "2.5", "127.0.0.1")
	re := regexp.MustCompile(`^FAKE OK - a/b c \| time=\d\.\d{6}s;;;0;2\.5 'odd label'=0\.5;;;;1 n=3\n$`)
	if !re.MatchString(out) {
		t.Errorf("output %q does not match %s", out, re)
	}
}

func TestTraceOnlyWithVerbose(t *testing.T) {
	spec := fake(func(_ context.Context, t probe.Target) probe.Result {
		t.Log.Printf(1, "level one")
		t.Log.Printf(2, "level two")
		return probe.OK("fine")
	})
	for args, want := range map[string][]string{"": nil, "-v": {"level one"}, "-vv": {"level one", "level two"}} {
		a := []string{"127.0.0.1"}
		if args != "" {
			a = append(a, args)
		}
		_, out, _ := runFake(t, spec, a...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:]
		if len(lines) != len(want) {
			t.Errorf("%q: trace %q, want %q", args, lines, want)
			continue
		}
		for i := range want {
			if !strings.HasSuffix(lines[i], want[i]) {
				t.Errorf("%q: trace line %q, want %q", args, lines[i], want[i])
			}
		}
	}
}

func TestPrescan(t *testing.T) {
	tests := []struct {
		args   []string
		format string
		style  exitcode.Style
	}{
		{nil, "text", exitcode.Nagios},
		{[]string{"--format", "json"}, "json", exitcode.Nagios},
		{[]string{"--format=json", "--exit-style=binary"}, "json", exitcode.Binary},
		{[]string{"--exit-style", "binary", "--bogus"}, "text", exitcode.Binary},
		{[]string{"--", "--format", "json"}, "text", exitcode.Nagios},
		{[]string{"--format", "xml"}, "text", exitcode.Nagios},
	}
	for _, tt := range tests {
		f, s := prescan(tt.args)
		if f != tt.format || s != tt.style {
			t.Errorf("prescan(%q) = %q, %v; want %q, %v", tt.args, f, s, tt.format, tt.style)
		}
	}
}

// TestGraceGrowsWithTheDeadline: the watchdog waits past the deadline for
// at least the kernel's slack on a wait that long, so that it does not
// print "no verdict" over the run's own verdict.
func TestGraceGrowsWithTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		want     time.Duration
	}{
		{"short", 200 * time.Millisecond, 20 * time.Millisecond},
		{"two seconds", 2 * time.Second, 20 * time.Millisecond},
		{"eight seconds", 8 * time.Second, 80 * time.Millisecond},
		{"a minute", time.Minute, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := grace(tc.deadline); got != tc.want {
				t.Errorf("grace(%v) = %v, want %v", tc.deadline, got, tc.want)
			}
		})
	}
}
