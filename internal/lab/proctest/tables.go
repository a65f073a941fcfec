package proctest

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Command is a command's run function, called in process as a caller
// calls the binary: arguments, stdout, stderr; it returns the exit code.
type Command = func(context.Context, []string, io.Writer, io.Writer) int

// Verdict is a command line and what it must give: the exit code and a
// regular expression the first line must match. It and Usage are aliases
// of struct types, not named types, so the packages' long tables keep
// their one-line cases unkeyed ({"ok", args, 0, `^OK`}) without go vet's
// composites check asking for keys.
type Verdict = struct {
	Name string
	Args []string
	Code int
	Line string
}

// Verdicts runs each case in process, a subtest each.
func Verdicts(t *testing.T, run Command, tests []Verdict) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			code, out := Run(t, run, tt.Args...)
			first, _, _ := strings.Cut(out, "\n")
			if code != tt.Code {
				t.Errorf("exit %d, want %d: %s", code, tt.Code, first)
			}
			if !regexp.MustCompile(tt.Line).MatchString(first) {
				t.Errorf("first line\n  %s\ndoes not match\n  %s", first, tt.Line)
			}
		})
	}
}

// Usage is a bad command line, and what its UNKNOWN line must contain.
type Usage = struct {
	Name string
	Args []string
	Want string
}

// UsageErrors runs bad command lines in process: each, between Before and
// After, must give one line, "Label UNKNOWN - ..." containing its Want,
// exit 3, and at once: a bad argument stops the check before anything is
// sent. After names a peer that would hold a check that ran until its
// deadline.
type UsageErrors struct {
	Run           Command
	Label         string // the first word of the output: "DNS"
	Before, After []string
	Cases         []Usage
}

// Test runs the cases, a subtest each.
func (u UsageErrors) Test(t *testing.T) {
	t.Helper()
	for _, tt := range u.Cases {
		t.Run(tt.Name, func(t *testing.T) {
			start := time.Now()
			code, out := Run(t, u.Run, append(append(append([]string(nil), u.Before...), tt.Args...), u.After...)...)
			if code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, u.Label+" UNKNOWN - ") || !strings.Contains(out, tt.Want) {
				t.Errorf("output %q: want one UNKNOWN line containing %q", out, tt.Want)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v: the check ran", took)
			}
		})
	}
}

// DeadlineInProcess runs, in process, each command line (a misbehaving
// peer, by name) with -t 0.4: the verdict must not be OK, and must come
// within 0.4 s + 100 ms at best of three, so that one late wake-up on a
// loaded machine is not taken for a broken deadline.
func DeadlineInProcess(t *testing.T, run Command, peers map[string][]string) {
	t.Helper()
	for name, args := range peers {
		t.Run(name, func(t *testing.T) {
			best := time.Hour
			for range 3 {
				start := time.Now()
				code, out := Run(t, run, append([]string{"-t", "0.4"}, args...)...)
				best = min(best, time.Since(start))
				if code == 0 {
					t.Errorf("a misbehaving peer passed: %s", out)
				}
			}
			if best > 500*time.Millisecond {
				t.Errorf("verdict after %v at best, want within 0.4 s + 100 ms", best)
			}
		})
	}
}

// HelpAndVersion: --help exits 0 and holds every string of want; -V exits
// 0 and begins with the command's name.
func HelpAndVersion(t *testing.T, run Command, name string, want ...string) {
	t.Helper()
	code, out := Run(t, run, "--help")
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("--help lacks %q", w)
		}
	}
	code, out = Run(t, run, "-V")
	if code != 0 || !strings.HasPrefix(out, name+" ") {
		t.Errorf("-V: exit %d %q", code, out)
	}
}

// JSONVerdict is the object --format json prints, as far as tests read it.
type JSONVerdict struct {
	Check, State, Summary, Host, Address string
	ExitCode                             int `json:"exit_code"`
	Attempts                             int
	Time                                 float64            `json:"time_seconds"`
	Timings                              map[string]float64 `json:"timings_seconds"`
	Perfdata                             []struct {
		Label, Unit, Warning, Critical string
		Value                          float64
	}
}

// JSON runs a command line with --format json in process and returns the
// exit code and the verdict; the output must be one line of JSON.
func JSON(t *testing.T, run Command, args ...string) (int, JSONVerdict) {
	t.Helper()
	code, out := Run(t, run, append([]string{"--format", "json"}, args...)...)
	var v JSONVerdict
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("JSON output is not one line: %q", out)
	}
	return code, v
}

// Phases fails unless the verdict times every phase named.
func (v JSONVerdict) Phases(t testing.TB, phases ...string) {
	t.Helper()
	for _, phase := range phases {
		if _, ok := v.Timings[phase]; !ok {
			t.Errorf("timings lack %q: %v", phase, v.Timings)
		}
	}
}
