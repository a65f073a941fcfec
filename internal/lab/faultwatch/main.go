// Command faultwatch is make bench's judge of a watched sweep (issue 22):
// while lbcheckd watches a lab's targets, it drops and rejects some of
// them with nft at random moments, lifts each fault later, and polls
// lbcheckd's /watches to check that exactly the faulted targets went down
// within two intervals of their rule and came up again within two
// intervals of its removal, and that nothing else ever went down.
//
// The faults are three nft sets in one table of the server's namespace, a
// rule each (drop; reject with icmp admin-prohibited; reject with tcp
// reset), so that hundreds of addresses cost three rules; a second's
// additions and removals go in one nft call. It prints one line of
// key=value figures on stdout, and the first errors, one a line, on
// stderr.
//
//	faultwatch -targets FILE -module sweep -port 9000 -nft 'ip netns exec lbc-srv nft' -d 600s -pid PID
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	targets := flag.String("targets", "", "the targets `FILE` the module watches, HOST:PORT a line")
	module := flag.String("module", "sweep", "the watched module")
	url := flag.String("watches", "http://127.0.0.1:9717/watches", "lbcheckd's /watches")
	nft := flag.String("nft", "ip netns exec lbc-srv nft", "the nft `COMMAND` of the servers' namespace (split on spaces)")
	table := flag.String("table", "lbc_sweep", "the nft table made (and deleted) for the faults")
	dur := flag.Duration("d", 600*time.Second, "how long to run, from the start (faults are laid out within it)")
	warm := flag.Duration("warm", 15*time.Second, "no fault starts before this")
	every := flag.Duration("every", 10*time.Second, "the module's every: faults show within two of it")
	poll := flag.Duration("poll", 10*time.Second, "how often to read /watches")
	drop := flag.Float64("drop", 0.01, "share of the targets dropped at some moment")
	reject := flag.Float64("reject", 0.01, "share rejected (half with icmp admin-prohibited, half with tcp reset)")
	pid := flag.Int("pid", 0, "the daemon's `PID`: its CPU during the polls is measured and printed")
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock; printed)")
	flag.Parse()
	if *targets == "" || *dur < *warm+6**every {
		fmt.Fprintln(os.Stderr, "usage: faultwatch -targets FILE [-d DUR, at least warm + 6 intervals] [flags]")
		os.Exit(2)
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	list, err := readTargets(*targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultwatch:", err)
		os.Exit(1)
	}
	start := time.Now()
	faults := plan(list, rand.New(rand.NewPCG(*seed, 0)), *drop, *reject, *warm, *dur, *every)
	f := &firewall{cmd: strings.Fields(*nft), table: *table}
	if err := f.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "faultwatch:", err)
		os.Exit(1)
	}

	j := newJudge(*module, list, faults, start, 2**every, *every)
	var pollCPU, pollWall time.Duration
	polls, failed := 0, 0
	// SIGINT or SIGTERM ends the run early; the table goes either way.
	sig, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelRun := context.WithDeadline(sig, start.Add(*dur))
	defer cancelRun()
	nextPoll := start.Add(*warm)
	for t := start; ; t = t.Add(time.Second) {
		if err := f.apply(faults, t.Sub(start)-time.Second, t.Sub(start)); err != nil {
			fmt.Fprintln(os.Stderr, "faultwatch:", err)
			f.teardown()
			os.Exit(1)
		}
		if !t.Before(nextPoll) {
			c0, w0 := cpuOf(*pid), time.Now()
			// not the run's deadline: the last poll is at it
			pctx, done := context.WithTimeout(sig, time.Minute)
			snap, err := fetch(pctx, *url)
			done()
			c1, w1 := cpuOf(*pid), time.Now()
			if err != nil {
				// Tried again a second later: a missed poll leaves
				// verdicts unjudged.
				failed++
				j.note("poll at %s: %v", w0.Sub(start).Round(time.Second), err)
				nextPoll = t.Add(time.Second)
			} else {
				pollCPU += c1 - c0
				pollWall += w1.Sub(w0)
				polls++
				j.observe(w0, snap)
				nextPoll = nextPoll.Add(*poll)
				for !nextPoll.After(t) {
					nextPoll = nextPoll.Add(*poll)
				}
			}
		}
		next := t.Add(time.Second)
		if next.After(start.Add(*dur)) {
			break // the last second polled (at dur, when a poll is due then)
		}
		select {
		case <-time.After(time.Until(next)):
			continue
		case <-ctx.Done():
		}
		if ctx.Err() != context.DeadlineExceeded {
			f.teardown()
			fmt.Fprintln(os.Stderr, "faultwatch: interrupted")
			os.Exit(1)
		}
		break
	}
	f.teardown()
	s := j.summary()
	fmt.Printf("seed=%d targets=%d faulted=%d polls=%d polls_failed=%d watched=%d wrong_down=%d wrong_up=%d missed_down=%d slow_up=%d unjudged=%d unknown=%d down_delay_max=%.1f up_delay_max=%.1f poll_cpu=%.3f poll_wall=%.3f\n",
		*seed, len(list), len(faults), polls, failed, s.watched, s.wrongDown, s.wrongUp, s.missedDown, s.slowUp, s.unjudged, s.unknown,
		s.downMax.Seconds(), s.upMax.Seconds(), pollCPU.Seconds(), pollWall.Seconds())
	for i, n := range j.notes {
		if i == 20 {
			fmt.Fprintf(os.Stderr, "faultwatch: ... and %d more\n", len(j.notes)-i)
			break
		}
		fmt.Fprintln(os.Stderr, "faultwatch:", n)
	}
}

// readTargets reads a targets file.
func readTargets(path string) ([]netip.AddrPort, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	list, err := parseTargets(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}

// parseTargets reads a targets file's text: IPv4:PORT a line, # comments
// and blank lines skipped (the daemon's targets_file takes names and IPv6
// too; the faults here are IPv4 nft sets).
func parseTargets(text string) ([]netip.AddrPort, error) {
	var list []netip.AddrPort
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		ap, err := netip.ParseAddrPort(l)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return nil, fmt.Errorf("line %d: want IPv4:PORT, got %q", i+1, l)
		}
		list = append(list, ap)
	}
	if len(list) == 0 {
		return nil, errors.New("no targets")
	}
	return list, nil
}

// kind is how a fault refuses a target's SYNs: the nft set it is put in.
type kind int

const (
	dropped kind = iota
	rejectedICMP
	rejectedRST
)

var setNames = [...]string{"dropped", "rejected_icmp", "rejected_rst"}

// fault is one target faulted from on to off, counted from the start.
type fault struct {
	target  netip.AddrPort
	kind    kind
	on, off time.Duration
}

// plan picks distinct targets to fault, drop and reject shares of them,
// each for at least three intervals (so that it must show) at a random
// moment from warm, lifted at least three intervals before dur (so that
// its end must show too).
func plan(list []netip.AddrPort, r *rand.Rand, drop, reject float64, warm, dur, every time.Duration) []fault {
	nd := int(drop * float64(len(list)))
	nr := int(reject * float64(len(list)))
	perm := r.Perm(len(list))
	minLen, tail := 3*every, 3*every
	latest := dur - tail - minLen // the last moment a fault may start
	var out []fault
	for i := 0; i < nd+nr && i < len(perm); i++ {
		k := dropped
		if i >= nd {
			k = rejectedICMP + kind((i-nd)%2)
		}
		on := warm + time.Duration(r.Int64N(int64(latest-warm)+1)).Truncate(time.Second)
		longest := dur - tail - on
		off := on + minLen + time.Duration(r.Int64N(int64(longest-minLen)+1)).Truncate(time.Second)
		out = append(out, fault{target: list[perm[i]], kind: k, on: on, off: off})
	}
	return out
}

// firewall runs nft in the servers' namespace.
type firewall struct {
	cmd   []string
	table string
}

func (f *firewall) run(script string) error {
	c := exec.Command(f.cmd[0], append(f.cmd[1:], "-f", "-")...)
	c.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// setup makes the table: three sets, a rule each, on the input hook
// before any other filter of the namespace.
func (f *firewall) setup() error {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\ntable ip %s {\n", f.table, f.table, f.table)
	for _, s := range setNames {
		fmt.Fprintf(&b, "\tset %s { type ipv4_addr . inet_service; }\n", s)
	}
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip daddr . tcp dport @%s drop\n", setNames[dropped])
	fmt.Fprintf(&b, "\t\tip daddr . tcp dport @%s reject with icmp type admin-prohibited\n", setNames[rejectedICMP])
	fmt.Fprintf(&b, "\t\tip daddr . tcp dport @%s reject with tcp reset\n", setNames[rejectedRST])
	b.WriteString("\t}\n}\n")
	return f.run(b.String())
}

func (f *firewall) teardown() { f.run(fmt.Sprintf("delete table ip %s\n", f.table)) }

// apply adds the faults that start in (from, to] and removes those that
// end in it, in one nft call.
func (f *firewall) apply(faults []fault, from, to time.Duration) error {
	var b strings.Builder
	elem := func(verb string, x fault) {
		fmt.Fprintf(&b, "%s element ip %s %s { %s . %d }\n", verb, f.table, setNames[x.kind], x.target.Addr(), x.target.Port())
	}
	for _, x := range faults {
		if x.on > from && x.on <= to {
			elem("add", x)
		}
		if x.off > from && x.off <= to {
			elem("delete", x)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return f.run(b.String())
}

// watchEntry is what is read of an element of /watches' JSON.
type watchEntry struct {
	Module     string  `json:"module"`
	Target     string  `json:"target"`
	State      string  `json:"state"`
	LastChange float64 `json:"last_change_timestamp_seconds"`
	// VerdictTime less Duration is when the latest verdict's probe
	// started: a verdict is wrong, not late, if it started under the
	// rule it contradicts.
	VerdictTime float64  `json:"verdict_timestamp_seconds"`
	Duration    *float64 `json:"duration_seconds"`
	History     []string `json:"history"`
}

func fetch(ctx context.Context, url string) ([]watchEntry, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	// /watches answers JSON when asked for it by Accept.
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var out []watchEntry
	if err := json.NewDecoder(bufio.NewReaderSize(resp.Body, 1<<16)).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return out, nil
}

// cpuOf is a process's utime+stime so far (0 without a pid).
func cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which may hold spaces: the
	// state is stat's field 3, utime and stime its 14 and 15, in clock
	// ticks of 100 a second (USER_HZ on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
