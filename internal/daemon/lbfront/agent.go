package lbfront

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/daemon/conncap"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// The agent protocol, as HAProxy speaks it (configuration manual,
// "agent-check"): HAProxy connects, sends its server's agent-send string,
// and reads one line up to the first CR or LF. Ours asks
// "MODULE HOST PORT\n" (or "MODULE HOST:PORT\n") and answers:
//
//	up                 the verdict is OK: HAProxy sets the server UP
//	                   (if its own health check, when it has one, agrees)
//	up N%              agent_weight: OK, or WARNING only for the response
//	                   time; N from the watch's EWMA of response times
//	                   (a bare percentage: HAProxy 2.6 ignores 3.1's
//	                   "weight:N%")
//	down #SUMMARY      WARNING or CRITICAL: HAProxy sets it DOWN and shows
//	                   "via agent : down (SUMMARY)"
//	(nothing, close)   no verdict: a bad line (or more than one), an
//	                   unknown module, a target outside allow, too many
//	                   probes, a check that could not check (UNKNOWN), a
//	                   name the daemon's resolver gave no answer for.
//	                   HAProxy ignores a reply without
//	                   a complete line and a failed agent connection, and
//	                   keeps the server's state.
const (
	// maxLine bounds the request line: a module name and an address.
	maxLine = 512
	// readWait is how long the request line may take to arrive: HAProxy
	// sends it at once, on connect.
	readWait = 2 * time.Second
	// writeWait bounds the answer's write.
	writeWait = 2 * time.Second
)

// Agent serves the agent protocol.
type Agent struct {
	D *daemon.Daemon
	// MaxConns caps the connections open at once (each holds a goroutine
	// while its probe runs). At the cap a new connection sheds the oldest
	// one that has not sent its whole line; if every one has, the new one
	// is closed unanswered.
	MaxConns int
	Log      *slog.Logger

	wg     sync.WaitGroup
	mu     sync.Mutex
	ln     net.Listener
	closed bool
}

// Serve accepts connections on ln until Shutdown.
func (a *Agent) Serve(ln net.Listener) error {
	a.mu.Lock()
	if a.closed { // Shutdown came first: it had no listener to close
		a.mu.Unlock()
		ln.Close()
		return nil
	}
	a.ln = ln
	a.mu.Unlock()
	// Connections not yet answered (no whole line yet) are shed, oldest
	// first, to make room for new ones: a flood of slow or silent clients
	// must not close HAProxy's asks unanswered.
	capped := conncap.New(a.MaxConns)
	if a.D.Metrics != nil {
		capped.OnDrop = a.D.Metrics.DropFunc("agent")
	}
	ln = capped.Listener(ln)
	for {
		c, err := ln.Accept()
		if err != nil {
			a.mu.Lock()
			closed := a.closed
			a.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond) // EMFILE and the like: let the load pass
				continue
			}
			return err
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.serveConn(c)
		}()
	}
}

// Shutdown stops accepting and waits until the connections being answered
// are (each within its probe's deadline), or until ctx ends.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	if a.ln != nil {
		a.ln.Close()
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *Agent) serveConn(c net.Conn) {
	defer c.Close()
	// A panic answering one ask must not end the daemon (net/http's
	// fronts recover on their own; this one would not): the connection is
	// closed without a line, which HAProxy ignores, and the stack logged.
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("agent: panic answering %s: %v\n%s", c.RemoteAddr(), p, debug.Stack())
			if a.Log != nil {
				a.Log.Error(msg)
			} else {
				fmt.Fprintln(os.Stderr, "lbcheckd:", msg)
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(readWait))
	line, err := readLine(c)
	if err != nil {
		a.debug("agent: no request line", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	conncap.Busy(c)
	answer, why := a.Answer(context.Background(), line)
	if answer == "" {
		a.debug("agent: no answer", "remote", c.RemoteAddr().String(), "request", line, "why", why)
		return
	}
	c.SetWriteDeadline(time.Now().Add(writeWait))
	io.WriteString(c, answer)
}

// Answer is the reply to one request line, or "" and why there is none.
func (a *Agent) Answer(ctx context.Context, line string) (answer, why string) {
	req, err := ParseLine(line)
	if err != nil {
		return "", err.Error()
	}
	req.Front = "agent"
	res, err := a.D.Check(ctx, req)
	if err != nil {
		return "", err.Error()
	}
	if res.Weight > 0 {
		// agent_weight: OK, or WARNING only for the response time. A
		// bare percentage, which every HAProxy reads as the weight;
		// "weight:N%" is HAProxy 3.1's spelling, and 2.6 ignores it.
		return "up " + strconv.Itoa(res.Weight) + "%\n", ""
	}
	switch res.State {
	case exitcode.OK:
		return "up\n", ""
	case exitcode.Unknown:
		return "", res.Summary
	}
	return "down #" + description(res.State.String()+" - "+res.Summary) + "\n", ""
}

// ErrBadLine is a request line not of the documented form.
var ErrBadLine = errors.New("want MODULE HOST PORT or MODULE HOST:PORT, one space apart")

// ParseLine reads a request line, its line end taken off: two or three
// words of printable ASCII, one space apart. Anything looser (tabs, runs
// of spaces, a CR inside, other bytes) is refused rather than guessed at:
// what reads as one ask here must read as the same ask to anything that
// logs or filters the line on its way.
func ParseLine(line string) (daemon.Request, error) {
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c > 0x7e {
			return daemon.Request{}, ErrBadLine
		}
	}
	f := strings.Split(line, " ")
	for _, w := range f {
		if w == "" {
			return daemon.Request{}, ErrBadLine
		}
	}
	switch len(f) {
	case 2:
		return daemon.Request{Module: f[0], Target: f[1]}, nil
	case 3:
		return daemon.Request{Module: f[0], Target: f[1], Port: f[2]}, nil
	}
	return daemon.Request{}, ErrBadLine
}

// description keeps the summary on the agent's one line: no CR or LF
// (they end it), and short (HAProxy shows it in its stats).
func description(s string) string {
	b := make([]byte, 0, min(len(s), 200))
	for i := 0; i < len(s) && len(b) < 200; i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return string(b)
}

// readLine reads one line of at most maxLine bytes, CR or LF ended.
func readLine(c net.Conn) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(c, maxLine), maxLine)
	line, err := br.ReadSlice('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		if errors.Is(err, bufio.ErrBufferFull) || (errors.Is(err, io.EOF) && len(line) >= maxLine) {
			return "", errors.New("line too long")
		}
		return "", err
	}
	if br.Buffered() > 0 {
		// HAProxy sends its one line and waits: more is a second ask, or
		// a line a proxy on the way may split otherwise.
		return "", errors.New("more than one line")
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return string(line), nil
}

func (a *Agent) debug(msg string, args ...any) {
	if a.Log != nil {
		a.Log.Debug(msg, args...)
	}
}
