//go:build integration

package integration

// lbcheckd under hostile clients (issue 26): 1,000 connections dribbling a
// request a byte at a time and 5,000 silent ones, all open at once, and
// opened again about a second after the daemon closes them (as slowloris
// reopens its sockets), against each front; meanwhile a normal asker, as
// HAProxy's http-check and agent-check ask, must get its verdict within
// its module's deadline (-t 1) + 0.5 s, every time, and the daemon's peak
// RSS stays bounded.
//
// The clients run in helper processes (this test binary again, in lbc-cli
// beside the daemon), so that their sockets are in the namespace and their
// file descriptors not the test's: one floods, the other asks, as HAProxy
// would from a process of its own.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	floodDribblers = 1000
	floodIdle      = 5000
	floodAsks      = 20
	floodDeadline  = time.Second // the module's -t
	floodSlack     = 500 * time.Millisecond
	// floodReopen is how long an attacker waits, on average, to
	// reconnect: the daemon keeps at most its cap of them, so the rest
	// keep knocking, some thousands of new connections a second.
	floodReopen = time.Second
	// floodRSSBound is the daemon's peak RSS allowed, with max_in_flight
	// 256 (a cap of 576 connections per front).
	floodRSSBound = 100 << 20
)

// floodReport is what the helpers print: the flooder its counts, the
// asker its asks.
type floodReport struct {
	Opened    int64 // attacking connections opened, reopenings included
	OpenAtAsk int64 // attacking connections open when the asks began
	Asks      []floodAsk
}

type floodAsk struct {
	Took   time.Duration
	Answer string // the status or the agent's line
	Err    string
}

func init() {
	// The helper: run by TestLbcheckdFlood in lbc-cli, it never reaches
	// TestMain's namespace setup.
	if front := os.Getenv("LBC_FLOOD_HELPER"); front != "" {
		if os.Getenv("LBC_FLOOD_ASK") != "" {
			os.Exit(askHelper(front))
		}
		os.Exit(floodHelper(front))
	}
}

func TestLbcheckdFlood(t *testing.T) {
	target := srv4 + ":80" // netns.sh's nginx answers / with 200
	daemon := startLbcheckdWith(t, "max_in_flight: 256\nmodules:\n  http: [check_http_status, -t, \"1\"]\n", "info")
	for _, front := range []string{"http", "agent"} {
		t.Run(front, func(t *testing.T) {
			env := append(os.Environ(), "LBC_FLOOD_HELPER="+front, "LBC_FLOOD_TARGET="+target)
			flooder := exec.Command(os.Args[0])
			flooder.Env = env
			var flooded, errb strings.Builder
			flooder.Stdout, flooder.Stderr = &flooded, &errb
			stdin, err := flooder.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := nsStart(flooder, nsClient); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * time.Second) // the flood at full height
			asker := exec.Command(os.Args[0])
			asker.Env = append(env, "LBC_FLOOD_ASK=1")
			var asked strings.Builder
			asker.Stdout, asker.Stderr = &asked, &errb
			if err := nsStart(asker, nsClient); err != nil {
				t.Fatal(err)
			}
			askErr := asker.Wait()
			stdin.Close() // the flood ends
			if err := flooder.Wait(); err != nil || askErr != nil {
				t.Fatalf("flood helpers: %v, %v\n%s", err, askErr, errb.String())
			}
			var rep, fl floodReport
			if err := json.Unmarshal([]byte(asked.String()), &rep); err != nil {
				t.Fatalf("asker's report %q: %v\n%s", asked.String(), err, errb.String())
			}
			if err := json.Unmarshal([]byte(flooded.String()), &fl); err != nil {
				t.Fatalf("flooder's report %q: %v\n%s", flooded.String(), err, errb.String())
			}
			rep.Opened, rep.OpenAtAsk = fl.Opened, fl.OpenAtAsk
			hwm, rss := procMem(t, daemon.Process.Pid)
			var worst time.Duration
			for i, a := range rep.Asks {
				worst = max(worst, a.Took)
				want := "200"
				if front == "agent" {
					want = "up"
				}
				if a.Err != "" || a.Answer != want || a.Took > floodDeadline+floodSlack {
					t.Errorf("ask %d: %q %q after %v; want %q within %v", i, a.Answer, a.Err, a.Took.Round(time.Millisecond), want, floodDeadline+floodSlack)
				}
			}
			t.Logf("%s front: %d dribbling + %d idle clients (%d connections opened, %d open at the flood's height); "+
				"%d asks, slowest %v (limit %v); daemon RSS %d MiB, peak %d MiB (limit %d MiB)",
				front, floodDribblers, floodIdle, rep.Opened, rep.OpenAtAsk, len(rep.Asks), worst.Round(time.Millisecond),
				floodDeadline+floodSlack, rss>>20, hwm>>20, floodRSSBound>>20)
			if len(rep.Asks) != floodAsks {
				t.Errorf("%d asks made, want %d", len(rep.Asks), floodAsks)
			}
			if hwm > floodRSSBound {
				t.Errorf("daemon's peak RSS %d MiB, want at most %d MiB", hwm>>20, floodRSSBound>>20)
			}
		})
	}
	if body, err := nsGet("http://" + lbdHTTP + "/metrics"); err == nil {
		t.Logf("dropped:\n%s", grepMetric(body, "lbcheckd_connections_dropped_total{"))
	}
}

// procMem is a process's peak and current RSS, in bytes.
func procMem(t *testing.T, pid int) (hwm, rss int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmHWM:":
				hwm = n << 10
			case "VmRSS:":
				rss = n << 10
			}
		}
	}
	return hwm, rss
}

func grepMetric(body, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

// floodHelper floods one front and asks through the flood; it prints a
// floodReport.
func floodHelper(front string) int {
	target := os.Getenv("LBC_FLOOD_TARGET")
	addr, ask := lbdHTTP, "GET /check?module=http&target="+target+" HTTP/1.1\r\nHost: lbcheckd\r\nX-Slow: "
	if front == "agent" {
		addr, ask = lbdAgent, "http "+target+" "
	}
	ctx, stop := context.WithCancel(context.Background())
	var opened, open atomic.Int64
	var wg sync.WaitGroup
	// attacker holds one connection open, opening it again floodReopen
	// after it is closed; a dribbler sends one byte of an endless request
	// every half second.
	attacker := func(dribble bool) {
		defer wg.Done()
		for ctx.Err() == nil {
			c, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", addr)
			if err == nil {
				opened.Add(1)
				open.Add(1)
				done := make(chan struct{})
				go func() { // notice the daemon's close
					io.Copy(io.Discard, c)
					close(done)
				}()
				tick := time.NewTicker(500 * time.Millisecond)
				for i, alive := 0, true; alive; i++ {
					select {
					case <-ctx.Done():
						alive = false
					case <-done:
						alive = false
					case <-tick.C:
						if dribble {
							b := ask[i%len(ask)]
							if i >= len(ask) {
								b = 'a'
							}
							if _, err := c.Write([]byte{b}); err != nil {
								alive = false
							}
						}
					}
				}
				tick.Stop()
				c.Close()
				open.Add(-1)
			}
			select {
			case <-ctx.Done():
			case <-time.After(floodReopen/2 + rand.N(floodReopen)):
			}
		}
	}
	// Open them all at once, a few hundred dials at a time.
	for i := range floodDribblers + floodIdle {
		wg.Add(1)
		go attacker(i < floodDribblers)
		if i%200 == 199 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second)
	rep := floodReport{OpenAtAsk: open.Load()}
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	rep.Opened = opened.Load()
	stop()
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// askHelper asks through the flood, as HAProxy does, and prints a
// floodReport of its asks.
func askHelper(front string) int {
	target := os.Getenv("LBC_FLOOD_TARGET")
	addr := lbdHTTP
	if front == "agent" {
		addr = lbdAgent
	}
	var rep floodReport
	for range floodAsks {
		var a floodAsk
		start := time.Now()
		if front == "agent" {
			a.Answer, a.Err = agentAsk(addr, "http "+target+"\n")
			a.Answer = strings.TrimSuffix(a.Answer, "\n")
		} else {
			a.Answer, a.Err = httpAsk("http://" + addr + "/check?module=http&target=" + target)
		}
		a.Took = time.Since(start)
		rep.Asks = append(rep.Asks, a)
		time.Sleep(200 * time.Millisecond)
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// httpAsk asks as HAProxy's http-check does: a new connection, one GET.
func httpAsk(u string) (status, errText string) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(u)
	if err != nil {
		return "", err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return strconv.Itoa(resp.StatusCode), ""
}

// agentAsk asks as HAProxy's agent-check does: connect, send the line,
// read one line.
func agentAsk(addr, line string) (answer, errText string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line); err != nil {
		return "", err.Error()
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return got, err.Error()
	}
	return got, ""
}
