package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// armSignals is how long after start the signal handlers are installed.
// os/signal starts a goroutine and a locked thread: about a tenth of a
// check's cost at start, for a signal that comes, if ever, when a caller's
// timeout expires, seconds later. A check that ends sooner never pays it;
// a SIGTERM before then ends the process as the default action does.
const armSignals = 50 * time.Millisecond

// process is what a run may do because it is the process's own: exit, and
// learn of signals.
type process struct {
	cancel context.CancelCauseFunc
}

type processKey struct{}

// SignalContext returns the context of a check process. SIGTERM, SIGINT
// and SIGHUP (keepalived's misc_timeout and HAProxy's check timeout send
// SIGTERM; a closed terminal SIGHUP) cancel it with the signal as its
// cause, so the check still prints its verdict. It also tells Run that it
// may end the process when the deadline has passed.
func SignalContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &process{cancel: cancel}
	time.AfterFunc(armSignals, p.armSignals)
	return context.WithValue(ctx, processKey{}, p)
}

func processOf(ctx context.Context) *process {
	p, _ := ctx.Value(processKey{}).(*process)
	return p
}

func (p *process) armSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		s := <-ch
		p.cancel(errors.New("interrupted by " + s.String()))
	}()
}

// stuckWrite is how long the watchdog waits for a verdict's write to a
// stdout that may be a full pipe.
const stuckWrite = 20 * time.Millisecond

// watch ends the process at the given time if the run has not printed its
// verdict by then: it prints late()'s verdict (or, if the run's own print
// is stuck on a full stdout, gives up on it) and exits with the verdict's
// code. The run cannot hold the process past its deadline, whatever a
// probe or the caller's pipe does.
func (p *process) watch(at time.Time, late func() check.Verdict, out *output) (stop func()) {
	t := time.AfterFunc(time.Until(at), func() {
		v := late()
		code := make(chan int, 1)
		// The print may block on a full pipe: bound it too.
		go func() { code <- out.print(v) }()
		select {
		case c := <-code:
			os.Exit(c)
		case <-time.After(stuckWrite):
		}
		// Stuck writing (this verdict or the run's): the code is known.
		state, _ := v.Graded()
		c := out.style.Code(state)
		if p := out.printed.Load(); p > 0 {
			c = int(p) - 1
		}
		os.Exit(c)
	})
	return func() { t.Stop() }
}

// maxSlack is the timer slack a check accepts. A process inherits its
// parent's, and some callers' is large (Icinga 2 runs its plugins with
// 50 ms): every timed wait, the deadline's included, then ends that much
// late, later than the watchdog's grace, which would print "no verdict"
// over the verdict the run had ready.
const maxSlack = time.Millisecond

// preciseTimers brings a large inherited timer slack down to the kernel's
// default (50 µs) on every thread: slack is per thread, and the runtime's
// threads exist before any of our code runs. One prctl when it is small
// already, as it usually is.
func preciseTimers() {
	slack, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || time.Duration(slack) <= maxSlack {
		return
	}
	const defaultSlack = 50000 // ns
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_TIMERSLACK, defaultSlack, 0); errno != 0 {
		// With cgo the runtime cannot: this thread at least.
		unix.Prctl(unix.PR_SET_TIMERSLACK, defaultSlack, 0, 0, 0)
	}
}

// lbcheck is the binary with every part linked, beside the check binaries.
const lbcheck = "lbcheck"

// handOver runs a command line that needs a part this binary was built
// without in lbcheck, from the same directory, by exec: the same process,
// so the caller's signals, timeout and exit code apply to it unchanged,
// and its deadline still counts from this process's start (the kernel's
// start time survives exec). Nothing is sent before. Outside a process of
// its own (a test calling Run) there is nothing to exec: UNKNOWN.
func (o *output) handOver(command string, m *check.Missing, args []string) int {
	why := "no process to hand it over in"
	if o.proc != nil {
		exe, err := os.Executable()
		if err == nil {
			path := filepath.Join(filepath.Dir(exe), lbcheck)
			err = syscall.Exec(path, append([]string{path, command}, args...), os.Environ())
			// Exec returns only when it failed.
			err = fmt.Errorf("%s: %w", path, err)
		}
		why = err.Error()
	}
	r := probe.Result{State: exitcode.Unknown, Err: m,
		Summary: m.Option + " needs " + lbcheck + " beside " + command + ", which runs it: " + why}
	return o.print(check.Verdict{Result: r})
}

// started is when the process began, as far as the kernel can tell: its
// start time in /proc/self/stat counts clock ticks (10 ms) since boot, so
// it is taken as 10 ms later than it says. On a machine with 300 checks
// starting at once a process can wait a second for its first run; its
// deadline must not wait with it. ok is false when /proc cannot tell.
func (p *process) started() (t time.Time, ok bool) {
	fd, err := syscall.Open("/proc/self/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return time.Time{}, false
	}
	var buf [512]byte
	n, _ := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	ticks, ok := statStartTime(buf[:max(n, 0)])
	if !ok {
		return time.Time{}, false
	}
	// The two clocks read together: a process descheduled between them
	// would otherwise move its own start.
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}, false
	}
	now := time.Now()
	late := time.Duration(ts.Nano()) - time.Duration(ticks+1)*10*time.Millisecond
	return now.Add(-max(late, 0)), true
}

// statStartTime reads field 22 (starttime) of /proc/PID/stat. The second
// field, the command name, is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func statStartTime(b []byte) (uint64, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+1:]) // field 3 onwards
	const starttime = 22 - 3
	if len(fields) <= starttime {
		return 0, false
	}
	v, err := strconv.ParseUint(string(fields[starttime]), 10, 64)
	return v, err == nil
}
