package main

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	a, b := netip.MustParseAddrPort("10.97.0.1:9000"), netip.MustParseAddrPort("10.97.0.2:9000")
	// b is dropped from 30 s to 80 s; every 10 s, so due by 50 s and 100 s.
	faults := []fault{{target: b, kind: dropped, on: 30 * time.Second, off: 80 * time.Second}}
	type poll struct {
		at      time.Duration
		entries []watchEntry
	}
	at := func(d time.Duration) float64 { return float64(start.Add(d).UnixNano()) / 1e9 }
	ok := func(tg netip.AddrPort, changed time.Duration, hist ...string) watchEntry {
		return watchEntry{Module: "sweep", Target: tg.String(), State: "OK", LastChange: at(changed), History: hist}
	}
	down := func(tg netip.AddrPort, changed time.Duration, hist ...string) watchEntry {
		e := ok(tg, changed, hist...)
		e.State = "CRITICAL"
		return e
	}
	s := time.Second
	// probed: the latest verdict's probe started at started, took 100 ms
	probed := func(e watchEntry, started time.Duration) watchEntry {
		d := 0.1
		e.VerdictTime, e.Duration = at(started)+d, &d
		return e
	}
	right := []poll{
		{20 * s, []watchEntry{ok(a, 1*s, "OK"), ok(b, 2*s, "OK")}},
		{60 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 38*s, "OK", "CRITICAL")}},
		{110 * s, []watchEntry{ok(a, 1*s, "OK"), ok(b, 85*s, "CRITICAL", "OK")}},
	}
	cases := []struct {
		name  string
		polls []poll
		want  summary
	}{
		{"all right", right, summary{watched: 2, downMax: 8 * s, upMax: 5 * s}},
		{"a target never faulted goes down between polls", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 55*s, "CRITICAL", "OK"), down(b, 38*s, "OK", "CRITICAL")}},
			right[2],
		}, summary{watched: 2, wrongDown: 1, downMax: 8 * s, upMax: 5 * s}},
		{"could not check is not down", []poll{
			right[0],
			{60 * s, []watchEntry{{Module: "sweep", Target: a.String(), State: "UNKNOWN", LastChange: at(55 * s), History: []string{"OK", "UNKNOWN"}}, down(b, 38*s, "OK", "CRITICAL")}},
			right[2],
		}, summary{watched: 2, unknown: 1, downMax: 8 * s, upMax: 5 * s}},
		{"the faulted target stays up", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 1*s, "OK"), ok(b, 2*s, "OK", "OK")}},
			right[2],
		}, summary{watched: 2, missedDown: 1, upMax: 5 * s, downMax: 0}},
		{"down, but later than two intervals", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 55*s, "OK", "CRITICAL")}},
			right[2],
		}, summary{watched: 2, missedDown: 1, downMax: 25 * s, upMax: 5 * s}},
		{"up again between polls while faulted", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 38*s, "OK", "CRITICAL")}},
			{75 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 72*s, "OK")}},
			right[2],
		}, summary{watched: 2, missedDown: 1, downMax: 8 * s, upMax: 5 * s}},
		{"still down two intervals after the fault is lifted", []poll{
			right[0], right[1],
			{110 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 38*s, "CRITICAL", "CRITICAL")}},
		}, summary{watched: 2, slowUp: 1, downMax: 8 * s, upMax: 0}},
		{"OK from a probe started while dropped", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 1*s, "OK"), probed(ok(b, 2*s, "OK", "OK"), 45*s)}},
			right[2],
		}, summary{watched: 2, wrongUp: 1, missedDown: 1, upMax: 5 * s}},
		{"OK from a probe started before the rule is late, not wrong", []poll{
			right[0],
			{60 * s, []watchEntry{ok(a, 1*s, "OK"), probed(ok(b, 2*s, "OK", "OK"), 29*s)}},
			right[2],
		}, summary{watched: 2, missedDown: 1, upMax: 5 * s}},
		{"down from a probe started after the lift", []poll{
			right[0], right[1],
			{110 * s, []watchEntry{ok(a, 1*s, "OK"), probed(down(b, 38*s, "CRITICAL", "CRITICAL"), 95*s)}},
		}, summary{watched: 2, wrongDown: 1, slowUp: 1, downMax: 8 * s}},
		{"the run ends before the lift is due", []poll{
			right[0], right[1],
			{90 * s, []watchEntry{ok(a, 1*s, "OK"), down(b, 38*s, "CRITICAL", "CRITICAL")}},
		}, summary{watched: 2, unjudged: 1, downMax: 8 * s}},
		{"no poll saw the fault", []poll{right[0], right[2]}, summary{watched: 2, missedDown: 1, upMax: 5 * s, downMax: 0}},
		{"a target not watched", []poll{
			{20 * s, []watchEntry{ok(b, 2*s, "OK")}},
			{60 * s, []watchEntry{down(b, 38*s, "OK", "CRITICAL")}},
			{110 * s, []watchEntry{ok(b, 85*s, "CRITICAL", "OK")}},
		}, summary{watched: 1, downMax: 8 * s, upMax: 5 * s}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJudge("sweep", []netip.AddrPort{a, b}, faults, start, 20*s, 10*s)
			for _, p := range c.polls {
				j.observe(start.Add(p.at), p.entries)
			}
			if got := j.summary(); got != c.want {
				t.Errorf("summary %+v, want %+v; notes %q", got, c.want, j.notes)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	list := make([]netip.AddrPort, 10_000)
	for i := range list {
		list[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 97, byte(i >> 8), byte(i)}), 9000)
	}
	for _, dur := range []time.Duration{90 * time.Second, 600 * time.Second} {
		warm, every := 15*time.Second, 10*time.Second
		faults := plan(list, rand.New(rand.NewPCG(1, 2)), 0.01, 0.01, warm, dur, every)
		kinds := map[kind]int{}
		seen := map[netip.AddrPort]bool{}
		for _, f := range faults {
			kinds[f.kind]++
			if seen[f.target] {
				t.Errorf("%s: %s faulted twice", dur, f.target)
			}
			seen[f.target] = true
			if f.on < warm || f.off-f.on < 3*every || f.off > dur-3*every {
				t.Errorf("%s: fault %+v outside [warm, dur - 3 intervals] or shorter than 3 intervals", dur, f)
			}
		}
		if kinds[dropped] != 100 || kinds[rejectedICMP] != 50 || kinds[rejectedRST] != 50 {
			t.Errorf("%s: faults by kind %v, want 100 dropped, 50 and 50 rejected", dur, kinds)
		}
	}
}
