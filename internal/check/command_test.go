package check_test

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/target"
)

type countingResolver struct {
	calls   atomic.Int32
	network string
}

func (r *countingResolver) LookupNetIP(_ context.Context, network, _ string) ([]netip.Addr, error) {
	r.calls.Add(1)
	r.network = network
	return []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")}, nil
}

func TestNameResolvedOnce(t *testing.T) {
	tests := []struct {
		args    []string
		network string
		addr    string
	}{
		{[]string{"www.example.org", "80"}, "ip", "[2001:db8::1]:80"},
		{[]string{"-4", "www.example.org", "80"}, "ip4", "192.0.2.1:80"},
		{[]string{"-6", "www.example.org", "80"}, "ip6", "[2001:db8::1]:80"},
		{[]string{"-b", "127.0.0.1", "www.example.org", "80"}, "ip4", "192.0.2.1:80"},
	}
	for _, tt := range tests {
		r := &countingResolver{}
		var seen []netip.AddrPort
		spec := checktest.New(func(_ context.Context, t probe.Target) probe.Result {
			seen = append(seen, t.Addr)
			return probe.Critical("no")
		})
		cmd, err := check.Parse(&spec.Spec, append(tt.args, "--attempts", "3", "--retry-delay", "0"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Resolver = r
		cmd.Run(context.Background(), cmd.Target, nil)
		if r.calls.Load() != 1 || r.network != tt.network || len(seen) != 3 {
			t.Errorf("%v: %d lookups of %q, %d attempts; want 1 of %q, 3 attempts", tt.args, r.calls.Load(), r.network, len(seen), tt.network)
		}
		for _, a := range seen {
			if a.String() != tt.addr {
				t.Errorf("%v: probed %v, want %s", tt.args, a, tt.addr)
			}
		}
	}
}

// TestModule: a module is a command line without HOST and PORT, and the
// request's target gets the module's options and default port.
func TestModule(t *testing.T) {
	var got []netip.AddrPort
	spec := checktest.New(func(_ context.Context, t probe.Target) probe.Result {
		got = append(got, t.Addr)
		return probe.OK("fine")
	})
	cmd, err := check.ParseModule(&spec.Spec, []string{"-t", "2", "--attempts", "2", "-w", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Deadline.Seconds() != 2 || cmd.Attempts != 2 || cmd.Thresholds.Warning == nil {
		t.Errorf("module options not read: %+v", cmd)
	}
	tg, _ := target.ParseHost("192.0.2.9")
	v := cmd.Run(context.Background(), tg, nil)
	if len(got) != 1 || got[0].String() != "192.0.2.9:7" || !strings.HasPrefix(v.Line("FAKE"), "FAKE OK - fine | time=") {
		t.Errorf("probed %v, line %q", got, v.Line("FAKE"))
	}
	for _, bad := range [][]string{
		{"10.0.0.1"}, {"-H", "10.0.0.1"}, {"-p", "80"}, {"--format", "json"}, {"--exit-style", "binary"}, {"--help"}, {"--nope"},
	} {
		if _, err := check.ParseModule(&spec.Spec, bad); err == nil {
			t.Errorf("module %q accepted", bad)
		}
	}
}

// TestTimeIsTheSummarys: a probe that states its response time in the
// summary has that time reported and graded, not the harness's own
// measure of the call around it: one line, one value.
func TestTimeIsTheSummarys(t *testing.T) {
	spec := checktest.New(func(context.Context, probe.Target) probe.Result {
		r := probe.OK("answered in 1.50 ms")
		r.Took = 1500 * time.Microsecond
		time.Sleep(20 * time.Millisecond) // the call itself takes longer
		return r
	})
	cmd, err := check.Parse(&spec.Spec, []string{"-w", "0.01", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	v := cmd.Run(context.Background(), cmd.Target, nil)
	if line := v.Line("FAKE"); !strings.HasPrefix(line, "FAKE OK - answered in 1.50 ms | time=0.001500s;0.01;;0;5") {
		t.Errorf("line %q: want the summary's 1.5 ms as time, graded OK under -w 0.01", line)
	}
}

// TestAttempted: a probe's result becomes the verdict one way, whether
// Command.run ran the probe or lbcheckd's half-open sweep did: the stated
// time or the caller's, measured or not, a timeout's "after", and
// --timeout-state and the thresholds in Graded.
func TestAttempted(t *testing.T) {
	spec := checktest.New(func(context.Context, probe.Target) probe.Result { return probe.OK("") })
	stated := probe.OK("open in 1.50 ms")
	stated.Took = 1500 * time.Microsecond
	silent := probe.Result{State: exitcode.Critical, Timeout: true, Summary: "no answer"}
	silentTook := silent
	silentTook.Took = time.Millisecond // a timeout's Took is not a response time
	for _, tt := range []struct {
		name string
		args []string
		r    probe.Result
		ran  time.Duration
		line string
	}{
		{"stated time", []string{"-w", "0.01"}, stated, 20 * time.Millisecond, "FAKE OK - open in 1.50 ms | time=0.001500s;0.01;;0;5"},
		{"caller's time", nil, probe.OK("open"), 20 * time.Millisecond, "FAKE OK - open | time=0.020000s;;;0;5"},
		{"over -w", []string{"-w", "0.001"}, stated, 20 * time.Millisecond, "FAKE WARNING - open in 1.50 ms; time outside warning range | time=0.001500s;0.001;;0;5"},
		{"timeout", nil, silent, 250 * time.Millisecond, "FAKE CRITICAL - no answer after 250.0 ms"},
		{"timeout, Took ignored", nil, silentTook, 250 * time.Millisecond, "FAKE CRITICAL - no answer after 250.0 ms"},
		{"timeout state", []string{"--timeout-state", "unknown"}, silent, 250 * time.Millisecond, "FAKE UNKNOWN - no answer after 250.0 ms"},
		{"unknown measures nothing", nil, probe.Result{State: exitcode.Unknown, Summary: "SYN not sent"}, time.Millisecond, "FAKE UNKNOWN - SYN not sent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := check.ParseModule(&spec.Spec, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			v := check.Verdict{Command: cmd}
			v.Attempted(tt.r, tt.ran, 1)
			if line := v.Line("FAKE"); line != tt.line || v.Attempt != 1 {
				t.Errorf("line %q (attempt %d), want %q", line, v.Attempt, tt.line)
			}
		})
	}
}
