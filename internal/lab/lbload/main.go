// Command lbload is make bench's load for lbcheckd and blackbox_exporter:
// C workers, each on one keep-alive connection, GET a URL as fast as it is
// answered, for a while or a number of requests; it prints the requests
// made, how many had the expected status, and the seconds taken.
//
//	lbload -c 64 -d 5s -spread 64 'http://127.0.0.1:9707/probe?module=m&target=10.99.16.{n}:80'
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	c := flag.Int("c", 64, "concurrent `WORKERS`, one keep-alive connection each")
	d := flag.Duration("d", 5*time.Second, "how long to send")
	n := flag.Int("n", 0, "stop after this many requests in all (0: -d only)")
	status := flag.Int("status", 200, "the status every answer should have")
	header := flag.String("timeout-header", "", "X-Prometheus-Scrape-Timeout-Seconds to send, if any")
	spread := flag.Int("spread", 0, "replace {n} in URL by 1..`K`, and {ip} by the K-th address from -ipbase (the bench's targets, more than a /24 holds), worker by worker: K targets, so that lbcheckd cannot share one probe between workers")
	ipbase := flag.String("ipbase", "10.99.16.0", "where {ip} counts from: the K-th is A.B.(C+K/254).(K%254+1) of `A.B.C.0`")
	rate := flag.Float64("rate", 0, "asks a `SECOND` in all, spread evenly over the workers (0: as fast as answered)")
	agent := flag.String("agent", "", "agent-check `ADDR`: the argument is the line to send, a connection per ask")
	expect := flag.String("expect", "up", "with -agent, what a good answer starts with (\"\": closed without a line)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lbload [-c N] [-d DUR] [-n N] [-rate R] [-status CODE] URL | -agent ADDR [-expect WORD] LINE")
		os.Exit(2)
	}
	url := flag.Arg(0)
	base, err := netip.ParseAddr(*ipbase)
	if err != nil || !base.Is4() {
		fmt.Fprintf(os.Stderr, "lbload: -ipbase %q: want an IPv4 address\n", *ipbase)
		os.Exit(2)
	}
	b4 := base.As4()
	// every is a worker's period at -rate; its phase is spread so that the
	// workers do not ask together.
	var every time.Duration
	if *rate > 0 {
		every = time.Duration(float64(*c) / *rate * float64(time.Second))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	var sent, good, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *c {
		url := url
		if *spread > 0 {
			k := w % *spread // 0-based
			url = strings.ReplaceAll(url, "{n}", strconv.Itoa(k+1))
			url = strings.ReplaceAll(url, "{ip}", fmt.Sprintf("%d.%d.%d.%d", b4[0], b4[1], int(b4[2])+k/254, k%254+1))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tick *time.Ticker
			if every > 0 {
				select {
				case <-time.After(every * time.Duration(w) / time.Duration(*c)):
				case <-ctx.Done():
					return
				}
				tick = time.NewTicker(every)
				defer tick.Stop()
			}
			for first := true; ctx.Err() == nil; first = false {
				if tick != nil && !first {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
				}
				if *n > 0 && sent.Add(1) > int64(*n) {
					return
				} else if *n == 0 {
					sent.Add(1)
				}
				if *agent != "" {
					if askAgent(*agent, url) == *expect {
						good.Add(1)
					} else {
						bad.Add(1)
					}
					continue
				}
				req, _ := http.NewRequest("GET", url, nil)
				if *header != "" {
					req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", *header)
				}
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == *status {
					good.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if *agent != "" {
		*status = 0 // for the message below
	}
	fmt.Printf("%d %d %.3f\n", good.Load()+bad.Load(), good.Load(), time.Since(start).Seconds())
	if bad.Load() > 0 {
		fmt.Fprintf(os.Stderr, "lbload: %d answers were not %d (or %q)\n", bad.Load(), *status, *expect)
	}
}

// askAgent asks once as HAProxy's agent-check does and returns the first
// word of the answer ("" when closed without one, "error" when the
// connection failed).
func askAgent(addr, line string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "error"
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "error"
	}
	answer, _ := bufio.NewReader(conn).ReadString('\n')
	word, _, _ := strings.Cut(strings.TrimSpace(answer), " ")
	return word
}
