package plugin

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
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
		case <-time.After(grace):
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
