package probefront

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// fake answers by the target's port: 1 OK, 2 CRITICAL, 3 UNKNOWN, 4 a
// timeout.
func fakeDaemon(t *testing.T) *daemon.Daemon {
	f := checktest.New(func(ctx context.Context, tg probe.Target) probe.Result {
		r := probe.Result{Phases: []probe.Phase{{Name: "connect", Duration: time.Millisecond}, {Name: "first_byte", Duration: 2 * time.Millisecond}}}
		switch tg.Addr.Port() {
		case 1:
			r.State, r.Summary = exitcode.OK, "fine"
		case 2:
			r.State, r.Summary = exitcode.Critical, "broken"
		case 3:
			r.State, r.Summary = exitcode.Unknown, "could not"
		case 4:
			<-ctx.Done()
			return probe.Fail("waiting", ctx.Err())
		}
		r.Facts.HTTPStatus = 200 + int(tg.Addr.Port())
		return r
	})
	// Labelled as check_http_status, so it gets that check's series.
	f.Spec.Command = "check_http_status"
	c, err := daemon.Parse([]byte("allow: [192.0.2.0/24]\nmodules: {m: [check_http_status, -t, \"3\"], w: [check_http_status, -w, \"0\"], watched: {check: [check_http_status, -t, \"3\"], every: 5s}}\n"),
		checks.Registry{"check_http_status": f.Spec})
	if err != nil {
		t.Fatal(err)
	}
	return daemon.New(context.Background(), c, nil)
}

func get(t *testing.T, h http.Handler, url string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestProbe(t *testing.T) {
	d := fakeDaemon(t)
	h := Handler(d, DefaultOffset)
	tests := []struct {
		name   string
		url    string
		header []string
		code   int
		want   []string // lines the body must have (regexps)
	}{
		{"ok", "/probe?module=m&target=192.0.2.5:1", nil, 200, []string{
			`^probe_success 1$`, `^probe_nagios_state 0$`, `^probe_timeout_seconds 3$`, `^probe_duration_seconds \d`,
			`^probe_http_status_code 201$`, `^probe_http_ssl 0$`, `^probe_ip_protocol 4$`,
			`^probe_http_duration_seconds\{phase="connect"\} 0\.001$`, `^probe_http_duration_seconds\{phase="processing"\} 0\.002$`}},
		{"critical", "/probe?module=m&target=192.0.2.5:2", nil, 200, []string{`^probe_success 0$`, `^probe_nagios_state 2$`, `^probe_http_status_code 202$`}},
		{"warning is a success", "/probe?module=w&target=192.0.2.5:1", nil, 200, []string{`^probe_success 1$`, `^probe_nagios_state 1$`}},
		{"timeout", "/probe?module=m&target=192.0.2.5:4", []string{"X-Prometheus-Scrape-Timeout-Seconds", "1.5"}, 200, []string{
			`^probe_success 0$`, `^probe_nagios_state 2$`, `^probe_timeout_seconds 1$`}},
		{"unknown: a failed scrape", "/probe?module=m&target=192.0.2.5:3", nil, 500, []string{`^FAKE UNKNOWN - could not`}},
		{"no target", "/probe?module=m", nil, 400, []string{`target parameter is missing`}},
		{"unknown module", "/probe?module=x&target=192.0.2.5:1", nil, 400, []string{`unknown module "x"`}},
		{"bad target", "/probe?module=m&target=192.0.2.5:0", nil, 400, []string{`target "192.0.2.5:0"`}},
		{"outside allow", "/probe?module=m&target=10.0.0.1:1", nil, 403, []string{`outside allow`}},
		{"target twice", "/probe?module=m&target=192.0.2.5:1&target=192.0.2.5:2", nil, 400, []string{`parameter target given 2 times`}},
		{"module twice", "/probe?module=w&module=m&target=192.0.2.5:1", nil, 400, []string{`parameter module given 2 times`}},
		{"bad timeout header", "/probe?module=m&target=192.0.2.5:1", []string{"X-Prometheus-Scrape-Timeout-Seconds", "x"}, 400, []string{`X-Prometheus-Scrape-Timeout-Seconds`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, h, tt.url, tt.header...)
			if code != tt.code {
				t.Errorf("status %d, want %d\n%s", code, tt.code, body)
			}
			for _, re := range tt.want {
				if !regexp.MustCompile("(?m)" + re).MatchString(body) {
					t.Errorf("no line matches %s in\n%s", re, body)
				}
			}
			if code != 200 && strings.Contains(body, "probe_success") {
				t.Errorf("a failed scrape carries metrics:\n%s", body)
			}
		})
	}
	// The scrape timeout less the offset, capped by -t: 3 s module, 10 s
	// scrape; 2 s scrape gives 1.5 s; 0.4 s gives 0.1 s, a quarter of it.
	for _, tt := range []struct {
		header, want string
	}{{"10", "3"}, {"2", "1.5"}, {"0.4", "0.1"}} {
		_, body := get(t, h, "/probe?module=m&target=192.0.2.5:1", "X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		if !strings.Contains(body, "\nprobe_timeout_seconds "+tt.want+"\n") {
			t.Errorf("scrape timeout %s s: want probe_timeout_seconds %s in\n%s", tt.header, tt.want, body)
		}
	}
}

// TestWatched: a watched module's /probe adds the verdict's age, and
// /watches serves every watch in Prometheus text and JSON.
func TestWatched(t *testing.T) {
	d := fakeDaemon(t)
	defer d.Close()
	h := Handler(d, DefaultOffset)
	if code, body := get(t, h, "/probe?module=watched&target=192.0.2.5:1"); code != 200 || !regexp.MustCompile(`(?m)^probe_verdict_age_seconds [0-9.e+-]+$`).MatchString(body) {
		t.Errorf("watched /probe: %d\n%s", code, body)
	}
	if _, body := get(t, h, "/probe?module=m&target=192.0.2.5:1"); strings.Contains(body, "probe_verdict_age_seconds") {
		t.Errorf("a module without every reports an age:\n%s", body)
	}
	get(t, h, "/probe?module=watched&target=192.0.2.6:2")
	if code, _ := get(t, h, "/probe?module=watched&target=192.0.2.7:3"); code != 500 {
		t.Errorf("watched UNKNOWN /probe: %d, want 500", code)
	}
	wh := WatchesHandler(d)
	code, body := get(t, wh, "/watches")
	for _, want := range []string{
		"# TYPE probe_success gauge\n",
		`probe_success{module="watched",target="192.0.2.5:1"} 1` + "\n",
		`probe_success{module="watched",target="192.0.2.6:2"} 0` + "\n",
		`probe_nagios_state{module="watched",target="192.0.2.6:2"} 2` + "\n",
		`probe_answered_nagios_state{module="watched",target="192.0.2.6:2"} 2` + "\n",
		`probe_verdict_timestamp_seconds{module="watched",target="192.0.2.5:1"} `,
		`probe_last_change_timestamp_seconds{module="watched",target="192.0.2.5:1"} `,
		`probe_nagios_state{module="watched",target="192.0.2.7:3"} 3` + "\n",
		"# TYPE probe_refused gauge\n",
		`probe_refused{module="watched",target="192.0.2.7:3",reason="unknown"} 1` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/watches lacks %q: %d\n%s", want, code, body)
		}
	}
	// Could not check: /probe refuses, so /watches has no probe_success
	// (alerts on probe_success == 0 must not fire) and no duration.
	for _, not := range []string{`probe_success{module="watched",target="192.0.2.7:3"}`, `probe_duration_seconds{module="watched",target="192.0.2.7:3"}`} {
		if strings.Contains(body, not) {
			t.Errorf("/watches has %q for a verdict /probe refuses:\n%s", not, body)
		}
	}
	code, body = get(t, wh, "/watches", "Accept", "application/json")
	var got []struct {
		Module, Target, State, Answered, Reason string
		Success                                 *bool
		History                                 []string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || len(got) != 3 {
		t.Fatalf("/watches JSON: %d %v\n%s", code, err, body)
	}
	// Streamed a shard at a time: in no particular order.
	slices.SortFunc(got, func(a, b struct {
		Module, Target, State, Answered, Reason string
		Success                                 *bool
		History                                 []string
	}) int {
		return strings.Compare(a.Target, b.Target)
	})
	if g := got[1]; g.Module != "watched" || g.Target != "192.0.2.6:2" || g.State != "CRITICAL" || g.Answered != "CRITICAL" || g.Success == nil || *g.Success || g.Reason != "" || len(g.History) != 1 {
		t.Errorf("/watches JSON: %+v", g)
	}
	if g := got[2]; g.Target != "192.0.2.7:3" || g.State != "UNKNOWN" || g.Success != nil || g.Reason != "unknown" {
		t.Errorf("/watches JSON, could not check: %+v", g)
	}
}

// writes records what a handler writes: the largest single write, and
// the total; gate, if set, holds every write until it is closed.
type writes struct {
	httptest.ResponseRecorder
	mu       sync.Mutex
	max, all int
	started  chan struct{} // closed at the first write
	gate     chan struct{}
}

func newWrites(gate chan struct{}) *writes {
	return &writes{ResponseRecorder: *httptest.NewRecorder(), started: make(chan struct{}), gate: gate}
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.all == 0 {
		close(w.started)
	}
	w.max, w.all = max(w.max, len(p)), w.all+len(p)
	w.mu.Unlock()
	if w.gate != nil {
		<-w.gate
	}
	return w.ResponseRecorder.Write(p)
}

func (w *writes) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all
}

// TestWatchesStreamed: /watches writes its body a bounded piece at a
// time (it once built the whole body in memory: 70 MB for 100,000
// watches), and one scrape runs at a time: a second waits for the first,
// and one whose client left while waiting writes nothing.
func TestWatchesStreamed(t *testing.T) {
	d := fakeDaemon(t)
	defer d.Close()
	const hosts, ports = 200, 5
	for h := 1; h <= hosts; h++ {
		for p := 5; p < 5+ports; p++ {
			if _, err := d.Check(context.Background(), daemon.Request{Module: "watched", Target: fmt.Sprintf("192.0.2.%d:%d", h, p)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wh := WatchesHandler(d)
	for _, accept := range []string{"", "application/json"} {
		w := newWrites(nil)
		req := httptest.NewRequest("GET", "/watches", nil)
		req.Header.Set("Accept", accept)
		wh.ServeHTTP(w, req)
		body := w.Body.String()
		if n := strings.Count(body, `"192.0.2.`); n < hosts*ports {
			t.Errorf("Accept %q: %d watches in the body, want %d", accept, n, hosts*ports)
		}
		if w.max > watchesBuffer || w.all <= watchesBuffer {
			t.Errorf("Accept %q: %d bytes, the largest write %d: want it streamed in writes of at most %d", accept, w.all, w.max, watchesBuffer)
		}
		if accept != "" {
			var got []map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != hosts*ports {
				t.Errorf("JSON: %d watches, %v", len(got), err)
			}
		}
	}

	// One at a time: the first scrape is held in its first write.
	gate := make(chan struct{})
	first := newWrites(gate)
	done1 := make(chan struct{})
	go func() { wh.ServeHTTP(first, httptest.NewRequest("GET", "/watches", nil)); close(done1) }()
	<-first.started
	second := newWrites(nil)
	done2 := make(chan struct{})
	go func() { wh.ServeHTTP(second, httptest.NewRequest("GET", "/watches", nil)); close(done2) }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	left := newWrites(nil)
	wh.ServeHTTP(left, httptest.NewRequest("GET", "/watches", nil).WithContext(ctx))
	if left.total() != 0 {
		t.Errorf("a scrape whose client left while waiting wrote %d bytes", left.total())
	}
	time.Sleep(100 * time.Millisecond)
	if n := second.total(); n != 0 {
		t.Errorf("a second scrape wrote %d bytes while the first ran", n)
	}
	close(gate)
	<-done1
	<-done2
	if second.total() == 0 || second.total() != first.total() {
		t.Errorf("after the first scrape: the second wrote %d bytes, the first %d", second.total(), first.total())
	}
}
