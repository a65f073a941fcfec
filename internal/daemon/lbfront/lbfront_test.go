package lbfront

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
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
	}{
		{"up", "/check?module=m&target=192.0.2.5:1", 200, "FAKE OK - fine | time="},
		{"down", "/check?module=m&target=192.0.2.5:2", 503, "FAKE CRITICAL - 503 from 192.0.2.5:2  second line"},
		{"warning is down", "/check?module=w&target=192.0.2.5:1", 503, "FAKE WARNING - fine; time outside warning range"},
		{"could not check", "/check?module=m&target=192.0.2.5:3", 500, "FAKE UNKNOWN - could not"},
		{"no target", "/check?module=m", 400, "target parameter is missing"},
		{"unknown module", "/check?module=x&target=192.0.2.5:1", 400, `unknown module "x"`},
		{"bad target", "/check?module=m&target=192.0.2.5:x", 400, `target "192.0.2.5:x"`},
		{"outside allow", "/check?module=m&target=10.0.0.1:1", 403, "target 10.0.0.1 is outside allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tt.url, nil))
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tt.code || !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("%d %q, want %d %q", w.Code, body, tt.code, tt.body)
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
		{"agent_weight: warning for time only is up, weighted", "aw 192.0.2.5 1\n", "up weight:100%\n"},
		{"agent_weight: critical is down", "aw 192.0.2.5 2\n", "down #CRITICAL - 503 from 192.0.2.5:2  second line\n"},
		{"agent_weight: unknown: no answer", "aw 192.0.2.5 3\n", ""},
		{"unknown: no answer", "m 192.0.2.5 3\n", ""},
		{"unknown module: no answer", "x 192.0.2.5 1\n", ""},
		{"outside allow: no answer", "m 10.0.0.1 1\n", ""},
		{"bad port: no answer", "m 192.0.2.5 0\n", ""},
		{"one word: no answer", "m\n", ""},
		{"empty: no answer", "\n", ""},
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
