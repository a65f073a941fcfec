package lbfront

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// fakeDaemon answers by port: 1 OK, 2 CRITICAL (a summary with a CR LF),
// 3 UNKNOWN; module w has -w 0, so an OK reads WARNING.
func fakeDaemon(t *testing.T) *daemon.Daemon {
	f := checktest.New(func(ctx context.Context, tg probe.Target) probe.Result {
		switch tg.Addr.Port() {
		case 1:
			return probe.OK("fine")
		case 2:
			return probe.Critical("503 from %s\r\nsecond line", tg.Addr)
		}
		return probe.Result{State: exitcode.Unknown, Summary: "could not"}
	})
	c, err := daemon.Parse([]byte("allow: [192.0.2.0/24, \"2001:db8::/32\"]\nmodules: {m: [check_fake], w: [check_fake, -w, \"0\"], aw: {check: [check_fake, -t, \"1\", -w, \"0\", -c, \"1000\"], every: 1s, agent_weight: true}}\n"),
		checks.Registry{"check_fake": f.Spec})
	if err != nil {
		t.Fatal(err)
	}
	return daemon.New(context.Background(), c, nil)
}

func TestCheck(t *testing.T) {
	h := CheckHandler(fakeDaemon(t))
	tests := []struct {
		name, url string
		code      int
		body      string // prefix
		method    string // GET if empty
		send      string // a request body
		allow     string // the Allow header wanted
	}{
		{"up", "/check?module=m&target=192.0.2.5:1", 200, "FAKE OK - fine | time=", "", "", ""},
		{"down", "/check?module=m&target=192.0.2.5:2", 503, "FAKE CRITICAL - 503 from 192.0.2.5:2  second line", "", "", ""},
		{"warning is down", "/check?module=w&target=192.0.2.5:1", 503, "FAKE WARNING - fine; time outside warning range", "", "", ""},
		{"could not check", "/check?module=m&target=192.0.2.5:3", 500, "FAKE UNKNOWN - could not", "", "", ""},
		{"no target", "/check?module=m", 400, "target parameter is missing", "", "", ""},
		{"unknown module", "/check?module=x&target=192.0.2.5:1", 400, `unknown module "x"`, "", "", ""},
		{"bad target", "/check?module=m&target=192.0.2.5:x", 400, `target "192.0.2.5:x"`, "", "", ""},
		{"outside allow", "/check?module=m&target=10.0.0.1:1", 403, "target 10.0.0.1 is outside allow", "", "", ""},
		// One question per ask: what a proxy in front could read otherwise
		// is refused, never answered with the first value's verdict.
		{"HEAD asks", "/check?module=m&target=192.0.2.5:1", 200, "", "HEAD", "", ""},
		{"target twice", "/check?module=m&target=192.0.2.5:1&target=192.0.2.6:2", 400, `parameter target given 2 times`, "", "", ""},
		{"module twice", "/check?module=m&module=w&target=192.0.2.5:1", 400, `parameter module given 2 times`, "", "", ""},
		{"empty second target", "/check?module=m&target=192.0.2.5:1&target=", 400, `parameter target given 2 times`, "", "", ""},
		{"semicolon separator", "/check?module=m&target=192.0.2.5:1;target=192.0.2.6:2", 400, `query "module=m&target=192.0.2.5:1;target=192.0.2.6:2": invalid semicolon separator`, "", "", ""},
		{"bad escape", "/check?module=m&target=192.0.2.5%3", 400, `query`, "", "", ""},
		{"unknown parameter", "/check?module=m&target=192.0.2.5:1&verbose=1", 400, `parameter "verbose": only module, target and debug`, "", "", ""},
		{"debug neither true nor false", "/check?module=m&target=192.0.2.5:1&debug=1", 400, `debug="1": want true or false`, "", "", ""},
		{"debug=false asks as without it", "/check?module=m&target=192.0.2.5:1&debug=false", 200, "", "", "", ""},
		{"POST", "/check?module=m&target=192.0.2.5:1", 405, "method \"POST\": only GET and HEAD ask", "POST", "module=m&target=192.0.2.5:2", "GET, HEAD"},
		{"PUT", "/check?module=m&target=192.0.2.5:1", 405, "method \"PUT\"", "PUT", "", "GET, HEAD"},
		{"GET with a body", "/check?module=m&target=192.0.2.5:1", 400, "a GET with a body", "", "target=192.0.2.5:2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			method := tt.method
			if method == "" {
				method = "GET"
			}
			var send io.Reader
			if tt.send != "" {
				send = strings.NewReader(tt.send)
			}
			h.ServeHTTP(w, httptest.NewRequest(method, tt.url, send))
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tt.code || !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("%d %q, want %d %q", w.Code, body, tt.code, tt.body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestAgent: over a real connection, as HAProxy's agent-check does it.
func TestAgent(t *testing.T) {
	a := &Agent{D: fakeDaemon(t), MaxConns: 8}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	tests := []struct {
		name, send, want string
	}{
		{"up", "m 192.0.2.5 1\n", "up\n"},
		{"up, host:port", "m 192.0.2.5:1\n", "up\n"},
		{"up, CRLF", "m 192.0.2.5 1\r\n", "up\n"},
		{"up, v6", "m 2001:db8::5 1\n", "up\n"},
		{"up, no newline before close", "m 192.0.2.5 1", "up\n"},
		{"down, one line", "m 192.0.2.5 2\n", "down #CRITICAL - 503 from 192.0.2.5:2  second line\n"},
		{"warning is down", "w 192.0.2.5 1\n", "down #WARNING - fine; time outside warning range\n"},
		{"agent_weight: warning for time only is up, weighted", "aw 192.0.2.5 1\n", "up 100%\n"},
		{"agent_weight: critical is down", "aw 192.0.2.5 2\n", "down #CRITICAL - 503 from 192.0.2.5:2  second line\n"},
		{"agent_weight: unknown: no answer", "aw 192.0.2.5 3\n", ""},
		{"unknown: no answer", "m 192.0.2.5 3\n", ""},
		{"unknown module: no answer", "x 192.0.2.5 1\n", ""},
		{"outside allow: no answer", "m 10.0.0.1 1\n", ""},
		{"bad port: no answer", "m 192.0.2.5 0\n", ""},
		{"one word: no answer", "m\n", ""},
		{"empty: no answer", "\n", ""},
		// Exactly one line of the documented form; nothing looser.
		{"two lines: no answer", "m 192.0.2.5 1\nm 192.0.2.5 2\n", ""},
		{"two spaces: no answer", "m  192.0.2.5 1\n", ""},
		{"tab: no answer", "m\t192.0.2.5 1\n", ""},
		{"leading space: no answer", " m 192.0.2.5 1\n", ""},
		{"trailing space: no answer", "m 192.0.2.5 1 \n", ""},
		{"CR inside: no answer", "m 192.0.2.5\r1\n", ""},
		{"four words: no answer", "m 192.0.2.5 1 x\n", ""},
		{"NUL: no answer", "m 192.0.2.5 1\x00\n", ""},
		{"too long: no answer", "m 192.0.2.5 1 " + strings.Repeat("x", 600) + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tt.send)
			if !strings.HasSuffix(tt.send, "\n") {
				c.(*net.TCPConn).CloseWrite()
			}
			got, err := io.ReadAll(c)
			// Closing with the rest of a long line unread resets the
			// connection: for HAProxy, too, a failed agent connection.
			if err != nil && !(tt.want == "" && errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("read: %v (want the daemon to close)", err)
			}
			if string(got) != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
	// A client that sends nothing is closed by the read deadline.
	t.Run("silent client", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(readWait + 3*time.Second))
		if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
			t.Errorf("%q %v, want a close without an answer", got, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

// TestAgentShutdownBeforeServe: a SIGTERM that comes before the agent's
// Serve has its listener must still end Serve, or lbcheckd never exits.
func TestAgentShutdownBeforeServe(t *testing.T) {
	a := &Agent{D: fakeDaemon(t), MaxConns: 8}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(2 * time.Second):
		ln.Close()
		t.Fatal("Serve still accepting 2 s after Shutdown")
	}
}

// TestAgentPanic: a panic while answering an ask closes that connection
// without a line and logs the stack; the process lives on. (A daemon
// that is nil panics in Check, as a nil verdict once did.)
func TestAgentPanic(t *testing.T) {
	var log strings.Builder
	a := &Agent{Log: slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil))}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.serveConn(server)
	}()
	client.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(client, "m 192.0.2.5 1\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || len(got) != 0 {
		t.Errorf("answer %q, %v; want the connection closed without a line", got, err)
	}
	<-done
	if !strings.Contains(log.String(), "panic") || !strings.Contains(log.String(), "goroutine") {
		t.Errorf("log %q: want the panic and its stack", log.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
