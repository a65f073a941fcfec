package lbfront

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// The agent protocol, as HAProxy speaks it (configuration manual,
// "agent-check"): HAProxy connects, sends its server's agent-send string,
// and reads one line up to the first CR or LF. Ours asks
// "MODULE HOST PORT\n" (or "MODULE HOST:PORT\n") and answers:
//
//	up                 the verdict is OK: HAProxy sets the server UP
//	                   (if its own health check, when it has one, agrees)
//	up weight:N%       agent_weight: OK, or WARNING only for the response
//	                   time; N from the watch's EWMA of response times
//	down #SUMMARY      WARNING or CRITICAL: HAProxy sets it DOWN and shows
//	                   "via agent : down (SUMMARY)"
//	(nothing, close)   no verdict: a bad line, an unknown module, a target
//	                   outside allow, too many probes, a check that could
//	                   not check (UNKNOWN). HAProxy ignores a reply without
//	                   a complete line and a failed agent connection, and
//	                   keeps the server's state.
const (
	// maxLine bounds the request line: a module name and an address.
	maxLine = 512
	// readWait is how long the request line may take to arrive.
	readWait = 2 * time.Second
	// writeWait bounds the answer's write.
	writeWait = 2 * time.Second
)

// Agent serves the agent protocol.
type Agent struct {
	D *daemon.Daemon
	// MaxConns caps the connections open at once (each holds a goroutine
	// while its probe runs); more are closed unanswered.
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
	sem := make(chan struct{}, max(a.MaxConns, 1))
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
		select {
		case sem <- struct{}{}:
		default:
			c.Close()
			if a.D.Metrics != nil {
				a.D.Metrics.AgentDropped.Inc()
			}
			continue
		}
		a.wg.Add(1)
		go func() {
			defer func() { <-sem; a.wg.Done() }()
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
	c.SetReadDeadline(time.Now().Add(readWait))
	line, err := readLine(c)
	if err != nil {
		a.debug("agent: no request line", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
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
	f := strings.Fields(line)
	var req daemon.Request
	switch len(f) {
	case 2:
		req = daemon.Request{Module: f[0], Target: f[1], Front: "agent"}
	case 3:
		req = daemon.Request{Module: f[0], Target: f[1], Port: f[2], Front: "agent"}
	default:
		return "", "want MODULE HOST PORT"
	}
	res, err := a.D.Check(ctx, req)
	if err != nil {
		return "", err.Error()
	}
	if res.Weight > 0 {
		// agent_weight: OK, or WARNING only for the response time.
		return "up weight:" + strconv.Itoa(res.Weight) + "%\n", ""
	}
	switch res.State {
	case exitcode.OK:
		return "up\n", ""
	case exitcode.Unknown:
		return "", res.Summary
	}
	return "down #" + description(res.State.String()+" - "+res.Summary) + "\n", ""
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
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (a *Agent) debug(msg string, args ...any) {
	if a.Log != nil {
		a.Log.Debug(msg, args...)
	}
}
